"""Content files name repositories on any forge: `repo = "gitlab:…"`, `repos = [...]`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from greenhouse.content import load_content, parse_repo
from greenhouse.errors import ContentError


def project(root: Path, name: str, front: str) -> Path:
    folder = root / "content" / "projects"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.md"
    path.write_text(f'+++\ntitle = "{name}"\n{front}+++\nBody.\n', encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("reference", "key"),
    [
        ("me/tool", "me/tool"),
        ("github:me/tool", "me/tool"),
        ("gitlab:group/sub/tool", "gitlab:group/sub/tool"),
        ("codeberg:me/tool", "forgejo:me/tool"),
        ("gitea:me/tool", "forgejo:me/tool"),
        ("forgejo:me/tool", "forgejo:me/tool"),
        ("pebble:me/tool", "pebble:me/tool"),  # a plugin's forge
    ],
)
def test_references_become_store_keys(reference: str, key: str) -> None:
    assert parse_repo(reference) == key


@pytest.mark.parametrize("reference", ["tool", "github:a/b/c", "GitLab:me/tool", "me/", ":me/x"])
def test_malformed_references_are_refused(reference: str) -> None:
    with pytest.raises(ValueError):
        parse_repo(reference)


def test_problems_name_file_line_and_field(tmp_path: Path) -> None:
    both = project(tmp_path, "both", 'repo = "me/a"\nrepos = ["gitlab:me/a"]\n')
    bad = project(tmp_path, "bad", 'repos = ["gitlab:me/x", "not a repo"]\n')
    twice = project(tmp_path, "twice", 'repos = ["codeberg:me/y", "forgejo:me/y"]\n')
    first = project(tmp_path, "first", 'repos = ["gitlab:me/z", "me/z"]\n')
    taken = project(tmp_path, "taken", 'repo = "gitlab:me/z"\n')
    with pytest.raises(ContentError) as failure:
        load_content(tmp_path)
    problems = {Path(p.file).name: str(p) for p in failure.value.problems}
    assert problems == {
        "both.md": f"{both}:4: [repos] Value error, set either repo or repos, not both",
        "bad.md": (
            f"{bad}:3: [repos] Value error, 'not a repo' must be owner/name (GitHub) or "
            "forge:path, e.g. gitlab:group/project or codeberg:owner/name"
        ),
        "twice.md": f"{twice}:3: [repos] Value error, names the same repository twice",
        "taken.md": f"{taken}: [repo] repository gitlab:me/z is already attached by first.md",
    }
    assert first.name not in problems


def test_plant_attaches_a_repository_on_another_forge(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    result = cli("plant", "Tool", "--repo", "codeberg:me/tool", "--root", site)
    assert result.exit_code == 0, result.output
    (loaded,) = load_content(site).projects
    assert loaded.meta.repo == "forgejo:me/tool"
    again = cli("plant", "Tool two", "--repo", "forgejo:me/tool", "--root", site)
    assert again.exit_code == 1
    assert "repository forgejo:me/tool is already attached there" in again.output
    bad = cli("plant", "Three", "--repo", "gitlab:", "--root", site)
    assert bad.exit_code == 1 and "FORGE:PATH" in bad.output
