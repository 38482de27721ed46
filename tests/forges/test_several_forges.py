"""Several forges, one garden: mirrors join into one plant, same names stay apart.

GitHub (the shared fake of tests/sources), GitLab and Forgejo (each its own
fake server) are synced into one real DuckDB file and built into one garden.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from greenhouse.build import build
from greenhouse.config import Secrets, load_site
from greenhouse.content import load_content
from greenhouse.garden.plants import merge_plants
from greenhouse.sources.http import HttpOptions
from greenhouse.sources.sync import sync_sources
from greenhouse.store import Store
from greenhouse.store.queries import activity_span, load_activity, load_repos
from tests.conftest import REPO
from tests.forges.fakes import FakeForgejo, FakeGitLab, ForgejoRepo, GitLabProject, now, sha
from tests.sources.fake_upstream import FakeRepo, FakeUpstream, GitHubModel

MIRRORS = """\
+++
title = "Mirrored tool"
repos = ["github:octo/tool", "codeberg:ada/tool"]
+++
Lives on GitHub and on Codeberg.
"""
SHARED = """\
+++
title = "Shared library"
repos = ["gitlab:ada/shared", "forgejo:ada/shared"]
+++
Mirrored between GitLab and Codeberg.
"""


def at(days_ago: int, minute: int = 0) -> datetime:
    return now().replace(hour=11, minute=minute, second=0) - timedelta(days=days_ago)


@pytest.fixture
def forges() -> Iterator[tuple[FakeUpstream, FakeGitLab, FakeForgejo]]:
    with (
        FakeUpstream(GitHubModel(user="octo")) as github,
        FakeGitLab() as gitlab,
        FakeForgejo() as forgejo,
    ):
        # GitHub's statistics give counts per day, no commit ids.
        github.github.repos = [
            FakeRepo("tool", commits={3: 2, 10: 1}),
            FakeRepo("site", commits={1: 5}),
        ]
        # The Codeberg mirror of octo/tool: the same commits, plus one not mirrored yet.
        forgejo.add(ForgejoRepo("tool")).commits = [
            (sha("new"), at(0)),
            (sha("t3a"), at(3, 1)),
            (sha("t3b"), at(3, 2)),
            (sha("t10"), at(10)),
        ]
        # A library on GitLab and Codeberg whose histories overlap: ids decide.
        gitlab.add(GitLabProject("shared")).commits = [(sha("A"), at(2, 1)), (sha("B"), at(2, 2))]
        forgejo.add(ForgejoRepo("shared")).commits = [(sha("B"), at(2, 2)), (sha("C"), at(2, 3))]
        # Same name on two forges, not joined by any content file: two plants.
        gitlab.add(GitLabProject("site"))
        gitlab.add(GitLabProject("notes"))
        yield github, gitlab, forgejo


def configure(root: Path, github: FakeUpstream, gitlab: FakeGitLab, forgejo: FakeForgejo) -> None:
    """The forges' sections, appended to the site's greenhouse.toml."""
    text = (root / "greenhouse.toml").read_text(encoding="utf-8")
    text = text.replace("[github]\n", f'[github]\nuser = "octo"\napi_url = "{github.url}/gh"\n', 1)
    text += f'\n[gitlab]\nuser = "ada"\napi_url = "{gitlab.url}"\n'
    text += f'\n[forgejo]\nuser = "ada"\napi_url = "{forgejo.url}"\n'
    (root / "greenhouse.toml").write_text(text, encoding="utf-8")
    projects = root / "content" / "projects"
    projects.mkdir(parents=True, exist_ok=True)
    (projects / "mirrored.md").write_text(MIRRORS, encoding="utf-8")
    (projects / "shared.md").write_text(SHARED, encoding="utf-8")


def test_mirrors_count_each_commit_once(
    forges: tuple[FakeUpstream, FakeGitLab, FakeForgejo], tmp_path: Path
) -> None:
    github, gitlab, forgejo = forges
    root = tmp_path / "site"
    root.mkdir()
    (root / "greenhouse.toml").write_text('[github]\n[weather]\nprovider = "none"\n')
    configure(root, github, gitlab, forgejo)
    site = load_site(root)
    options = HttpOptions(timeout=2.0, retries=1, backoff=0.01, sleep=lambda _: None)
    with Store.open(tmp_path / "g.duckdb") as store:
        report = sync_sources(site, store, Secrets(), options=options)
        assert [report[n].status for n in ("github", "gitlab", "forgejo")] == ["ok"] * 3
        today = datetime.now(UTC).date()
        specs = merge_plants(
            load_repos(store),
            load_content(root).projects,
            site.config.github,
            today,
            sections=site.config.source_section,
        )
        by_id = {s.id: s for s in specs}
        assert sorted(by_id) == ["mirrored", "notes", "shared", "site", "site-gitlab"]
        assert by_id["mirrored"].repos == ("octo/tool", "forgejo:ada/tool")
        assert by_id["site"].repo == "octo/site" and by_id["site-gitlab"].repo == "gitlab:ada/site"
        start = activity_span(store, specs, today)
        activity = load_activity(store, specs, start, today)
        row = {s.id: i for i, s in enumerate(specs)}

        def commits(plant: str, days_ago: int) -> int:
            return int(activity.commits[row[plant], (today - start).days - days_ago])

        # GitHub has counts only: a mirrored day is the larger count, not the sum.
        assert [commits("mirrored", d) for d in (0, 3, 10)] == [1, 2, 1]
        # GitLab and Codeberg both give ids: A, B and C are three commits, not four, not two.
        assert commits("shared", 2) == 3
        assert int(activity.commits[row["mirrored"]].sum()) == 4


def test_a_demo_site_with_github_gitlab_and_forgejo_builds_one_garden(
    forges: tuple[FakeUpstream, FakeGitLab, FakeForgejo],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH")  # the garden's day is the sync's
    github, gitlab, forgejo = forges
    root = tmp_path / "site"
    root.mkdir()
    shutil.copy(REPO / "greenhouse.toml", root / "greenhouse.toml")
    shutil.copytree(REPO / "content", root / "content")
    configure(root, github, gitlab, forgejo)
    result = build(root)
    assert not result.skipped
    garden = json.loads((root / "build/site/api/v1/garden/index.json").read_text())
    plants = {p["id"]: p for p in garden["plants"]}
    # Demo plants, GitHub's, GitLab's and Codeberg's grow in the same garden.
    assert {"mirrored", "shared", "site", "site-gitlab", "notes"} <= set(plants)
    assert any(p["id"].startswith("project-") for p in garden["plants"])
    assert plants["site-gitlab"]["repo_url"] == "https://gitlab.example/ada/site"
    assert plants["mirrored"]["repo_url"] == "https://github.com/octo/tool"
    assert plants["mirrored"]["metrics"]["commits_30d"] == 4
    assert plants["shared"]["metrics"]["commits_30d"] == 3
    health = json.loads((root / "build/site/api/v1/garden/health.json").read_text())
    for source in ("github", "gitlab", "forgejo"):
        assert health["sources"][source]["status"] == "ok"
        assert not health["sources"][source]["stale"]
