"""The wheel ships everything a site needs: build it, install it outside the repository, use it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


def _uv() -> list[str]:
    """uv, from the test environment (a test dependency) or the PATH."""
    found = shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


def test_wheel_installs_and_builds_a_site(tmp_path: Path) -> None:
    # Nothing may leak in from the checkout: no PYTHONPATH, and every command runs in tmp_path.
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    wheels = tmp_path / "wheels"
    _run([*_uv(), "build", "--wheel", "-q", "-o", str(wheels), str(REPO)], tmp_path, env)
    (wheel,) = wheels.glob("greenhouse_garden-*.whl")

    # A new, empty environment: the wheel brings its dependencies (uv's cache keeps it quick).
    venv = tmp_path / "venv"
    _run([*_uv(), "venv", "-q", "--python", sys.executable, str(venv)], tmp_path, env)
    python = venv / "bin" / "python"
    _run([*_uv(), "pip", "install", "-q", "--python", str(python), str(wheel)], tmp_path, env)

    greenhouse = venv / "bin" / "greenhouse"
    where = _run(
        [str(python), "-c", "import greenhouse; print(greenhouse.__file__)"], tmp_path, env
    )
    assert str(REPO) not in where.stdout  # really the installed wheel
    _run([str(greenhouse), "init", "site"], tmp_path, env)
    _run([str(greenhouse), "build", "--offline", "--root", "site"], tmp_path, env)
    bundle = tmp_path / "site" / "build" / "site"
    assert (bundle / "index.html").is_file()
    assert (bundle / "static" / "garden.css").is_file()  # the theme ships inside the wheel
    assert (tmp_path / "site" / ".github" / "workflows" / "greenhouse.yml").is_file()
