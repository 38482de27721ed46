"""Contract tests: what greenhouse sends to GitHub, checked against GitHub's published descriptions.

Both descriptions come from the npm registry into ``tests/tools/node_modules``
(``npm ci --prefix tests/tools``, which ``.ci/run`` does), pinned in
``tests/tools/package-lock.json``:

- ``@octokit/graphql-schema``: every GraphQL document the GitHub source sends
  validates against GitHub's schema (``graphql-core``);
- ``@octokit/openapi``: every REST request a real sync sends to the fake
  (listing, statistics, languages, commits, a repository look-up) names an
  operation of the description, with query parameters it declares and values
  its schemas accept; and every body the fake answered validates against that
  operation's response schema (``openapi-schema-validator``, which knows
  OpenAPI 3.0's ``nullable``). So the fake cannot drift from the real GitHub
  without a test failing.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from greenhouse.config import Secrets
from greenhouse.sources.github import QUERIES
from greenhouse.sources.http import HttpOptions
from greenhouse.sources.sync import sync_sources
from greenhouse.store import Store
from tests.conftest import REPO, need_in_ci
from tests.sources.conftest import TOKEN, make_site, repos
from tests.sources.fake_upstream import Answer, FakeRepo, FakeUpstream, Logged

OCTOKIT = REPO / "tests" / "tools" / "node_modules" / "@octokit"
GRAPHQL_SCHEMA = OCTOKIT / "graphql-schema" / "schema.json"
OPENAPI = OCTOKIT / "openapi" / "generated" / "api.github.com.json"


def _need(path: Path) -> None:
    need_in_ci(path.is_file(), f"{path.relative_to(REPO)} (npm ci --prefix tests/tools)")


@functools.cache
def openapi() -> dict[str, Any]:
    return json.loads(OPENAPI.read_text(encoding="utf-8"))


@functools.cache
def github_schema() -> Any:
    from graphql import build_client_schema

    introspection = json.loads(GRAPHQL_SCHEMA.read_text(encoding="utf-8"))
    # GitHub's own schema breaks a newer rule of the GraphQL spec (deprecated fields
    # implementing non-deprecated interface fields), which graphql-core 3.3 checks
    # before validating any document: the schema is GitHub's, take it as it is.
    return build_client_schema(introspection.get("data", introspection), assume_valid=True)


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_every_graphql_document_validates_against_githubs_schema(name: str) -> None:
    _need(GRAPHQL_SCHEMA)
    from graphql import parse, validate

    errors = validate(github_schema(), parse(QUERIES[name]))
    assert errors == [], [e.message for e in errors]


def test_a_document_with_a_mistake_is_caught() -> None:
    """The check above can fail: a field GitHub does not have is refused."""
    _need(GRAPHQL_SCHEMA)
    from graphql import parse, validate

    broken = QUERIES["repositories"].replace("stargazerCount", "starCount")
    assert [e.message for e in validate(github_schema(), parse(broken))]


@functools.cache
def _templates() -> list[tuple[re.Pattern[str], str, dict[str, Any]]]:
    return [
        (
            re.compile("^" + re.sub(r"\\{[^/]+\\}", "[^/]+", re.escape(template)) + "$"),
            template,
            item,
        )
        for template, item in openapi()["paths"].items()
    ]


def _operation(method: str, path: str) -> tuple[str, dict[str, Any]]:
    """The OpenAPI path template and operation that *path* (below the API root) calls."""
    for pattern, template, item in _templates():
        if pattern.match(path) and method.lower() in item:
            return template, item[method.lower()]
    raise AssertionError(f"{method} {path} is not in GitHub's OpenAPI description")


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = openapi()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _validator(schema: dict[str, Any]) -> Any:
    return _validator_of(json.dumps(schema, sort_keys=True))


@functools.cache
def _validator_of(schema: str) -> Any:
    from openapi_schema_validator import OAS30Validator

    # The description's $refs point into its components: give the validator all of them.
    return OAS30Validator({**json.loads(schema), "components": openapi()["components"]})


def _sync_everything(fake: FakeUpstream, tmp_path: Path, options: HttpOptions) -> list[Logged]:
    """Every kind of REST request the GitHub source sends, against the fake."""
    fake.github.repos = [
        *repos(120),
        FakeRepo("busy", commits={1: 3}),
        FakeRepo("void", commits=None),
        FakeRepo("a-fork", fork=True),
        FakeRepo("private-x", private=True),
        FakeRepo("renamed", renamed_from=["old-name"]),
        FakeRepo("🌱 jardin-été", description=None, language=None, pushed_at=None),
    ]
    fake.script("GET", "/gh/repos/octo/busy/stats/commit_activity", Answer(202, {}))
    projects = tmp_path / "content" / "projects"
    projects.mkdir(parents=True)
    (projects / "old.md").write_text('+++\nrepo = "octo/old-name"\n+++\n', encoding="utf-8")
    (projects / "gone.md").write_text('+++\nrepo = "octo/gone"\n+++\n', encoding="utf-8")
    site = make_site(tmp_path, fake)
    with Store.open(tmp_path / "contract.duckdb") as store:
        for secrets in (Secrets(), Secrets(github_token=TOKEN)):
            report = sync_sources(site, store, secrets, ["github"], options=options)
            assert report["github"].status == "ok", report["github"].error
    sent = [r for r in fake.requests("/gh/") if not r.path.endswith("/graphql")]
    # GitHub's 301 for a renamed repository points at /repositories/{id}, which the
    # description does not list; following it is the redirect's doing, not a choice.
    return [r for r in sent if not r.path.startswith("/gh/repositories/")]


def test_every_rest_request_exists_in_githubs_openapi_description(
    fake: FakeUpstream, tmp_path: Path, options: HttpOptions
) -> None:
    _need(OPENAPI)
    sent = _sync_everything(fake, tmp_path, options)
    called = set()
    for request in sent:
        template, operation = _operation(request.method, request.path.removeprefix("/gh"))
        called.add(template)
        declared = {
            p["name"]: p
            for p in (_resolve(x) for x in operation.get("parameters", []))
            if p["in"] == "query"
        }
        for name, value in request.pairs:
            assert name in declared, f"{template}: query parameter {name!r} is not declared"
            schema = declared[name].get("schema", {})
            typed: Any = int(value) if schema.get("type") == "integer" else value
            errors = list(_validator(schema).iter_errors(typed))
            assert not errors, f"{template}: {name}={value!r}: {errors[0].message}"
    assert called == {
        "/users/{username}/repos",
        "/repos/{owner}/{repo}/stats/commit_activity",
        "/repos/{owner}/{repo}/languages",
        "/repos/{owner}/{repo}/commits",
        "/repos/{owner}/{repo}",
    }


def test_the_fakes_answers_validate_against_githubs_response_schemas(
    fake: FakeUpstream, tmp_path: Path, options: HttpOptions
) -> None:
    _need(OPENAPI)
    checked: set[tuple[str, int]] = set()
    for request in _sync_everything(fake, tmp_path, options):
        template, operation = _operation(request.method, request.path.removeprefix("/gh"))
        if request.status in (204, 304):
            continue  # no body
        response = operation["responses"].get(str(request.status))
        assert response is not None, f"{template} does not document HTTP {request.status}"
        content = _resolve(response).get("content", {}).get("application/json")
        assert content is not None, f"{template} {request.status}: no JSON body documented"
        errors = list(_validator(content["schema"]).iter_errors(request.answer))
        assert not errors, f"{template} {request.status}: {errors[0].message} at {errors[0].path}"
        checked.add((template, request.status))
    assert ("/users/{username}/repos", 200) in checked
    assert ("/repos/{owner}/{repo}/stats/commit_activity", 202) in checked
    assert ("/repos/{owner}/{repo}/commits", 200) in checked
    assert ("/repos/{owner}/{repo}", 301) in checked and ("/repos/{owner}/{repo}", 404) in checked


def test_a_fake_answer_missing_a_required_field_is_caught() -> None:
    """The check above can fail: a listing item without ``node_id`` is refused."""
    _need(OPENAPI)
    _, operation = _operation("GET", "/users/{username}/repos")
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    from tests.sources.fake_upstream import GitHubModel

    item = GitHubModel().repo_json(FakeRepo("x"), "https://api.github.com")
    assert not list(_validator(schema).iter_errors([item]))
    del item["node_id"]
    assert list(_validator(schema).iter_errors([item]))
