"""GitHub: the owner's public repositories become plants.

What is fetched, cheapest first:

1. ``GET /users/{user}/repos`` page by page (``Link: rel="next"``), always
   conditionally: metadata and stars. Each page is committed as it arrives.
   On a warm run of an unchanged account every page is a free ``304``.
2. Only repositories pushed since their details were last fetched (or never
   fetched, or left pending) need more. With a token, one GraphQL query per
   100 repositories gives their languages and
   ``defaultBranchRef.target.history(since: a year ago){totalCount}``: a repo
   with no commit in the year needs nothing else. Without a token (or when
   GraphQL fails) REST ``/languages`` is asked per repo.
3. Per-day commit counts exist only in REST
   ``/stats/commit_activity`` (52 weeks × 7 days); 202 "still computing" is
   retried ``commit_retries`` times with backoff, then the repo is marked
   ``pending``, its earlier rows are kept and ``/commits?since=`` fills the
   days after the last known one. 204 and 409 mean an empty repository.
4. With a token, the contribution calendar (GraphQL), at most twice a day.

Private repositories never enter, whatever the token can see: ``private``,
``visibility`` and ``isPrivate`` are checked explicitly, and a repository
that disappears from a complete listing (deleted, made private, excluded)
is removed with its rows.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb

from greenhouse.errors import AuthError, SourceError
from greenhouse.sources.http import (
    PoliteClient,
    RateLimitStop,
    Reply,
    cache_key,
    parse_link_next,
)
from greenhouse.sources.run import Outcome, SourceRun, insert_many, parse_time

SOURCE = "github"
API_VERSION = "2022-11-28"
#: The contribution calendar changes slowly; refreshing it twice a day keeps
#: a warm sync free of GraphQL cost.
CALENDAR_EVERY = timedelta(hours=12)
#: Pages of /commits read when statistics stay pending (bounded on purpose).
MAX_COMMIT_PAGES = 5

REPOS_QUERY = """
query($login: String!, $after: String, $since: GitTimestamp!) {
  rateLimit { cost remaining resetAt }
  user(login: $login) {
    repositories(first: 100, after: $after, ownerAffiliations: OWNER, privacy: PUBLIC,
                 orderBy: {field: PUSHED_AT, direction: DESC}) {
      pageInfo { hasNextPage endCursor }
      nodes {
        nameWithOwner isPrivate stargazerCount pushedAt
        languages(first: 10, orderBy: {field: SIZE, direction: DESC}) {
          edges { size node { name } }
        }
        defaultBranchRef { target { ... on Commit { history(since: $since) { totalCount } } } }
      }
    }
  }
}
"""

CALENDAR_QUERY = """
query($login: String!, $from: DateTime!, $to: DateTime!) {
  rateLimit { cost remaining resetAt }
  user(login: $login) {
    contributionsCollection(from: $from, to: $to) {
      contributionCalendar { weeks { contributionDays { date contributionCount } } }
    }
  }
}
"""


@dataclass
class Repo:
    """One public repository as the listing showed it."""

    full_name: str
    name: str
    description: str | None
    homepage: str | None
    html_url: str | None
    language: str | None
    topics: list[str]
    license: str | None
    stars: int
    forks: int
    is_fork: bool
    is_archived: bool
    created_at: datetime | None
    pushed_at: datetime | None


@dataclass
class Details:
    """What the per-repository requests found."""

    full_name: str
    status: str = "ok"  # ok | pending | empty
    weeks: list[tuple[date, list[int]]] | None = None
    languages: dict[str, int] | None = None
    recent: dict[date, int] | None = None
    cache_keys: list[str] = field(default_factory=list)


@dataclass
class Known:
    """What the store already knew about a repository."""

    stars: int
    fetched_at: datetime | None
    status: str | None
    last_commit_day: date | None = None


def sync_github(run: SourceRun) -> Outcome:
    """Sync the repositories of ``[github] user``; see the module docstring."""
    cfg = run.config.github
    if not cfg.user:
        raise SourceError(SOURCE, "set [github] user in greenhouse.toml")
    api = cfg.api_url.rstrip("/")
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION}
    token = run.secrets.github_token
    if token:
        headers["Authorization"] = f"Bearer {token}"
    client = run.client(
        api + "/",
        headers=headers,
        concurrency=cfg.concurrency,
        max_rate_limit_wait=cfg.max_rate_limit_wait,
    )
    return GithubSync(run, client, api, cfg.user, with_token=bool(token)).sync()


class GithubSync:
    """One GitHub sync: listing on this thread, per-repo requests on a small pool."""

    def __init__(
        self, run: SourceRun, client: PoliteClient, api: str, user: str, *, with_token: bool
    ):
        self.run = run
        self.cfg = run.config.github
        self.client = client
        self.api = api
        self.user = user
        self.with_token = with_token
        self.now = run.now()
        self.known = self._load_known()
        self.kept: dict[str, Repo] = {}
        self.need: list[str] = []
        self.done = 0
        self.failed: list[str] = []
        self.pending: set[str] = set()
        self.futures: dict[Future[Details], str] = {}
        self.finished: list[Details] = []
        self.flushed_at = time.monotonic()
        self.pool = ThreadPoolExecutor(
            max_workers=self.cfg.concurrency, thread_name_prefix="github"
        )

    # -- orchestration -------------------------------------------------------

    def sync(self) -> Outcome:
        """Run every step; a rate-limit stop keeps what was stored and says so."""
        try:
            complete = self._list_repos()
            if complete:
                self._forget_missing()
            if self.with_token:
                if self.need:
                    self._graphql_details()
                self._calendar()
            self._drain(block=True)
        except RateLimitStop as stop:
            self._stop()
            message = f"{stop}; kept what was fetched, the next sync resumes from there"
            return Outcome("partial", self._summary(), message)
        except BaseException:
            self._stop()
            raise
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)
        if self.failed:
            message = f"{len(self.failed)} repositories could not be fetched ({self.failed[0]})"
            return Outcome("partial", self._summary(), message)
        return Outcome("ok", self._summary())

    def _summary(self) -> str:
        c = self.client.counters
        line = (
            f"github: {len(self.kept)} repos ({len(self.need)} updated), "
            f"{c.requests} requests, {c.not_modified} not modified"
        )
        if self.pending:
            line += f", {len(self.pending)} pending statistics"
        if c.rate_limit_remaining is not None:
            line += f", rate limit {c.rate_limit_remaining} left"
        return line

    def _progress(self) -> None:
        self.run.progress(self.done, len(self.kept) or None)

    def _stop(self) -> None:
        """Cancel queued work, keep whatever already finished."""
        for future in self.futures:
            future.cancel()
        with contextlib.suppress(BaseException):  # best effort while stopping
            self._drain(block=False, quiet=True)

    def _submit(self, full_name: str, languages: dict[str, int] | None = None) -> None:
        """Queue the per-repo requests; *languages* already known (GraphQL) or None (REST)."""
        future = self.pool.submit(self._fetch_details, full_name, languages)
        self.futures[future] = full_name

    def _drain(self, *, block: bool, quiet: bool = False) -> None:
        """Commit finished per-repo work; with *block*, wait for all of it."""
        try:
            self._collect(block=block, quiet=quiet)
        finally:
            self._flush(force=True)

    def _collect(self, *, block: bool, quiet: bool) -> None:
        while self.futures:
            finished, _ = wait(
                list(self.futures), timeout=None if block else 0, return_when=FIRST_COMPLETED
            )
            if not finished:
                return
            for future in finished:
                full_name = self.futures.pop(future)
                if future.cancelled():
                    continue
                error = future.exception()
                if error is None:
                    self.finished.append(future.result())
                elif quiet:
                    continue
                elif isinstance(error, RateLimitStop | AuthError):
                    raise error
                elif isinstance(error, SourceError):
                    reason = str(error).removeprefix(f"{SOURCE}: ")
                    self.failed.append(self.run.scrub(f"{full_name}: {reason}"))
                else:
                    raise error
            self._flush(force=False)

    # -- the listing ---------------------------------------------------------

    def _load_known(self) -> dict[str, Known]:
        rows = self.run.store.conn.execute(
            """
            SELECT r.full_name, r.stars, r.fetched_at, r.activity_status,
                (SELECT max(day) FROM activity a WHERE a.full_name = r.full_name AND a.commits > 0)
            FROM repos r WHERE r.source = ?
            """,
            [SOURCE],
        ).fetchall()
        return {r[0]: Known(r[1], r[2], r[3], r[4]) for r in rows}

    def _list_repos(self) -> bool:
        """Walk the listing, committing each page; True when it was read to the end."""
        first = f"{self.api}/users/{self.user}/repos"
        params: dict[str, Any] | None = {"per_page": 100, "type": "owner", "sort": "pushed"}
        url: str | None = first
        # Page URLs GitHub gave us last time are asked for at once (conditionally);
        # a page whose Link changed is followed one by one as usual.
        prefetched = {
            cache_key(later): self.pool.submit(self.client.get, later)
            for later in self._cached_chain(cache_key(first, params))
        }
        while url:
            future = prefetched.pop(cache_key(url, params), None)
            reply = future.result() if future else self.client.get(url, params=params)
            self._check(reply, f"listing the repositories of '{self.user}'")
            page = reply.json()
            if not isinstance(page, list):
                raise SourceError(SOURCE, "the repository listing is not a list; is api_url right?")
            repos = [r for r in (self._repo(item) for item in page) if r is not None]
            # A 304 page holds exactly what its first answer stored: only repos
            # not stored yet (e.g. a changed include list) need writing.
            fresh = [r for r in repos if r.full_name not in self.known]
            if not reply.not_modified or fresh:
                with self.run.store.transaction() as conn:
                    self._store_repos(conn, repos if not reply.not_modified else fresh)
                    self.client.cache.flush(conn, [reply.key])
            for repo in repos:
                self.kept[repo.full_name] = repo
                if self._needs_details(repo):
                    self.need.append(repo.full_name)
                    if not self.with_token:
                        self._submit(repo.full_name)
                else:
                    self.done += 1
            self._drain(block=False)
            self._progress()
            # Never build page URLs ourselves: follow the Link header.
            url, params = parse_link_next(reply.headers.get("link")), None
        return True

    def _cached_chain(self, first: str, limit: int = 100) -> list[str]:
        """The next-page URLs recorded with the cached listing pages, in order."""
        chain: list[str] = []
        entry = self.client.cache.get(first)
        while entry is not None and len(chain) < limit:
            later = parse_link_next(entry.link)
            if later is None or later in chain:
                break
            chain.append(later)
            entry = self.client.cache.get(cache_key(later))
        return chain

    def _check(self, reply: Reply, doing: str) -> None:
        if reply.status == 200:
            return
        if reply.status == 401:
            raise AuthError(
                SOURCE,
                "GITHUB_TOKEN was rejected (401 Bad credentials); create a new token "
                "or unset GITHUB_TOKEN to sync public data without one",
            )
        if reply.status == 404:
            raise SourceError(
                SOURCE, f"user '{self.user}' not found; check [github] user in greenhouse.toml"
            )
        raise SourceError(SOURCE, f"HTTP {reply.status} while {doing}")

    def _repo(self, item: Any) -> Repo | None:
        """The repository if the garden may show it, else None."""
        if not isinstance(item, dict) or not item.get("full_name"):
            return None
        # A token may see private repos: check every signal, trust none alone.
        if item.get("private") is not False or item.get("visibility", "public") != "public":
            return None
        if item.get("fork") and not self.cfg.forks:
            return None
        if item.get("archived") and not self.cfg.archived:
            return None
        name = str(item.get("name") or item["full_name"].split("/")[-1])
        if self.cfg.include and not _listed(name, item["full_name"], self.cfg.include):
            return None
        if _listed(name, item["full_name"], self.cfg.exclude):
            return None
        licence = item.get("license") or {}
        return Repo(
            full_name=item["full_name"],
            name=name,
            description=item.get("description"),
            homepage=item.get("homepage") or None,
            html_url=item.get("html_url"),
            language=item.get("language"),
            topics=[str(t) for t in item.get("topics") or []],
            license=licence.get("spdx_id") or licence.get("name")
            if isinstance(licence, dict)
            else None,
            stars=int(item.get("stargazers_count") or 0),
            forks=int(item.get("forks_count") or 0),
            is_fork=bool(item.get("fork")),
            is_archived=bool(item.get("archived")),
            created_at=parse_time(item.get("created_at")),
            pushed_at=parse_time(item.get("pushed_at")),
        )

    def _needs_details(self, repo: Repo) -> bool:
        known = self.known.get(repo.full_name)
        if known is None or known.fetched_at is None or known.status == "pending":
            return True
        return repo.pushed_at is not None and repo.pushed_at > known.fetched_at

    def _store_repos(self, conn: duckdb.DuckDBPyConnection, repos: list[Repo]) -> None:
        insert_many(
            conn,
            """
            INSERT INTO repos (full_name, name, description, homepage, html_url, language,
                topics, license, stars, forks, is_fork, is_archived, is_private, created_at,
                pushed_at, source)
            """,
            [
                (
                    r.full_name, r.name, r.description, r.homepage, r.html_url, r.language,
                    r.topics, r.license, r.stars, r.forks, r.is_fork, r.is_archived, False,
                    r.created_at, r.pushed_at, SOURCE,
                )
                for r in repos
            ],
            """
            ON CONFLICT (full_name) DO UPDATE SET name = excluded.name,
                description = excluded.description, homepage = excluded.homepage,
                html_url = excluded.html_url, language = excluded.language,
                topics = excluded.topics, license = excluded.license, stars = excluded.stars,
                forks = excluded.forks, is_fork = excluded.is_fork,
                is_archived = excluded.is_archived, is_private = false,
                created_at = excluded.created_at, pushed_at = excluded.pushed_at,
                source = excluded.source
            """,
        )  # fmt: skip
        gains = []
        for repo in repos:
            known = self.known.get(repo.full_name)
            if known is not None and repo.stars > known.stars:
                gains.append((repo.full_name, self.now.date(), repo.stars - known.stars, SOURCE))
        # Stars gained since the last sync land on today's activity row.
        insert_many(
            conn,
            "INSERT INTO activity (full_name, day, stars, source)",
            gains,
            "ON CONFLICT (full_name, day) DO UPDATE SET stars = activity.stars + excluded.stars",
        )

    def _forget_missing(self) -> None:
        """Remove repositories a complete listing no longer shows (private, deleted, excluded)."""
        gone = [name for name in self.known if name not in self.kept]
        if not gone:
            return
        with self.run.store.transaction() as conn:
            for name in gone:
                conn.execute("DELETE FROM repo_languages WHERE full_name = ?", [name])
                conn.execute(
                    "DELETE FROM activity WHERE full_name = ? AND source = ?", [name, SOURCE]
                )
                conn.execute("DELETE FROM repos WHERE full_name = ? AND source = ?", [name, SOURCE])
                # Their cached answers too: a repo that comes back is fetched afresh.
                conn.execute(
                    "DELETE FROM http_cache WHERE starts_with(url, ?)",
                    [f"{self.api}/repos/{name}/"],
                )

    # -- GraphQL -------------------------------------------------------------

    def _graphql(self, query: str, variables: dict[str, Any]) -> tuple[Any, list[Any]]:
        """POST a GraphQL query; return (data, errors). Errors arrive inside HTTP 200."""
        reply = self.client.request(
            "POST", f"{self.api}/graphql", json_body={"query": query, "variables": variables}
        )
        self._check(reply, "querying GraphQL")
        body = reply.json() or {}
        errors = body.get("errors") or []
        for error in errors:
            if isinstance(error, dict) and error.get("type") == "RATE_LIMITED":
                raise RateLimitStop(SOURCE, 3600.0, "GraphQL rate limit reached")
        return body.get("data"), errors

    def _graphql_details(self) -> None:
        """Languages and yearly commit totals for 100 repos per query; REST for the rest."""
        need = set(self.need)
        since = (self.now - timedelta(days=365)).replace(microsecond=0).isoformat() + "Z"
        after: str | None = None
        while need:
            try:
                data, errors = self._graphql(
                    REPOS_QUERY, {"login": self.user, "after": after, "since": since}
                )
            except SourceError as exc:
                if isinstance(exc, AuthError):
                    raise
                data, errors = None, [{"message": str(exc).removeprefix(f"{SOURCE}: ")}]
            user = (data or {}).get("user")
            repositories = (user or {}).get("repositories") if isinstance(user, dict) else None
            if not isinstance(repositories, dict):
                # The REST listing already proved the account exists (an organization
                # is not a GraphQL `user`): fall back to REST rather than fail.
                self.run.warn(f"GraphQL failed ({_first_message(errors)}); using REST instead")
                break
            if errors:
                self.run.warn(f"GraphQL answered with errors ({_first_message(errors)})")
            for node in repositories.get("nodes") or []:
                self._graphql_repo(node, need)
            self._drain(block=False)
            page = repositories.get("pageInfo") or {}
            if not page.get("hasNextPage"):
                break
            after = page.get("endCursor")
        for full_name in sorted(need):  # not (or not usably) in GraphQL's answer
            self._submit(full_name)

    def _graphql_repo(self, node: Any, need: set[str]) -> None:
        if not isinstance(node, dict) or node.get("isPrivate") is not False:
            return
        full_name = node.get("nameWithOwner")
        if full_name not in need:
            return
        need.discard(full_name)
        languages = {
            e["node"]["name"]: int(e.get("size") or 0)
            for e in (node.get("languages") or {}).get("edges") or []
            if isinstance(e, dict) and isinstance(e.get("node"), dict)
        }
        branch = node.get("defaultBranchRef") or {}
        target = branch.get("target") if isinstance(branch, dict) else None
        history = (target or {}).get("history") if isinstance(target, dict) else None
        if not branch or not target:
            self.finished.append(Details(full_name, "empty", weeks=[], languages=languages))
        elif isinstance(history, dict) and history.get("totalCount") == 0:
            # No commit in the year: the weekly statistics would be all zeros.
            self.finished.append(Details(full_name, "ok", weeks=[], languages=languages))
        else:
            self._submit(full_name, languages)

    def _calendar(self) -> None:
        cursor = self.run.cursor()
        last = parse_time(cursor.get("calendar_at"))
        if last is not None and self.now - last < CALENDAR_EVERY:
            return
        start = (self.now - timedelta(days=364)).replace(microsecond=0).isoformat() + "Z"
        end = self.now.replace(microsecond=0).isoformat() + "Z"
        try:
            data, errors = self._graphql(
                CALENDAR_QUERY, {"login": self.user, "from": start, "to": end}
            )
        except SourceError as exc:
            if isinstance(exc, AuthError):
                raise
            data, errors = None, [{"message": str(exc).removeprefix(f"{SOURCE}: ")}]
        try:
            weeks = data["user"]["contributionsCollection"]["contributionCalendar"]["weeks"]
        except (KeyError, TypeError):
            self.run.warn(f"contribution calendar unavailable ({_first_message(errors)})")
            return
        with self.run.store.transaction() as conn:
            for week in weeks or []:
                for day in week.get("contributionDays") or []:
                    conn.execute(
                        "INSERT INTO contributions VALUES (?, ?, ?) ON CONFLICT (day) DO UPDATE "
                        "SET count = excluded.count, source = excluded.source",
                        [date.fromisoformat(day["date"]), int(day["contributionCount"]), SOURCE],
                    )
            cursor["calendar_at"] = self.now.isoformat()
            self.run.save_cursor(conn, cursor)

    # -- per repository (worker threads: HTTP only, no database) --------------

    def _fetch_details(self, full_name: str, languages: dict[str, int] | None) -> Details:
        details = Details(full_name, languages=languages)
        self._commit_activity(details)
        if details.status == "pending":
            self._recent_commits(details)
        if languages is None:
            reply = self.client.get(f"{self.api}/repos/{full_name}/languages")
            if reply.status == 200 and isinstance(reply.json(), dict):
                details.languages = {str(k): int(v) for k, v in reply.json().items()}
                details.cache_keys.append(reply.key)
            elif reply.status not in (204, 404):
                raise SourceError(SOURCE, f"HTTP {reply.status} for the languages of {full_name}")
        return details

    def _commit_activity(self, details: Details) -> None:
        url = f"{self.api}/repos/{details.full_name}/stats/commit_activity"
        for attempt in range(self.cfg.commit_retries + 1):
            reply = self.client.get(url)
            if reply.status == 202:
                # GitHub is computing the statistics; it usually takes seconds,
                # but some very active repos never finish, hence the bound.
                if attempt < self.cfg.commit_retries:
                    self.client.sleep(self.client.backoff(attempt))
                continue
            if reply.status in (204, 409):
                details.status, details.weeks = "empty", []
                return
            if reply.status != 200:
                raise SourceError(
                    SOURCE, f"HTTP {reply.status} for the commit activity of {details.full_name}"
                )
            details.weeks = _weeks(reply.json())
            details.cache_keys.append(reply.key)
            return
        details.status = "pending"

    def _recent_commits(self, details: Details) -> None:
        """While statistics are pending, count the owner's commits since the last known day."""
        known = self.known.get(details.full_name)
        floor = self.now.date() - timedelta(days=28)
        last = known.last_commit_day if known else None
        start = max(floor, last + timedelta(days=1)) if last else floor
        url: str | None = f"{self.api}/repos/{details.full_name}/commits"
        params: dict[str, Any] | None = {
            "since": f"{start.isoformat()}T00:00:00Z", "author": self.user, "per_page": 100,
        }  # fmt: skip
        days: Counter[date] = Counter()
        for _ in range(MAX_COMMIT_PAGES):
            if not url:
                break
            reply = self.client.get(url, params=params, conditional=False)
            if reply.status == 409:  # "Git Repository is empty."
                details.status = "empty"
                break
            if reply.status != 200:
                return
            for commit in reply.json() or []:
                when = parse_time(((commit.get("commit") or {}).get("author") or {}).get("date"))
                if when is not None:
                    days[when.date()] += 1
            url, params = parse_link_next(reply.headers.get("link")), None
        details.recent = dict(days)

    def _flush(self, *, force: bool) -> None:
        """Commit finished repositories: a checkpoint every few dozen repos or half second."""
        if not self.finished:
            return
        if not force and len(self.finished) < 32 and time.monotonic() - self.flushed_at < 0.5:
            return
        batch, self.finished = self.finished, []
        with self.run.store.transaction() as conn:
            self._store_details(conn, batch)
        self.flushed_at = time.monotonic()
        for details in batch:
            if details.status == "pending":
                self.pending.add(details.full_name)
        self.done += len(batch)
        self._progress()

    def _store_details(self, conn: duckdb.DuckDBPyConnection, batch: list[Details]) -> None:
        commits: dict[tuple[str, date], int] = {}
        for details in batch:
            if details.weeks and details.full_name in self.known:
                first = details.weeks[0][0]
                last = details.weeks[-1][0] + timedelta(days=6)
                # Days that lost their commits (force-push) go back to zero.
                conn.execute(  # one statement per known repo, only when it was pushed
                    "UPDATE activity SET commits = 0 "
                    "WHERE full_name = ? AND day BETWEEN ? AND ? AND commits <> 0",
                    [details.full_name, first, last],
                )
            for start, counts in details.weeks or []:
                for offset, count in enumerate(counts):
                    if count:
                        commits[(details.full_name, start + timedelta(days=offset))] = count
            for day, count in (details.recent or {}).items():
                commits[(details.full_name, day)] = count
        insert_many(
            conn,
            "INSERT INTO activity (full_name, day, commits, source)",
            [(name, day, count, SOURCE) for (name, day), count in sorted(commits.items())],
            "ON CONFLICT (full_name, day) DO UPDATE SET commits = excluded.commits",
        )
        with_languages = [d for d in batch if d.languages is not None]
        if with_languages:
            names = [d.full_name for d in with_languages]
            conn.execute(
                f"DELETE FROM repo_languages WHERE full_name IN ({', '.join('?' * len(names))})",
                names,
            )
            insert_many(
                conn,
                "INSERT INTO repo_languages",
                [
                    (d.full_name, language, size)
                    for d in with_languages
                    for language, size in (d.languages or {}).items()
                ],
            )
        insert_many(
            conn,
            "UPDATE repos SET activity_status = v.status, fetched_at = v.fetched FROM (",
            [(d.full_name, d.status, self.now) for d in batch],
            ") AS v(full_name, status, fetched) WHERE repos.full_name = v.full_name",
        )
        self.client.cache.flush(conn, [k for d in batch for k in d.cache_keys])


def _weeks(body: Any) -> list[tuple[date, list[int]]]:
    """commit_activity buckets as (Sunday, seven daily counts), oldest first."""
    weeks = []
    for bucket in body if isinstance(body, list) else []:
        try:
            start = datetime.fromtimestamp(int(bucket["week"]), UTC).date()
            days = [int(n) for n in bucket["days"]][:7]
        except (KeyError, TypeError, ValueError):
            continue
        weeks.append((start, days))
    return sorted(weeks)


def _listed(name: str, full_name: str, names: list[str]) -> bool:
    wanted = {n.lower() for n in names}
    return name.lower() in wanted or full_name.lower() in wanted


def _first_message(errors: list[Any]) -> str:
    for error in errors:
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:200]
    return "no data in the answer"
