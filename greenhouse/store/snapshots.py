"""History snapshots of earlier builds, kept so the next build can reuse their bytes.

A cache, not data: writing it does not bump the store's data version (which
would make the next build think something changed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from greenhouse.store import Store

#: Snapshot day (ISO date) -> (fingerprint of its inputs, encoded plants list).
Snapshots = dict[str, tuple[str, bytes]]


def load_snapshots(store: Store) -> Snapshots:
    """Every cached snapshot."""
    rows = store.conn.execute("SELECT taken_on, fingerprint, body FROM snapshots").fetchall()
    return {day.isoformat(): (fingerprint, body.encode("utf-8")) for day, fingerprint, body in rows}


def save_snapshots(store: Store, before: Snapshots, written: Snapshots) -> None:
    """Keep this build's snapshots for the next one: only those that changed are written.

    One bulk statement each for the deleted and the changed ones: a statement
    per snapshot cost ~10 ms each, seconds for three years of weekly snapshots.
    """
    import numpy as np

    gone = sorted(day for day in before if day not in written)
    changed = sorted(day for day, (fp, _) in written.items() if before.get(day, ("",))[0] != fp)
    if not gone and not changed:
        return
    conn = store.conn
    conn.execute("BEGIN TRANSACTION")
    try:
        if gone:
            conn.execute(
                "DELETE FROM snapshots WHERE taken_on IN (SELECT unnest(?::DATE[]))", [gone]
            )
        if changed:
            rows = {
                "taken_on": np.array(changed, dtype=object),
                "fingerprint": np.array([written[d][0] for d in changed], dtype=object),
                "body": np.array([written[d][1].decode("utf-8") for d in changed], dtype=object),
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
