"""Fixtures: the documented plugin installed on sys.path (and then removed), its fake upstream."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from greenhouse.sources.registry import reload
from tests.plugins.pebble import FakePebble

PLUGIN_MODULES = (
    "greenhouse_pebble",
    "greenhouse_pebble_broken",
    "greenhouse_pebble_crash",
    "greenhouse_ghost",
)


def _activate(site: Path) -> Iterator[Path]:
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    reload()
    try:
        yield site
    finally:
        sys.path.remove(str(site))
        for name in PLUGIN_MODULES:
            sys.modules.pop(name, None)
        importlib.invalidate_caches()
        reload()


@pytest.fixture
def pebble_installed(tmp_path: Path) -> Iterator[Path]:
    """The documented plugin, installed."""
    from tests.plugins.pebble import install_in_path

    yield from _activate(install_in_path(tmp_path / "dist"))


@pytest.fixture
def broken_installed(tmp_path: Path) -> Iterator[Path]:
    """The documented plugin with broken neighbours: one raises, one cannot load, two are refused."""
    from tests.plugins.pebble import install_in_path

    yield from _activate(install_in_path(tmp_path / "dist", broken=True))


@pytest.fixture
def pebble() -> Iterator[FakePebble]:
    with FakePebble() as server:
        yield server
