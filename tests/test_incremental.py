"""Rebuilds that redo only what changed, checked byte for byte against full builds.

Real builds, real DuckDB files, real folders: a BuildCache as ``greenhouse
serve`` keeps one, the spare bundle the next build stages into, and the
stamp that lets an unchanged offline build return without opening the store.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from greenhouse.build import build
from greenhouse.build_cache import BuildCache
from greenhouse.site.bundle import published_inode
from greenhouse.store import Store
from tests.conftest import REPO
from tests.test_build import tree_digest

SPRIG = '+++\ntitle = "Sprig"\nrepo = "greenhouse-demo/sprig"\nskills = ["Shell", "cli"]\n+++\n'


def fresh_build(site: Path, tmp_path: Path, name: str) -> dict[str, str]:
    """A full build from a fresh store into a folder of its own; its files' digests."""
    result = build(site, offline=True, output=tmp_path / name, db=tmp_path / f"{name}.duckdb")
    assert not result.skipped and result.rendered == result.files
    return tree_digest(tmp_path / name)


def test_incremental_rebuilds_equal_full_builds_from_a_fresh_store(
    demo_site: Path, tmp_path: Path
) -> None:
    cache = BuildCache()
    site = demo_site / "build" / "site"
    first = build(demo_site, offline=True, force=True, cache=cache)
    assert first.rendered == first.files and first.grown
    assert tree_digest(site) == fresh_build(demo_site, tmp_path, "full-0")

    # A content edit: the plant's page and document are rendered, not the other plants'.
    sprig = demo_site / "content/projects/sprig.md"
    sprig.write_text(SPRIG + "Edited **body**.\n")
    edited = build(demo_site, offline=True, force=True, cache=cache)
    plants = edited.plants
    assert edited.grown and edited.rendered < edited.files - 2 * (plants - 2)
    assert "Edited <strong>body</strong>" in (site / "projects/sprig/index.html").read_text()
    assert tree_digest(site) == fresh_build(demo_site, tmp_path, "full-1")

    # A template edit: no plant is grown again; every page is rendered, no JSON document.
    templates = demo_site / "site_templates"
    templates.mkdir()
    (templates / "project.html").write_text(
        (REPO / "greenhouse/site/theme/templates/project.html")
        .read_text()
        .replace("{% block main %}", "{% block main %}<p class=marker>templated</p>", 1)
    )
    restyled = build(demo_site, offline=True, force=True, cache=cache)
    assert not restyled.grown and cache.grown == 2
    assert "templated" in (site / "projects/sprig/index.html").read_text()
    documents = list((site / "api/v1/projects").glob("*.json"))
    assert restyled.rendered < restyled.files - len(documents) + 5  # documents were linked
    assert tree_digest(site) == fresh_build(demo_site, tmp_path, "full-2")

    # A new project, a removed one, and a config change that touches every page.
    (demo_site / "content/projects/fresh-idea.md").write_text(
        '+++\ntitle = "Fresh idea"\nplanted = 2025-12-01\n+++\nNew.\n'
    )
    (demo_site / "content/projects/bramble.md").unlink()
    config = demo_site / "greenhouse.toml"
    config.write_text(config.read_text().replace("The greenhouse demo garden", "Renamed garden"))
    changed = build(demo_site, offline=True, force=True, cache=cache)
    assert changed.grown
    assert not (site / "projects/bramble").exists()
    assert (site / "projects/fresh-idea/index.html").is_file()
    assert tree_digest(site) == fresh_build(demo_site, tmp_path, "full-3")

    # Nothing changed at all: nothing rendered again, nothing written.
    inodes = {p: p.stat().st_ino for p in site.rglob("*") if p.is_file()}
    again = build(demo_site, offline=True, force=True, cache=cache)
    assert not again.grown and again.written == 0
    assert {p: p.stat().st_ino for p in site.rglob("*") if p.is_file()} == inodes


def test_stored_data_changes_reach_an_incremental_rebuild(demo_site: Path, tmp_path: Path) -> None:
    cache = BuildCache()
    build(demo_site, offline=True, force=True, cache=cache)
    db = demo_site / "build" / "greenhouse.duckdb"
    with Store.open(db) as store, store.transaction() as conn:
        conn.execute(
            "INSERT INTO engagement VALUES ('tidewatch', DATE '2025-12-31', 500, 40, 90, 'visitors')"
        )
    again = build(demo_site, offline=True, force=True, cache=cache)
    assert again.grown
    doc = json.loads((demo_site / "build/site/api/v1/projects/tidewatch.json").read_text())
    assert doc["analytics"]["views_30d"] >= 500
    # the same store, built in full without any cache, gives the same bundle
    full = tmp_path / "full.duckdb"
    full.write_bytes(db.read_bytes())
    build(demo_site, offline=True, output=tmp_path / "full", db=full)
    assert tree_digest(demo_site / "build" / "site") == tree_digest(tmp_path / "full")


