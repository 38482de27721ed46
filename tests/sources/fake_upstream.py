"""A local fake of the upstream APIs, over real HTTP on 127.0.0.1.

One threaded server plays GitHub (REST + GraphQL), Spotify (accounts + API),
Last.fm, Open-Meteo and OpenWeatherMap under one base URL, so tests point
every configurable ``api_url`` at it. A small model (:class:`GitHubModel`)
answers like GitHub (Link pagination, ETags and 304, rate-limit headers);
:meth:`FakeUpstream.script` overrides any path with a sequence of canned
answers (the last one repeats) to reproduce the awkward cases. Every request
is logged with its headers for assertions.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit


@dataclass
class Answer:
    """A canned answer; ``hang`` seconds of silence first, to trip client timeouts."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    hang: float = 0.0
    raw: bytes | None = None


@dataclass
class Logged:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    status: int = 0


@dataclass
class FakeRepo:
    """A repository of the fake GitHub account."""

    name: str
    stars: int = 0
    description: str | None = "a project"
    language: str | None = "Python"
    fork: bool = False
    archived: bool = False
    private: bool = False
    pushed_at: str | None = "2026-11-20T10:00:00Z"
    created_at: str | None = "2024-01-02T03:04:05Z"
    topics: list[str] = field(default_factory=list)
    languages: dict[str, int] = field(default_factory=lambda: {"Python": 1000})
    #: Commits per day for the last 52 weeks, as {days_ago: count}; None = empty repo.
    commits: dict[int, int] | None = field(default_factory=lambda: {3: 2, 10: 1})
    commits_in_year: int | None = None


class GitHubModel:
    """Enough of GitHub to answer like it does."""

    def __init__(self, user: str = "octo", token: str | None = None, today: datetime | None = None):
        self.user = user
        self.token = token
        self.repos: list[FakeRepo] = []
        self.limit = 5000
        self.remaining = 5000
        self.reset_in = 3600
        self.exhausted_status = 403
        self.today = (today or datetime.now(UTC)).date()
        self.calendar: dict[str, int] = {}
        self.lock = threading.Lock()

    def full(self, repo: FakeRepo) -> str:
        return f"{self.user}/{repo.name}"

    def repo_json(self, repo: FakeRepo) -> dict[str, Any]:
        return {
            "id": abs(hash(repo.name)) % 10**8,
            "name": repo.name,
            "full_name": self.full(repo),
            "private": repo.private,
            "visibility": "private" if repo.private else "public",
            "html_url": f"https://github.com/{self.full(repo)}",
            "description": repo.description,
            "fork": repo.fork,
            "homepage": None,
            "language": repo.language,
            "license": None if repo.name.endswith("0") else {"spdx_id": "MIT", "name": "MIT"},
            "topics": repo.topics,
            "stargazers_count": repo.stars,
            "forks_count": 0,
            "archived": repo.archived,
            "created_at": repo.created_at,
            "pushed_at": repo.pushed_at,
        }

    def weeks(self, repo: FakeRepo) -> list[dict[str, Any]]:
        # Weeks start on Sunday (UTC); 52 buckets ending with the current week.
        this_sunday = self.today - timedelta(days=(self.today.weekday() + 1) % 7)
        buckets = []
        for w in range(51, -1, -1):
            start = this_sunday - timedelta(weeks=w)
            days = []
            for d in range(7):
                ago = (self.today - (start + timedelta(days=d))).days
                days.append((repo.commits or {}).get(ago, 0) if ago >= 0 else 0)
            epoch = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp())
            buckets.append({"week": epoch, "days": days, "total": sum(days)})
        return buckets

    def find(self, full_name: str) -> FakeRepo | None:
        for repo in self.repos:
            if self.full(repo) == full_name:
                return repo
        return None


