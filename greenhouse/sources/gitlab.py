"""GitLab (gitlab.com or self-hosted): the user's public projects become plants.

REST API v4 under ``{api_url}/api/v4`` (facts and sources in docs/sources.md):

1. ``GET /users/{user}/projects?visibility=public&order_by=last_activity_at``,
   page by page (``Link: rel="next"``, else ``x-next-page``), conditionally
   (GitLab sends weak ETags; whether it answers 304 depends on the
   instance). Without a token GitLab sends its "simple" project fields, with
   no ``visibility``, ``archived`` or fork information: every project it
   returns then is public. With ``GITLAB_TOKEN`` it may also list private
   and internal projects, so ``visibility`` must say ``public``.
2. A project whose ``last_activity_at`` moved: ``GET /projects/{id}/languages``
   (percentages, stored as hundredths of a percent) and
   ``GET /projects/{id}/repository/commits?since=…`` (commit ids by author
   day, so mirrors count once), at most :data:`MAX_COMMIT_PAGES` pages.

Rate limits come as ``RateLimit-Remaining`` / ``RateLimit-Reset`` (Unix
seconds); a 429 carries ``Retry-After`` (sometimes not: then the client backs
off on its own).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from greenhouse.errors import SourceError
from greenhouse.sources.forge import (
    FIRST_SYNC_DAYS,
    Details,
    Page,
    cache_only,
    check_reply,
    sync_forge,
)
from greenhouse.sources.http import PoliteClient, RateLimitHeaders, Reply, parse_link_next
from greenhouse.sources.run import Outcome, SourceRun, parse_time
from greenhouse.store.forges import Commits, ForgeRepo, KnownRepo, repo_key

SOURCE = "gitlab"
LIMITS = RateLimitHeaders(
    remaining="ratelimit-remaining", limit="ratelimit-limit", reset="ratelimit-reset", resource=None
)
#: Pages of 100 commits read per project and sync (bounded on purpose).
MAX_COMMIT_PAGES = 10


def sync_gitlab(run: SourceRun) -> Outcome:
    """Sync the public projects of ``[gitlab] user``; see the module docstring."""
    cfg = run.config.gitlab
    if not cfg.user:
        raise SourceError(SOURCE, "set [gitlab] user in greenhouse.toml")
    token = run.secret("GITLAB_TOKEN")
    api = cfg.api_url.rstrip("/") + "/api/v4"
    client = run.client(
        api + "/",
        headers={"PRIVATE-TOKEN": token} if token else None,
        concurrency=cfg.concurrency,
        limit_headers=LIMITS,
    )
    return sync_forge(run, GitLab(run, client, api, with_token=bool(token)), cfg.concurrency)


class GitLab:
    """GitLab's REST API as :func:`~greenhouse.sources.forge.sync_forge` uses it."""

    source = SOURCE

    def __init__(self, run: SourceRun, client: PoliteClient, api: str, *, with_token: bool):
        self.run = run
        self.cfg = run.config.gitlab
        self.client = client
        self.api = api
        self.with_token = with_token
        self.now = run.now()
        #: Numeric project ids by key, learnt from the listing.
        self.ids: dict[str, int] = {}

    def pages(self) -> Iterator[Page]:
        """The user's projects, 100 a page, most recently active first."""
        user = self.cfg.user or ""
        url: str | None = f"{self.api}/users/{quote(user, safe='')}/projects"
        first: dict[str, Any] = {
            "per_page": 100, "order_by": "last_activity_at", "sort": "desc",
            "visibility": "public",
        }  # fmt: skip
        if not self.cfg.archived:
            first["archived"] = "false"
        params: dict[str, Any] | None = first
        while url:
            reply = self.client.get(url, params=params)
            self._check(reply, f"listing the projects of '{user}'")
            items = reply.json()
            if not isinstance(items, list):
                raise SourceError(SOURCE, "the project listing is not a list; is api_url right?")
            pairs = [(item, self._repo(item)) for item in items]
            kept = [item for item, repo in pairs if repo is not None]
            repos = [repo for _, repo in pairs if repo is not None]
            cache_only(self.client, reply, kept)  # what was left out is not written anywhere
            yield Page(repos, reply.key, skipped=len(items) - len(repos))
            url, params = _next_page(reply, url, params)

    def _repo(self, item: Any) -> ForgeRepo | None:
        """The project if the garden may show it, else None."""
        if not isinstance(item, dict) or not item.get("path_with_namespace"):
            return None
        visibility = item.get("visibility")
        if visibility is None and self.with_token:
            return None  # an authenticated listing always says; not saying is not public
        if visibility not in (None, "public"):
            return None
        if item.get("forked_from_project") and not self.cfg.forks:
            return None
        if item.get("archived") and not self.cfg.archived:
            return None
        path = str(item["path_with_namespace"])
        name = str(item.get("name") or item.get("path") or path.rsplit("/", 1)[-1])
        if not self.cfg.wants(path):
            return None
        key = repo_key(SOURCE, path)
        if isinstance(item.get("id"), int):
            self.ids[key] = item["id"]
        topics = item.get("topics") or item.get("tag_list") or []
        return ForgeRepo(
            key=key,
            name=name,
            description=item.get("description") or None,
            html_url=item.get("web_url"),
            topics=tuple(str(t) for t in topics),
            stars=int(item.get("star_count") or 0),
            forks=int(item.get("forks_count") or 0),
            is_fork=bool(item.get("forked_from_project")),
            is_archived=bool(item.get("archived")),
            created_at=parse_time(item.get("created_at")),
            pushed_at=parse_time(item.get("last_activity_at")),
        )

    def _check(self, reply: Reply, doing: str) -> None:
        check_reply(
            reply,
            doing,
            source=SOURCE,
            token="GITLAB_TOKEN",
            scopes="the read_api scope",
            user=self.cfg.user,
            api_url=self.cfg.api_url,
        )

    # -- per project (worker threads: HTTP only) -----------------------------

    def details(self, repo: ForgeRepo, known: KnownRepo | None, stop_at: set[str]) -> Details:
        """Languages (percentages) and the commit ids since the newest stored one."""
        project = self.ids.get(repo.key)
        if project is None:
            return Details(repo.key, status="partial")
        details = Details(repo.key)
        reply = self.client.get(f"{self.api}/projects/{project}/languages")
        if reply.status == 200 and isinstance(reply.json(), dict):
            # GitLab gives percentages; hundredths of a percent keep them whole numbers.
            details.languages = {
                str(k): round(float(v) * 100) for k, v in reply.json().items() if v is not None
            }
            details.cache_keys.append(reply.key)
        elif reply.status != 404:
            raise SourceError(SOURCE, f"HTTP {reply.status} for the languages of {repo.key}")
        self._commits(project, repo, known, details)
        return details

    def _commits(
        self, project: int, repo: ForgeRepo, known: KnownRepo | None, details: Details
    ) -> None:
        floor = self.now - timedelta(days=FIRST_SYNC_DAYS)
        since = floor
        if known is not None and known.newest_commit_day is not None:
            # A day of overlap: commits of that day already stored are ignored by id.
            start = known.newest_commit_day - timedelta(days=1)
            since = max(floor, datetime.combine(start, datetime.min.time()))
        url: str | None = f"{self.api}/projects/{project}/repository/commits"
        params: dict[str, Any] | None = {
            "since": since.replace(microsecond=0).isoformat() + "Z", "per_page": 100,
        }  # fmt: skip
        commits = Commits(repo.key)
        for _ in range(MAX_COMMIT_PAGES):
            reply = self.client.get(url or "", params=params, conditional=False)
            if reply.status == 404:  # an empty repository has no commits to list
                details.status = "empty"
                break
            if reply.status != 200:
                raise SourceError(SOURCE, f"HTTP {reply.status} for the commits of {repo.key}")
            for item in reply.json() or []:
                when = parse_time((item or {}).get("authored_date") or item.get("created_at"))
                sha = (item or {}).get("id")
                if when is not None and isinstance(sha, str):
                    commits.ids.append((sha, when.date()))
            # Bounded on purpose: past MAX_COMMIT_PAGES the newest commits are the ones kept.
            url, params = _next_page(reply, url or "", params)
            if url is None:
                break
        details.commits = commits


def _next_page(
    reply: Reply, url: str, params: dict[str, Any] | None
) -> tuple[str | None, dict[str, Any] | None]:
    """The next page: ``Link: rel="next"`` when sent, else ``x-next-page`` (empty on the last)."""
    link = parse_link_next(reply.headers.get("link"))
    if link is not None:
        return link, None
    page = reply.headers.get("x-next-page")
    if page:
        return url, {**(params or {}), "page": page}
    return None, None
