"""A local fake of the upstream APIs, over real HTTP on 127.0.0.1.

One threaded server plays GitHub (REST + GraphQL, under ``/gh``), Spotify
(accounts under ``/accounts``, API under ``/spotify/v1``), Last.fm
(``/lastfm/2.0/``), Open-Meteo (``/meteo``) and OpenWeatherMap (``/owm``)
under one base URL, so tests point every configurable ``api_url`` at it.

It is meant to be stricter than the real services, never kinder:

- an empty query parameter is refused by every service, in its own error
  format (Last.fm: HTTP 400, error 6 "Invalid parameters");
- Last.fm validates ``from``/``to``/``page``/``limit`` as integers, and says
  "User not found" only for an unknown user;
- GitHub answers with Link pagination, ETags and 304s, rate-limit headers per
  budget (``core`` for REST, ``graphql``), 403/429 once a budget is spent,
  GraphQL ``RATE_LIMITED`` inside HTTP 200, secondary limits with
  ``retry-after`` (and counts every request that ignores the window), 301 for
  renamed repositories, private repositories listed to a token, statistics
  that lag behind a push until recomputed;
- Spotify rotates refresh tokens when asked to (the old one is refused from
  then on with ``invalid_grant``).

:meth:`FakeUpstream.script` overrides any path with a sequence of canned
answers (the last one repeats) to reproduce the awkward cases. Every request
is logged with its headers for assertions.
"""

from __future__ import annotations

import base64
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
    #: The raw query pairs, repeated and empty ones included.
    pairs: list[tuple[str, str]] = field(default_factory=list)
    at: float = 0.0
    #: The JSON body answered (for the contract tests).
    answer: Any = None


