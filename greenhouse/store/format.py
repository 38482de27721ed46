"""The DuckDB file's storage format, read from its header and kept to the one greenhouse tests.

The store is cached between CI runs for months and moves between machines whose DuckDB may be
any release in greenhouse's range (``pyproject.toml``). DuckDB keeps reading and writing an
existing file in the storage format it was created with, but a *new* file gets the newest format
of the running release: DuckDB 2.0 writes format 999 ("v2.0.0+"), which no DuckDB 1.x can open.
So greenhouse creates every store in one pinned format (:data:`STORAGE_VERSION`), readable by
every DuckDB in its range, and checks the header before DuckDB touches a file:

- the pinned format: opened as it is;
- another format greenhouse knows (made by a newer DuckDB outside greenhouse, say): converted
  back by export and import (``COPY FROM DATABASE``) into a new file in the pinned format,
  checked, and swapped in, with the original kept beside it as a backup; never reinterpreted
  in place;
- a format greenhouse has never been tested with: refused, the file left untouched.

The header layout (DuckDB's ``MainHeader``): an 8-byte checksum, the magic ``DUCK`` at byte 8,
the storage version number (little-endian uint64) at byte 12, four flag words, then the
release that created the file as a NUL-padded string at byte 52.
"""

from __future__ import annotations

import logging
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import duckdb

from greenhouse.errors import StoreError

log = logging.getLogger(__name__)

#: The storage format greenhouse creates stores in (``storage_compatibility_version``).
STORAGE_VERSION = "v1.0.0"
#: Its number in the file header.
STORAGE_NUMBER = 64
#: Header numbers of the formats greenhouse knows, and the DuckDB release that introduced each.
KNOWN_FORMATS = {
    64: "v1.0.0",  # DuckDB 0.10 to 1.1 wrote it too
    65: "v1.2.0",
    66: "v1.3.0",
    67: "v1.4.0",
    999: "v2.0.0",
}
_MAGIC = b"DUCK"
_HEADER = 84


@dataclass(frozen=True)
class FileFormat:
    """What a DuckDB file's header says about it."""

    number: int
    created_by: str

    @property
    def name(self) -> str:
        """The format as DuckDB names it, e.g. ``v2.0.0``, or the bare number when unknown."""
        return KNOWN_FORMATS.get(self.number, f"#{self.number}")


def read_format(path: Path) -> FileFormat | None:
    """The storage format in *path*'s header; None when it is not a DuckDB file (or empty)."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(_HEADER)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"{path}: cannot read the data store: {exc.strerror}") from None
    if len(header) < _HEADER or header[8:12] != _MAGIC:
        return None
    (number,) = struct.unpack_from("<Q", header, 12)
    created_by = header[52:84].split(b"\0", 1)[0].decode("ascii", "replace")
    return FileFormat(number, created_by)


def ensure_format(path: Path, *, read_only: bool) -> None:
    """Make sure the store at *path* is in the pinned format before DuckDB opens it.

    Raises :class:`StoreError` for a format greenhouse has not been tested with, and for a
    convertible one when opening read-only (the conversion writes).
    """
    found = read_format(path)
    if found is None or found.number == STORAGE_NUMBER:
        return
    if found.number not in KNOWN_FORMATS:
        raise StoreError(
            f"{path}: DuckDB storage format {found.name} (made by DuckDB {found.created_by}) "
            "is one greenhouse has not been tested with; the file was left untouched "
            "(upgrade greenhouse, or point --db elsewhere)"
        )
    if read_only:
        raise StoreError(
            f"{path}: stored in DuckDB format {found.name}, not greenhouse's {KNOWN_FORMATS[STORAGE_NUMBER]}; "
            "run 'greenhouse build' once to convert it"
        )
    convert(path, found)


def convert(path: Path, found: FileFormat) -> Path:
    """Rewrite *path* in the pinned format by export and import; returns the backup's path.

    The copy is made beside the store, compared table by table with the original, and swapped
    in with a rename, so an interruption leaves the original in place.
    """
    backup = path.with_name(f"{path.name}.{found.name}-backup")
    fresh = path.with_name(f".{path.name}.converting")
    for leftover in (fresh, fresh.with_name(fresh.name + ".wal")):
        leftover.unlink(missing_ok=True)
    try:
        conn = duckdb.connect(":memory:")
    except duckdb.Error as exc:  # pragma: no cover - an in-memory database always opens
        raise StoreError(f"{path}: cannot convert the data store: {exc}") from None
    try:
        conn.execute(f"ATTACH '{_quoted(path)}' AS old (READ_ONLY)")
        conn.execute(f"ATTACH '{_quoted(fresh)}' AS fresh (STORAGE_VERSION '{STORAGE_VERSION}')")
        conn.execute("COPY FROM DATABASE old TO fresh")
        _same_rows(conn)
        conn.execute("DETACH fresh")
        conn.execute("DETACH old")
    except duckdb.Error as exc:
        fresh.unlink(missing_ok=True)
        first = str(exc).splitlines()[0]
        raise StoreError(
            f"{path}: stored in DuckDB format {found.name}, which this DuckDB "
            f"({duckdb.__version__}) cannot convert: {first}; the file was left untouched"
        ) from None
    finally:
        conn.close()
    os.replace(path, backup)
    os.replace(fresh, path)
    log.warning(
        "%s: converted from DuckDB storage format %s to %s (the original is kept as %s)",
        path,
        found.name,
        KNOWN_FORMATS[STORAGE_NUMBER],
        backup.name,
    )
    return backup


def _same_rows(conn: duckdb.DuckDBPyConnection) -> None:
    """Refuse a copy whose tables or row counts differ from the original's."""
    tables = conn.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'old' "
        "ORDER BY ALL"
    ).fetchall()
    copied = conn.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'fresh' "
        "ORDER BY ALL"
    ).fetchall()
    if tables != copied:
        raise duckdb.Error(f"the copy has tables {copied}, the original {tables}")
    for schema, table in tables:
        name = f'"{schema}"."{table}"'
        old = conn.execute(f"SELECT count(*) FROM old.{name}").fetchone()
        new = conn.execute(f"SELECT count(*) FROM fresh.{name}").fetchone()
        if old != new:
            raise duckdb.Error(f"{table}: {new} rows copied of {old}")


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")
