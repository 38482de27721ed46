"""Writing many rows at once, the way DuckDB likes it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb


def insert_many(
    conn: duckdb.DuckDBPyConnection,
    head: str,
    rows: Sequence[Sequence[Any]],
    tail: str = "",
    chunk: int = 400,
) -> None:
    """``{head} VALUES (…), (…) {tail}`` in as few statements as possible.

    DuckDB pays per statement, not per row: one multi-row insert is ~50×
    faster than a statement per row, which keeps per-repository checkpoints cheap.
    """
    if not rows:
        return
    one = "(" + ", ".join("?" * len(rows[0])) + ")"
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        values = ", ".join([one] * len(part))
        conn.execute(f"{head} VALUES {values} {tail}", [v for row in part for v in row])