#: The ``*_url`` fields of a repository (all required by GitHub's OpenAPI description).
REPO_URLS = (
    "archive_url", "assignees_url", "blobs_url", "branches_url", "collaborators_url",
    "comments_url", "commits_url", "compare_url", "contents_url", "contributors_url",
    "deployments_url", "downloads_url", "events_url", "forks_url", "git_commits_url",
    "git_refs_url", "git_tags_url", "hooks_url", "issue_comment_url", "issue_events_url",
    "issues_url", "keys_url", "labels_url", "languages_url", "merges_url", "milestones_url",
    "notifications_url", "pulls_url", "releases_url", "stargazers_url", "statuses_url",
    "subscribers_url", "subscription_url", "tags_url", "teams_url", "trees_url",
)  # fmt: skip


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
    #: Earlier names: GET /repos/{user}/{old} answers 301 to this repository.
    renamed_from: list[str] = field(default_factory=list)
    #: Statistics GitHub computed earlier and still serves (None: up to date).
    stale_commits: dict[int, int] | None = None


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
        self.graphql_limit = 5000
        self.graphql_remaining = 5000
        #: GraphQL queries of repositories answered before RATE_LIMITED (None: never).
        self.graphql_pages_before_limit: int | None = None
        #: REST requests answered before a secondary limit (None: never).
        self.secondary_after: int | None = None
        self.secondary_retry_after = 1
        self.secondary_until = 0.0
        #: When the secondary limit's window opened (time.time()).
        self.secondary_opened = 0.0
        #: Requests that arrived inside a secondary limit's retry-after window.
        self.ignored_secondary = 0
        self.served = 0
        self.today = (today or datetime.now(UTC)).date()
        self.calendar: dict[str, int] = {}
        self.lock = threading.Lock()

    def full(self, repo: FakeRepo) -> str:
        return f"{self.user}/{repo.name}"

    def repo_id(self, repo: FakeRepo) -> int:
        return int(hashlib.sha256(repo.name.encode()).hexdigest()[:7], 16)

    def owner_json(self, base: str = "") -> dict[str, Any]:
        """The account as a ``simple-user``."""
        owner: dict[str, Any] = {
            "login": self.user,
            "id": 1,
            "node_id": "U_1",
            "avatar_url": "https://avatars.githubusercontent.com/u/1",
            "gravatar_id": "",
            "url": f"{base}/users/{self.user}",
            "html_url": f"https://github.com/{self.user}",
            "type": "User",
            "site_admin": False,
        }
        for key in (
            "followers_url", "following_url", "gists_url", "starred_url", "subscriptions_url",
            "organizations_url", "repos_url", "events_url", "received_events_url",
        ):  # fmt: skip
            owner[key] = f"{base}/users/{self.user}/{key.removesuffix('_url')}"
        return owner

    def repo_json(self, repo: FakeRepo, base: str = "") -> dict[str, Any]:
        """A repository as GitHub answers it: every field its OpenAPI description requires."""
        full = self.full(repo)
        owner = self.owner_json(base)
        licence = (
            None
            if repo.name.endswith("0")
            else {
                "key": "mit",
                "name": "MIT License",
                "spdx_id": "MIT",
                "url": "https://api.github.com/licenses/mit",
                "node_id": "L_1",
            }
        )
        item: dict[str, Any] = {
            "id": self.repo_id(repo),
            "node_id": f"R_{self.repo_id(repo)}",
            "name": repo.name,
            "full_name": full,
            "owner": owner,
            "private": repo.private,
            "visibility": "private" if repo.private else "public",
            "html_url": f"https://github.com/{full}",
            "description": repo.description,
            "fork": repo.fork,
            "url": f"{base}/repos/{full}",
            "homepage": None,
            "language": repo.language,
            "license": licence,
            "topics": repo.topics,
            "stargazers_count": repo.stars,
            "watchers_count": repo.stars,
            "watchers": repo.stars,
            "forks_count": 0,
            "forks": 0,
            "open_issues_count": 0,
            "open_issues": 0,
            "size": 10,
            "default_branch": "main",
            "archived": repo.archived,
            "disabled": False,
            "mirror_url": None,
            "has_issues": True,
            "has_projects": True,
            "has_wiki": True,
            "has_pages": False,
            "has_discussions": False,
            "has_downloads": True,
            "network_count": 0,
            "subscribers_count": 1,
            "clone_url": f"https://github.com/{full}.git",
            "git_url": f"git://github.com/{full}.git",
            "ssh_url": f"git@github.com:{full}.git",
            "svn_url": f"https://github.com/{full}",
            "created_at": repo.created_at,
            "updated_at": repo.pushed_at or repo.created_at,
            "pushed_at": repo.pushed_at,
        }
        for key in REPO_URLS:
            item[key] = f"{base}/repos/{full}/{key.removesuffix('_url').replace('_', '/')}"
        return item

    def weeks(self, commits: dict[int, int] | None) -> list[dict[str, Any]]:
        # Weeks start on Sunday (UTC); 52 buckets ending with the current week.
        this_sunday = self.today - timedelta(days=(self.today.weekday() + 1) % 7)
        buckets = []
        for w in range(51, -1, -1):
            start = this_sunday - timedelta(weeks=w)
            days = []
            for d in range(7):
                ago = (self.today - (start + timedelta(days=d))).days
                days.append((commits or {}).get(ago, 0) if ago >= 0 else 0)
            epoch = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp())
            buckets.append({"week": epoch, "days": days, "total": sum(days)})
        return buckets

    def find(self, full_name: str) -> FakeRepo | None:
        for repo in self.repos:
            if self.full(repo).lower() == full_name.lower():
                return repo
        return None

    def renamed(self, full_name: str) -> FakeRepo | None:
        owner, _, name = full_name.partition("/")
        if owner.lower() != self.user.lower():
            return None
        for repo in self.repos:
            if name.lower() in (n.lower() for n in repo.renamed_from):
                return repo
        return None

    def by_id(self, repo_id: int) -> FakeRepo | None:
        for repo in self.repos:
            if self.repo_id(repo) == repo_id:
                return repo
        return None

    def recompute(self) -> None:
        """GitHub catches up: every repository's statistics are current again."""
        for repo in self.repos:
            repo.stale_commits = None