def test_keys_are_dropped_when_another_build_published(demo_site: Path, tmp_path: Path) -> None:
    cache = BuildCache()
    build(demo_site, offline=True, force=True, cache=cache)
    # another process (here: a build without the cache) publishes a different bundle
    env = {"SOURCE_DATE_EPOCH": "1767312000"}  # a day later: every document differs
    subprocess.run(
        [sys.executable, "-m", "greenhouse", "build", "--offline", "--root", str(demo_site)],
        env={**os.environ, **env},
        check=True,
        cwd=REPO,
        capture_output=True,
    )
    again = build(demo_site, offline=True, force=True, cache=cache)
    assert again.rendered == again.files  # no key trusted: the folder is not the one they describe
    assert tree_digest(demo_site / "build" / "site") == fresh_build(demo_site, tmp_path, "full")


def test_a_forced_rebuild_links_every_unchanged_file(demo_site: Path) -> None:
    build(demo_site, offline=True)
    site = demo_site / "build" / "site"
    before = {p: (p.stat().st_ino, p.read_bytes()) for p in site.rglob("*") if p.is_file()}
    again = build(demo_site, offline=True, force=True)
    assert not again.skipped and again.rendered == again.files and again.written == 0
    assert {p: (p.stat().st_ino, p.read_bytes()) for p in site.rglob("*") if p.is_file()} == before


def test_the_spare_is_trusted_for_nothing(demo_site: Path, tmp_path: Path) -> None:
    build(demo_site, offline=True)
    build(demo_site, offline=True, force=True)  # the first bundle is now the spare
    spare = demo_site / "build" / ".site.spare"
    assert (spare / "index.html").is_file()
    # Junk where files and folders should be, stale files, and a link to a file of ours
    # that must never be written through.
    outside = tmp_path / "precious.txt"
    outside.write_text("mine")
    (spare / "index.html").unlink()
    os.link(outside, spare / "index.html")
    (spare / "feed.xml").unlink()
    (spare / "feed.xml").mkdir()
    (spare / "feed.xml" / "junk").write_text("x")
    for folder in (spare / "projects/sprig", spare / "projects/loom"):
        for item in folder.iterdir():
            item.unlink()
        folder.rmdir()
    (spare / "projects/sprig").write_text("a file where a folder should be")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (spare / "projects/loom").symlink_to(elsewhere)
    (spare / "stale").mkdir()
    (spare / "stale" / "old.html").write_text("old")
    (spare / "api/v1/garden/weather.json").write_text('{"tampered": true}')
    (demo_site / "content/projects/sprig.md").write_text(SPRIG + "Changed.\n")
    build(demo_site, offline=True)
    assert outside.read_text() == "mine"
    assert list(elsewhere.iterdir()) == []  # nothing written through the link
    assert tree_digest(demo_site / "build" / "site") == fresh_build(demo_site, tmp_path, "full")


