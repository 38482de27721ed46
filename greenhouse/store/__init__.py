"""The DuckDB data store: accumulated history and sync state.

``build/greenhouse.duckdb`` is precious (months of history cached between CI
runs), so it is opened carefully: a file that is not a DuckDB database, or
whose schema is newer than this version of greenhouse, is refused with a
clear message and left untouched; an older one is migrated forward, each step
in a transaction. Every write goes through :meth:`Store.transaction`, so an
interrupted build leaves the file as it was. The file's DuckDB storage format is
pinned and checked before DuckDB opens it (:mod:`greenhouse.store.format`).

Several threads may use one store (the sources of a sync run side by side):
:attr:`Store.conn` is the thread's own DuckDB cursor, and write transactions
take turns (they are short: a page of rows each). Ctrl-C inside a DuckDB
statement surfaces from DuckDB as a plain ``RuntimeError``; the transaction
is rolled back and :class:`KeyboardInterrupt` raised instead (:func:`interrupted`).
"""

from __future__ import annotations

import threading
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

__all__ = ["SCHEMA_VERSION", "Store", "interrupted", "store_errors"]


def interrupted(exc: BaseException) -> bool:
    """Whether *exc* is DuckDB telling that Ctrl-C stopped a statement.

    DuckDB consumes the SIGINT and raises ``RuntimeError("Query interrupted")``
    (or ``duckdb.InterruptException``) rather than ``KeyboardInterrupt``; this
    is the one place that knows (``tests/test_store.py`` fails if it changes).
    An error raised while the interrupt was being handled (a clean-up statement
    finding its transaction aborted) counts as the interrupt too.
    """
    seen: BaseException | None = exc
    for _ in range(10):  # the chain of exceptions raised while handling others
        if seen is None:
            return False
        if isinstance(seen, KeyboardInterrupt | duckdb.InterruptException):
            return True
        if isinstance(seen, RuntimeError) and str(seen).startswith("Query interrupted"):
            return True
        seen = seen.__context__
    return False


class Store:
    """An open DuckDB store. Use as a context manager."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, path: Path):
        self._main = connection
        self._owner = threading.get_ident()
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._cursor_lock = threading.Lock()
        #: Write transactions take turns: they all bump the same data_version row.
        self._writing = threading.RLock()
        self.path = path

    @property
    def conn(self) -> duckdb.DuckDBPyConnection:
        """This thread's connection: the store's own in the opening thread, a cursor elsewhere."""
        if threading.get_ident() == self._owner:
            return self._main
        cursor: duckdb.DuckDBPyConnection | None = getattr(self._local, "cursor", None)
        if cursor is None:
            with self._cursor_lock:
                cursor = self._main.cursor()
                self._cursors.append(cursor)
            self._local.cursor = cursor
        return cursor

    def release_thread(self) -> None:
        """Close this thread's cursor (a worker thread calls it when it is done)."""
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            return
        self._local.cursor = None
        with self._cursor_lock:
            if cursor in self._cursors:
                self._cursors.remove(cursor)
        cursor.close()

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
        with self._cursor_lock:
            cursors, self._cursors = self._cursors, []
        for cursor in cursors:
            cursor.close()
        self._main.close()

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
        # Every pending migration in one transaction: a file is never left between two
        # versions, and a new store is made in one commit rather than one per migration.
        with self.transaction() as conn:
            if current == 0:
                conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, note VARCHAR)")
            for version in range(current + 1, SCHEMA_VERSION + 1):
                note, sql = MIGRATIONS[version - 1]
                conn.execute(sql)
                conn.execute("INSERT INTO schema_version VALUES (?, ?)", [version, note])

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A write transaction; it bumps ``data_version`` so builds see that data changed.

        All or nothing: on any exception (Ctrl-C included, even inside a DuckDB
        statement) it is rolled back; an interrupt comes out as ``KeyboardInterrupt``.
        """
        conn = self.conn
        with self._writing:
            try:
                conn.execute("BEGIN TRANSACTION")
                yield conn
                if self._has_meta():
                    conn.execute(
                        "INSERT INTO meta VALUES ('data_version', '1') ON CONFLICT (key) DO UPDATE "
                        "SET value = CAST(CAST(meta.value AS BIGINT) + 1 AS VARCHAR)"
                    )
                conn.execute("COMMIT")
            except BaseException as exc:
                _rollback(conn)
                if interrupted(exc) and not isinstance(exc, KeyboardInterrupt):
                    raise KeyboardInterrupt from None
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


def _rollback(conn: duckdb.DuckDBPyConnection) -> None:
    """Roll back whatever is open; a transaction DuckDB already aborted is fine too."""
    try:
        conn.execute("ROLLBACK")
    except duckdb.Error:
        pass  # no transaction was open (BEGIN itself failed or was interrupted)
    except RuntimeError as exc:
        if not interrupted(exc):
            raise
        # A second Ctrl-C during the rollback: DuckDB rolls an unfinished transaction
        # back when the connection closes, so the file stays consistent either way.


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


@contextmanager
def store_errors(path: Path) -> Iterator[None]:
    """Turn any DuckDB failure inside the block into one StoreError line naming the file.

    Every write goes through a transaction that rolls back, so the message can
    promise that what was stored is kept.
    """
    try:
        yield
    except duckdb.Error as exc:
        if interrupted(exc):  # Ctrl-C is not a store failure: the CLI reports it as such
            raise KeyboardInterrupt from None
        raise StoreError(_explain_error(path, exc)) from None


def _explain_error(path: Path, exc: duckdb.Error) -> str:
    first = (str(exc).splitlines() or [type(exc).__name__])[0].strip()
    if isinstance(exc, duckdb.OutOfMemoryException):
        return (
            f"{path}: the data store ran out of memory ({first}); nothing stored was changed. "
            "Lower [demo] projects or days, or free memory, and build again"
        )
    return f"{path}: the data store failed ({first}); nothing stored was changed"
