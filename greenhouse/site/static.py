"""Which static files a bundle publishes.

``site_templates/static/`` (and the theme's ``static/``) is copied into the
bundle, which is then published to the world. A symlink there must not
publish what it points at blindly: a link to ``/proc/self/environ`` would
publish every token of the build's environment, a link to ``../../.git/config``
the credentials ``actions/checkout`` keeps there. So:

* a regular file in the static folder is published;
* a link (to a file or a folder) is followed only when it resolves inside the
  site folder, through no hidden file or folder (``.git``, ``.env``), and not
  to a private file (the data store);
* anything else (a link out of the site, a dangling link, a loop, a FIFO,
  socket or device) is skipped, with a warning naming it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from greenhouse.site.output import real


@dataclass(frozen=True)
class StaticRule:
    """Where the files of one static folder may really live."""

    folder: Path  # the static folder itself: anything really in it is the user's to publish
    inside: Path  # links may lead elsewhere under this folder (the site), never out of it
    private: Sequence[Path] = ()  # never published, even inside (the data store)

    def refusal(self, source: Path) -> str | None:
        """Why the real path *source* may not be published, or None."""
        folder = real(self.folder)
        if source.is_relative_to(folder):
            return None
        inside = real(self.inside)
        if not source.is_relative_to(inside):
            return f"leads out of the site folder (to {source})"
        hidden = [part for part in source.relative_to(inside).parts if part.startswith(".")]
        if hidden:
            return f"leads into a hidden file or folder ({hidden[0]}, at {source})"
        for private in self.private:
            mine = real(private)
            beside = source.parent == mine.parent and source.name.startswith(mine.name + ".")
            if source == mine or beside:  # the store, or its write-ahead log
                return f"leads to a private file ({source})"
        return None


@dataclass
class StaticFiles:
    """The selection: bundle path -> source file, and what was skipped and why."""

    files: dict[str, Path] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def select(rule: StaticRule, found: StaticFiles | None = None) -> StaticFiles:
    """Add the publishable files under ``rule.folder`` to *found* (later folders override)."""
    found = found if found is not None else StaticFiles()
    if rule.folder.is_dir() and not rule.folder.is_symlink():
        _walk(rule, rule.folder, "", {real(rule.folder)}, found)
    return found


def _walk(rule: StaticRule, folder: Path, prefix: str, seen: set[Path], found: StaticFiles) -> None:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        found.skipped.append(f"{folder}: cannot be read ({exc.strerror})")
        return
    for entry in entries:
        path = Path(entry.path)
        relative = prefix + entry.name
        try:
            mode = os.stat(path).st_mode  # follows links: what would be copied
        except OSError:
            found.skipped.append(f"{path}: a link that leads nowhere")
            continue
        source = real(path)
        refusal = rule.refusal(source) if entry.is_symlink() or source != path else None
        if refusal:
            found.skipped.append(f"{path}: {refusal}")
        elif stat.S_ISDIR(mode):
            if source in seen:
                found.skipped.append(f"{path}: a link back into a folder above it")
                continue
            _walk(rule, path, relative + "/", seen | {source}, found)
        elif stat.S_ISREG(mode):
            found.files[relative] = path
        else:
            found.skipped.append(f"{path}: not a regular file (a FIFO, socket or device)")


def publishable(rule: StaticRule, path: Path) -> bool:
    """Whether the single file *path* under ``rule.folder`` may be copied as it is.

    True only for a regular file reached through no link at all; anything
    else is left to a full :func:`select` (which warns about it).
    """
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return False
    return stat.S_ISREG(mode) and real(path) == Path(os.path.abspath(path))