def test_an_unchanged_offline_build_opens_no_store(demo_site: Path) -> None:
    build(demo_site, offline=True)
    script = textwrap.dedent(f"""
        import sys
        from greenhouse.build import build
        result = build({str(demo_site)!r}, offline=True)
        heavy = ("duckdb", "numpy", "jinja2", "markdown_it", "pydantic", "greenhouse.config")
        print(result.skipped, [name for name in heavy if name in sys.modules])
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["True", "[]"], done.stdout + done.stderr


@pytest.mark.parametrize(
    "change",
    ["store", "content", "template", "config", "day", "bundle", "stamp", "flag"],
)
def test_every_input_invalidates_the_stamp(demo_site: Path, change: str) -> None:
    build(demo_site, offline=True)
    site = demo_site / "build" / "site"
    kwargs: dict[str, object] = {}
    if change == "store":
        db = demo_site / "build" / "greenhouse.duckdb"
        with Store.open(db) as store, store.transaction() as conn:
            conn.execute(
                "INSERT INTO engagement VALUES ('loom', DATE '2025-12-30', 9, 0, 1, 'visitors')"
            )
    elif change == "content":
        (demo_site / "content/projects/sprig.md").write_text(SPRIG + "Other.\n")
    elif change == "template":
        (demo_site / "site_templates").mkdir()
        (demo_site / "site_templates/404.html").write_text(
            "{% extends 'base.html' %}{% block main %}gone{% endblock %}"
        )
    elif change == "config":
        config = demo_site / "greenhouse.toml"
        config.write_text(config.read_text().replace("seed = 7", "seed = 8"))
    elif change == "day":
        os.environ["SOURCE_DATE_EPOCH"] = "1767312000"  # undone by the autouse fixture
    elif change == "bundle":
        (site / "robots.txt").unlink()
    elif change == "stamp":
        (demo_site / "build" / ".site.stamp").write_text("{not json")
    elif change == "flag":
        kwargs["base_url"] = "https://example.org/elsewhere/"
    again = build(demo_site, offline=True, **kwargs)  # type: ignore[arg-type]
    if change in ("stamp", "bundle"):
        # the store's own check still knows nothing changed, except a damaged bundle
        assert again.skipped == (change == "stamp")
    else:
        assert not again.skipped, change
    # and once rebuilt, the next build is skipped again from the stamp
    assert build(demo_site, offline=True, **kwargs).skipped  # type: ignore[arg-type]


def test_a_demo_stamp_of_another_day_is_not_trusted(
    demo_site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real clock: the demo's data time is its own last generation, so only the
    # day in the stamp tells that the demo must be generated again today.
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    from datetime import UTC, datetime, timedelta

    from greenhouse.fingerprint import inputs_digest, read_stamp, stamp_path

    build(demo_site, offline=True)
    out, db = demo_site / "build" / "site", demo_site / "build" / "greenhouse.duckdb"
    stamp = read_stamp(out)
    assert stamp is not None and stamp.now_from_data
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    files = inputs_digest(demo_site, out, db, "http://localhost:8000/", yesterday)
    forged = json.loads(stamp_path(out).read_text()) | {"inputs": f"{files}:{stamp.now}"}
    stamp_path(out).write_text(json.dumps(forged))
    script = textwrap.dedent(f"""
        import sys
        from greenhouse.build import build
        result = build({str(demo_site)!r}, offline=True)
        print("duckdb" in sys.modules)
    """)
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.stdout.strip() == "True", done.stdout + done.stderr  # the store was consulted


def test_compiled_templates_are_kept_and_never_stale(
    demo_site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from greenhouse.site import render

    theme = tmp_path / "theme-compiled"
    theme.mkdir()
    monkeypatch.setattr(render, "THEME_COMPILED", theme)
    templates = demo_site / "site_templates"
    templates.mkdir()
    page = templates / "404.html"
    page.write_text("{% extends 'base.html' %}{% block main %}first words{% endblock %}")
    build(demo_site, offline=True)
    compiled = demo_site / "build" / ".site.templates"
    assert len(list(compiled.iterdir())) == 1  # the site's own template
    assert len(list(theme.iterdir())) >= 5  # the theme's pages and what they extend and include
    # The same template edited between two processes' builds: its new source is compiled.
    page.write_text("{% extends 'base.html' %}{% block main %}second words{% endblock %}")
    build(demo_site, offline=True)
    assert "second words" in (demo_site / "build/site/404.html").read_text()
    assert tree_digest(demo_site / "build/site") == fresh_build(demo_site, tmp_path, "full")
    # A folder that cannot be written costs only the compiling.
    for file in compiled.iterdir():
        file.unlink()
    compiled.rmdir()
    compiled.write_text("not a folder")
    page.write_text("{% extends 'base.html' %}{% block main %}third words{% endblock %}")
    assert not build(demo_site, offline=True).skipped
    assert "third words" in (demo_site / "build/site/404.html").read_text()


class Compiles:
    """How many templates Jinja compiled from source (not taken compiled from a cache)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import jinja2

        self.names: list[str] = []
        compile_ = jinja2.Environment.compile

        def counted(env: jinja2.Environment, source: str, name: str | None = None, *a, **k):  # type: ignore[no-untyped-def]
            self.names.append(str(name))
            return compile_(env, source, name, *a, **k)

        monkeypatch.setattr(jinja2.Environment, "compile", counted)


def test_a_new_site_finds_the_theme_compiled(
    demo_site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The theme's compiled templates are kept for every site, like the package's bytecode."""
    from greenhouse.site import render

    theme = tmp_path / "theme-compiled"
    theme.mkdir()
    monkeypatch.setattr(render, "THEME_COMPILED", theme)
    first = build(demo_site, offline=True)
    compiled = Compiles(monkeypatch)
    second = tmp_path / "second"
    second.mkdir()
    (second / "greenhouse.toml").write_text((demo_site / "greenhouse.toml").read_text())
    (second / "site_templates").mkdir()
    (second / "site_templates/404.html").write_text(
        "{% extends 'base.html' %}{% block main %}its own{% endblock %}"
    )
    result = build(second, offline=True)
    assert result.files and first.files
    assert compiled.names == ["404.html"]  # its own template only: the theme's were compiled
    assert (
        not (second / "build/.site.templates/").exists()
        or len(list((second / "build/.site.templates").iterdir())) == 1
    )
    assert tree_digest(second / "build/site") == fresh_build(second, tmp_path, "full")


def test_an_unwritable_package_keeps_the_theme_compiled_with_the_site(
    demo_site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from greenhouse.site import render

    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the package's cache would go")
    monkeypatch.setattr(render, "THEME_COMPILED", blocked)
    build(demo_site, offline=True)
    kept = demo_site / "build/.site.templates"
    assert len(list(kept.iterdir())) >= 5
    compiled = Compiles(monkeypatch)
    assert not build(demo_site, offline=True, force=True).skipped
    assert compiled.names == []  # every template came compiled from the site's folder


def test_serve_keeps_the_previews_it_showed(demo_site: Path, tmp_path: Path) -> None:
    cache = BuildCache()
    first = build(demo_site, offline=True, force=True, cache=cache)
    assert first.images_drawn > 20 and len(cache.images) == first.images_drawn
    # The store's image cache emptied behind serve's back: the PNGs it kept are still shown.
    with Store.open(demo_site / "build" / "greenhouse.duckdb") as store:
        store.conn.execute("DELETE FROM image_cache")
    sprig = demo_site / "content/projects/sprig.md"
    original = sprig.read_text()
    sprig.write_text(original.replace("Just planted.", "Edited body."))
    edited = build(demo_site, offline=True, force=True, cache=cache)
    assert edited.images_drawn == 0 and edited.written == 2  # the page and its document
    assert tree_digest(demo_site / "build/site") == fresh_build(demo_site, tmp_path, "full-1")
    # A new name is drawn on the project's preview: that one picture, nothing else.
    sprig.write_text(original.replace('"Sprig"', '"Sprig the second"'))
    renamed = build(demo_site, offline=True, force=True, cache=cache)
    assert renamed.images_drawn == 1
    assert tree_digest(demo_site / "build/site") == fresh_build(demo_site, tmp_path, "full-2")


def test_schema_documents_are_kept_and_never_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API's JSON Schemas are generated once per installation, and are pydantic's."""
    from pydantic import BaseModel

    from greenhouse.site import api, render
    from greenhouse.site.bundle import dumps

    monkeypatch.setattr(render, "THEME_COMPILED", tmp_path)
    expected = {name: dumps(model.model_json_schema()) for name, model in api.SCHEMAS.items()}
    render._schema_documents.cache_clear()
    assert render._schema_documents() == expected
    (kept,) = tmp_path.glob("api-schemas.*.json")

    def not_again(*args: object, **kwargs: object) -> None:
        raise AssertionError("generated again")

    monkeypatch.setattr(BaseModel, "model_json_schema", classmethod(not_again))
    render._schema_documents.cache_clear()
    assert render._schema_documents() == expected  # from the kept file
    monkeypatch.undo()
    monkeypatch.setattr(render, "THEME_COMPILED", tmp_path)
    for damaged in (
        b"{not json",
        b'{"garden": 1}',
        b"[]",
        "\udcff".encode("utf-8", "surrogatepass"),
    ):
        kept.write_bytes(damaged)
        render._schema_documents.cache_clear()
        assert render._schema_documents() == expected
    render._schema_documents.cache_clear()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_only_a_regular_file_with_the_same_bytes_is_the_published_copy(tmp_path: Path) -> None:
    # What a build links instead of writing: the published file, when it holds these bytes.
    # A FIFO or a folder where a file should be is never it (and never blocks the build).
    (tmp_path / "same.json").write_bytes(b'{"a":1}')
    (tmp_path / "empty").write_bytes(b"")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "folder").mkdir()
    found = published_inode(str(tmp_path), "same.json", b'{"a":1}')
    assert found == (tmp_path / "same.json").stat().st_ino
    assert published_inode(str(tmp_path), "empty", b"") == (tmp_path / "empty").stat().st_ino
    assert published_inode(str(tmp_path), "same.json", b'{"a":2}') is None
    assert published_inode(str(tmp_path), "same.json", b'{"a":1} ') is None
    assert published_inode(str(tmp_path), "fifo", b"") is None
    assert published_inode(str(tmp_path), "folder", b"") is None
    assert published_inode(str(tmp_path), "missing", b"") is None
