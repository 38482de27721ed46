"""A real third-party plugin: built from docs/plugins.md, installed into a fresh venv next to greenhouse.

Nothing here imports the plugin: the installed ``greenhouse`` command finds it
through its entry point, as it would on a user's machine, and ``init``,
``check``, ``sync`` and ``build`` treat it like a built-in source. A second
distribution brings a plugin that raises and one that cannot be imported.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO
from tests.plugins.pebble import BROKEN_MODULE, FakePebble, PebbleRepo, documented_files


def _uv() -> list[str]:
    found = shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


def _env() -> dict[str, str]:
    # Nothing may leak in from the checkout, and the garden's day is the sync's.
    drop = {"PYTHONPATH", "VIRTUAL_ENV", "SOURCE_DATE_EPOCH"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    return {**env, "COLUMNS": "400"}  # one report line per source, unwrapped


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


def _write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


BROKEN_PYPROJECT = """\
[build-system]
requires = ["hatchling>=1.27"]
build-backend = "hatchling.build"

[project]
name = "greenhouse-pebble-broken"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["greenhouse-garden>=0.1"]

[tool.hatch.build.targets.wheel]
packages = ["greenhouse_pebble_broken"]

[project.entry-points."greenhouse.sources"]
boom = "greenhouse_pebble_broken:boom"
ghost = "greenhouse_ghost:source"
"""


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv with greenhouse's wheel, the documented plugin and a broken one."""
    work = tmp_path_factory.mktemp("third-party")
    wheels = work / "wheels"
    plugin = _write(work / "greenhouse-pebble", documented_files())
    broken = _write(
        work / "greenhouse-pebble-broken",
        {"pyproject.toml": BROKEN_PYPROJECT, "greenhouse_pebble_broken/__init__.py": BROKEN_MODULE},
    )
    for source in (REPO, plugin, broken):
        _run([*_uv(), "build", "--wheel", "-q", "-o", str(wheels), str(source)], work)
    venv = work / "venv"
    _run([*_uv(), "venv", "-q", "--python", sys.executable, str(venv)], work)
    python = venv / "bin" / "python"
    _run(
        [*_uv(), "pip", "install", "-q", "--python", str(python), *map(str, wheels.glob("*.whl"))],
        work,
    )
    yield venv


