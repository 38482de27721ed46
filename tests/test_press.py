"""Rendering the plants' pages in another process: the same bytes, and nothing left behind.

A one-off build of a large garden hands its plants' pages and documents to a
rendering process (``greenhouse.site.press``). These tests start real
processes and compare whole bundles byte for byte with the build's own
render; the thresholds are lowered so that a small garden is enough.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from greenhouse.build import build
from greenhouse.build_cache import BuildCache
from greenhouse.site import og, press, workers
from tests.conftest import REPO
from tests.processes import (
    marked_build,
    needs_proc,
    spawned_children,
    stop_and_check,
    wait_for,
)

PLANTS = 40


def garden_site(root: Path, name: str, projects: int = PLANTS, days: int = 200) -> Path:
    site = root / name
    site.mkdir(parents=True)
    (site / "greenhouse.toml").write_text(
        f'[site]\ntitle = "Press"\nbase_url = "https://press.example/garden/"\n'
        f"[demo]\nenabled = true\nprojects = {projects}\ndays = {days}\n"
        "[sharing]\npreview_images = false\n"
    )
    return site


def tree(folder: Path) -> dict[str, bytes]:
    """Every file of a bundle, by its path inside it."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def one_core_bundle(root: Path, cores: dict[str, int]) -> dict[str, bytes]:
    """The bundle of a garden built on one core: no rendering process, every page in the build."""
    cores["cores"] = 1
    alone = garden_site(root, "alone")
    build(alone, offline=True)
    return tree(alone / "build/site")


class Watched:
    """What the builds' printings did: plants handed to the process, and taken back."""

    def __init__(self) -> None:
        self.handed: list[int] = []
        self.stolen: list[int] = []


