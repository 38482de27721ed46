"""The bundle folder: which folder a build may replace, and how it knows its own.

Publishing swaps the fresh bundle in for the output folder and deletes what
was there, so a wrong ``--output`` (``.``, ``build``, ``content``, a folder of
notes) would delete the user's work. Two rules keep that from happening:

* **Placement.** The output may not be, contain or sit inside the site's own
  inputs: the site folder, ``content/``, ``site_templates/``,
  ``greenhouse.toml`` and the DuckDB store. This depends on paths only, so
  ``greenhouse check`` reports it too.
* **Ownership.** An existing folder is replaced only when it is empty or
  greenhouse published it: every bundle carries :data:`MARKER`, a small file
  only greenhouse writes. A bundle published by 0.1 has no marker yet; it is
  recognised by its shape (:func:`is_legacy_bundle`): nothing at its top but
  what a 0.1 bundle holds, and a garden document the 0.1 API wrote.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

#: The file in every bundle that says "greenhouse published this folder".
MARKER = ".greenhouse-bundle"
MARKER_TEXT = (
    "This folder is a bundle published by greenhouse.\n"
    "`greenhouse build` replaces it whole: keep nothing else in it.\n"
)
#: What a bundle of greenhouse 0.1 (which wrote no marker) holds at its top, and
#: ``plants/`` (list pages that builds of the development version wrote before the marker).
LEGACY_TOP = frozenset(
    {
        "plants",
        "index.html",
        "404.html",
        "feed.xml",
        "sitemap.xml",
        "robots.txt",
        "api",
        "projects",
        "skills",
        "static",
        "analytics",
    }
)
LEGACY_REQUIRED = ("index.html", "404.html", "sitemap.xml", "api/v1/garden/index.json")


@dataclass(frozen=True)
class Guarded:
    """One input of the site that a bundle folder must keep clear of."""

    what: str
    path: Path
    folder: bool  # an output inside a folder input is refused too


def guarded(root: Path, store: Path) -> list[Guarded]:
    """The site's inputs: what an output folder may not be, contain or (for folders) sit in."""
    from greenhouse.config import CONFIG_FILE

    return [
        Guarded("the site folder", root, folder=False),  # build/site inside it is the default
        Guarded("the content folder", root / "content", folder=True),
        Guarded("the templates folder", root / "site_templates", folder=True),
        Guarded("the config file", root / CONFIG_FILE, folder=False),
        Guarded("the data store", store, folder=False),
    ]


def real(path: Path) -> Path:
    """*path* absolute with every symlink of its existing part resolved."""
    return Path(os.path.realpath(path))


def placement_problem(output: Path, root: Path, store: Path) -> str | None:
    """Why *output* may not hold the bundle because of where it is, or None."""
    out = real(output)
    for guard in guarded(root, store):
        target = real(guard.path)
        if out == target:
            return f"is {guard.what}"
        if target.is_relative_to(out):
            return f"contains {guard.what} ({target})"
        if guard.folder and out.is_relative_to(target):
            return f"is inside {guard.what} ({target})"
    return None


def ownership_problem(output: Path) -> str | None:
    """Why the existing folder at *output* may not be replaced, or None when it may."""
    if not output.exists():
        return None
    if not output.is_dir():
        return "is not a folder"
    try:
        entries = sorted(p.name for p in output.iterdir())
    except OSError as exc:
        return f"cannot be read: {exc.strerror}"
    if not entries or has_marker(output) or is_legacy_bundle(output):
        return None
    shown = ", ".join(entries[:5]) + (f" and {len(entries) - 5} more" if len(entries) > 5 else "")
    return (
        f"holds files greenhouse did not publish ({shown}); a build replaces its output folder "
        "whole, so choose a new or empty folder (or empty this one yourself)"
    )


def has_marker(folder: Path) -> bool:
    """Whether *folder* carries the marker a build writes (a regular file, our text)."""
    marker = folder / MARKER
    try:
        return not marker.is_symlink() and marker.is_file() and marker.read_text() == MARKER_TEXT
    except (OSError, UnicodeDecodeError):
        return False


def write_marker(folder: Path) -> None:
    """Mark *folder* as a bundle greenhouse published."""
    (folder / MARKER).write_text(MARKER_TEXT)


def is_legacy_bundle(folder: Path) -> bool:
    """Whether *folder* has exactly the shape of a bundle greenhouse 0.1 published.

    0.1 wrote no marker. Its bundles are still replaced on upgrade, but only
    when nothing at the top is foreign (a 0.1 build never wrote anything
    else there), the core pages exist as regular files, and the garden
    document is one the 0.1 API wrote. A folder of notes, sources or a data
    store fails the first test.
    """
    try:
        top = {p.name for p in folder.iterdir()}
        if not top <= LEGACY_TOP:
            return False
        for name in LEGACY_REQUIRED:
            path = folder / name
            if path.is_symlink() or not path.is_file():
                return False
        garden = json.loads((folder / "api/v1/garden/index.json").read_bytes())
    except (OSError, ValueError):
        return False
    return (
        isinstance(garden, dict)
        and garden.get("schema_version") == 1
        and isinstance(garden.get("generated_at"), str)
        and isinstance(garden.get("plants"), list)
    )
