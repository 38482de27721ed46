"""History snapshots of earlier builds, kept so the next build can reuse their bytes.

A cache, not data: writing it does not bump the store's data version (which
would make the next build think something changed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from greenhouse.store import Store


class StoredSnapshots:
    """The snapshots an earlier build kept: their fingerprints, and their bodies when asked.

    A rebuild whose published snapshots are unchanged never needs a body, so
    the bodies (megabytes at a thousand plants) are read on the first request.
    """

    def __init__(self, store: Store):
        self._store = store
        rows = store.conn.execute("SELECT taken_on, fingerprint FROM snapshots").fetchall()
        #: Snapshot day (ISO date) -> fingerprint of its inputs.
        self.fingerprints: dict[str, str] = {day.isoformat(): fp for day, fp in rows}
        self._bodies: dict[str, bytes] | None = None

    def body(self, day: str) -> bytes:
        """The encoded plants list stored for *day* (one of :attr:`fingerprints`)."""
        if self._bodies is None:
            rows = self._store.conn.execute("SELECT taken_on, body FROM snapshots").fetchall()
            self._bodies = {d.isoformat(): body.encode("utf-8") for d, body in rows}
        return self._bodies[day]


def save_snapshots(
    store: Store,
    stored: StoredSnapshots,
    changed: Mapping[str, tuple[str, bytes]],
    current: Iterable[str],
) -> None:
    """Keep this build's snapshots for the next one: only the *changed* ones are written.

    *current* names every snapshot of this build; the others are deleted. One
    bulk statement each: a statement per snapshot cost ~10 ms each, seconds for
    three years of weekly snapshots.
    """
    import numpy as np

    gone = sorted(set(stored.fingerprints) - set(current))
    days = sorted(changed)
    if not gone and not days:
        return
    conn = store.conn
    conn.execute("BEGIN TRANSACTION")
    try:
        if gone:
            conn.execute(
                "DELETE FROM snapshots WHERE taken_on IN (SELECT unnest(?::DATE[]))", [gone]
            )
        if days:
            rows = {
                "taken_on": np.array(days, dtype=object),
                "fingerprint": np.array([changed[d][0] for d in days], dtype=object),
                "body": np.array([changed[d][1].decode("utf-8") for d in days], dtype=object),
            }
            conn.register("snapshot_rows", rows)
            try:
                conn.execute(
                    "INSERT OR REPLACE INTO snapshots "
                    "SELECT CAST(taken_on AS DATE), fingerprint, body FROM snapshot_rows"
                )
            finally:
                conn.unregister("snapshot_rows")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