class FakeUpstream:
    """The server. Use as a context manager; ``url`` is its base URL."""

    def __init__(self, github: GitHubModel | None = None, latency: float = 0.0):
        self.github = github or GitHubModel()
        self.latency = latency
        self.scripts: dict[tuple[str, str], list[Answer | None]] = {}
        self.handlers: dict[tuple[str, str], Callable[[Logged], Answer]] = {}
        self.log: list[Logged] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # One write per answer and no Nagle: otherwise delayed ACKs add 40 ms a request.
            wbufsize = 1 << 16
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._handle(self)

            def do_POST(self) -> None:
                fake._handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeUpstream:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- scripting -----------------------------------------------------------

    def script(self, method: str, path: str, *answers: Answer | None) -> None:
        """Answer *path* with *answers* in turn (the last repeats); None = the model answers."""
        self.scripts[(method, path)] = list(answers)

    def handle(self, method: str, path: str, handler: Callable[[Logged], Answer]) -> None:
        self.handlers[(method, path)] = handler

    def requests(self, path_part: str = "", method: str | None = None) -> list[Logged]:
        with self._lock:
            return [
                r
                for r in self.log
                if path_part in r.path and (method is None or r.method == method)
            ]

    def clear_log(self) -> None:
        with self._lock:
            self.log.clear()

    # -- serving -------------------------------------------------------------

    def _handle(self, http: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(http.path)
        length = int(http.headers.get("Content-Length") or 0)
        body = http.rfile.read(length) if length else b""
        request = Logged(
            http.command,
            unquote(parts.path),
            dict(parse_qsl(parts.query, keep_blank_values=True)),
            {k.lower(): v for k, v in http.headers.items()},
            body,
        )
        with self._lock:
            self.log.append(request)
        if self.latency:
            time.sleep(self.latency)
        answer = self._answer(request)
        if answer.hang:
            time.sleep(answer.hang)
        request.status = answer.status
        if answer.raw is not None:
            payload = answer.raw
        elif answer.body is None or answer.status in (204, 304):
            payload = b""
        else:
            payload = json.dumps(answer.body).encode()
        try:
            http.send_response(answer.status)
            for key, value in answer.headers.items():
                http.send_header(key, value)
            if payload:
                http.send_header("Content-Type", "application/json; charset=utf-8")
            http.send_header("Content-Length", str(len(payload)))
            http.end_headers()
            if payload:
                http.wfile.write(payload)
        except OSError:
            pass  # the client gave up (a timeout test)

    def _answer(self, request: Logged) -> Answer:
        key = (request.method, request.path)
        with self._lock:
            script = self.scripts.get(key)
            scripted = (
                script.pop(0) if script and len(script) > 1 else (script[0] if script else None)
            )
        if scripted is not None:
            return scripted
        handler = self.handlers.get(key)
        if handler is not None:
            return handler(request)
        if request.path.startswith("/gh/"):
            return self._github(request, request.path[3:])
        return Answer(404, {"message": "Not Found"})

    # -- GitHub --------------------------------------------------------------

    def _github(self, request: Logged, path: str) -> Answer:
        gh = self.github
        auth = request.headers.get("authorization")
        if gh.token is not None and auth is not None and auth != f"Bearer {gh.token}":
            return Answer(401, {"message": "Bad credentials"})
        if path == "/graphql":
            if auth is None:
                return Answer(401, {"message": "This endpoint requires you to be authenticated."})
            return self._graphql(request)
        with gh.lock:
            reset = str(int(time.time()) + gh.reset_in)
            if gh.remaining <= 0:
                headers = {
                    "x-ratelimit-remaining": "0",
                    "x-ratelimit-reset": reset,
                    "x-ratelimit-limit": str(gh.limit),
                }
                message = {"message": "API rate limit exceeded for 127.0.0.1."}
                return Answer(gh.exhausted_status, message, headers)
        answer = self._github_rest(request, path)
        with gh.lock:
            etag = None
            if answer.status == 200 and answer.body is not None:
                digest = hashlib.sha256(json.dumps(answer.body).encode()).hexdigest()[:16]
                etag = f'W/"{digest}"'
                answer.headers["ETag"] = etag
            if etag is not None and request.headers.get("if-none-match") == etag:
                answer = Answer(304, None, {"ETag": etag})
            else:
                gh.remaining -= 1  # a 304 costs no primary rate limit
            answer.headers.update(
                {
                    "x-ratelimit-limit": str(gh.limit),
                    "x-ratelimit-remaining": str(max(gh.remaining, 0)),
                    "x-ratelimit-reset": reset,
                    "x-ratelimit-resource": "core",
                }
            )
        return answer

    def _github_rest(self, request: Logged, path: str) -> Answer:
        gh = self.github
        parts = path.strip("/").split("/")
        if parts[:1] == ["users"] and len(parts) == 3 and parts[2] == "repos":
            if parts[1] != gh.user:
                return Answer(404, {"message": "Not Found"})
            per_page = int(request.query.get("per_page", 30))
            page = int(request.query.get("page", 1))
            repos = gh.repos[(page - 1) * per_page : page * per_page]
            headers = {}
            if page * per_page < len(gh.repos):
                base = f"{self.url}/gh/users/{gh.user}/repos?per_page={per_page}&type=owner"
                # 'last' is left out on purpose: it may be missing upstream too.
                headers["Link"] = f'<{base}&page={page + 1}>; rel="next"'
            return Answer(200, [gh.repo_json(r) for r in repos], headers)
        if parts[:1] == ["repos"] and len(parts) >= 4:
            repo = gh.find(f"{parts[1]}/{parts[2]}")
            if repo is None:
                return Answer(404, {"message": "Not Found"})
            rest = "/".join(parts[3:])
            if rest == "languages":
                return Answer(200, repo.languages)
            if rest == "stats/commit_activity":
                return Answer(204) if repo.commits is None else Answer(200, gh.weeks(repo))
            if rest == "commits":
                if repo.commits is None:
                    return Answer(409, {"message": "Git Repository is empty."})
                items = []
                for ago, count in sorted((repo.commits or {}).items()):
                    day = datetime.combine(gh.today - timedelta(days=ago), datetime.min.time())
                    since = request.query.get("since", "")
                    if since and day.strftime("%Y-%m-%dT%H:%M:%SZ") < since:
                        continue
                    stamp = (day + timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M:%SZ")
                    items += [{"commit": {"author": {"date": stamp}}}] * count
                return Answer(200, items)
        return Answer(404, {"message": "Not Found"})

    def _graphql(self, request: Logged) -> Answer:
        gh = self.github
        payload = json.loads(request.body or b"{}")
        query = payload.get("query", "")
        variables = payload.get("variables") or {}
        if variables.get("login") != gh.user:
            return Answer(
                200,
                {
                    "data": {"user": None},
                    "errors": [{"type": "NOT_FOUND", "message": "Could not resolve to a User"}],
                },
            )
        rate = {"cost": 1, "remaining": 4999, "resetAt": "2030-01-01T00:00:00Z"}
        if "contributionsCollection" in query:
            days = [{"date": d, "contributionCount": c} for d, c in sorted(gh.calendar.items())]
            calendar = {"weeks": [{"contributionDays": days}]}
            user = {"contributionsCollection": {"contributionCalendar": calendar}}
            return Answer(200, {"data": {"rateLimit": rate, "user": user}})
        start = int(variables.get("after") or 0)
        chunk = gh.repos[start : start + 100]
        nodes = []
        for repo in chunk:
            total = repo.commits_in_year
            if total is None:
                total = sum(n for ago, n in (repo.commits or {}).items() if ago < 365)
            branch = None
            if repo.commits is not None:
                branch = {"target": {"history": {"totalCount": total}}}
            nodes.append(
                {
                    "nameWithOwner": gh.full(repo),
                    "isPrivate": repo.private,
                    "stargazerCount": repo.stars,
                    "pushedAt": repo.pushed_at,
                    "languages": {
                        "edges": [
                            {"size": size, "node": {"name": name}}
                            for name, size in repo.languages.items()
                        ]
                    },
                    "defaultBranchRef": branch,
                }
            )
        more = start + 100 < len(gh.repos)
        page_info = {"hasNextPage": more, "endCursor": str(start + 100)}
        user = {"repositories": {"pageInfo": page_info, "nodes": nodes}}
        return Answer(200, {"data": {"rateLimit": rate, "user": user}})
