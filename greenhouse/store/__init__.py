"""The DuckDB data store: accumulated history and sync state.

``build/greenhouse.duckdb`` is precious (months of history cached between CI
runs), so it is opened carefully: a file that is not a DuckDB database, or
whose schema is newer than this version of greenhouse, is refused with a
clear message and left untouched; an older one is migrated forward, each step
in a transaction. Every write goes through :meth:`Store.transaction`, so an
interrupted build leaves the file as it was. The file's DuckDB storage format is
pinned and checked before DuckDB opens it (:mod:`greenhouse.store.format`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from greenhouse.errors import StoreBusyError, StoreError, StoreOutdatedError
from greenhouse.store.format import STORAGE_VERSION, ensure_format
from greenhouse.store.migrations import MIGRATIONS, SCHEMA_VERSION

__all__ = ["Store", "SCHEMA_VERSION"]


class Store:
    """An open DuckDB store. Use as a context manager."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, path: Path):
        self.conn = connection
        self.path = path

    @classmethod
    def open(
        cls, path: Path | str, *, read_only: bool = False, migrate: bool = True, wait: float = 0
    ) -> Store:
        """Open (or create) the store at *path*, migrating it forward if needed.

        DuckDB lets one process write a file and no other process read it meanwhile; with
        *wait* > 0 an open that finds the file in use by another greenhouse process (a build or
        a sync) tries again for up to that many seconds.
        """
        path = Path(path)
        deadline = time.monotonic() + wait
        while True:
            try:
                return cls._open(path, read_only=read_only, migrate=migrate)
            except StoreBusyError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.1)

    @classmethod
    def _open(cls, path: Path, *, read_only: bool, migrate: bool) -> Store:
        if read_only and not path.exists():
            raise StoreError(
                f"{path}: no data store yet (run 'greenhouse build' or 'greenhouse sync')"
            )
        if not read_only:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"{path.parent}: cannot create folder: {exc.strerror}") from None
        ensure_format(path, read_only=read_only)
        try:
            # A small, fixed footprint: the store is modest and builds run on small CI machines.
            conn = duckdb.connect(
                str(path),
                read_only=read_only,
                config={
                    "threads": 2,
                    "memory_limit": "256MB",
                    "storage_compatibility_version": STORAGE_VERSION,  # for a new file
                },
            )
        except duckdb.Error as exc:
            raise _open_error(path, exc) from None
        conn.execute("SET enable_progress_bar = false")  # our own progress display, never DuckDB's
        store = cls(conn, path)
        try:
            version = store.schema_version()
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{path}: schema version {version} is newer than this greenhouse understands "
                    f"({SCHEMA_VERSION}); upgrade greenhouse (the file was left untouched)"
                )
            if version < SCHEMA_VERSION:
                if read_only or not migrate:
                    raise StoreOutdatedError(
                        f"{path}: schema version {version} needs migrating; run a build"
                    )
                store._migrate(version)
        except BaseException:
            conn.close()
            raise
        return store

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (checkpointing the write-ahead log)."""
        self.conn.close()

    def one(self, sql: str, params: list[object] | None = None) -> tuple[Any, ...] | None:
        """The first row of a query, read to the end so the connection is free for the next one."""
        rows = self.conn.execute(sql, params or []).fetchall()
        return rows[0] if rows else None

    def schema_version(self) -> int:
        """The schema version recorded in the file (0 for a new file)."""
        exists = self.one(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
        )
        if not exists or not exists[0]:
            tables = self.one("SELECT count(*) FROM information_schema.tables")
            if tables and tables[0]:
                raise StoreError(
                    f"{self.path}: this DuckDB file was not made by greenhouse; refusing to touch it"
                )
            return 0
        row = self.one("SELECT max(version) FROM schema_version")
        return int(row[0]) if row and row[0] is not None else 0

    def _migrate(self, current: int) -> None:
        if current == 0:
            self.conn.execute(
                "CREATE TABLE schema_version (version INTEGER NOT NULL, note VARCHAR)"
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            note, sql = MIGRATIONS[version - 1]
            with self.transaction() as conn:
                conn.execute(sql)
                conn.execute("INSERT INTO schema_version VALUES (?, ?)", [version, note])

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A write transaction; it bumps ``data_version`` so builds see that data changed."""
        self.conn.execute("BEGIN TRANSACTION")
        try:
            yield self.conn
            if self._has_meta():
                self.conn.execute(
                    "INSERT INTO meta VALUES ('data_version', '1') ON CONFLICT (key) DO UPDATE "
                    "SET value = CAST(CAST(meta.value AS BIGINT) + 1 AS VARCHAR)"
                )
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def _has_meta(self) -> bool:
        row = self.one("SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'")
        return bool(row and row[0])

    def data_version(self) -> int:
        """A counter bumped by every write transaction (part of the build fingerprint)."""
        row = self.one("SELECT value FROM meta WHERE key = 'data_version'")
        return int(row[0]) if row else 0

    def data_time(self) -> datetime | None:
        """The moment the data describes: the latest successful sync of any source."""
        row = self.one("SELECT max(last_success) FROM sync_state")
        return row[0] if row and row[0] else None

    def get_meta(self, key: str) -> str | None:
        """A value from the ``meta`` table."""
        row = self.one("SELECT value FROM meta WHERE key = ?", [key])
        return None if row is None else str(row[0])

    def set_meta(self, conn: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
        """Set a ``meta`` value inside an open transaction."""
        conn.execute(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )


def _open_error(path: Path, exc: Exception) -> StoreError:
    """DuckDB's open failure as the store error a user can act on."""
    text = str(exc)
    lowered = text.lower()
    if "not a valid duckdb" in lowered or "invalid" in lowered and "header" in lowered:
        return StoreError(
            f"{path}: not a DuckDB database file (left untouched); move it away or point --db elsewhere"
        )
    if "lock" in lowered:
        return StoreBusyError(
            f"{path}: in use by another greenhouse process (a build or a sync); "
            "wait for it to finish"
        )
    if "version" in lowered and ("newer" in lowered or "storage" in lowered):
        return StoreError(
            f"{path}: written by a newer DuckDB than this one ({duckdb.__version__}) understands "
            "(the file was left untouched); upgrade greenhouse"
        )
    first = text.splitlines()[0] if text else type(exc).__name__
    return StoreError(f"{path}: cannot open the data store: {first}")
