"""Forgejo, Gitea and Codeberg: the user's public repositories become plants.

REST API under ``{api_url}/api/v1`` (facts and sources in docs/sources.md):

1. ``GET /users/{user}/repos?limit=50&page=N``: the server caps ``limit``
   (``[api] MAX_RESPONSE_ITEMS``, 50 by default), so pages are followed
   through ``Link: rel="next"``, else until ``X-Total-Count`` is reached.
   ``private`` and ``internal`` are checked on every item (a token may see
   more than the garden should show).
2. A repository whose ``updated_at`` moved: ``GET /repos/{o}/{r}/languages``
   (bytes) and ``GET /repos/{o}/{r}/commits?stat=false&verification=false&files=false``,
   newest first, until a commit id already stored or a year back, at most
   :data:`MAX_COMMIT_PAGES` pages. 409 means an empty repository.
3. ``GET /users/{user}/heatmap``: the owner's contributions in 15-minute
   buckets over the last year, summed per UTC day into
   ``forge_contributions``.

Forgejo sends no rate-limit headers of its own; a host that limits
(Codeberg) answers 429, with ``Retry-After`` when it can.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

from greenhouse.errors import SourceError
from greenhouse.sources.forge import (
    FIRST_SYNC_DAYS,
    Details,
    ForgeSync,
    Page,
    cache_only,
    check_reply,
)
from greenhouse.sources.http import PoliteClient, Reply, parse_link_next
from greenhouse.sources.run import Outcome, SourceRun, parse_time
from greenhouse.store.forges import Commits, ForgeRepo, KnownRepo, repo_key, save_contributions

SOURCE = "forgejo"
#: Items per page asked for; servers cap it (50 by default), and the pages follow Link anyway.
PAGE = 50
#: Pages of commits read per repository and sync (bounded on purpose).
MAX_COMMIT_PAGES = 20


def sync_forgejo(run: SourceRun) -> Outcome:
    """Sync the public repositories and the heatmap of ``[forgejo] user``."""
    cfg = run.config.forgejo
    if not cfg.user:
        raise SourceError(SOURCE, "set [forgejo] user in greenhouse.toml")
    token = run.secret("FORGEJO_TOKEN")
    api = cfg.api_url.rstrip("/") + "/api/v1"
    client = run.client(
        api + "/",
        headers={"Authorization": f"token {token}"} if token else None,
        concurrency=cfg.concurrency,
    )
    forge = Forgejo(run, client, api)
    sync = ForgeSync(run, forge, cfg.concurrency)
    outcome = sync.sync()
    if outcome.status == "ok":
        forge.heatmap()
        outcome.summary = sync.summary()  # the heatmap's request counts too
    return outcome


class Forgejo:
    """The Forgejo/Gitea API as :func:`~greenhouse.sources.forge.sync_forge` uses it."""

    source = SOURCE

    def __init__(self, run: SourceRun, client: PoliteClient, api: str):
        self.run = run
        self.cfg = run.config.forgejo
        self.client = client
        self.api = api
        self.now = run.now()
        self.user = quote(self.cfg.user or "", safe="")
        #: Repositories the listing says are empty: no commits to ask for.
        self.empty: set[str] = set()

    def pages(self) -> Iterator[Page]:
        """The user's repositories, page by page."""
        url = f"{self.api}/users/{self.user}/repos"
        page, seen = 1, 0
        next_url: str | None = url
        params: dict[str, Any] | None = {"limit": PAGE, "page": page}
        while next_url:
            reply = self.client.get(next_url, params=params)
            self._check(reply, f"listing the repositories of '{self.cfg.user}'")
            items = reply.json()
            if not isinstance(items, list):
                raise SourceError(SOURCE, "the repository listing is not a list; is api_url right?")
            pairs = [(item, self._repo(item)) for item in items]
            kept = [item for item, repo in pairs if repo is not None]
            repos = [repo for _, repo in pairs if repo is not None]
            cache_only(self.client, reply, kept)  # what was left out is not written anywhere
            yield Page(repos, reply.key, skipped=len(items) - len(repos))
            seen += len(items)
            next_url = parse_link_next(reply.headers.get("link"))
            params = None
            total = _int(reply.headers.get("x-total-count"))
            if next_url is None and items and total is not None and seen < total:
                page += 1  # no Link header (an old server): X-Total-Count says there is more
                next_url, params = url, {"limit": PAGE, "page": page}

    def _repo(self, item: Any) -> ForgeRepo | None:
        if not isinstance(item, dict) or not item.get("full_name"):
            return None
        # A token may see private and internal repositories: check every signal.
        if item.get("private") is not False or item.get("internal"):
            return None
        if item.get("fork") and not self.cfg.forks:
            return None
        if item.get("archived") and not self.cfg.archived:
            return None
        path = str(item["full_name"])
        name = str(item.get("name") or path.rsplit("/", 1)[-1])
        if not self.cfg.wants(path):
            return None
        key = repo_key(SOURCE, path)
        if item.get("empty"):
            self.empty.add(key)
        return ForgeRepo(
            key=key,
            name=name,
            description=item.get("description") or None,
            homepage=item.get("website") or None,
            html_url=item.get("html_url"),
            language=item.get("language") or None,
            topics=tuple(str(t) for t in item.get("topics") or []),
            stars=int(item.get("stars_count") or 0),
            forks=int(item.get("forks_count") or 0),
            is_fork=bool(item.get("fork")),
            is_archived=bool(item.get("archived")),
            created_at=parse_time(item.get("created_at")),
            pushed_at=parse_time(item.get("updated_at")),
        )

    def _check(self, reply: Reply, doing: str) -> None:
        check_reply(
            reply,
            doing,
            source=SOURCE,
            token="FORGEJO_TOKEN",
            scopes="read:repository and read:user",
            user=self.cfg.user,
            api_url=self.cfg.api_url,
        )

    # -- per repository (worker threads: HTTP only) ----------------------------

    def details(self, repo: ForgeRepo, known: KnownRepo | None, stop_at: set[str]) -> Details:
        """Languages (bytes) and the commit ids newer than the stored ones."""
        path = repo.key.removeprefix(f"{SOURCE}:")
        base = f"{self.api}/repos/{quote(path, safe='/')}"
        details = Details(repo.key)
        reply = self.client.get(f"{base}/languages")
        if reply.status == 200 and isinstance(reply.json(), dict):
            details.languages = {str(k): int(v) for k, v in reply.json().items()}
            details.cache_keys.append(reply.key)
        elif reply.status != 404:
            raise SourceError(SOURCE, f"HTTP {reply.status} for the languages of {repo.key}")
        if repo.key in self.empty:
            details.status = "empty"
            return details
        self._commits(base, repo, stop_at, details)
        return details

    def _commits(self, base: str, repo: ForgeRepo, stop_at: set[str], details: Details) -> None:
        floor = (self.now - timedelta(days=FIRST_SYNC_DAYS)).date()
        commits = Commits(repo.key)
        for page in range(1, MAX_COMMIT_PAGES + 1):
            params = {"limit": PAGE, "page": page, "stat": "false", "verification": "false",
                      "files": "false"}  # fmt: skip
            reply = self.client.get(f"{base}/commits", params=params, conditional=False)
            if reply.status == 409:  # "Git Repository is empty."
                details.status = "empty"
                break
            if reply.status != 200:
                raise SourceError(SOURCE, f"HTTP {reply.status} for the commits of {repo.key}")
            items = reply.json() or []
            done = not items
            for item in items:
                sha = (item or {}).get("sha")
                when = parse_time(((item.get("commit") or {}).get("author") or {}).get("date"))
                if not isinstance(sha, str) or when is None:
                    continue
                if sha in stop_at or when.date() < floor:
                    done = True  # newest first: everything after this is known or too old
                    break
                commits.ids.append((sha, when.date()))
            more = reply.headers.get("x-hasmore")
            if more is None:  # servers before X-HasMore: the Link header tells
                more = "true" if parse_link_next(reply.headers.get("link")) else "false"
            if done or more == "false":
                break
        details.commits = commits

    # -- the heatmap -----------------------------------------------------------

    def heatmap(self) -> None:
        """The owner's daily contributions (15-minute buckets summed per UTC day)."""
        reply = self.client.get(f"{self.api}/users/{self.user}/heatmap")
        if reply.status == 404:
            return  # an instance with the heatmap disabled
        self._check(reply, "reading the contribution heatmap")
        days: Counter[date] = Counter()
        for bucket in reply.json() or []:
            try:
                moment = datetime.fromtimestamp(int(bucket["timestamp"]), UTC)
                days[moment.date()] += int(bucket["contributions"])
            except (KeyError, TypeError, ValueError):
                continue
        with self.run.store.transaction() as conn:
            save_contributions(conn, SOURCE, days)
            self.client.cache.flush(conn, [reply.key])


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
