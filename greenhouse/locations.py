"""Where a site's bundle and store live, readable before the config schema is loaded.

A build with nothing to do returns from the stamp beside the bundle
(:mod:`greenhouse.fingerprint`); to find it, it needs ``[build] output`` and
``[build] db``, and whether ``[demo]`` is on (a demo garden changes with the
day). Loading the pydantic schema for three settings cost more than the rest
of such a build, so this module reads them from the raw TOML, with the same
defaults the schema declares (it takes them from here). Anything unexpected
(an unreadable file, a value of the wrong type, nesting too deep for tomllib)
means "ask the schema": the full build reports it properly.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

CONFIG_FILE = "greenhouse.toml"
#: ``[build] output``: the folder the bundle is published to.
OUTPUT = "build/site"
#: ``[build] db``: the DuckDB data store.
DB = "build/greenhouse.duckdb"
#: ``[demo] enabled``.
DEMO = False


@dataclass(frozen=True)
class Locations:
    """A site's bundle and store, and whether it grows demo data."""

    output: Path
    db: Path
    demo: bool


def resolve(root: Path, setting: str, flag: Path | str | None) -> Path:
    """A command-line path (relative to the working folder) or a setting (relative to *root*)."""
    if flag:
        return Path(flag).resolve()
    path = Path(setting)
    return path if path.is_absolute() else root / path


def read_locations(
    root: Path, output: Path | str | None = None, db: Path | str | None = None
) -> Locations | None:
    """The locations from the raw ``greenhouse.toml`` under *root*, or None to ask the schema."""
    config = root / CONFIG_FILE
    try:
        raw = tomllib.loads(config.read_text(encoding="utf-8")) if config.exists() else {}
        build = raw.get("build", {})
        demo = raw.get("demo", {}).get("enabled", DEMO)
        settings = (build.get("output", OUTPUT), build.get("db", DB))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, AttributeError, RecursionError):
        return None
    if not all(isinstance(s, str) for s in settings) or not isinstance(demo, bool):
        return None
    # The bundle's real place, symlinks resolved, as the full build has it (build.paths).
    out = Path(os.path.realpath(resolve(root, settings[0], output)))
    return Locations(out, resolve(root, settings[1], db), demo)
