"""greenhouse init and greenhouse plant, end to end through the real CLI and a real build."""

from __future__ import annotations

import json
import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from greenhouse.config import Config, load_config
from greenhouse.content import load_content
from greenhouse.scaffold import config_template, section_models

TODAY = date(2026, 1, 1)  # conftest fixes SOURCE_DATE_EPOCH, not the wall clock


def test_init_plant_build(tmp_path: Path, cli: Any) -> None:
    site = tmp_path / "garden"
    result = cli("init", site)
    assert result.exit_code == 0, result.output
    for rel in (
        "greenhouse.toml",
        "content/projects/my-first-project.md",
        "content/skills.toml",
        ".gitignore",
        ".github/workflows/greenhouse.yml",
    ):
        assert (site / rel).is_file(), rel
    assert "build/" in (site / ".gitignore").read_text().splitlines()

    result = cli("plant", "Night Owl", "--repo", "me/night-owl", "--root", site)
    assert result.exit_code == 0, result.output
    seed = site / "content/projects/night-owl.md"
    assert seed.is_file()
    (meta,) = [p.meta for p in load_content(site).projects if p.slug == "night-owl"]
    assert meta.title == "Night Owl" and meta.repo == "me/night-owl"
    assert meta.planted is not None

    result = cli("build", "--offline", "--root", site)
    assert result.exit_code == 0, result.output
    bundle = site / "build/site"
    assert (bundle / "index.html").is_file()
    assert (bundle / "projects/night-owl/index.html").is_file()
    assert (bundle / "projects/my-first-project/index.html").is_file()
    garden = json.loads((bundle / "api/v1/garden/index.json").read_text())
    assert {p["id"] for p in garden["plants"]} == {"night-owl", "my-first-project"}


def test_init_demo_enables_demo_data(tmp_path: Path, cli: Any) -> None:
    assert cli("init", tmp_path, "--demo").exit_code == 0
    demo = load_config(tmp_path / "greenhouse.toml").demo
    assert demo.enabled is True and demo.projects > 0
    result = cli("build", "--offline", "--root", tmp_path)
    assert result.exit_code == 0 and "[demo data]" in result.output


def test_init_refuses_to_overwrite(tmp_path: Path, cli: Any) -> None:
    (tmp_path / "greenhouse.toml").write_text("# mine\n")
    result = cli("init", tmp_path)
    assert result.exit_code == 1
    assert "greenhouse.toml" in result.output and "--force" in result.output
    assert (tmp_path / "greenhouse.toml").read_text() == "# mine\n"
    assert not (tmp_path / "content").exists()  # nothing written at all

    result = cli("init", tmp_path, "--force")
    assert result.exit_code == 0
    assert "[site]" in (tmp_path / "greenhouse.toml").read_text()


def test_init_into_a_file_is_an_error(tmp_path: Path, cli: Any) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    result = cli("init", target)
    assert result.exit_code == 1 and "not a folder" in result.output


def test_config_template_has_every_option() -> None:
    text = config_template()
    assert Config.model_validate(tomllib.loads(text)) == Config()
    for section, model in section_models():
        assert f"[{section}]" in text
        for name, field in model.model_fields.items():
            assert re.search(rf"^(# )?{name} = ", text, re.M), f"{section}.{name}"
            assert f"# {field.description}" in text


def test_config_template_uncommented_is_the_defaults() -> None:
    """Removing every '# ' before an option (that has a default) changes nothing."""
    lines = []
    for line in config_template().splitlines():
        match = re.match(r"^# ([a-z_]+ = .*)$", line)
        if match and "not set by default" not in line:
            line = match.group(1)
        lines.append(line)
    assert Config.model_validate(tomllib.loads("\n".join(lines))) == Config()


def test_plant_refuses_duplicates_and_bad_names(demo_site: Path, cli: Any) -> None:
    result = cli("plant", "Sprig", "--root", demo_site)
    assert result.exit_code == 1 and "sprig" in result.output and "already" in result.output

    result = cli("plant", "Something new", "--repo", "GREENHOUSE-DEMO/sprig", "--root", demo_site)
    assert result.exit_code == 1 and "already attached" in result.output
    assert not (demo_site / "content/projects/something-new.md").exists()

    result = cli("plant", "!!!", "--root", demo_site)
    assert result.exit_code == 1 and "slug" in result.output

    result = cli("plant", "ok", "--repo", "not a repo", "--root", demo_site)
    assert result.exit_code == 1 and "OWNER/NAME" in result.output


def test_plant_title_is_escaped_and_valid(tmp_path: Path, cli: Any) -> None:
    name = 'Quote " and \\ back'
    result = cli("plant", name, "--root", tmp_path)
    assert result.exit_code == 0, result.output
    (project,) = load_content(tmp_path).projects
    assert project.slug == "quote-and-back" and project.meta.title == name


def test_plant_slug_taken_by_front_matter(tmp_path: Path, cli: Any) -> None:
    folder = tmp_path / "content/projects"
    folder.mkdir(parents=True)
    (folder / "other.md").write_text('+++\nslug = "tide"\n+++\n')
    result = cli("plant", "Tide", "--root", tmp_path)
    assert result.exit_code == 1 and "other.md" in result.output


@pytest.mark.parametrize("url", ["https://me.github.io/garden", "https://me.github.io/garden/"])
def test_build_base_url_override(demo_site: Path, cli: Any, url: str) -> None:
    result = cli("build", "--offline", "--root", demo_site, "--base-url", url)
    assert result.exit_code == 0, result.output
    sitemap = (demo_site / "build/site/sitemap.xml").read_text()
    assert "https://me.github.io/garden/projects/" in sitemap
    assert "localhost" not in sitemap
    # Without the override the next build uses the file's value again (not "unchanged").
    assert cli("build", "--offline", "--root", demo_site).exit_code == 0
    assert "localhost:8000" in (demo_site / "build/site/sitemap.xml").read_text()


def test_build_base_url_is_validated(demo_site: Path, cli: Any) -> None:
    result = cli("build", "--offline", "--root", demo_site, "--base-url", "ftp://nope")
    assert result.exit_code == 1
    assert "--base-url" in result.output and "http" in result.output


def test_a_project_planted_after_the_build_day_builds(tmp_path: Path, cli: Any) -> None:
    """SOURCE_DATE_EPOCH is 2026-01-01 here; a seed planted later is still a seed, not a crash."""
    folder = tmp_path / "content/projects"
    folder.mkdir(parents=True)
    (folder / "later.md").write_text('+++\ntitle = "Later"\nplanted = 2030-05-01\n+++\n')
    result = cli("build", "--offline", "--root", tmp_path)
    assert result.exit_code == 0, result.output
    garden = json.loads((tmp_path / "build/site/api/v1/garden/index.json").read_text())
    (plant,) = garden["plants"]
    assert plant["id"] == "later" and plant["stage"] == "seed"
