"""``greenhouse serve`` without a browser: a real server on port 0, real files, real builds."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import HTTPRedirectHandler, Request, build_opener, urlopen

import pytest

from greenhouse.errors import ContentError, Problem, TemplateError
from greenhouse.site.serve import DevServer, error_report


@pytest.fixture
def server(demo_site: Path) -> Iterator[DevServer]:
    config = demo_site / "greenhouse.toml"
    config.write_text(
        config.read_text().replace(
            'base_url = "http://localhost:8000/"', 'base_url = "https://u.github.io/repo/"'
        )
    )
    dev = DevServer(demo_site, port=0)
    dev.start()
    yield dev
    dev.stop()


class NoRedirect(HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def status(url: str) -> tuple[int, bytes, str]:
    try:
        with build_opener(NoRedirect).open(Request(url), timeout=5) as response:
            return response.status, response.read(), response.headers.get("Location") or ""
    except HTTPError as exc:
        return exc.code, exc.read(), exc.headers.get("Location") or ""


def test_serves_under_the_base_path_with_the_reload_script(server: DevServer) -> None:
    root = server.url.removesuffix("/repo/")
    code, body, _ = status(root + "/repo/")
    assert code == 200 and b'<script src="/__greenhouse/reload.js?v=' in body
    assert status(root + "/repo")[::2] == (302, "/repo/")
    assert status(root + "/repo/projects/sprig")[::2] == (302, "/repo/projects/sprig/")
    assert status(root + "/")[0] == 404
    assert status(root + "/repo/../greenhouse.toml")[0] == 404
    code, body, _ = status(root + "/repo/api/v1/garden/index.json")
    assert code == 200 and json.loads(body)["plants"]
    assert status(root + "/__greenhouse/reload.js")[0] == 200
    # the bundle on disk never carries the script
    assert b"__greenhouse" not in (server.output / "index.html").read_bytes()


def test_events_report_rebuilds_and_errors(server: DevServer, demo_site: Path) -> None:
    with urlopen(server.url.removesuffix("/repo/") + "/__greenhouse/events", timeout=10) as events:

        def next_event() -> dict[str, object]:
            while True:
                line = events.readline().decode()
                if line.startswith("data: "):
                    return json.loads(line[6:])  # type: ignore[no-any-return]

        first = next_event()
        assert first["error"] is None
        sprig = demo_site / "content/projects/sprig.md"
        good = sprig.read_text()
        sprig.write_text("+++\ntitle = \n+++\n")
        broken = next_event()
        error = broken["error"]
        assert isinstance(error, dict)
        assert error["file"] == str(sprig) and error["line"] == 2
        assert [2, "title = "] in error["lines"]
        time.sleep(0.2)
        sprig.write_text(good)
        fixed = next_event()
        assert fixed["error"] is None and fixed["version"] != first["version"]

        template = demo_site / "site_templates" / "index.html"
        template.parent.mkdir()
        template.write_text(
            "{% extends 'base.html' %}\n{% block main %}\n{{ oops( }}\n{% endblock %}\n"
        )
        error = next_event()["error"]
        assert isinstance(error, dict)
        assert str(error["file"]).endswith("index.html") and error["line"] == 3
        assert [3, "{{ oops( }}"] in error["lines"]
        template.unlink()
        assert next_event()["error"] is None


def test_error_report_shows_the_lines_around() -> None:
    source = "\n".join(f"line {n}" for n in range(1, 11))
    report = error_report(TemplateError("unexpected '}'", "base.html", 5, source), context=2)
    assert report["file"] == "base.html" and report["line"] == 5
    assert report["message"] == "unexpected '}'"
    assert [n for n, _ in report["lines"]] == [3, 4, 5, 6, 7]
    many = error_report(ContentError([Problem("a.md", "one", 1), Problem("b.md", "two", 2)]))
    assert many["file"] == "a.md" and "two" in many["message"]


def test_template_and_stylesheet_edits_do_not_grow_the_garden_again(
    server: DevServer, demo_site: Path
) -> None:
    grown = server.cache.grown
    assert grown == 1  # the first build warmed the cache
    with urlopen(server.url.removesuffix("/repo/") + "/__greenhouse/events", timeout=10) as events:

        def next_event() -> dict[str, object]:
            while True:
                line = events.readline().decode()
                if line.startswith("data: "):
                    return json.loads(line[6:])  # type: ignore[no-any-return]

        first = next_event()
        templates = demo_site / "site_templates"
        (templates / "static").mkdir(parents=True)
        (templates / "404.html").write_text(
            "{% extends 'base.html' %}{% block main %}<p>Lost in the beds</p>{% endblock %}"
        )
        page = next_event()
        assert page["kind"] == "page" and page["version"] != first["version"]
        assert b"Lost in the beds" in (server.output / "404.html").read_bytes()
        assert server.cache.grown == grown  # re-rendered from the garden already grown

        pages = {p: p.stat().st_mtime_ns for p in server.output.rglob("*.html")}
        (templates / "static" / "garden.css").write_text("body { color: rgb(1, 2, 3) }\n")
        css = next_event()
        assert css["kind"] == "css"
        assert (server.output / "static/garden.css").read_text() == "body { color: rgb(1, 2, 3) }\n"
        assert {p: p.stat().st_mtime_ns for p in server.output.rglob("*.html")} == pages
        assert server.cache.grown == grown

        sprig = demo_site / "content/projects/sprig.md"
        sprig.write_text(sprig.read_text().replace("Just planted.", "Watered today."))
        assert next_event()["kind"] == "page"
        assert b"Watered today." in (server.output / "projects/sprig/index.html").read_bytes()
        assert server.cache.grown == grown + 1  # a content edit grows the garden again


def test_only_the_sites_sources_are_watched(server: DevServer, demo_site: Path) -> None:
    from greenhouse.site.serve import THEME

    root = server.root
    assert server.watched(root / "greenhouse.toml")
    assert server.watched(root / "content") and server.watched(root / "content/projects/a.md")
    assert server.watched(root / "site_templates/static/garden.css")
    assert server.watched(THEME / "templates/base.html")
    assert not server.watched(root / "build/site/index.html")
    assert not server.watched(root / "build/.site.spare/projects/sprig/index.html")
    assert not server.watched(root / "content-old/notes.md")  # a prefix, not a folder of ours
    assert not server.watched(root / "greenhouse.toml.swp")


def test_the_inputs_are_watched_not_the_bundle(server: DevServer, demo_site: Path) -> None:
    """The watcher sees the config saved by rename and input folders come and go."""
    with urlopen(server.url.removesuffix("/repo/") + "/__greenhouse/events", timeout=10) as events:

        def next_event() -> dict[str, object]:
            while True:
                line = events.readline().decode()
                if line.startswith("data: "):
                    return json.loads(line[6:])  # type: ignore[no-any-return]

        first = next_event()
        # An editor's atomic save: a new file renamed over greenhouse.toml.
        config = demo_site / "greenhouse.toml"
        saved = demo_site / ".greenhouse.toml.new"
        saved.write_text(config.read_text().replace("The greenhouse demo garden", "Renamed"))
        saved.rename(config)
        assert next_event()["version"] != first["version"]
        assert b"Renamed" in (server.output / "index.html").read_bytes()

        # A new input folder with a file already in it, then the folder removed.
        templates = demo_site / "site_templates"
        staged = demo_site / "templates-draft"
        staged.mkdir()
        (staged / "404.html").write_text(
            "{% extends 'base.html' %}{% block main %}<p>Moved in whole</p>{% endblock %}"
        )
        staged.rename(templates)
        next_event()
        assert b"Moved in whole" in (server.output / "404.html").read_bytes()
        (templates / "404.html").unlink()
        templates.rmdir()
        next_event()
        assert b"Moved in whole" not in (server.output / "404.html").read_bytes()

        # A build writes thousands of files into the bundle: none of them is a change.
        version = server.live.version
        server.rebuild()
        time.sleep(1.0)
        assert server.live.version == version + 1  # the rebuild's own reload, nothing after it
