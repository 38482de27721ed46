"""Issue 16.3 and 16.4: template runtime errors are located at build time; check finds what it can."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from greenhouse.errors import TemplateError
from greenhouse.site import THEME
from tests.conftest import run_module
from tests.safety.conftest import tree_digest


def override(site: Path, name: str, text: str) -> Path:
    path = site / "site_templates" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def page(body: str) -> str:
    return "{% extends 'base.html' %}\n{% block main %}\n" + body + "\n{% endblock %}\n"


@pytest.mark.parametrize(
    ("name", "body", "line", "says"),
    [
        ("index.html", "<p>{{ 1 // 0 }}</p>", 3, "integer division or modulo by zero"),
        ("project.html", "<p>{{ plant.nickname.upper() }}</p>", 3, "has no attribute 'nickname'"),
        (
            "skills.html",
            "{% include 'partials/nav.html' %}",
            3,
            "template not found: partials/nav.html",
        ),
        ("404.html", "{{ '%d' % 'x' }}", 3, "(TypeError)"),
        ("index.html", "{% include 'index.html' %}", 3, "maximum recursion depth exceeded"),
    ],
)
def test_a_template_runtime_error_is_a_located_error(
    cli, small_site: Path, name: str, body: str, line: int, says: str
) -> None:
    assert cli("build", "--offline", "--root", small_site).exit_code == 0
    before = tree_digest(small_site / "build" / "site")
    path = override(small_site, name, page(body))
    result = cli("build", "--offline", "--root", small_site)
    assert result.exit_code == 1
    assert f"error: {path}:{line}: " in result.output and says in result.output
    assert "Traceback" not in result.output
    assert tree_digest(small_site / "build" / "site") == before  # the last good bundle stays


def test_an_error_in_an_included_partial_points_into_the_partial(cli, small_site: Path) -> None:
    partial = override(
        small_site, "partials/card.html", "<div>\n{{ weather.nonexistent.x }}\n</div>\n"
    )
    override(small_site, "index.html", page("{% include 'partials/card.html' %}"))
    result = cli("build", "--offline", "--root", small_site)
    assert result.exit_code == 1 and f"{partial}:2: " in result.output


def test_a_runtime_error_in_a_real_process_has_no_traceback(small_site: Path) -> None:
    path = override(small_site, "index.html", page("{{ 1 // 0 }}"))
    result = run_module("build", "--offline", "--root", str(small_site))
    assert result.returncode == 1
    assert f"{path}:3: integer division or modulo by zero" in result.stderr
    assert "Traceback" not in result.stderr


def test_template_errors_keep_file_and_line_across_processes() -> None:
    import pickle

    error = pickle.loads(pickle.dumps(TemplateError("boom", "/s/index.html", 7, "src")))
    assert (error.file, error.line, error.source, str(error)) == (
        "/s/index.html",
        7,
        "src",
        "/s/index.html:7: boom",
    )


def test_check_finds_undefined_names_and_missing_templates(cli, small_site: Path) -> None:
    index = override(
        small_site,
        "index.html",
        page("<h1>{{ site.titel }}</h1>\n<p>{{ plantz | length }}</p>\n{% include 'nav.html' %}"),
    )
    skills = override(small_site, "skills.html", "{% extends 'layout.html' %}\n")
    macros = override(
        small_site,
        "partials/macros.html",
        "{% from 'partials/nothere.html' import x %}\n"
        "{% macro card(p) %}{{ p.name }} {{ caller() }} {{ unknown_thing }}{% endmacro %}\n",
    )
    override(small_site, "feed.xml", "{{ site.title | nosuchfilter }}\n")
    result = cli("check", "--root", small_site)
    assert result.exit_code == 1
    out = result.output
    assert f"{index}:4: 'plantz' is undefined: no page gives it (did you mean 'plant'?)" in out
    assert f"{index}:5: template not found: nav.html" in out
    assert f"{skills}:1: template not found: layout.html" in out
    assert f"{macros}:1: template not found: partials/nothere.html" in out
    assert f"{macros}:2: 'unknown_thing' is undefined" in out
    assert "No filter named 'nosuchfilter'" in out
    assert "titel" not in out  # an attribute: only rendering can tell
    assert "Traceback" not in out


def test_check_accepts_every_theme_template_as_a_site_template(cli, small_site: Path) -> None:
    """No false alarm: the theme's own templates, copied into the site, pass check and build."""
    shutil.copytree(THEME / "templates", small_site / "site_templates")
    override(
        small_site,
        "partials/loop.html",
        "{% set total = namespace(n=0) %}{% for p in plants %}{% set total.n = total.n + 1 %}"
        "{{ loop.index }}{% endfor %}{% macro m(a, b=1) %}{{ a }}{{ b }}{{ varargs }}{% endmacro %}"
        "{% if plants %}{% set n = 1 %}{{ n }}{% endif %}{% with w = 2 %}{{ w }}{% endwith %}",
    )
    result = cli("check", "--root", small_site)
    assert result.exit_code == 0, result.output
    assert cli("build", "--offline", "--root", small_site).exit_code == 0