def greenhouse(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / "greenhouse"), *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_init_check_sync_and_build_treat_the_plugin_like_a_builtin(
    venv: Path, tmp_path: Path
) -> None:
    where = _run(
        [str(venv / "bin" / "python"), "-c", "import greenhouse; print(greenhouse.__file__)"],
        tmp_path,
    )
    assert str(REPO) not in where.stdout  # the installed wheel, not the checkout

    # init: the plugin's section, with every option commented out; the broken one in one line.
    assert greenhouse(venv, "init", "site", cwd=tmp_path).returncode == 0
    site = tmp_path / "site"
    toml = (site / "greenhouse.toml").read_text(encoding="utf-8")
    pebble = toml.split("\n[pebble]\n", 1)[1].split("\n[", 1)[0]
    assert "# time_budget = 300.0" in pebble  # the bounds of a SourceSection, as built-ins have
    assert "# Pebble user whose repositories become plants.\n# user = …" in pebble
    assert "# min_stars = 0" in toml and "PEBBLE_TOKEN" in toml
    assert "# (No [ghost] section: cannot load the source plugin 'ghost'" in toml
    assert greenhouse(venv, "check", "--root", "site", cwd=tmp_path).returncode == 0

    helped = greenhouse(venv, "sync", "--help", cwd=tmp_path)
    assert "public repositories of [pebble] user on a Pebble forge" in helped.stdout
    assert "boom" in helped.stdout and "ghost" in helped.stdout

    with FakePebble() as pebble:
        pebble.repos = [PebbleRepo("stone", days={0: 3, 2: 1}), PebbleRepo("hidden", private=True)]
        config = toml.replace(
            "[pebble]\n",
            f'[pebble]\nuser = "ada"\napi_url = "{pebble.url}/api"\nmin_stars = -1\n',
            1,
        )
        (site / "greenhouse.toml").write_text(config, encoding="utf-8")
        checked = greenhouse(venv, "check", "--root", "site", cwd=tmp_path)
        assert checked.returncode == 1
        line = config.splitlines().index("min_stars = -1") + 1
        assert checked.stderr == (
            f"error: {site / 'greenhouse.toml'}:{line}: [pebble.min_stars] Input should be "
            "greater than or equal to 0 (got -1)\n"
        )
        (site / "greenhouse.toml").write_text(
            config.replace("min_stars = -1", "min_stars = 1"), encoding="utf-8"
        )
        assert greenhouse(venv, "check", "--root", "site", cwd=tmp_path).returncode == 0

        synced = greenhouse(venv, "sync", "--source", "pebble", "--root", "site", cwd=tmp_path)
        assert synced.returncode == 0, synced.stderr
        assert "pebble: 1 repos, 4 new commits, 1 requests" in synced.stderr

    with duckdb.connect(str(site / "build" / "greenhouse.duckdb"), read_only=True) as db:
        assert db.execute("SELECT full_name, source FROM repos").fetchall() == [
            ("pebble:ada/stone", "pebble")
        ]
        assert db.execute("SELECT count(*) FROM repo_commits").fetchone() == (4,)

    built = greenhouse(venv, "build", "--offline", "--root", "site", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    garden = json.loads((site / "build" / "site" / "api/v1/garden/index.json").read_text())
    stone = next(p for p in garden["plants"] if p["id"] == "stone")
    assert stone["repo_url"] == "https://pebble.example/ada/stone"
    assert stone["metrics"]["commits_30d"] == 4
    assert "hidden" not in json.dumps(garden)


def test_a_raising_plugin_and_an_unimportable_one_fail_alone(venv: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    with FakePebble() as pebble:
        pebble.repos = [PebbleRepo("stone")]
        (site / "greenhouse.toml").write_text(
            f'[pebble]\nuser = "ada"\napi_url = "{pebble.url}/api"\n\n[ghost]\nhaunts = true\n',
            encoding="utf-8",
        )
        synced = greenhouse(venv, "sync", "--root", "site", cwd=tmp_path)
    # boom and ghost never succeeded, so there is nothing to fall back on: exit 1, but
    # pebble's data is in, and each failure is one line naming its source.
    assert synced.returncode == 1
    assert "Traceback" not in synced.stderr
    lines = synced.stderr.splitlines()
    assert any(line.startswith("ok      pebble: 1 repos") for line in lines), lines
    assert (
        "failed  boom: failed — RuntimeError: the mine collapsed (a bug in the source plugin "
        "from greenhouse-pebble-broken 0.1.0)"
    ) in lines
    ghost = (
        "cannot load the source plugin 'ghost' (greenhouse_ghost:source, from "
        "greenhouse-pebble-broken 0.1.0): ModuleNotFoundError: No module named 'greenhouse_ghost'"
    )
    assert f"failed  ghost: failed — {ghost}" in lines
    with duckdb.connect(str(site / "build" / "greenhouse.duckdb"), read_only=True) as db:
        assert db.execute("SELECT full_name FROM repos").fetchall() == [("pebble:ada/stone",)]

    checked = greenhouse(venv, "check", "--root", "site", cwd=tmp_path)
    assert checked.returncode == 1
    assert checked.stderr == f"error: {site / 'greenhouse.toml'}:5: [ghost] {ghost}\n"
    alone = greenhouse(venv, "sync", "--source", "ghost", "--root", "site", cwd=tmp_path)
    assert alone.returncode == 1 and "Traceback" not in alone.stderr
    assert alone.stderr.splitlines()[-1] == f"error: ghost: {ghost}"
