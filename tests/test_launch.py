"""The entry point runs ``greenhouse build`` before the command line is imported.

Real subprocesses of ``python -m greenhouse`` on a real demo site: what the
process imported is read from ``-X importtime``, what it did from its output
and the bundle's files.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from greenhouse.launch import build_args
from tests.conftest import REPO, run_module

#: What an answer from the stamp must not import (the command line and the schema behind it).
HEAVY = ("typer", "click", "pydantic", "rich", "duckdb", "numpy", "jinja2", "greenhouse.cli")


def imported(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``python -X importtime -m greenhouse ARGS``; the result and the modules it imported."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "greenhouse", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return done, modules


def test_an_unchanged_offline_build_answers_without_the_command_line(demo_site: Path) -> None:
    first = run_module("build", "--offline", "--root", str(demo_site))
    assert first.returncode == 0 and first.stdout.startswith("Built "), first.stderr
    bundle = demo_site / "build" / "site"
    inodes = {p: p.stat().st_ino for p in bundle.rglob("*") if p.is_file()}

    done, modules = imported("build", "--offline", "--root", str(demo_site), cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Nothing changed; {bundle} is up to date"), done.stdout
    assert not [m for m in HEAVY if m in modules], sorted(m for m in HEAVY if m in modules)
    assert {p: p.stat().st_ino for p in bundle.rglob("*") if p.is_file()} == inodes

    # The same answer through every spelling of the options it reads.
    done, modules = imported(
        "build", f"--root={demo_site}", "--offline", "--output", "build/site", cwd=demo_site
    )
    assert done.stdout.startswith("Nothing changed;"), done.stdout + done.stderr
    assert "typer" not in modules


def test_a_changed_input_is_built_again(demo_site: Path) -> None:
    run_module("build", "--offline", "--root", str(demo_site))
    sprig = demo_site / "content/projects/sprig.md"
    sprig.write_text(sprig.read_text().replace("Just planted.", "Planted and edited."))
    done, modules = imported("build", "--offline", "--root", str(demo_site), cwd=REPO)
    assert done.returncode == 0 and done.stdout.startswith("Built "), done.stdout + done.stderr
    assert "typer" not in modules and "jinja2" in modules  # the stamp did not vouch for it
    page = demo_site / "build/site/projects/sprig/index.html"
    assert "Planted and edited." in page.read_text()


def test_a_forced_build_runs_without_the_command_line(demo_site: Path) -> None:
    run_module("build", "--offline", "--root", str(demo_site))
    done, modules = imported("build", "--offline", "--force", "--root", str(demo_site), cwd=REPO)
    assert done.returncode == 0, done.stderr
    # Built again (an answer from the stamp reads "Nothing changed"), and the same line.
    assert done.stdout.startswith("Built 20 plants [demo data] ("), done.stdout
    assert not {"typer", "click", "greenhouse.cli"} & modules


def test_an_unknown_option_goes_to_the_command_line(demo_site: Path) -> None:
    done, modules = imported("build", "--offline", "--root", str(demo_site), "--nonsense", cwd=REPO)
    assert done.returncode == 2 and "--nonsense" in done.stderr  # click's usage error
    assert "typer" in modules and not (demo_site / "build").exists()
    done = run_module("build", "--help")
    assert done.returncode == 0 and "--base-url" in done.stdout


CLI = "import sys; from greenhouse.cli import main; sys.argv[0] = 'greenhouse'; main()"


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("[site]\ntitle = 3\n", "error: "),  # one problem
        ('[site]\ntitle = 3\nnonsense = 1\n[build]\nstrict = "very"\n', "error: 3 problems found:"),
    ],
)
def test_a_failed_build_reads_the_same_either_way(
    demo_site: Path, toml: str, expected: str
) -> None:
    (demo_site / "greenhouse.toml").write_text(toml)
    args = ["build", "--offline", "--root", str(demo_site)]
    early, modules = imported(*args, cwd=REPO)
    full = subprocess.run(
        [sys.executable, "-c", CLI, *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "typer" not in modules
    lines = [line for line in early.stderr.splitlines() if not line.startswith("import time:")]
    assert (early.returncode, lines, early.stdout) == (1, full.stderr.splitlines(), full.stdout)
    assert lines[0].startswith(expected) and "greenhouse.toml" in early.stderr, lines
    assert "Traceback" not in early.stderr


def test_a_bad_source_date_is_reported_without_a_traceback(demo_site: Path) -> None:
    run_module("build", "--offline", "--root", str(demo_site))
    done = run_module(
        "build", "--offline", "--root", str(demo_site), env={"SOURCE_DATE_EPOCH": "soon"}
    )
    assert done.returncode == 1
    assert "SOURCE_DATE_EPOCH" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["build", "--offline"], {"offline": True}),
        (["build"], {}),  # syncs first
        (["build", "--root", "x", "--offline"], {"root": "x", "offline": True}),
        (
            ["build", "--offline", "--base-url=https://a.example/"],
            {"offline": True, "base_url": "https://a.example/"},
        ),
        (
            ["build", "--offline", "--db", "s.duckdb", "--output=o"],
            {"offline": True, "db": "s.duckdb", "output": "o"},
        ),
        (
            ["build", "--strict", "--force", "--offline"],
            {"strict": True, "force": True, "offline": True},
        ),
        (["build", "--offline", "--help"], None),
        (["build", "--offline", "--root"], None),  # a missing value: click says so
        (["build", "--offline", "--root", "--offline"], None),
        (["build", "--offline", "--root", "a", "--root", "b"], None),
        (["build", "--offline", "--offline"], None),
        (["build", "--offline=yes"], None),
        (["build", "--offline", "--root="], None),
        (["build", "--offline", "--", "x"], None),
        (["build", "-h"], None),
        (["--version"], None),
        (["serve", "--offline"], None),
        ([], None),
    ],
)
def test_the_early_path_reads_only_what_it_knows(
    argv: list[str], expected: dict[str, str | bool] | None
) -> None:
    assert build_args(argv) == expected


def test_pydantic_plugins_are_not_looked_for_unless_asked(demo_site: Path, tmp_path: Path) -> None:
    # An installed pydantic plugin (an entry point in the "pydantic" group) that says when
    # it is loaded: the command does not look for plugins, unless the user set the variable.
    plugins = tmp_path / "plugins"
    (plugins / "spy_plugin-1.0.dist-info").mkdir(parents=True)
    (plugins / "spy_plugin-1.0.dist-info/METADATA").write_text("Name: spy-plugin\nVersion: 1.0\n")
    (plugins / "spy_plugin-1.0.dist-info/entry_points.txt").write_text(
        "[pydantic]\nspy = spy_plugin:plugin\n"
    )
    loaded = tmp_path / "loaded"
    (plugins / "spy_plugin.py").write_text(
        f"from pathlib import Path\nPath({str(loaded)!r}).touch()\n"
        "class Plugin:\n"
        "    def new_schema_validator(self, *args, **kwargs):\n"
        "        return None, None, None\n"
        "plugin = Plugin()\n"
    )
    path = {"PYTHONPATH": f"{plugins}{os.pathsep}{REPO}"}
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    args = ["build", "--offline", "--root", str(demo_site)]
    done = subprocess.run(
        [sys.executable, "-m", "greenhouse", *args],
        env={**env, **path},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and done.stdout.startswith("Built "), done.stderr
    assert not loaded.exists()
    done = subprocess.run(
        [sys.executable, "-m", "greenhouse", *args, "--force"],
        env={**env, **path, "PYDANTIC_DISABLE_PLUGINS": ""},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and loaded.exists()
