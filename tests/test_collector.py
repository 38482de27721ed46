"""A build's processes collect cycles rarely; the sidecar keeps CPython's collector settings."""

from __future__ import annotations

import gc
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from greenhouse.build import build
from greenhouse.collector import THRESHOLDS
from greenhouse.errors import GreenhouseError
from greenhouse.launch import main
from greenhouse.site.workers import spawn_pool

CPYTHON = (700, 10, 10)


@pytest.fixture
def cpython_collector() -> Iterator[None]:
    """CPython's default thresholds and nothing frozen for the test; this process's own after.

    The command line, run here in-process, also ignores Ctrl-C as it ends (``cli.main``):
    left so, every process this test process starts later would inherit it.
    """
    before = gc.get_threshold()
    interrupt = signal.getsignal(signal.SIGINT)
    gc.unfreeze()
    gc.set_threshold(*CPYTHON)
    yield
    gc.unfreeze()
    gc.set_threshold(*before)
    signal.signal(signal.SIGINT, interrupt)


def _no_previews(site: Path) -> Path:
    config = site / "greenhouse.toml"
    config.write_text(config.read_text() + "\n[sharing]\npreview_images = false\n")
    return site


def test_a_build_collects_rarely_and_gives_the_thresholds_back(
    cpython_collector: None, demo_site: Path
) -> None:
    seen: list[tuple[int, int, int]] = []
    build(_no_previews(demo_site), offline=True, progress=lambda _: seen.append(gc.get_threshold()))
    assert len(seen) >= 3  # demo data, simulate, ..., publish
    assert set(seen) == {THRESHOLDS}
    assert gc.get_threshold() == CPYTHON


def test_a_failed_build_gives_the_thresholds_back(cpython_collector: None, tmp_path: Path) -> None:
    (tmp_path / "greenhouse.toml").write_text("[site\n")
    with pytest.raises(GreenhouseError):
        build(tmp_path, offline=True)
    assert gc.get_threshold() == CPYTHON


def test_helper_processes_collect_rarely() -> None:
    with spawn_pool(1) as pool:
        assert pool.submit(gc.get_threshold).result(timeout=60) == THRESHOLDS


def _run(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["greenhouse", *argv])
    with pytest.raises(SystemExit) as ended:
        main()
    assert ended.value.code in (0, None)


def test_the_command_line_collects_rarely_and_freezes_what_it_leaves(
    cpython_collector: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(["--version"], monkeypatch)
    assert "greenhouse" in capsys.readouterr().out
    assert gc.get_threshold() == THRESHOLDS
    assert gc.get_freeze_count() > 0  # the interpreter's collections at exit skip them


def test_the_sidecar_keeps_cpythons_thresholds(
    cpython_collector: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(["sidecar", "--help"], monkeypatch)
    assert "sidecar" in capsys.readouterr().out
    assert gc.get_threshold() == CPYTHON
