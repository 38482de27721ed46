"""What a build depends on, and the stamp that lets an unchanged build return at once.

A build's inputs are greenhouse itself, the config file, every file under
``content/`` and ``site_templates/``, the theme, the flags that change the
output, the garden's moment and the store's data. :func:`inputs_digest`
digests the files and flags from raw bytes (no parsing, so it is cheap); the
build adds the moment, and in the store's own check its data version.

After publishing, a build writes a *stamp* beside the bundle
(``build/.site.stamp``): that digest, the identity of the store file and of
the published folder (inode, size, modification and change times), and the
moment the garden showed. An offline build whose inputs digest to the same
value, with the store file and the folder untouched since, has nothing to do;
it knows this without opening DuckDB or importing the renderer, which is
most of what such a build used to cost.

The store file changes with every write (DuckDB checkpoints on close), and
its change time cannot be set back by hand, so an untouched identity means
untouched data. Anything else falls back to the full check in the store.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from greenhouse import __version__

if TYPE_CHECKING:
    from greenhouse.locations import Locations

PACKAGE = Path(__file__).parent
STAMP_VERSION = 2


def inputs_digest(
    root: Path, out: Path, db: Path, base_url: str | None, demo_day: date | None
) -> str:
    """A digest of every file and flag a build reads (not the store, nor the moment).

    *base_url* is the ``--base-url`` flag (None without it): the config file
    is digested whole, so nothing that needs the schema is read here.
    """
    from greenhouse.locations import CONFIG_FILE
    from greenhouse.site import THEME

    digest = hashlib.blake2b(digest_size=20)
    head = [__version__, str(out), str(db), str(base_url), str(demo_day)]
    digest.update("|".join(head).encode())
    config = root / CONFIG_FILE
    digest.update(config.read_bytes() if config.is_file() else b"-")
    for folder in (root / "content", root / "site_templates", THEME):
        _digest_folder(digest, folder, contents=True)
    # A new greenhouse, even an unreleased one, rebuilds: its sources by size and time.
    _digest_folder(digest, PACKAGE, contents=False, suffix=".py")
    return digest.hexdigest()


def _digest_folder(digest: hashlib.blake2b, folder: Path, contents: bool, suffix: str = "") -> None:
    digest.update(f"\0{folder}\0".encode())
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob(f"*{suffix}")):
        if not path.is_file():
            continue
        name = str(path.relative_to(folder)).encode()
        if contents:
            data = path.read_bytes()
            digest.update(b"%d:%s:%d:" % (len(name), name, len(data)) + data)
        else:
            stat = path.stat()
            digest.update(b"%s:%d:%d;" % (name, stat.st_size, stat.st_mtime_ns))


@dataclass(frozen=True)
class Stamp:
    """What the last build published, and from what."""

    inputs: str  # inputs_digest() of that build, then ":" and the moment the garden showed
    store: list[int]  # identity of the store file after the build closed it
    bundle: list[int]  # identity of the published folder
    now: str  # the moment the garden showed (ISO)
    now_from_data: (
        bool  # True: the store's latest sync; False: SOURCE_DATE_EPOCH or the day's start
    )
    # The build's warnings (content files whose repository was renamed or is gone): they
    # come from the content and the store, so a skipped build shows them again from here.
    warnings: list[str] = field(default_factory=list)
    version: int = STAMP_VERSION


def stamp_path(out: Path) -> Path:
    """Where the stamp of the bundle at *out* lives (beside it, hidden)."""
    return out.parent / f".{out.name}.stamp"


def file_identity(path: Path) -> list[int] | None:
    """Inode, size, modification and change time of *path* (None if it is missing)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return [stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]


def store_identity(db: Path) -> list[int] | None:
    """The store file's identity; None while a write-ahead log is pending (data not settled)."""
    if Path(f"{db}.wal").exists():
        return None
    return file_identity(db)


def read_stamp(out: Path) -> Stamp | None:
    """The stamp beside *out*, if there is a readable one of this version."""
    try:
        raw = json.loads(stamp_path(out).read_text(encoding="utf-8"))
        stamp = Stamp(**raw)
    except (OSError, ValueError, TypeError):
        return None
    return stamp if stamp.version == STAMP_VERSION else None


def write_stamp(out: Path, stamp: Stamp) -> None:
    """Replace the stamp beside *out* atomically (a torn stamp would only cost a full check)."""
    path = stamp_path(out)
    temporary = path.with_name(path.name + ".tmp")
    try:
        temporary.write_text(json.dumps(asdict(stamp)), encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        temporary.unlink(missing_ok=True)  # a stamp is an optimisation: never fail a build for it


def up_to_date(
    root: Path,
    output: Path | str | None,
    db: Path | str | None,
    base_url: str | None,
    fixed_now: datetime | None,
    today: date,
) -> tuple[Path, tuple[str, ...]] | None:
    """The bundle and the last build's warnings, if the stamp shows that nothing changed since.

    Runs before the config schema is loaded (:mod:`greenhouse.locations`). *today*
    is the day of the clock (UTC), or of *fixed_now* (``SOURCE_DATE_EPOCH``). None
    sends the build down the full path, which also reports any problem.
    """
    from greenhouse.errors import GreenhouseError
    from greenhouse.locations import read_locations
    from greenhouse.site.publish import build_lock

    where = read_locations(root, output, db) if root.is_dir() else None
    if where is None or not stamp_path(where.output).is_file():
        return None  # never built here: the full path checks the place before it makes anything
    try:
        with build_lock(where.output):
            stamp = _matching_stamp(root, where, base_url, fixed_now, today)
    except (GreenhouseError, OSError):  # busy, unwritable, unreadable: the full path says so
        return None
    return (where.output, tuple(stamp.warnings)) if stamp is not None else None


def _matching_stamp(
    root: Path, where: Locations, base_url: str | None, fixed_now: datetime | None, today: date
) -> Stamp | None:
    out = where.output
    stamp = read_stamp(out)
    if stamp is None or store_identity(where.db) != stamp.store:
        return None
    if file_identity(out) != stamp.bundle or not (out / "index.html").is_file():
        return None
    if fixed_now is not None:
        now = fixed_now
    elif stamp.now_from_data:
        now = datetime.fromisoformat(stamp.now)  # the same store holds the same latest sync
    else:
        now = day_start(today)
    files = inputs_digest(root, out, where.db, base_url, today if where.demo else None)
    return stamp if f"{files}:{now.isoformat()}" == stamp.inputs else None


def record(
    out: Path,
    db: Path,
    inputs: str,
    now: datetime,
    now_from_data: bool,
    warnings: tuple[str, ...] = (),
) -> None:
    """Write the stamp of the bundle at *out*, once the store file has settled (closed)."""
    store, bundle = store_identity(db), file_identity(out)
    if store is not None and bundle is not None:
        stamp = Stamp(inputs, store, bundle, now.isoformat(), now_from_data, list(warnings))
        write_stamp(out, stamp)


def day_start(day: date) -> datetime:
    """The moment a garden with no sync yet shows: the start of the day (UTC)."""
    return datetime.combine(day, datetime.min.time())
