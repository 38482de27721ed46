"""The wheel ships everything a site needs: build it, install it outside the repository, use it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

DEPENDENCIES = ("typer", "pydantic", "jinja2", "duckdb", "markdown_it", "nh3", "numpy", "httpx")


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


def test_wheel_installs_and_builds_a_site(tmp_path: Path) -> None:
    # Nothing may leak in from the checkout: no PYTHONPATH, and every command runs in tmp_path.
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    wheels = tmp_path / "wheels"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(REPO)],
        tmp_path,
        env,
    )
    (wheel,) = wheels.glob("greenhouse_garden-*.whl")

    venv = tmp_path / "venv"
    # Reuse the dependencies installed here (fast, no network) when they are importable.
    _run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], tmp_path, env)
    python = venv / "bin" / "python"
    probe = subprocess.run(
        [str(python), "-c", f"import {', '.join(DEPENDENCIES)}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
    )
    no_deps = ["--no-deps"] if probe.returncode == 0 else []
    _run([str(python), "-m", "pip", "install", "-q", *no_deps, str(wheel)], tmp_path, env)

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
