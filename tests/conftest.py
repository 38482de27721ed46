"""Shared fixtures: real site folders in tmp_path, the real CLI, real DuckDB files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from greenhouse.cli import app

REPO = Path(__file__).resolve().parent.parent
FIXED_EPOCH = "1767225600"  # 2026-01-01T00:00:00Z


def need_in_ci(available: bool, what: str) -> None:
    """Skip locally when a tool is missing, but fail in CI where .ci/run must install it."""
    if available:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required in CI but missing (.ci/run must install it)")
    pytest.skip(f"{what} not installed")


@pytest.fixture(autouse=True)
def _fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", FIXED_EPOCH)
    for name in (
        "GITHUB_TOKEN",
        "SPOTIFY_CLIENT_ID",
        "SPOTIFY_CLIENT_SECRET",
        "SPOTIFY_REFRESH_TOKEN",
        "WEATHER_API_KEY",
        "LASTFM_API_KEY",
        "GREENHOUSE_LIVE_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def demo_site(tmp_path: Path) -> Path:
    """A copy of the repository's demo site (config and content)."""
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(REPO / "greenhouse.toml", site / "greenhouse.toml")
    shutil.copytree(REPO / "content", site / "content")
    return site


@pytest.fixture
def cli() -> Callable[..., object]:
    """Run the real CLI in-process; returns the click Result."""
    runner = CliRunner()

    def run(*args: str) -> object:
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return run


def run_module(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m greenhouse`` in a real subprocess."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "greenhouse", *args],
        cwd=cwd or REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
