"""Strict fakes of GitLab, Forgejo/Gitea and ListenBrainz, each on its own port.

They answer with the real APIs' shapes, headers, errors and limits, as
recorded in docs/sources.md (from GitLab's, Forgejo's and ListenBrainz's own
documentation and source code):

- GitLab: ``/api/v4``; without a token only public projects, with the
  *simple* fields (no ``visibility``, ``archived``, fork information); a
  token sees private and internal projects too; ``per_page`` capped at 100;
  ``Link`` + ``x-next-page``; commits without ``x-total``; weak ETags that
  are *not* honoured (GitLab ignores ``If-None-Match`` on most API routes);
  ``RateLimit-*`` headers, 429 with or without ``Retry-After``; commit items
  carry author e-mail addresses that must never be stored.
- Forgejo: ``/api/v1``; ``limit`` capped by the server (``max_items``);
  ``Link`` + ``X-Total-Count``; commits newest first with ``X-HasMore``, 409
  for an empty repository; a heatmap of 15-minute buckets; no rate-limit
  headers, 429 + ``Retry-After`` when busy.
- ListenBrainz: ``/1/user/{user}/listens``; ``min_ts`` returns the listens
  just after it (oldest first, shown newest first), ``min_ts=0`` counts as
  absent, ``count`` capped at 1000; ``X-RateLimit-*`` with ``Reset-In``.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.forges.server import FakeServer, Reply, Request


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def sha(*parts: object) -> str:
    return hashlib.sha1(":".join(map(str, parts)).encode()).hexdigest()


def history(name: str, days: dict[int, int]) -> list[tuple[str, datetime]]:
    """Commits ``{days_ago: count}`` as (sha, author time), newest first."""
    today = now().replace(hour=12, minute=0, second=0)
    commits = [
        (sha(name, ago, i), today - timedelta(days=ago, minutes=i))
        for ago, count in days.items()
        for i in range(count)
    ]
    return sorted(commits, key=lambda c: c[1], reverse=True)


class RateLimit:
    """A per-minute request budget, like GitLab's and ListenBrainz's."""

    def __init__(self, limit: int = 2000):
        self.limit = limit
        self.used = 0
        self.reset_at = int(time.time()) + 60
        self.lock = threading.Lock()

    def take(self) -> int | None:
        """Count a request; the remaining budget, or None when it is used up."""
        with self.lock:
            if self.used >= self.limit:
                return None
            self.used += 1
            return self.limit - self.used


# -- GitLab -------------------------------------------------------------------


@dataclass
class GitLabProject:
    """A project of the fake GitLab user."""

    name: str
    id: int = 0
    visibility: str = "public"
    archived: bool = False
    fork: bool = False
    stars: int = 0
    topics: list[str] = field(default_factory=list)
    created_at: datetime = field(default_factory=lambda: now() - timedelta(days=400))
    last_activity_at: datetime = field(default_factory=lambda: now() - timedelta(days=1))
    languages: dict[str, float] = field(default_factory=lambda: {"Go": 80.5, "Shell": 19.5})
    #: Commits as (sha, author time), newest first; None = an empty repository.
    commits: list[tuple[str, datetime]] | None = None


class FakeGitLab(FakeServer):
    """Enough of GitLab's REST API v4 to answer like it does."""

    def __init__(
        self,
        user: str = "ada",
        token: str | None = None,
        rate_limit: int = 2000,
        prefix: str = "",
    ):
        super().__init__(prefix)
        self.user = user
        self.user_id = 4242
        self.token = token
        self.projects: list[GitLabProject] = []
        self.limit = RateLimit(rate_limit)
        self.retry_after_on_429 = True
        #: GitLab.com ignores If-None-Match on most API routes; True makes it answer 304.
        self.honours_etag = False
        #: False: the listing ignores ?visibility= (the client must filter on its own).
        self.filters_visibility = True
        self.route("GET", r"/api/v4/users/([^/]+)/projects", self._projects)
        self.route("GET", r"/api/v4/projects/(\d+)/languages", self._languages)
        self.route("GET", r"/api/v4/projects/(\d+)/repository/commits", self._commits)

    def add(self, project: GitLabProject) -> GitLabProject:
        project.id = project.id or 1000 + len(self.projects)
        if project.commits is None and project.name != "empty":
            project.commits = history(project.name, {1: 2, 9: 1, 40: 3})
        self.projects.append(project)
        return project

    def path(self, project: GitLabProject) -> str:
        return f"{self.user}/{project.name.lower().replace(' ', '-')}"

    def _dispatch(self, request: Request) -> Reply:
        remaining = self.limit.take()
        headers = {
            "RateLimit-Limit": str(self.limit.limit),
            "RateLimit-Observed": str(self.limit.used),
            "RateLimit-Remaining": str(max(remaining or 0, 0)),
            "RateLimit-Reset": str(self.limit.reset_at),
        }
        if remaining is None:
            if self.retry_after_on_429:
                headers["Retry-After"] = str(self.limit.reset_at - int(time.time()))
            else:  # GitLab.com has answered 429 with no rate-limit header at all
                headers = {}
            body = {"message": "This endpoint has been requested too many times. Try again later."}
            return Reply(429, body, headers)
        given = request.headers.get("private-token")
        if given is not None and given != self.token:
            return Reply(401, {"message": "401 Unauthorized"}, headers)
        request.headers["authenticated"] = "yes" if given else ""
        reply = super()._dispatch(request)
        reply.headers.update(headers)
        if reply.status == 200:
            digest = hashlib.sha256(json.dumps(reply.body).encode()).hexdigest()[:32]
            reply.headers["ETag"] = f'W/"{digest}"'
            if self.honours_etag and request.headers.get("if-none-match") == reply.headers["ETag"]:
                return Reply(304, None, reply.headers)
        return reply

    def _visible(self, request: Request) -> list[GitLabProject]:
        if request.headers.get("authenticated"):
            return list(self.projects)
        return [p for p in self.projects if p.visibility == "public"]

    def _projects(self, request: Request, match: Any) -> Reply:
        if match.group(1) not in (self.user, str(self.user_id)):
            return Reply(404, {"message": "404 User Not Found"})
        projects = self._visible(request)
        if "visibility" in request.query and self.filters_visibility:
            projects = [p for p in projects if p.visibility == request.query["visibility"]]
        if request.query.get("archived") == "false":
            projects = [p for p in projects if not p.archived]
        projects.sort(key=lambda p: p.last_activity_at, reverse=True)
        items = [self._item(p, bool(request.headers.get("authenticated"))) for p in projects]
        return self._page(request, items, total=True)

    def _item(self, project: GitLabProject, full: bool) -> dict[str, Any]:
        path = self.path(project)
        item: dict[str, Any] = {
            "id": project.id,
            "description": f"{project.name}, a project",
            "name": project.name,
            "name_with_namespace": f"Ada / {project.name}",
            "path": path.split("/")[-1],
            "path_with_namespace": path,
            "created_at": iso(project.created_at),
            "default_branch": None if project.commits is None else "main",
            "tag_list": project.topics,
            "topics": project.topics,
            "ssh_url_to_repo": f"git@gitlab.example:{path}.git",
            "http_url_to_repo": f"https://gitlab.example/{path}.git",
            "web_url": f"https://gitlab.example/{path}",
            "readme_url": None,
            "forks_count": 0,
            "avatar_url": None,
            "star_count": project.stars,
            "last_activity_at": iso(project.last_activity_at),
            "namespace": {"id": self.user_id, "name": "Ada", "path": self.user, "kind": "user"},
        }
        if full:  # what an authenticated listing adds (ProjectDetails)
            item.update(
                visibility=project.visibility,
                archived=project.archived,
                empty_repo=project.commits is None,
                owner={"id": self.user_id, "name": "Ada"},
                open_issues_count=0,
            )
            if project.fork:
                item["forked_from_project"] = {"id": 1, "path_with_namespace": "upstream/x"}
        return item

    def _page(self, request: Request, items: list[Any], *, total: bool) -> Reply:
        per_page = min(max(int(request.query.get("per_page", 20)), 1), 100)
        page = max(int(request.query.get("page", 1)), 1)
        chunk = items[(page - 1) * per_page : page * per_page]
        more = page * per_page < len(items)
        headers = {
            "x-page": str(page),
            "x-per-page": str(per_page),
            "x-next-page": str(page + 1) if more else "",
            "x-prev-page": str(page - 1) if page > 1 else "",
        }
        query = {k: v for k, v in request.query.items() if k != "page"}
        base = f"{self.url}{request.path}?" + "&".join(f"{k}={v}" for k, v in query.items())
        links = [f'<{base}&page=1>; rel="first"']
        if more:
            links.insert(0, f'<{base}&page={page + 1}>; rel="next"')
        if total:  # the commits API omits the totals (and rel="last")
            pages = max((len(items) + per_page - 1) // per_page, 1)
            headers.update({"x-total": str(len(items)), "x-total-pages": str(pages)})
            links.append(f'<{base}&page={pages}>; rel="last"')
        headers["Link"] = ", ".join(links)
        return Reply(200, chunk, headers)

    def _project(self, request: Request, project_id: str) -> GitLabProject | None:
        for project in self._visible(request):
            if str(project.id) == project_id:
                return project
        return None

    def _languages(self, request: Request, match: Any) -> Reply:
        project = self._project(request, match.group(1))
        if project is None:
            return Reply(404, {"message": "404 Project Not Found"})
        return Reply(200, project.languages)

    def _commits(self, request: Request, match: Any) -> Reply:
        project = self._project(request, match.group(1))
        if project is None:
            return Reply(404, {"message": "404 Project Not Found"})
        if project.commits is None:
            return Reply(404, {"message": "404 Repository Not Found"})
        since = request.query.get("since")
        floor = datetime.fromisoformat(since.replace("Z", "+00:00")) if since else None
        items = [
            {
                "id": commit,
                "short_id": commit[:8],
                "created_at": iso(when),
                "parent_ids": [],
                "title": "a change",
                "message": "a change\n",
                "author_name": "Ada",
                "author_email": "ada@private.example",
                "authored_date": iso(when),
                "committer_name": "Ada",
                "committer_email": "ada@private.example",
                "committed_date": iso(when),
                "web_url": f"https://gitlab.example/{self.path(project)}/-/commit/{commit}",
            }
            for commit, when in project.commits
            if floor is None or when >= floor
        ]
        return self._page(request, items, total=False)


# -- Forgejo ------------------------------------------------------------------


@dataclass
class ForgejoRepo:
    """A repository of the fake Forgejo user."""

    name: str
    private: bool = False
    internal: bool = False
    fork: bool = False
    archived: bool = False
    stars: int = 0
    language: str = "Rust"
    created_at: datetime = field(default_factory=lambda: now() - timedelta(days=300))
    updated_at: datetime = field(default_factory=lambda: now() - timedelta(days=2))
    languages: dict[str, int] = field(default_factory=lambda: {"Rust": 52000, "Nix": 800})
    commits: list[tuple[str, datetime]] | None = None


class FakeForgejo(FakeServer):
    """Enough of Forgejo's (and Gitea's) API v1 to answer like it does."""

    def __init__(self, user: str = "ada", token: str | None = None, max_items: int = 50):
        super().__init__()
        self.user = user
        self.token = token
        self.max_items = max_items
        self.repos: list[ForgejoRepo] = []
        #: Contributions as {unix seconds of a 15-minute bucket: count}.
        self.heatmap: dict[int, int] = {}
        #: Answer this many requests with 429 + Retry-After before serving (a busy Codeberg).
        self.busy = 0
        self.route("GET", r"/api/v1/users/([^/]+)/repos", self._repos)
        self.route("GET", r"/api/v1/users/([^/]+)/heatmap", self._heatmap)
        self.route("GET", r"/api/v1/repos/([^/]+)/([^/]+)/languages", self._languages)
        self.route("GET", r"/api/v1/repos/([^/]+)/([^/]+)/commits", self._commits)

    def add(self, repo: ForgejoRepo) -> ForgejoRepo:
        if repo.commits is None and repo.name != "empty":
            repo.commits = history(repo.name, {0: 1, 3: 2, 60: 4})
        self.repos.append(repo)
        return repo

    def _dispatch(self, request: Request) -> Reply:
        with self.lock:
            if self.busy > 0:
                self.busy -= 1
                return Reply(429, {"message": "Too Many Requests"}, {"Retry-After": "1"})
        auth = request.headers.get("authorization")
        if auth is not None and auth != f"token {self.token}":
            return Reply(401, {"message": "user does not exist [uid: 0, name: ]", "url": ""})
        request.headers["authenticated"] = "yes" if auth else ""
        return super()._dispatch(request)

    def _visible(self, request: Request) -> list[ForgejoRepo]:
        if request.headers.get("authenticated"):
            return list(self.repos)
        return [r for r in self.repos if not r.private and not r.internal]

    def _limit(self, request: Request, cap: int) -> tuple[int, int]:
        page = max(int(request.query.get("page", 1)), 1)
        limit = int(request.query.get("limit", cap))
        return page, min(max(limit, 1), cap)

    def _paged(self, request: Request, items: list[Any], cap: int) -> Reply:
        page, limit = self._limit(request, cap)
        chunk = items[(page - 1) * limit : page * limit]
        pages = max((len(items) + limit - 1) // limit, 1)
        query = {k: v for k, v in request.query.items() if k not in ("page", "limit")}
        base = f"{self.url}{request.path}?" + "".join(f"{k}={v}&" for k, v in query.items())
        links = []
        if page < pages:
            links.append(f'<{base}limit={limit}&page={page + 1}>; rel="next"')
            links.append(f'<{base}limit={limit}&page={pages}>; rel="last"')
        headers = {"X-Total-Count": str(len(items))}
        if links:
            headers["Link"] = ",".join(links)
        return Reply(200, chunk, headers)

    def _repos(self, request: Request, match: Any) -> Reply:
        if match.group(1) != self.user:
            message = f"user redirect does not exist [name: {match.group(1)}]"
            return Reply(
                404, {"errors": None, "message": message, "url": f"{self.url}/api/swagger"}
            )
        items = [self._item(r) for r in self._visible(request)]
        return self._paged(request, items, self.max_items)

    def _item(self, repo: ForgejoRepo) -> dict[str, Any]:
        full = f"{self.user}/{repo.name}"
        return {
            "id": abs(hash(repo.name)) % 10**6,
            "owner": {"id": 7, "login": self.user, "full_name": "Ada"},
            "name": repo.name,
            "full_name": full,
            "description": f"{repo.name} on Forgejo",
            "empty": repo.commits is None,
            "private": repo.private,
            "internal": repo.internal,
            "fork": repo.fork,
            "template": False,
            "parent": None,
            "mirror": False,
            "size": 120,
            "language": repo.language,
            "languages_url": f"{self.url}/api/v1/repos/{full}/languages",
            "html_url": f"https://codeberg.example/{full}",
            "url": f"{self.url}/api/v1/repos/{full}",
            "website": "",
            "stars_count": repo.stars,
            "forks_count": 0,
            "watchers_count": 1,
            "open_issues_count": 0,
            "default_branch": "main",
            "archived": repo.archived,
            "created_at": repo.created_at.isoformat(),
            "updated_at": repo.updated_at.isoformat(),
            "topics": [],
        }

    def _find(self, request: Request, owner: str, name: str) -> ForgejoRepo | None:
        if owner != self.user:
            return None
        return next((r for r in self._visible(request) if r.name == name), None)

    def _languages(self, request: Request, match: Any) -> Reply:
        repo = self._find(request, match.group(1), match.group(2))
        if repo is None:
            return Reply(404, {"errors": None, "message": "The target couldn't be found."})
        return Reply(200, repo.languages)

    def _commits(self, request: Request, match: Any) -> Reply:
        repo = self._find(request, match.group(1), match.group(2))
        if repo is None:
            return Reply(404, {"errors": None, "message": "The target couldn't be found."})
        if repo.commits is None:
            return Reply(409, {"message": "Git Repository is empty.", "url": ""})
        full = f"{self.user}/{repo.name}"
        items = [
            {
                "url": f"{self.url}/api/v1/repos/{full}/git/commits/{commit}",
                "sha": commit,
                "created": when.isoformat(),
                "html_url": f"https://codeberg.example/{full}/commit/{commit}",
                "commit": {
                    "message": "a change\n",
                    "author": {"name": "Ada", "email": "ada@private.example", "date": when.isoformat()},
                    "committer": {"name": "Ada", "email": "ada@private.example", "date": when.isoformat()},
                },
                "author": None,
                "committer": None,
                "parents": [],
                "files": None,
                "stats": None,
            }
            for commit, when in repo.commits
        ]  # fmt: skip
        reply = self._paged(request, items, 50)  # setting.Git.CommitsRangeSize
        page, limit = self._limit(request, 50)
        reply.headers["X-HasMore"] = "true" if page * limit < len(items) else "false"
        return reply

    def _heatmap(self, request: Request, match: Any) -> Reply:
        if match.group(1) != self.user:
            return Reply(404, None)
        buckets = [{"timestamp": t, "contributions": n} for t, n in sorted(self.heatmap.items())]
        return Reply(200, buckets)


# -- ListenBrainz ---------------------------------------------------------------


class FakeListenBrainz(FakeServer):
    """Enough of ListenBrainz's API to answer like it does."""

    def __init__(self, user: str = "ada", rate_limit: int = 2000):
        super().__init__()
        self.user = user
        #: (listened_at, track, artist), any order.
        self.listens: list[tuple[int, str, str]] = []
        self.limit = RateLimit(rate_limit)
        self.route("GET", r"/1/user/([^/]+)/listens", self._listens)

    def _dispatch(self, request: Request) -> Reply:
        remaining = self.limit.take()
        reset_in = max(self.limit.reset_at - int(time.time()), 0)
        headers = {
            "X-RateLimit-Limit": str(self.limit.limit),
            "X-RateLimit-Remaining": str(max(remaining or 0, 0)),
            "X-RateLimit-Reset-In": str(reset_in),
        }
        if remaining is None:
            return Reply(429, {"code": 429, "error": "Too many requests"}, headers)
        reply = super()._dispatch(request)
        reply.headers.update(headers)
        return reply

    def _listens(self, request: Request, match: Any) -> Reply:
        if match.group(1) != self.user:
            return Reply(404, {"code": 404, "error": f"Cannot find user: {match.group(1)}"})
        try:
            min_ts = int(request.query.get("min_ts") or 0)
            max_ts = int(request.query.get("max_ts") or 0)
            count = min(int(request.query.get("count", 25)), 1000)  # MAX_ITEMS_PER_GET
        except ValueError:
            return Reply(400, {"code": 400, "error": "Invalid parameter"})
        if min_ts and max_ts and min_ts >= max_ts:
            return Reply(400, {"code": 400, "error": "min_ts should be less than max_ts"})
        ordered = sorted(self.listens)
        if min_ts:  # the `count` listens just after min_ts, then newest first
            chosen = [listen for listen in ordered if listen[0] > min_ts][:count]
        else:  # 0 counts as not given: the newest ones
            chosen = [listen for listen in ordered if not max_ts or listen[0] < max_ts][-count:]
        chosen.reverse()
        listens = [
            {
                "inserted_at": at + 5,
                "listened_at": at,
                "recording_msid": sha("msid", at),
                "user_name": self.user,
                "track_metadata": {
                    "artist_name": artist,
                    "track_name": track,
                    "release_name": "An album",
                    "additional_info": {"media_player": "Strawberry", "duration_ms": 200000},
                    "mbid_mapping": None,
                },
            }
            for at, track, artist in chosen
        ]
        payload = {
            "count": len(listens),
            "listens": listens,
            "user_id": self.user,
            "latest_listen_ts": ordered[-1][0] if ordered else 0,
            "oldest_listen_ts": ordered[0][0] if ordered else 0,
        }
        return Reply(200, {"payload": payload})
