"""Writing the files of a new bundle, reusing what the published one already holds.

A build renders into a staging folder that is then swapped in whole
(:mod:`greenhouse.site.publish`). Most files of a rebuild are the same as in
the published bundle, so :class:`Bundle` hard-links those instead of writing
them again:

* :meth:`Bundle.write` compares the new bytes with the published copy and
  links it when they are equal (same bytes by construction);
* :meth:`Bundle.render` takes a *key*, a digest of everything the output is
  made from (its declared inputs). When the published copy was made from the
  same key it is linked without being rendered at all. Keys live only in the
  memory of a long-running process (``greenhouse serve``), in a
  :class:`Published` record that is dropped whenever the published folder is
  not the one they describe.

Why links: creating a file costs an inode, and on ext4 without a journal
finding a free one means skipping every inode freed in the last half minute,
so a rebuild that wrote thousands of new files after deleting thousands of
old ones spent seconds of system time in the allocator. A link costs no inode
and writes no data.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def dumps(document: Any) -> bytes:
    """Canonical JSON: sorted keys, compact, UTF-8."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def digest(*parts: bytes | str) -> str:
    """A short digest of some inputs (for :meth:`Bundle.render` keys)."""
    hasher = hashlib.blake2b(digest_size=20)
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        hasher.update(len(data).to_bytes(8, "little"))  # no two splits of the same bytes collide
        hasher.update(data)
    return hasher.hexdigest()


@dataclass
class Published:
    """What a long-running process remembers about the bundle it published last.

    ``keys`` maps each rendered output to the key it was made from; they are
    only trusted while the folder at ``output`` is still the one published
    (same inode and change time), so a build by another process, or a bundle
    replaced by hand, makes everything render again.
    """

    output: Path
    identity: tuple[int, int] | None = None
    keys: dict[str, str] = field(default_factory=dict)

    def current_keys(self) -> dict[str, str]:
        """The keys, if the published folder is still the one they describe."""
        if self.identity is None or _identity(self.output) != self.identity:
            return {}
        return self.keys

    def remember(self, keys: Mapping[str, str]) -> None:
        """Record the keys of the bundle just swapped in at ``output``."""
        self.keys = dict(keys)
        self.identity = _identity(self.output)


def _identity(folder: Path) -> tuple[int, int] | None:
    try:
        stat = folder.stat()
    except OSError:
        return None
    return (stat.st_ino, stat.st_ctime_ns)


class Bundle:
    """Writes files into the staging folder, linking unchanged ones from the published bundle."""

    def __init__(
        self,
        root: Path,
        published: Path | None = None,
        previous_keys: Mapping[str, str] | None = None,
    ):
        self.root = root
        self.published = published if published is not None and published.is_dir() else None
        self.previous_keys = previous_keys or {}
        self.keys: dict[str, str] = {}
        self.files = 0
        self.bytes = 0
        self.linked = 0  # files linked from the published bundle (rendered or not)
        self.reused = 0  # outputs not even rendered: same key as the published copy
        self._folders: set[Path] = set()
        self._can_link = self.published is not None

    def write(self, relative: str, data: bytes | str) -> None:
        """Write one file of the bundle (a link to the published copy when the bytes are equal)."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        path = self.root / relative
        self._folder(path.parent)
        if not (self._same_as_published(relative, data) and self._link(relative, path)):
            with open(path, "wb", buffering=0) as handle:
                handle.write(data)
        self.files += 1
        self.bytes += len(data)

    def json(self, relative: str, document: Any) -> None:
        """Write one JSON document."""
        self.write(relative, dumps(document))

    def render(self, relative: str, key: str, produce: Callable[[], bytes | str]) -> None:
        """Write what *produce* makes from inputs digested in *key*, unless the published copy has it.

        *key* must cover every input of the output: an input left out of it
        would let a stale file through.
        """
        self.keys[relative] = key
        if self.previous_keys.get(relative) == key:
            path = self.root / relative
            self._folder(path.parent)
            if self._link(relative, path):
                self.reused += 1
                self.files += 1
                self.bytes += path.stat().st_size
                return
        self.write(relative, produce())

    def _folder(self, folder: Path) -> None:
        if folder not in self._folders:
            folder.mkdir(parents=True, exist_ok=True)
            self._folders.add(folder)

    def _same_as_published(self, relative: str, data: bytes) -> bool:
        if not self._can_link:
            return False
        assert self.published is not None
        try:
            with open(self.published / relative, "rb") as handle:
                if os.fstat(handle.fileno()).st_size != len(data):
                    return False
                return handle.read() == data
        except OSError:
            return False

    def _link(self, relative: str, path: Path) -> bool:
        if not self._can_link:
            return False
        assert self.published is not None
        try:
            os.link(self.published / relative, path)
        except FileNotFoundError:
            return False
        except OSError as exc:
            if exc.errno in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES):
                self._can_link = False  # this file system (or folder pair) cannot link: write
            return False
        self.linked += 1
        return True
