"""From greenhouse.toml to the garden: include/exclude (12.11) and content repositories (12.9)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from greenhouse.config import GithubConfig, Secrets, load_site
from greenhouse.sources.http import HttpOptions
from greenhouse.sources.sync import sync_sources
from greenhouse.store import Store
from tests.sources.fake_upstream import FakeRepo, FakeUpstream


def write_site(root: Path, fake: FakeUpstream, github: str = "") -> None:
    root.mkdir(exist_ok=True)
    (root / "greenhouse.toml").write_text(
        f'[github]\nuser = "octo"\napi_url = "{fake.url}/gh"\n{github}\n', encoding="utf-8"
    )


def sync(root: Path, options: HttpOptions) -> Any:
    with Store.open(root / "build" / "greenhouse.duckdb") as store:
        return sync_sources(load_site(root), store, Secrets(), ["github"], options=options)


def garden_ids(root: Path, cli: Callable[..., Any]) -> list[str]:
    result = cli("build", "--offline", "--force", "--root", root)
    assert result.exit_code == 0, result.output
    index = json.loads((root / "build/site/api/v1/garden/index.json").read_text())
    return sorted(plant["id"] for plant in index["plants"])


def stored(root: Path) -> list[str]:
    with Store.open(root / "build" / "greenhouse.duckdb") as store:
        return [r[0] for r in store.conn.execute("SELECT name FROM repos ORDER BY 1").fetchall()]


@pytest.mark.parametrize(
    ("include", "exclude", "wanted"),
    [
        ([], [], {"tool", "toaster", "other", "Zeta"}),
        (["me/tool", "octo/tool"], [], {"tool"}),
        (["TOOL"], [], {"tool"}),
        (["to*"], [], {"tool", "toaster"}),
        (["octo/to*"], ["*er"], {"tool"}),
        ([], ["octo/z*", "other"], {"tool", "toaster"}),
        (["elsewhere/*"], [], set()),
    ],
)
def test_one_matcher_for_include_and_exclude(
    include: list[str], exclude: list[str], wanted: set[str]
) -> None:
    config = GithubConfig(include=include, exclude=exclude)
    names = {"tool", "toaster", "other", "Zeta"}
    assert {n for n in names if config.wants(f"octo/{n}")} == wanted


def test_include_and_exclude_mean_the_same_in_sync_and_garden(
    fake: FakeUpstream, tmp_path: Path, options: HttpOptions, cli: Callable[..., Any]
) -> None:
    fake.github.repos = [FakeRepo("tool"), FakeRepo("toaster"), FakeRepo("other")]
    site = tmp_path / "garden-site"

    # The documented owner/name form: synced *and* shown.
    write_site(site, fake, 'include = ["octo/tool"]')
    assert sync(site, options)["github"].status == "ok"
    assert stored(site) == ["tool"]
    assert garden_ids(site, cli) == ["tool"]

    # A glob stores what it matches…
    write_site(site, fake, 'include = ["to*"]')
    sync(site, options)
    assert stored(site) == ["toaster", "tool"]
    assert garden_ids(site, cli) == ["toaster", "tool"]

    # …and narrowing the list later hides repositories without deleting their history.
    write_site(site, fake, 'include = ["to*"]\nexclude = ["octo/toaster"]')
    fake.clear_log()
    sync(site, options)
    assert stored(site) == ["toaster", "tool"]
    assert not fake.requests("/repos/octo/toaster/")
    assert garden_ids(site, cli) == ["tool"]

    # A repository that really left the listing (made private) is removed.
    fake.github.repos[1].private = True
    write_site(site, fake)
    sync(site, options)
    assert stored(site) == ["other", "tool"]
    assert garden_ids(site, cli) == ["other", "tool"]


def test_renamed_and_missing_content_repositories_are_warned_about(
    fake: FakeUpstream, tmp_path: Path, options: HttpOptions, cli: Callable[..., Any]
) -> None:
    fake.github.repos = [FakeRepo("new-name", renamed_from=["old-name"]), FakeRepo("kept")]
    site = tmp_path / "content-site"
    write_site(site, fake)
    projects = site / "content" / "projects"
    projects.mkdir(parents=True)
    (projects / "renamed.md").write_text(
        '+++\ntitle = "Renamed"\nrepo = "octo/old-name"\n+++\nBody.\n', encoding="utf-8"
    )
    (projects / "gone.md").write_text(
        '+++\ntitle = "Gone"\ndescription = "x"\nrepo = "octo/deleted"\n+++\n', encoding="utf-8"
    )
    (projects / "fine.md").write_text('+++\nrepo = "octo/kept"\n+++\n', encoding="utf-8")

    report = sync(site, options)

    assert report["github"].status == "ok"
    assert any("renamed to octo/new-name" in w for w in report["github"].warnings)
    redirect = fake.requests("/repos/octo/old-name")
    assert [r.status for r in redirect] == [301]  # GitHub's answer for a renamed repository
    # Listed: nothing to look up (only its statistics and languages were asked for).
    assert not [r for r in fake.requests("/repos/octo/kept") if r.path == "/gh/repos/octo/kept"]

    checked = cli("check", "--root", site)
    assert checked.exit_code == 0, checked.output
    renamed_line = (
        f"{projects / 'renamed.md'}:3: [repo] octo/old-name was renamed on GitHub to "
        'octo/new-name: set repo = "octo/new-name"'
    )
    assert f"warning: {renamed_line}" in checked.output
    assert f"warning: {projects / 'gone.md'}:4: [repo] octo/deleted was not found" in (
        checked.output
    )
    assert "fine.md" not in checked.output

    built = cli("build", "--offline", "--root", site)
    assert built.exit_code == 0, built.output
    assert renamed_line in built.output and "octo/deleted was not found" in built.output

    # Fixed in the content file: the warning goes with the next sync.
    (projects / "renamed.md").write_text(
        '+++\ntitle = "Renamed"\nrepo = "octo/new-name"\n+++\nBody.\n', encoding="utf-8"
    )
    sync(site, options)
    assert "was renamed on GitHub" not in cli("check", "--root", site).output
