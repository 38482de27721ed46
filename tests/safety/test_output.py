"""Issue 16.1: `build --output DIR` replaces only a folder greenhouse published (or an empty one).

Every test drives the real CLI on a real site and a real DuckDB file, and
checks that what was there before is still there, byte for byte.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from greenhouse.errors import BuildError
from greenhouse.site.output import MARKER, MARKER_TEXT, is_legacy_bundle
from greenhouse.site.publish import swap_in
from tests.conftest import run_module
from tests.safety.conftest import tree_digest


def built(cli, site: Path) -> Path:
    result = cli("build", "--offline", "--root", site)
    assert result.exit_code == 0, result.output
    return site / "build" / "site"


@pytest.mark.parametrize(
    ("output", "says"),
    [
        ("build", "contains the data store"),
        ("content", "is the content folder"),
        ("content/projects", "is inside the content folder"),
        ("site_templates", "is the templates folder"),
        (".", "is the site folder"),
        ("..", "contains the site folder"),
        ("greenhouse.toml", "is the config file"),
        ("build/greenhouse.duckdb", "is the data store"),
    ],
)
def test_an_output_over_the_site_inputs_is_refused(
    cli, small_site: Path, output: str, says: str
) -> None:
    built(cli, small_site)
    (small_site / "site_templates").mkdir()
    (small_site / "site_templates" / "404.html").write_text("{% extends 'base.html' %}")
    before = tree_digest(small_site.parent)
    result = cli("build", "--offline", "--root", small_site, "--output", small_site / output)
    assert result.exit_code == 1
    assert says in result.output and "--output" in result.output
    assert "Traceback" not in result.output
    assert tree_digest(small_site.parent) == before  # not one byte lost or changed


def test_a_folder_of_notes_is_never_replaced(cli, small_site: Path, tmp_path: Path) -> None:
    notes = tmp_path / "mydocs"
    notes.mkdir()
    (notes / "ideas.txt").write_text("my notes")
    (notes / "drafts").mkdir()
    (notes / "drafts" / "a.md").write_text("draft")
    result = cli("build", "--offline", "--root", small_site, "--output", notes)
    assert result.exit_code == 1
    assert "holds files greenhouse did not publish (drafts, ideas.txt)" in result.output
    assert (notes / "ideas.txt").read_text() == "my notes"
    assert (notes / "drafts" / "a.md").read_text() == "draft"
    assert not list(tmp_path.glob(".mydocs.new-*"))  # no staging folder left behind either


def test_a_link_to_a_guarded_folder_is_refused(cli, small_site: Path, tmp_path: Path) -> None:
    link = tmp_path / "out"
    link.symlink_to(small_site / "content")
    result = cli("build", "--offline", "--root", small_site, "--output", link)
    assert result.exit_code == 1 and "is the content folder" in result.output
    assert (small_site / "content" / "projects" / "fern.md").is_file()
    assert link.is_symlink()


def test_a_file_is_not_an_output_folder(cli, small_site: Path, tmp_path: Path) -> None:
    file = tmp_path / "notes.txt"
    file.write_text("keep me")
    result = cli("build", "--offline", "--root", small_site, "--output", file)
    assert result.exit_code == 1 and "is not a folder" in result.output
    assert file.read_text() == "keep me"


def test_empty_and_missing_folders_and_our_own_bundles_are_replaced(
    cli, small_site: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for output in (empty, tmp_path / "missing" / "deeper"):
        result = cli("build", "--offline", "--root", small_site, "--output", output)
        assert result.exit_code == 0, result.output
        assert (output / "index.html").is_file()
        assert (output / MARKER).read_text() == MARKER_TEXT
    # A bundle greenhouse published is replaced again (what a user added to it goes with it).
    (empty / "stray.txt").write_text("x")
    result = cli("build", "--offline", "--force", "--root", small_site, "--output", empty)
    assert result.exit_code == 0, result.output
    assert not (empty / "stray.txt").exists()


def test_a_bundle_published_by_0_1_is_recognised_by_its_shape(cli, small_site: Path) -> None:
    site = built(cli, small_site)
    (site / MARKER).unlink()  # what a 0.1 bundle looks like: no marker
    assert is_legacy_bundle(site)
    result = cli("build", "--offline", "--force", "--root", small_site)
    assert result.exit_code == 0, result.output
    assert (site / MARKER).read_text() == MARKER_TEXT

    (site / MARKER).unlink()
    (site / "my-notes.md").write_text("notes kept in the bundle folder")
    assert not is_legacy_bundle(site)
    result = cli("build", "--offline", "--force", "--root", small_site)
    assert result.exit_code == 1 and "my-notes.md" in result.output
    assert (site / "my-notes.md").read_text() == "notes kept in the bundle folder"


def test_a_legacy_shape_needs_the_garden_document_too(cli, small_site: Path) -> None:
    site = built(cli, small_site)
    (site / MARKER).unlink()
    (site / "api/v1/garden/index.json").write_text('{"my": "data"}')
    assert not is_legacy_bundle(site)
    (site / "api/v1/garden/index.json").unlink()
    (site / "api/v1/garden/index.json").symlink_to(small_site / "greenhouse.toml")
    assert not is_legacy_bundle(site)


def test_a_forged_marker_is_not_enough(cli, small_site: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("keep")
    (notes / MARKER).write_text("something else")
    result = cli("build", "--offline", "--root", small_site, "--output", notes)
    assert result.exit_code == 1 and (notes / "todo.txt").read_text() == "keep"
    (notes / MARKER).unlink()
    (notes / MARKER).symlink_to(small_site / "build")  # a link, even to a bundle, is no marker
    result = cli("build", "--offline", "--root", small_site, "--output", notes)
    assert result.exit_code == 1 and (notes / "todo.txt").read_text() == "keep"


def test_the_swap_checks_again_at_the_last_moment(tmp_path: Path) -> None:
    staged = tmp_path / ".site.new-x"
    staged.mkdir()
    (staged / "index.html").write_text("new")
    output = tmp_path / "site"
    output.mkdir()
    (output / "thesis.tex").write_text("two years of work")  # appeared during the build
    with pytest.raises(BuildError, match="holds files greenhouse did not publish"):
        swap_in(staged, output)
    assert (output / "thesis.tex").read_text() == "two years of work"


def test_check_and_build_refuse_an_empty_output_setting(cli, small_site: Path) -> None:
    config = small_site / "greenhouse.toml"
    config.write_text(config.read_text() + '\n[build]\noutput = ""\n')
    line = config.read_text().splitlines().index('output = ""') + 1
    for command in ("check", "build"):
        args = [command, "--root", small_site] + (["--offline"] if command == "build" else [])
        result = cli(*args)
        assert result.exit_code == 1, result.output
        assert f"greenhouse.toml:{line}: [build.output]" in result.output
        assert "is the site folder" in result.output
    assert (small_site / "content" / "projects" / "fern.md").is_file()


def test_check_reports_an_output_that_holds_the_store(cli, small_site: Path) -> None:
    config = small_site / "greenhouse.toml"
    config.write_text(
        config.read_text() + '\n[build]\noutput = "data"\ndb = "data/garden.duckdb"\n'
    )
    result = cli("check", "--root", small_site)
    assert result.exit_code == 1
    assert "[build.output]" in result.output and "contains the data store" in result.output


def test_dot_output_in_a_real_process_deletes_nothing(small_site: Path) -> None:
    """The evaluation's case: `--output .` deleted the site, then printed a DuckDB traceback."""
    before = tree_digest(small_site)
    result = run_module("build", "--offline", "--output", ".", cwd=small_site)
    assert result.returncode == 1
    assert "is the site folder" in result.stderr and "Traceback" not in result.stderr
    assert tree_digest(small_site) == before
    assert sorted(os.listdir(small_site)) == ["content", "greenhouse.toml"]


@pytest.mark.timeout(1800)
def test_a_230_plant_bundle_of_0_1_is_replaced_and_its_feed_stays_valid(demo_site: Path) -> None:
    """At a real size: the demo with 230 projects over three years."""
    import xml.etree.ElementTree as ET

    config = demo_site / "greenhouse.toml"
    config.write_text(
        config.read_text()
        .replace("projects = 12", "projects = 230")
        .replace("days = 730", "days = 1095")
    )
    # generous timeouts: the machines running the suite are shared
    assert run_module("build", "--offline", "--root", str(demo_site), timeout=900).returncode == 0
    site = demo_site / "build" / "site"
    assert len(list((site / "projects").iterdir())) >= 230
    (site / MARKER).unlink()  # as 0.1 left it
    assert is_legacy_bundle(site)
    result = run_module("build", "--offline", "--force", "--root", str(demo_site), timeout=900)
    assert result.returncode == 0, result.stderr
    assert (site / MARKER).read_text() == MARKER_TEXT
    ET.parse(site / "feed.xml")
    ET.parse(site / "sitemap.xml")
