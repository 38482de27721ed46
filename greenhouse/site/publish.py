"""Publishing the bundle atomically, and one build at a time.

The bundle is rendered into a hidden sibling folder and then swapped in with
one ``renameat2(RENAME_EXCHANGE)`` on Linux, so a static server watching
``build/site/`` never sees an empty or half-written site and a failed build
leaves the previous bundle untouched. Where the exchange is not available the
swap falls back to two renames (a window of microseconds without a folder).

Every staged folder carries the marker of :mod:`greenhouse.site.output`, and
the swap checks again, at the last moment, that the folder it replaces is
one greenhouse published (or empty): the old contents are deleted after it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from greenhouse.errors import BuildError, BusyError
from greenhouse.site.output import ownership_problem, write_marker

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


@contextlib.contextmanager
def build_lock(output: Path) -> Iterator[None]:
    """Hold an exclusive lock for *output*; a second build refuses with a clear message."""
    lock_path = output.parent / f".{output.name}.lock"
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock_path, "a+")  # noqa: SIM115 - held for the whole build
    except OSError as exc:
        raise BuildError(f"{output.parent}: cannot write here: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BusyError(
                f"{output}: another greenhouse build is running for this site; wait for it to finish"
            ) from None
        yield
    finally:
        handle.close()


@contextlib.contextmanager
def staging(output: Path) -> Iterator[Path]:
    """A fresh hidden folder beside *output*; removed unless it was published."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=f".{output.name}.new-", dir=output.parent))
    except OSError as exc:
        raise BuildError(f"{output.parent}: cannot write the bundle here: {exc.strerror}") from None
    try:
        try:
            write_marker(folder)
        except OSError as exc:
            raise BuildError(f"{folder}: cannot write the bundle: {exc.strerror}") from None
        yield folder
    finally:
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)


def clean_leftovers(output: Path) -> None:
    """Remove staging folders of builds that were killed halfway."""
    for leftover in output.parent.glob(f".{output.name}.new-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in output.parent.glob(f".{output.name}.old-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def swap_in(staged: Path, output: Path) -> None:
    """Make *staged* the published bundle at *output*, atomically where the OS allows."""
    staged.chmod(0o755)
    if not output.exists():
        os.rename(staged, output)
        return
    problem = ownership_problem(output)  # again: the folder may have changed during the build
    if problem:
        raise BuildError(f"{output}: {problem}")
    if _exchange(staged, output):
        shutil.rmtree(staged, ignore_errors=True)  # staged now holds the old bundle
        return
    old = Path(tempfile.mkdtemp(prefix=f".{output.name}.old-", dir=output.parent))
    os.rmdir(old)
    os.rename(output, old)
    os.rename(staged, output)
    shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    try:
        libc = ctypes.CDLL(libc_name, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    if ctypes.get_errno() in (errno.EINVAL, errno.ENOSYS, errno.EXDEV):
        return False
    raise BuildError(f"{b}: cannot publish the bundle: {os.strerror(ctypes.get_errno())}")
