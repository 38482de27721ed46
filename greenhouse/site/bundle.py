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

import contextlib
import errno
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISREG
from typing import Any


def dumps(document: Any) -> bytes:
    """Canonical JSON: sorted keys, compact, UTF-8."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def dumps_spliced(document: Mapping[str, Any], encoded: Mapping[str, bytes]) -> bytes:
    """What :func:`dumps` gives for *document* with the *encoded* values (JSON bytes) added.

    For values encoded apart: a snapshot's plants kept from an earlier build,
    a plant's history written by a faster encoder.
    """
    keys = sorted({*document, *encoded})
    items = [dumps(k) + b":" + (encoded[k] if k in encoded else dumps(document[k])) for k in keys]
    return b"{" + b",".join(items) + b"}"


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
    """Writes the files of a new bundle into the staging folder.

    The folder may hold a spare bundle from an earlier build
    (:func:`~greenhouse.site.publish.staging`): none of its files is trusted,
    except one that is the very file (same inode) the published bundle has
    where this build's output equals the published copy. Everything else is
    replaced, never written through (it may be a link to a published file),
    and :meth:`finish` removes what this build did not produce.
    """

    def __init__(
        self,
        root: Path,
        published: Path | None = None,
        previous_keys: Mapping[str, str] | None = None,
        keep_keys: bool = False,
    ):
        self.root = root
        self.published = published if published is not None and published.is_dir() else None
        self.previous_keys = previous_keys or {}
        # Keys are digested only for a caller that keeps them (serve), or to compare.
        self.keep_keys = keep_keys or bool(self.previous_keys)
        self.keys: dict[str, str] = {}
        self.files = 0
        self.bytes = 0
        self.linked = 0  # files that are the published ones (linked, or already in the spare)
        self.reused = 0  # outputs not even rendered: same key as the published copy
        # Plain strings, not Path objects: thousands of files per build.
        self._root = os.fspath(root)
        self._published = os.fspath(self.published) if self.published is not None else ""
        self._folders: set[str] = {self._root}
        self._produced: set[str] = set()
        with os.scandir(self._root) as entries:
            self._recycled = any(entries)
        self._can_link = self.published is not None
        self._spare: tuple[list[str], list[str]] | None = None  # listed by list_spare()

    @property
    def linkable(self) -> str | None:
        """The published folder, while files equal to its own can be linked from it."""
        return self._published if self._can_link else None

    def write(self, relative: str, data: bytes | str) -> None:
        """Write one file of the bundle (the published file when the bytes are equal)."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        path = self._path(relative)
        inode = self._published_inode(relative, data)
        if not (inode is not None and self._use_published(relative, path, inode)):
            self._clear(path)
            with open(path, "xb", buffering=0) as handle:
                handle.write(data)
        self.files += 1
        self.bytes += len(data)

    def write_published(self, relative: str, inode: int, size: int) -> bool:
        """Make *relative* the published file of inode *inode*, found to hold this build's bytes.

        For outputs compared with the published copy elsewhere (a rendering
        process, :mod:`greenhouse.site.press`). False when it cannot be
        linked: the caller writes the bytes instead.
        """
        if not self._can_link:
            return False
        if not self._use_published(relative, self._path(relative), inode):
            return False
        self.files += 1
        self.bytes += size
        return True

    def json(self, relative: str, document: Any) -> None:
        """Write one JSON document."""
        self.write(relative, dumps(document))

    def render(
        self, relative: str, key: Callable[[], str], produce: Callable[[], bytes | str]
    ) -> None:
        """Write what *produce* makes, unless the published copy was made from the same *key*.

        *key* digests every input of the output (an input left out of it would
        let a stale file through); it is only called when keys are kept.
        """
        if not self.keep_keys:
            self.write(relative, produce())
            return
        self.keys[relative] = digested = key()
        if self.previous_keys.get(relative) == digested and self._can_link:
            path = self._path(relative)
            try:
                stat = os.stat(os.path.join(self._published, relative))
            except OSError:
                stat = None
            if stat is not None and self._use_published(relative, path, stat.st_ino):
                self.reused += 1
                self.files += 1
                self.bytes += stat.st_size
                return
        self.write(relative, produce())

    def list_spare(self) -> None:
        """List what the folder holds now, for :meth:`finish` to remove what was not produced.

        Any time before :meth:`finish` will do: whatever this build wrote is
        among what it produced, and a file it writes after the listing either
        replaced a listed one or is not listed. So a build lists the spare
        while its rendering processes still work (5,000 paths, 25-60 ms of a
        1,000-plant rebuild), not before its pages could begin. (On a worker
        thread the listing's GIL hand-overs made every read of the rendering
        thread wait.)
        """
        if self._recycled and self._spare is None:
            self._spare = _tree(self._root)

    def finish(self) -> None:
        """Remove what a spare held that this build did not produce."""
        self.list_spare()
        if self._spare is None:
            return
        files, folders = self._spare  # as listed: some made way for ours since
        ours = self._produced | self._folders
        gone = (FileNotFoundError, NotADirectoryError)  # removed, or its folder, to make way
        for path in files:
            if path not in ours:
                with contextlib.suppress(*gone):
                    os.unlink(path)
        for path in folders:
            if path in ours:
                continue
            if os.path.islink(path):
                os.unlink(path)
            else:
                with contextlib.suppress(*gone):
                    shutil.rmtree(path)

    def _path(self, relative: str) -> str:
        """The staging path of *relative*, its folder made."""
        path = os.path.join(self._root, relative)
        self._produced.add(path)
        self._folder(os.path.dirname(path))
        return path

    def _folder(self, folder: str) -> None:
        """Make *folder* a real folder (in a spare, whatever stands there may be anything)."""
        if folder in self._folders:
            return
        self._folder(os.path.dirname(folder))
        if self._recycled and (os.path.islink(folder) or _exists_but_not_folder(folder)):
            os.unlink(folder)  # never follow a link out of the bundle
        with contextlib.suppress(FileExistsError):
            os.mkdir(folder)
        self._folders.add(folder)

    def _published_inode(self, relative: str, data: bytes) -> int | None:
        """The published file's inode if its bytes are *data*, else None."""
        if not self._can_link:
            return None
        return published_inode(self._published, relative, data)

    def _use_published(self, relative: str, path: str, inode: int) -> bool:
        """Make *path* the published file (inode *inode*); False when it cannot be linked."""
        if self._recycled:
            try:
                if os.lstat(path).st_ino == inode:
                    self.linked += 1  # the spare already holds it
                    return True
            except OSError:
                pass
        self._clear(path)
        try:
            os.link(os.path.join(self._published, relative), path)
        except FileNotFoundError:
            return False
        except OSError as exc:
            if exc.errno in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES):
                self._can_link = False  # this file system (or folder pair) cannot link: write
            return False
        self.linked += 1
        return True

    def _clear(self, path: str) -> None:
        """Remove whatever a spare (or an earlier write of this build) holds at *path*."""
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except (IsADirectoryError, PermissionError):
            shutil.rmtree(path)


