"""The image cache: PNGs the build drew, keyed by the content hash of their inputs.

A cache, not data: writing it does not bump the store's data version (which
would make the next build think something changed), and a build keeps only
the images it showed, so the table holds one garden's worth of pictures.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from greenhouse.store.rows import insert_many

if TYPE_CHECKING:
    from greenhouse.store import Store


def cached_images(store: Store, digests: list[str]) -> dict[str, bytes]:
    """The cached PNG of each of *digests* that the store has."""
    if not digests:
        return {}
    # A join with the unnested list: list_contains() in a WHERE clause is evaluated row by row
    # against the whole list (16 s for a thousand pictures, against 0.1 s for the join).
    rows = store.conn.execute(
        "SELECT c.digest, c.png FROM image_cache c "
        "JOIN (SELECT unnest(?::VARCHAR[]) AS digest) wanted ON c.digest = wanted.digest",
        [digests],
    ).fetchall()
    return {digest: bytes(png) for digest, png in rows}


class ImagesAhead:
    """The whole image cache, read on a thread of its own from the moment the store is open.

    A rebuild looks its thousand pictures up only once the garden is grown,
    and reading them (30 MB of PNGs at 1,000 plants) then took 60-110 ms of
    the build's own thread. The table holds the pictures of the last build
    only (:func:`keep_images`), so reading all of it early costs what reading
    this build's would, and DuckDB reads it without Python's lock while the
    build imports its renderer and grows the garden. A context manager: on
    leaving it the read is waited for, so the store is never closed under it.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._found: dict[str, bytes] = {}
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._read, name="image-cache", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            rows = self._store.conn.execute("SELECT digest, png FROM image_cache").fetchall()
            self._found = {digest: bytes(png) for digest, png in rows}
        except BaseException as exc:  # raised where the pictures are asked for
            self._error = exc
        finally:
            self._store.release_thread()

    def images(self) -> dict[str, bytes]:
        """Every cached PNG by its digest (the read's error, if it failed)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._found

    def __enter__(self) -> ImagesAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join()


def image_count(store: Store) -> int:
    """How many PNGs the cache holds."""
    row = store.conn.execute("SELECT count(*) FROM image_cache").fetchone()
    return int(row[0]) if row else 0


def keep_images(store: Store, new: Mapping[str, bytes], used: set[str]) -> int:
    """Add the images drawn by this build and drop those it no longer shows; returns rows written."""
    conn = store.conn
    stored = {row[0] for row in conn.execute("SELECT digest FROM image_cache").fetchall()}
    stale = sorted(stored - used)
    fresh = sorted((digest, png) for digest, png in new.items() if digest not in stored)
    if not stale and not fresh:
        return 0
    conn.execute("BEGIN TRANSACTION")
    try:
        if stale:
            conn.execute(
                "DELETE FROM image_cache WHERE digest IN (SELECT unnest(?::VARCHAR[]))", [stale]
            )
        if fresh:
            # Multi-row inserts of 32 pictures: executemany pays DuckDB's per-statement cost
            # for every row (seconds for a thousand), and one INSERT unnesting two list
            # parameters took 0.9 s and 370 MB for a thousand 30 KB pictures (this: 0.2 s).
            insert_many(conn, "INSERT INTO image_cache", fresh, chunk=32)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return len(fresh)
