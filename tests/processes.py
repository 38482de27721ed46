"""Watching the helper processes a build starts, through ``/proc`` (Linux)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

SPAWNED = "multiprocessing.spawn"

needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")


def spawned_children(parent: int) -> list[int]:
    """The processes *parent* started with multiprocessing's ``spawn``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and SPAWNED.encode() in cmdline:
            found.append(int(entry.name))
    return found


def marked(mark: str) -> list[int]:
    """Processes whose environment carries *mark* (a build and everything it started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if mark.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def marked_build(command: list[str], mark: str, cwd: Path) -> subprocess.Popen[bytes]:
    """A build command (after ``python``) run with *mark* in its environment, in its own session.

    Its own process group: Ctrl-C sent to it reaches it and its children only.
    """
    return subprocess.Popen(
        [sys.executable, *command],
        cwd=cwd,
        env={**os.environ, "GREENHOUSE_TEST_MARK": mark},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def wait_for(condition: Callable[[], bool], seconds: float = 60.0) -> bool:
    """Whether *condition* came true within *seconds*."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def stop_and_check(proc: subprocess.Popen[bytes], how: str, mark: str) -> None:
    """Stop *proc* as a user would ("ctrl-c" or "kill -9") and check it left nothing behind.

    Ctrl-C goes to the whole process group, as a terminal sends it: the build
    must exit 130 without a traceback. Either way, no process carrying *mark*
    may outlive it.
    """
    try:
        if how == "ctrl-c":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            os.kill(proc.pid, signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    if how == "ctrl-c":
        assert proc.returncode == 130, err.decode()
        assert b"Traceback" not in err and b"KeyboardInterrupt" not in err, err.decode()
    assert wait_for(lambda: marked(mark) == [], 20), f"left behind: {marked(mark)}"