@dataclass
class Scrobble:
    uts: int
    name: str
    artist: str = "Múm"


class LastfmModel:
    """Last.fm's ``user.getrecenttracks``, strict about its parameters."""

    def __init__(self, user: str = "rj", key: str = "LASTFM-key-0123456789"):
        self.user = user
        self.key = key
        self.scrobbles: list[Scrobble] = []
        self.now_playing: str | None = None
        #: Answers of error 29 ("Rate Limit Exceeded") still to give, with HTTP 429.
        self.rate_limited = 0

    def answer(self, query: dict[str, str]) -> Answer:
        if query.get("api_key") != self.key:
            return Answer(
                403,
                {
                    "error": 10,
                    "message": "Invalid API key - You must be granted a valid key by last.fm",
                },
            )
        if query.get("method", "").lower() != "user.getrecenttracks":
            return Answer(
                400,
                {
                    "error": 3,
                    "message": "Invalid Method - No method with that name in this package",
                },
            )
        if self.rate_limited > 0:
            self.rate_limited -= 1
            return Answer(
                429,
                {
                    "error": 29,
                    "message": "Rate Limit Exceeded - Your IP has made too many requests in a short period",
                },
            )
        numbers: dict[str, int] = {}
        for name in ("from", "to", "page", "limit"):
            if name in query:
                try:
                    numbers[name] = int(query[name])
                except ValueError:
                    return Answer(
                        400,
                        {"error": 6, "message": f"Invalid parameters - {name} must be an integer"},
                    )
        limit = numbers.get("limit", 50)
        page = numbers.get("page", 1)
        if not 1 <= limit <= 200 or page < 1:
            return Answer(
                400, {"error": 6, "message": "Invalid parameters - limit must be 1 to 200"}
            )
        if query.get("user", "").lower() != self.user.lower():
            return Answer(404, {"error": 6, "message": "User not found"})
        low = numbers.get("from", 0)
        high = numbers.get("to", 2**62)
        plays = sorted((s for s in self.scrobbles if low <= s.uts <= high), key=lambda s: -s.uts)
        pages = max(1, -(-len(plays) // limit))
        chunk = plays[(page - 1) * limit : page * limit]
        tracks: list[dict[str, Any]] = []
        if self.now_playing and page == 1:
            tracks.append(
                {
                    "name": self.now_playing,
                    "artist": {"#text": "Múm"},
                    "@attr": {"nowplaying": "true"},
                }
            )
        tracks += [
            {"name": s.name, "artist": {"#text": s.artist, "mbid": ""},
             "date": {"uts": str(s.uts), "#text": "27 Nov 2026, 10:00"}}
            for s in chunk
        ]  # fmt: skip
        attr = {
            "user": self.user, "page": str(page), "perPage": str(limit),
            "totalPages": str(pages), "total": str(len(plays)),
        }  # fmt: skip
        return Answer(200, {"recenttracks": {"track": tracks, "@attr": attr}})


class SpotifyModel:
    """Spotify's accounts service and the few Web API endpoints greenhouse reads."""

    def __init__(
        self,
        client_id: str = "client-id-123",
        client_secret: str = "client-SECRET-456",
        refresh_token: str = "refresh-TOKEN-789",
    ):
        self.client_id = client_id
        self.client_secret = client_secret
        self.valid_refresh = {refresh_token}
        #: Rotate on every refresh: a new refresh token, the old one refused from then on.
        self.rotate = False
        self.rotations = 0
        self.access: set[str] = set()
        self.plays: list[dict[str, Any]] = []
        self.audio_features = False
        self.issued = 0

    def token(self, request: Logged) -> Answer:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return Answer(401, {"error": "invalid_client", "error_description": "Invalid client"})
        form = dict(parse_qsl(request.body.decode(), keep_blank_values=True))
        if form.get("grant_type") != "refresh_token":
            return Answer(400, {"error": "unsupported_grant_type"})
        refresh = form.get("refresh_token", "")
        if refresh not in self.valid_refresh:
            return Answer(
                400, {"error": "invalid_grant", "error_description": "Invalid refresh token"}
            )
        self.issued += 1
        access = f"ACCESS-{self.issued:04d}-abcdef"
        self.access.add(access)
        body: dict[str, Any] = {
            "access_token": access, "token_type": "Bearer", "expires_in": 3600,
            "scope": "user-read-recently-played user-top-read",
        }  # fmt: skip
        if self.rotate:
            self.rotations += 1
            new = f"ROTATED-refresh-{self.rotations:03d}"
            self.valid_refresh = {new}
            body["refresh_token"] = new
        return Answer(200, body)

    def api(self, request: Logged, path: str) -> Answer:
        auth = request.headers.get("authorization", "")
        if auth.removeprefix("Bearer ") not in self.access:
            return Answer(401, {"error": {"status": 401, "message": "Invalid access token"}})
        query = request.query
        if path == "/me/player/recently-played":
            if "after" in query and "before" in query:
                return Answer(400, {"error": {"status": 400, "message": "after and before"}})
            try:
                after = int(query.get("after", "0"))
                limit = int(query.get("limit", "20"))
            except ValueError:
                return Answer(400, {"error": {"status": 400, "message": "Invalid parameter"}})
            if not 1 <= limit <= 50:
                return Answer(400, {"error": {"status": 400, "message": "Invalid limit"}})
            newer = [p for p in self.plays if _ms(p["played_at"]) > after][:limit]
            return Answer(200, {"items": newer, "next": None, "cursors": None, "limit": limit})
        if path in ("/me/top/tracks", "/me/top/artists"):
            if query.get("time_range") not in ("short_term", "medium_term", "long_term"):
                return Answer(400, {"error": {"status": 400, "message": "Invalid time range"}})
            if path.endswith("artists"):
                items = [{"name": "Sigur Rós", "genres": ["post-rock"]}, {"name": "❤️"}]
            else:
                items = [{"name": "Hoppípolla", "artists": [{"name": "Sigur Rós"}]}]
            body = {"items": items, "total": len(items), "limit": 20, "offset": 0}
            etag = '"' + hashlib.sha256(json.dumps(body).encode()).hexdigest()[:12] + '"'
            if request.headers.get("if-none-match") == etag:
                return Answer(304, None, {"ETag": etag})
            return Answer(200, body, {"ETag": etag})
        if path == "/audio-features":
            if not self.audio_features:
                return Answer(403, {"error": {"status": 403, "message": "Forbidden"}})
            ids = [i for i in query.get("ids", "").split(",") if i]
            return Answer(200, {"audio_features": [
                {"id": i, "valence": 0.5, "energy": 0.5} for i in ids
            ]})  # fmt: skip
        return Answer(404, {"error": {"status": 404, "message": "Service not found"}})


def _ms(value: str) -> int:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return int(moment.timestamp() * 1000)


class WeatherModel:
    """Open-Meteo's forecast and OpenWeatherMap's current weather."""

    def __init__(self, key: str = "OWM-key-abcdef123456"):
        self.key = key
        self.code = 3

    def open_meteo(self, query: dict[str, str]) -> Answer:
        try:
            latitude, longitude = float(query["latitude"]), float(query["longitude"])
        except (KeyError, ValueError):
            return Answer(
                400, {"error": True, "reason": "Parameter latitude and longitude required"}
            )
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            return Answer(
                400, {"error": True, "reason": "Latitude must be in range of -90 to 90°."}
            )
        wanted = query.get("current", "").split(",")
        known = {"temperature_2m", "weather_code", "wind_speed_10m", "cloud_cover"}
        if not set(wanted) <= known:
            return Answer(400, {"error": True, "reason": "Cannot initialize WeatherVariable"})
        current = {"time": "2026-11-28T01:00", "interval": 900, "temperature_2m": 4.5,
                   "weather_code": self.code, "wind_speed_10m": 10.0, "cloud_cover": 75}  # fmt: skip
        return Answer(200, {"latitude": latitude, "longitude": longitude,
                            "utc_offset_seconds": 0, "current": {k: current[k] for k in ["time", "interval", *wanted]}})  # fmt: skip

    def openweathermap(self, query: dict[str, str]) -> Answer:
        if query.get("appid") != self.key:
            return Answer(
                401,
                {
                    "cod": 401,
                    "message": "Invalid API key. Please see https://openweathermap.org/faq#error401 for more info.",
                },
            )
        return Answer(200, {"cod": 200, "weather": [{"id": 803, "main": "Clouds"}],
                            "main": {"temp": 8.5}, "wind": {"speed": 3.1}, "clouds": {"all": 75}})  # fmt: skip


class FakeUpstream:
    """The server. Use as a context manager; ``url`` is its base URL."""

    def __init__(self, github: GitHubModel | None = None, latency: float = 0.0):
        self.github = github or GitHubModel()
        self.lastfm = LastfmModel()
        self.spotify = SpotifyModel()
        self.weather = WeatherModel()
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
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        request = Logged(
            http.command,
            unquote(parts.path),
            dict(pairs),
            {k.lower(): v for k, v in http.headers.items()},
            body,
            pairs=pairs,
            at=time.monotonic(),
        )
        with self._lock:
            self.log.append(request)
        if self.latency:
            time.sleep(self.latency)
        answer = self._answer(request)
        if answer.hang:
            time.sleep(answer.hang)
        request.status = answer.status
        request.answer = answer.body
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
        empty = [name for name, value in request.pairs if value == ""]
        if empty:
            return self._empty_parameter(request, empty[0])
        path = request.path
        if path.startswith("/gh/"):
            return self._github(request, path[3:])
        if path.startswith("/lastfm/2.0"):
            return self.lastfm.answer(request.query)
        if path == "/accounts/api/token" and request.method == "POST":
            return self.spotify.token(request)
        if path.startswith("/spotify/v1/"):
            return self.spotify.api(request, path.removeprefix("/spotify/v1"))
        if path == "/meteo/v1/forecast":
            return self.weather.open_meteo(request.query)
        if path == "/owm/data/2.5/weather":
            return self.weather.openweathermap(request.query)
        return Answer(404, {"message": "Not Found"})

    def _empty_parameter(self, request: Logged, name: str) -> Answer:
        """Every real service refuses an empty parameter, each in its own words."""
        if request.path.startswith("/lastfm/"):
            return Answer(400, {"error": 6, "message": f"Invalid parameters - {name} is empty"})
        if request.path.startswith("/gh/"):
            return Answer(422, {"message": "Validation Failed", "errors": [{"field": name}]})
        if request.path.startswith("/meteo/"):
            return Answer(400, {"error": True, "reason": f"Parameter {name} is empty"})
        return Answer(400, {"error": {"status": 400, "message": f"Invalid {name}"}})

    # -- GitHub --------------------------------------------------------------

    def _github(self, request: Logged, path: str) -> Answer:
        gh = self.github
        auth = request.headers.get("authorization")
        if gh.token is not None and auth is not None and auth != f"Bearer {gh.token}":
            return Answer(401, {"message": "Bad credentials"})
        now = time.time()
        with gh.lock:
            if now < gh.secondary_until:
                # A request inside a secondary limit's window: the client ignored retry-after.
                gh.ignored_secondary += 1
                wait = str(max(1, round(gh.secondary_until - now)))
                body = {
                    "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
                }
                return Answer(403, body, {"retry-after": wait})
            gh.served += 1
            if gh.secondary_after is not None and gh.served > gh.secondary_after:
                gh.secondary_after = None
                gh.secondary_opened = now
                gh.secondary_until = now + gh.secondary_retry_after
                body = {
                    "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
                }
                return Answer(403, body, {"retry-after": str(gh.secondary_retry_after)})
        if path == "/graphql":
            if auth is None:
                return Answer(401, {"message": "This endpoint requires you to be authenticated."})
            return self._graphql(request)
        with gh.lock:
            reset = str(int(now) + gh.reset_in)
            if gh.remaining <= 0:
                headers = {
                    "x-ratelimit-remaining": "0",
                    "x-ratelimit-reset": reset,
                    "x-ratelimit-limit": str(gh.limit),
                    "x-ratelimit-used": str(gh.limit),
                    "x-ratelimit-resource": "core",
                }
                message = {"message": "API rate limit exceeded for 127.0.0.1."}
                return Answer(gh.exhausted_status, message, headers)
        answer = self._github_rest(request, path, bool(auth))
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
                    "x-ratelimit-used": str(gh.limit - max(gh.remaining, 0)),
                    "x-ratelimit-reset": reset,
                    "x-ratelimit-resource": "core",
                }
            )
        return answer

    def _github_rest(self, request: Logged, path: str, with_token: bool) -> Answer:
        gh = self.github
        parts = path.strip("/").split("/")
        base = f"{self.url}/gh"
        if parts[:1] == ["users"] and len(parts) == 3 and parts[2] == "repos":
            if parts[1].lower() != gh.user.lower():
                return Answer(404, {"message": "Not Found"})
            try:
                per_page = int(request.query.get("per_page", 30))
                page = int(request.query.get("page", 1))
            except ValueError:
                return Answer(422, {"message": "Validation Failed"})
            if not 1 <= per_page <= 100:
                per_page = 100 if per_page > 100 else 30
            # A token sees the owner's private repositories too; the client must drop them.
            listed = [r for r in gh.repos if with_token or not r.private]
            repos = listed[(page - 1) * per_page : page * per_page]
            headers = {}
            if page * per_page < len(listed):
                query = f"per_page={per_page}&type=owner"
                if "sort" in request.query:
                    query += f"&sort={request.query['sort']}"
                # 'last' is left out on purpose: it may be missing upstream too.
                headers["Link"] = (
                    f'<{base}/users/{gh.user}/repos?{query}&page={page + 1}>; rel="next"'
                )
            return Answer(200, [gh.repo_json(r, base) for r in repos], headers)
        if parts[:1] == ["repositories"] and len(parts) == 2 and parts[1].isdigit():
            moved = gh.by_id(int(parts[1]))
            if moved is None or (moved.private and not with_token):
                return Answer(404, {"message": "Not Found"})
            return Answer(200, gh.repo_json(moved, base))
        if parts[:1] == ["repos"] and len(parts) >= 3:
            full = f"{parts[1]}/{parts[2]}"
            repo = gh.find(full)
            if repo is None:
                moved = gh.renamed(full)
                if moved is not None:
                    rest = "/".join(parts[3:])
                    target = f"{base}/repositories/{gh.repo_id(moved)}" + (
                        f"/{rest}" if rest else ""
                    )
                    return Answer(
                        301, {"message": "Moved Permanently", "url": target}, {"Location": target}
                    )
                return Answer(404, {"message": "Not Found"})
            if repo.private and not with_token:
                return Answer(404, {"message": "Not Found"})
            rest = "/".join(parts[3:])
            if rest == "":
                return Answer(200, gh.repo_json(repo, base))
            if rest == "languages":
                return Answer(200, repo.languages)
            if rest == "stats/commit_activity":
                if repo.commits is None:
                    return Answer(204)
                served = repo.stale_commits if repo.stale_commits is not None else repo.commits
                return Answer(200, gh.weeks(served))
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
                    owner = gh.owner_json(base)
                    items += [
                        _commit(stamp, f"{gh.full(repo)}:{ago}:{n}", base, owner)
                        for n in range(count)
                    ]
                return Answer(200, items)
        return Answer(404, {"message": "Not Found"})

    def _graphql(self, request: Logged) -> Answer:
        gh = self.github
        payload = json.loads(request.body or b"{}")
        query = payload.get("query", "")
        variables = payload.get("variables") or {}
        with gh.lock:
            reset_at = datetime.now(UTC) + timedelta(seconds=gh.reset_in)
            limited = gh.graphql_remaining <= 0
            if (
                not limited
                and "repositories" in query
                and gh.graphql_pages_before_limit is not None
            ):
                if gh.graphql_pages_before_limit <= 0:
                    gh.graphql_remaining = 0
                    limited = True
                else:
                    gh.graphql_pages_before_limit -= 1
            if not limited:
                gh.graphql_remaining -= 1
            headers = {
                "x-ratelimit-limit": str(gh.graphql_limit),
                "x-ratelimit-remaining": str(max(gh.graphql_remaining, 0)),
                "x-ratelimit-used": str(gh.graphql_limit - max(gh.graphql_remaining, 0)),
                "x-ratelimit-reset": str(int(reset_at.timestamp())),
                "x-ratelimit-resource": "graphql",
            }
        if limited:
            body = {"errors": [{"type": "RATE_LIMITED",
                                "message": "API rate limit already exceeded for user ID 1."}]}  # fmt: skip
            return Answer(200, body, headers)
        if variables.get("login") != gh.user:
            return Answer(
                200,
                {
                    "data": {"user": None},
                    "errors": [{"type": "NOT_FOUND", "message": "Could not resolve to a User"}],
                },
                headers,
            )
        rate = {"cost": 1, "remaining": max(gh.graphql_remaining, 0),
                "resetAt": reset_at.strftime("%Y-%m-%dT%H:%M:%SZ")}  # fmt: skip
        if "contributionsCollection" in query:
            start = datetime.fromisoformat(variables["from"].replace("Z", "+00:00"))
            end = datetime.fromisoformat(variables["to"].replace("Z", "+00:00"))
            if end - start > timedelta(days=366) or end < start:
                body = {"data": {"user": None}, "errors": [{"type": "INVALID_ARGUMENTS",
                        "message": "The total time spanned by 'from' and 'to' must not exceed 1 year"}]}  # fmt: skip
                return Answer(200, body, headers)
            days = [{"date": d, "contributionCount": c} for d, c in sorted(gh.calendar.items())]
            calendar = {"weeks": [{"contributionDays": days}]}
            user = {"contributionsCollection": {"contributionCalendar": calendar}}
            return Answer(200, {"data": {"rateLimit": rate, "user": user}}, headers)
        start_at = int(variables.get("after") or 0)
        # GraphQL's privacy: PUBLIC is honoured, as upstream.
        public = [r for r in gh.repos if not r.private]
        chunk = public[start_at : start_at + 100]
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
        more = start_at + 100 < len(public)
        page_info = {"hasNextPage": more, "endCursor": str(start_at + 100)}
        user = {"repositories": {"pageInfo": page_info, "nodes": nodes}}
        return Answer(200, {"data": {"rateLimit": rate, "user": user}}, headers)


def _commit(stamp: str, seed: str, base: str, owner: dict[str, Any]) -> dict[str, Any]:
    """One item of GET /repos/{o}/{r}/commits (the fields the OpenAPI description requires)."""
    sha = hashlib.sha1(seed.encode()).hexdigest()
    person = {"name": "Octo", "email": "octo@example.com", "date": stamp}
    return {
        "sha": sha,
        "node_id": f"C_{sha[:10]}",
        "url": f"{base}/commits/{sha}",
        "html_url": f"https://github.com/commit/{sha}",
        "comments_url": f"{base}/commits/{sha}/comments",
        "commit": {
            "url": f"{base}/git/commits/{sha}",
            "author": person,
            "committer": person,
            "message": "grow",
            "comment_count": 0,
            "tree": {"sha": sha, "url": f"{base}/git/trees/{sha}"},
        },
        "author": owner,
        "committer": owner,
        "parents": [],
    }