_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


def published_inode(published: str, relative: str, data: bytes) -> int | None:
    """The inode of *relative* in the bundle folder *published* if it holds *data*, else None."""
    # os.open and one os.read: half the time of open()'s buffered file object (8 against 15
    # us), for the 4,000 outputs of a 1,000-plant rebuild. A short read only fails the match.
    try:
        # (Not blocking on a FIFO where a file should be: it only fails the match.)
        handle = os.open(os.path.join(published, relative), os.O_RDONLY | _NONBLOCK)
    except OSError:
        return None
    try:
        stat = os.fstat(handle)
        if not S_ISREG(stat.st_mode) or stat.st_size != len(data):
            return None
        if os.read(handle, stat.st_size + 1) != data:
            return None
        return stat.st_ino
    except OSError:
        return None
    finally:
        os.close(handle)


def _exists_but_not_folder(path: str) -> bool:
    return os.path.lexists(path) and not os.path.isdir(path)


def _tree(root: str) -> tuple[list[str], list[str]]:
    """Every file and folder under *root* (links to folders among the folders, not followed)."""
    files: list[str] = []
    folders: list[str] = []
    for folder, subfolders, names in os.walk(root):
        files += [os.path.join(folder, name) for name in names]
        folders += [os.path.join(folder, name) for name in subfolders]
    return files, folders