@pytest.fixture
def cores(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Small gardens go to the press; the cores the build sees are set per test (default 2)."""
    monkeypatch.setattr(press, "MIN_PLANTS", 10)
    monkeypatch.setattr(press, "CHUNK", 4)
    seen = {"cores": 2}
    monkeypatch.setattr(press, "cores", lambda: seen["cores"])
    monkeypatch.setattr(press, "_load", lambda: 0.0)  # an idle machine, whatever runs beside
    return seen


@pytest.mark.parametrize(
    ("cores", "load", "spare"),
    [(1, 0.0, 0), (2, 0.0, 1), (2, 1.9, 1), (2, 2.0, 0), (2, 5.0, 0), (4, 1.0, 3), (4, 2.2, 2)],
)
def test_a_rendering_process_takes_only_an_idle_core(
    monkeypatch: pytest.MonkeyPatch, cores: int, load: float, spare: int
) -> None:
    monkeypatch.setattr(press, "_load", lambda: load)
    assert press.spare_cores(cores) == spare


@pytest.mark.parametrize(
    ("average", "proc", "load"),
    [
        (2.1, "2.10 1.97 1.50 1/80 20851\n", 1.0),  # a busy minute just ended: idle now
        (1.9, "1.90 1.20 0.80 3/80 20851\n", 1.9),  # busy now, and for a while
        (0.3, "0.30 0.20 0.10 2/80 20851\n", 0.3),  # a passing task: the minute was idle
        (1.5, None, 1.5),  # no /proc/loadavg (macOS): the average alone
        (1.5, "garbled\n", 1.5),
    ],
)
def test_the_load_is_the_lower_of_the_last_minute_and_now(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, average: float, proc: str | None, load: float
) -> None:
    monkeypatch.setattr(os, "getloadavg", lambda: (average, 0.0, 0.0))
    real_open = open

    def fake_open(path: object, *args: object, **kwargs: object) -> object:
        if path == "/proc/loadavg":
            if proc is None:
                raise FileNotFoundError(path)
            (tmp_path / "loadavg").write_text(proc)
            return real_open(tmp_path / "loadavg", *args, **kwargs)  # type: ignore[call-overload]
        return real_open(path, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr("builtins.open", fake_open)
    assert press._load() == load
    # What a busy-then-idle machine means for a build on two cores: one rendering process.
    assert press.spare_cores(2) == (1 if load < 2 else 0)


def test_the_running_count_is_read_from_this_system() -> None:
    running = press._running_now()
    if sys.platform.startswith("linux"):
        assert running is not None and running >= 1  # this test's own thread is running
    else:
        assert running is None


def watch(monkeypatch: pytest.MonkeyPatch, before_finish=None) -> Watched:
    """Record each printing's counts; *before_finish* runs first (with the printing)."""
    watched = Watched()
    finish = press.Printing.finish

    def watched_finish(self: press.Printing, bundle: object) -> None:
        if before_finish is not None:
            before_finish(self)
        finish(self, bundle)  # type: ignore[arg-type]
        watched.handed.append(self.handed)
        watched.stolen.append(self.stolen)

    monkeypatch.setattr(press.Printing, "finish", watched_finish)
    return watched


def everything_rendered_there(printing: press.Printing) -> None:
    """Let the process finish every chunk before the build looks: nothing is taken back."""
    concurrent.futures.wait([f for _, _, f in printing._tasks if f is not None], timeout=120)


def test_the_press_writes_the_bytes_the_build_would(
    tmp_path: Path, cores: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = one_core_bundle(tmp_path, cores)

    cores["cores"] = 2
    watched = watch(monkeypatch, everything_rendered_there)
    site = garden_site(tmp_path, "pressed")
    first = build(site, offline=True)  # nothing published yet: the process sends the bytes
    assert tree(site / "build/site") == expected
    forced = build(site, offline=True, force=True)  # it compares with the published copies
    assert tree(site / "build/site") == expected
    assert watched.handed == [PLANTS, PLANTS] and watched.stolen == [0, 0]
    assert first.written == first.files
    assert forced.written == 0  # every file is the published one, linked


def test_a_pressed_build_clears_the_spare_of_what_it_did_not_produce(
    tmp_path: Path, cores: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The spare is listed while the process still renders plants: a stale file there, or one
    # where a plant's folder goes, must be gone all the same, and every plant's page in.
    expected = one_core_bundle(tmp_path, cores)

    cores["cores"] = 2
    watched = watch(monkeypatch)
    site = garden_site(tmp_path, "pressed")
    build(site, offline=True)
    build(site, offline=True, force=True)  # the first bundle is now the spare
    spare = site / "build/.site.spare"
    plants = sorted(p for p in (spare / "projects").iterdir() if p.is_dir())
    (spare / "projects/stale").mkdir()
    (spare / "projects/stale/index.html").write_text("old")
    (spare / "stale.txt").write_text("old")
    for item in plants[-1].iterdir():  # a plant the process renders: a file where its folder goes
        item.unlink()
    plants[-1].rmdir()
    plants[-1].write_text("a file where a folder should be")
    build(site, offline=True, force=True)
    assert tree(site / "build/site") == expected
    assert watched.handed[-1] == PLANTS


def test_the_build_renders_what_no_process_has_begun(
    tmp_path: Path, cores: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = one_core_bundle(tmp_path, cores)

    cores["cores"] = 2
    monkeypatch.setattr(press.Press, "warm", lambda self, expected: None)  # started late
    watched = watch(monkeypatch)
    site = garden_site(tmp_path, "pressed")
    build(site, offline=True)
    assert tree(site / "build/site") == expected
    # The process, still starting, holds at most two chunks: the build took the others.
    assert watched.handed == [PLANTS]
    assert 0 < watched.stolen[0] < PLANTS


def test_no_plant_goes_to_the_press_while_drawing_processes_take_the_cores(
    tmp_path: Path, cores: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(og, "cores", lambda: 2)  # the drawing processes see two cores too
    site = garden_site(tmp_path, "drawn")
    config = site / "greenhouse.toml"
    config.write_text(config.read_text().replace("preview_images = false", "preview_images = true"))
    watched = watch(monkeypatch)
    first = build(site, offline=True)  # every preview is drawn, in drawing processes
    assert first.images_drawn > PLANTS and watched.handed == []
    forced = build(site, offline=True, force=True)  # every preview is cached: the press renders
    assert forced.images_drawn == 0 and watched.handed == [PLANTS]


#: Python 3.11's process pool, when a process dies, sets an error on every future it still
#: holds, including those the build took back (cancelled): the pool's thread then fails
#: with InvalidStateError. Harmless (the pages are rendered), fixed in 3.12 (gh-107219).
stdlib_race = (
    pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
    if sys.version_info < (3, 12)
    else pytest.mark.usefixtures()
)


@needs_proc
@stdlib_race
def test_a_killed_rendering_process_costs_only_time(
    tmp_path: Path,
    cores: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    expected = one_core_bundle(tmp_path, cores)

    cores["cores"] = 2
    killed: list[int] = []

    def kill(printing: press.Printing) -> None:
        assert wait_for(lambda: len(spawned_children(os.getpid())) == 1), "no rendering process"
        for pid in spawned_children(os.getpid()):
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    watched = watch(monkeypatch, kill)
    site = garden_site(tmp_path, "pressed")
    with caplog.at_level(logging.WARNING, logger="greenhouse.site.press"):
        build(site, offline=True)
    assert killed and watched.handed == [PLANTS]
    assert tree(site / "build/site") == expected
    assert "rendering process stopped" in caplog.text


def test_a_failing_template_is_reported_as_the_build_reports_it(
    tmp_path: Path, cores: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from greenhouse.errors import TemplateError

    def broken(name: str) -> Path:
        site = garden_site(tmp_path, name)
        (site / "site_templates").mkdir()
        (site / "site_templates/project.html").write_text(
            "{% extends 'base.html' %}{% block main %}\n\n{{ plant.name // 0 }}{% endblock %}"
        )
        return site

    cores["cores"] = 1
    with pytest.raises(TemplateError) as alone:
        build(broken("alone"), offline=True)
    cores["cores"] = 2
    watched = watch(monkeypatch, everything_rendered_there)
    with pytest.raises(TemplateError) as pressed:
        build(broken("pressed"), offline=True)
    assert watched.handed == []  # finish raised: the error came from the build's own render
    assert str(pressed.value).replace("pressed", "alone") == str(alone.value)
    assert pressed.value.line == 3


def test_serve_small_gardens_and_unchanged_builds_start_no_process(
    tmp_path: Path, cores: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_process(self: press.Press, plants: int) -> None:
        raise AssertionError("a rendering process was started")

    monkeypatch.setattr(press.Press, "_start", no_process)
    watched = watch(monkeypatch)
    build(garden_site(tmp_path, "served"), offline=True, cache=BuildCache())  # serve's builds
    cores["cores"] = 1
    build(garden_site(tmp_path, "one-core"), offline=True)
    # A build that finds nothing changed (the store's fingerprint, not the stamp) renders nothing.
    site = tmp_path / "one-core"
    (site / "build/.site.stamp").unlink()
    cores["cores"] = 2
    assert build(site, offline=True).skipped
    monkeypatch.setattr(press, "MIN_PLANTS", 200)  # the shipped threshold
    build(garden_site(tmp_path, "small"), offline=True)
    assert watched.handed == []


#: The real command line, on a machine it is told is idle (the suite keeps the cores busy).
IDLE_CLI = (
    "import sys; from greenhouse.site import press; press._load = lambda: 0.0; "
    "from greenhouse.launch import main; main()"
)


def test_a_system_that_cannot_start_processes_renders_in_the_build(
    tmp_path: Path, cores: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_semaphores(size: int) -> object:
        raise OSError(38, "Function not implemented")  # sem_open where /dev/shm is missing

    monkeypatch.setattr(workers, "spawn_pool", no_semaphores)
    watched = watch(monkeypatch)
    site = garden_site(tmp_path, "site")
    result = build(site, offline=True, force=True)
    assert result.files and watched.handed == []
    cores["cores"] = 1
    assert tree(site / "build/site") == tree(build(site, offline=True, force=True).output)


#: :data:`IDLE_CLI`, held once the rendering process has the plants: the build touches the
#: file named first on its command line, then waits a minute before its README cards. A stop
#: sent after the file appears lands while the build runs and its rendering process lives,
#: however fast the rebuild or loaded the machine: a fixed delay can promise neither.
HELD_CLI = (
    "import sys, time; from pathlib import Path; from greenhouse.site import press, render\n"
    "press._load = lambda: 0.0\n"
    "held, cards = Path(sys.argv.pop(1)), render.Renderer._sharing\n"
    "def hold(*args, **kwargs):\n"
    "    held.touch(); time.sleep(60); return cards(*args, **kwargs)\n"
    "render.Renderer._sharing = hold\n"
    "from greenhouse.launch import main; main()"
)


def rebuild(site: Path, mark: str, held: Path) -> subprocess.Popen[bytes]:
    return marked_build(
        ["-c", HELD_CLI, str(held), "build", "--offline", "--force", "--root", str(site)],
        mark,
        REPO,
    )


@needs_proc
@pytest.mark.parametrize("how", ["ctrl-c", "kill -9"])
def test_a_stopped_rebuild_leaves_no_rendering_process(tmp_path: Path, how: str) -> None:
    """The real CLI, at the shipped threshold: a full rebuild of 300 plants starts the press."""
    site = garden_site(tmp_path, "site", projects=300, days=120)
    first = subprocess.run(
        [sys.executable, "-m", "greenhouse", "build", "--offline", "--root", str(site)],
        cwd=REPO,
        capture_output=True,
        timeout=300,
    )
    assert first.returncode == 0, first.stderr.decode()
    mark = f"greenhouse-{uuid.uuid4().hex}"
    held = tmp_path / "held"
    proc = rebuild(site, mark, held)
    try:
        # The rebuild starts its rendering process as soon as the store is open, and
        # hands it the plants before it renders the rest.
        assert wait_for(held.exists), "the rebuild never reached its README cards"
        assert spawned_children(proc.pid), "no rendering process"
    except BaseException:
        proc.kill()
        raise
    stop_and_check(proc, how, mark)
    # The published bundle is whole: the next build finishes and publishes.
    again = subprocess.run(
        [sys.executable, "-m", "greenhouse", "build", "--offline", "--force", "--root", str(site)],
        cwd=REPO,
        capture_output=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr.decode()
