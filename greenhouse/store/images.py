"""The image cache: PNGs the build drew, keyed by the content hash of their inputs.

A cache, not data: writing it does not bump the store's data version (which
would make the next build think something changed), and a build keeps only
the images it showed, so the table holds one garden's worth of pictures.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from greenhouse.store import Store


def cached_images(store: Store, digests: list[str]) -> dict[str, bytes]:
    """The cached PNG of each of *digests* that the store has."""
    if not digests:
        return {}
    rows = store.conn.execute(
        "SELECT digest, png FROM image_cache WHERE list_contains(?, digest)", [digests]
    ).fetchall()
    return {digest: bytes(png) for digest, png in rows}


def keep_images(store: Store, new: Mapping[str, bytes], used: set[str]) -> int:
    """Add the images drawn by this build and drop those it no longer shows; returns rows written."""
    conn = store.conn
    stale = conn.execute(
        "SELECT count(*) FROM image_cache WHERE NOT list_contains(?, digest)", [sorted(used)]
    ).fetchone()
    if not new and not (stale and stale[0]):
        return 0
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.execute("DELETE FROM image_cache WHERE NOT list_contains(?, digest)", [sorted(used)])
        if new:
            conn.executemany(
                "INSERT OR REPLACE INTO image_cache VALUES (?, ?)", sorted(new.items())
            )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return len(new)
