"""The entry point answers an unchanged offline build before the command line is imported.

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

from greenhouse.launch import quick_build_args
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


def test_a_changed_input_is_built_by_the_full_command(demo_site: Path) -> None:
    run_module("build", "--offline", "--root", str(demo_site))
    sprig = demo_site / "content/projects/sprig.md"
    sprig.write_text(sprig.read_text().replace("Just planted.", "Planted and edited."))
    done, modules = imported("build", "--offline", "--root", str(demo_site), cwd=REPO)
    assert done.returncode == 0 and done.stdout.startswith("Built "), done.stdout + done.stderr
    assert "typer" in modules  # the stamp did not vouch for it: the command line ran
    page = demo_site / "build/site/projects/sprig/index.html"
    assert "Planted and edited." in page.read_text()


def test_a_forced_or_unknown_build_goes_to_the_command_line(demo_site: Path) -> None:
    run_module("build", "--offline", "--root", str(demo_site))
    done, modules = imported("build", "--offline", "--force", "--root", str(demo_site), cwd=REPO)
    assert done.stdout.startswith("Built ") and "typer" in modules
    done, _ = imported("build", "--offline", "--root", str(demo_site), "--nonsense", cwd=REPO)
    assert done.returncode == 2 and "--nonsense" in done.stderr  # click's usage error


def test_a_bad_source_date_is_reported_by_the_command_line(demo_site: Path) -> None:
    run_module("build", "--offline", "--root", str(demo_site))
    done = run_module(
        "build", "--offline", "--root", str(demo_site), env={"SOURCE_DATE_EPOCH": "soon"}
    )
    assert done.returncode == 1
    assert "SOURCE_DATE_EPOCH" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["build", "--offline"], {}),
        (["build", "--root", "x", "--offline"], {"root": "x"}),
        (
            ["build", "--offline", "--base-url=https://a.example/"],
            {"base_url": "https://a.example/"},
        ),
        (
            ["build", "--offline", "--db", "s.duckdb", "--output=o"],
            {"db": "s.duckdb", "output": "o"},
        ),
        (["build"], None),  # syncs first
        (["build", "--offline", "--force"], None),
        (["build", "--offline", "--strict"], None),
        (["build", "--offline", "--help"], None),
        (["build", "--offline", "--root"], None),  # a missing value: click says so
        (["build", "--offline", "--root", "--offline"], None),
        (["build", "--offline", "--root", "a", "--root", "b"], None),
        (["build", "--offline", "--offline"], None),
        (["build", "--offline", "--root="], None),
        (["build", "--offline", "--", "x"], None),
        (["--version"], None),
        (["serve", "--offline"], None),
        ([], None),
    ],
)
def test_only_the_plain_offline_build_is_answered_early(
    argv: list[str], expected: dict[str, str] | None
) -> None:
    assert quick_build_args(argv) == expected
