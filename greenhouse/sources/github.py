"""GitHub: the owner's public repositories become plants.

What is fetched, cheapest first:

1. ``GET /users/{user}/repos`` page by page (``Link: rel="next"``), always
   conditionally: metadata and stars. Each page is committed as it arrives.
   On a warm run of an unchanged account every page is a free ``304``. The
   cache keeps each page's validators and its **public** rows only (never a
   private repository's name or description, whatever the token can see).
2. Only repositories whose ``pushed_at`` differs from the one their stored
   details answer (or never fetched, or left pending) need more. With a
   token, GraphQL gives their languages and
   ``defaultBranchRef.target.history(since: a year ago){totalCount}`` for 100
   repositories per query, in parallel with the listing: a repository with
   no commit in the year needs nothing else. Without a token, or for what
   GraphQL could not answer (errors, its own rate limit), REST ``/languages``.
   GraphQL and REST are separate budgets: one running out never stops the other.
3. Per-day commit counts exist only in REST ``/stats/commit_activity`` (52
   weeks × 7 days); 202 "still computing" is retried ``commit_retries`` times
   with backoff, then the repo is marked ``pending``, its earlier rows are
   kept and ``/commits?since=`` fills the days after the last known one. 204
   and 409 mean an empty repository. Statistics that come back unchanged
   (304) within a day of a push may not count it yet: they are asked for
   again next sync (free: a 304 costs no rate limit).
4. With a token, the contribution calendar (GraphQL), at most twice a day.
5. Repositories that content files name but the listing does not show are
   looked up (``GET /repos/{owner}/{name}``, following GitHub's 301 for a
   rename), so ``check`` and ``build`` can say which were renamed or are gone.

Private repositories never enter: ``private``, ``visibility`` and
``isPrivate`` are checked explicitly, and a repository that disappears from a
complete listing (deleted, made private) is removed with its rows.
Repositories left out by ``include``/``exclude``, ``forks`` or ``archived``
are not synced, but what is stored of them is kept (the garden hides them).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from greenhouse.errors import AuthError, GreenhouseError, SourceError
from greenhouse.sources.http import (
    PoliteClient,
    RateLimitStop,
    Reply,
    StopSource,
    cache_key,
    parse_link_next,
)
from greenhouse.sources.progress import describe_limits
from greenhouse.sources.run import Outcome, SourceRun, parse_time
from greenhouse.store import github as store_github
from greenhouse.store.github import Details, Lookup
from greenhouse.store.repos import Known, Repo, count_repos, forget_repos, load_known, save_repos

SOURCE = "github"
API_VERSION = "2022-11-28"
#: The contribution calendar changes slowly; refreshing it twice a day keeps
#: a warm sync free of GraphQL cost.
CALENDAR_EVERY = timedelta(hours=12)
#: Pages of /commits read when statistics stay pending (bounded on purpose).
MAX_COMMIT_PAGES = 5
#: GitHub recomputes statistics after a push, usually within minutes; until a
#: day has passed, unchanged statistics may predate the push.
STATS_SETTLE = timedelta(days=1)
#: Listing fields worth caching (and all the sync reads) of a public repository.
LISTING_FIELDS = (
    "name", "full_name", "private", "visibility", "description", "homepage", "html_url",
    "language", "topics", "license", "stargazers_count", "forks_count", "fork", "archived",
    "created_at", "pushed_at",
)  # fmt: skip

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

#: Every GraphQL document the source sends (the contract tests validate each one).
QUERIES = {"repositories": REPOS_QUERY, "calendar": CALENDAR_QUERY}


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
        budget_of=budget_of,
        wait_unhinted=True,
    )
    return GithubSync(run, client, api, cfg.user, with_token=bool(token)).sync()


def budget_of(url: str) -> str:
    """GitHub's separate primary budgets: GraphQL, and REST (``core``)."""
    return "graphql" if url.rstrip("/").endswith("/graphql") else "core"


@dataclass
class GraphqlPage:
    """One answered page of the GraphQL repositories query."""

    nodes: list[Any]
    next_cursor: str | None
    errors: list[Any]


class GithubSync:
    """One GitHub sync: the listing on the source's thread, everything else on a small pool.

    Workers only talk HTTP; this thread collects their results and writes them.
    """

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
        self.known: dict[str, Known] = load_known(run.store, SOURCE)
        #: Every public repository the listing showed (wanted or not), by name.
        self.listed: set[str] = set()
        self.kept: dict[str, Repo] = {}
        self.need: list[str] = []
        #: Repositories waiting for GraphQL's answer (with a token).
        self.waiting: set[str] = set()
        #: GraphQL nodes that arrived before the listing showed their repository.
        self.nodes: dict[str, Any] = {}
        self.graphql_state = "idle"  # idle | running | done | failed
        self.done = 0
        self.failed: list[str] = []
        self.pending: set[str] = set()
        self.futures: dict[Future[Any], tuple[str, str]] = {}
        self.finished: list[Details] = []
        self.lookups: list[Lookup] = []
        self.looked_up: list[str] = []
        self.complete = False
        self.flushed_at = time.monotonic()
        # One more worker than slots: the GraphQL pages run beside the REST requests.
        self.pool = ThreadPoolExecutor(
            max_workers=self.cfg.concurrency + 1, thread_name_prefix="github"
        )

    # -- orchestration -------------------------------------------------------

    def sync(self) -> Outcome:
        """Run every step; a stop (rate limit, time budget) keeps what was stored and says so."""
        try:
            if self.with_token:
                self._calendar()
            self.complete = self._list_repos()
            if self.complete:
                self._forget_missing()
                self._look_up_content_repos()
            self._finish_graphql()
            self._drain(block=True)
            self._save_lookups()
        except StopSource as stop:
            self._stop()
            return Outcome("partial", self._summary(), self._stop_message(stop))
        except BaseException:
            self._stop()
            raise
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)
        if self.failed:
            message = f"{len(self.failed)} repositories could not be fetched ({self.failed[0]})"
            return Outcome("partial", self._summary(), message)
        return Outcome("ok", self._summary())

    def _stop_message(self, stop: StopSource) -> str:
        text = str(stop).removeprefix(f"{SOURCE}: ")
        if self.client.counters.requests == 0:
            return f"{text}; nothing was sent, the stored data is kept"
        return f"{text}; kept what was fetched, the next sync resumes from there"

    def _summary(self) -> str:
        c = self.client.counters
        if self.complete:
            repos = f"{len(self.kept)} repos ({len(self.need)} updated)"
        else:
            # An unfinished listing says nothing about how many there are: say what is stored.
            repos = f"{count_repos(self.run.store, SOURCE)} repos stored"
        line = f"github: {repos}, {c.requests} requests, {c.not_modified} not modified"
        if self.pending:
            line += f", {len(self.pending)} pending statistics"
        remaining = self.client.limits.remaining()
        if remaining:
            line += ", rate limit " + describe_limits(remaining)
        return line

    def _progress(self) -> None:
        self.run.progress(self.done, len(self.kept) or None)

    def _stop(self) -> None:
        """Cancel queued work, keep whatever already finished."""
        for future in self.futures:
            future.cancel()
        with contextlib.suppress(Exception):  # best effort while stopping
            self._drain(block=False, quiet=True)

    def _submit(self, kind: str, name: str, task: Any, *args: Any) -> None:
        future = self.pool.submit(task, *args)
        self.futures[future] = (kind, name)

    def _submit_details(self, full_name: str, languages: dict[str, int] | None = None) -> None:
        """Queue the per-repo requests; *languages* already known (GraphQL) or None (REST)."""
        self._submit("details", full_name, self._fetch_details, full_name, languages)

    def _drain(self, *, block: bool, quiet: bool = False) -> None:
        """Handle finished work; with *block*, wait for all of it."""
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
                kind, name = self.futures.pop(future)
                if future.cancelled():
                    continue
                error = future.exception()
                if kind == "graphql":
                    self._graphql_done(future, quiet)
                elif kind == "calendar":
                    self._calendar_done(future, quiet)
                elif error is None:
                    result = future.result()
                    if kind == "lookup":
                        self.looked_up.append(name)
                        if result is not None:
                            self.lookups.append(result)
                    else:
                        self.finished.append(result)
                elif quiet:
                    continue
                elif isinstance(error, StopSource | AuthError | KeyboardInterrupt):
                    raise error
                elif isinstance(error, SourceError):
                    reason = str(error).removeprefix(f"{SOURCE}: ")
                    self.failed.append(self.run.scrub(f"{name}: {reason}"))
                else:
                    raise error
            self._flush(force=False)

    # -- the listing ---------------------------------------------------------

    def _list_repos(self) -> bool:
        """Walk the listing, committing each page; True when it was read to the end."""
        first = f"{self.api}/users/{self.user}/repos"
        params: dict[str, Any] | None = {"per_page": 100, "type": "owner", "sort": "pushed"}
        url: str | None = first
        # Page URLs GitHub gave us last time are asked for at once (conditionally);
        # a page whose Link changed is followed one by one as usual.
        prefetched = {
            cache_key(later): self.pool.submit(self._get_listing, later, None)
            for later in self._cached_chain(cache_key(first, params))
        }
        while url:
            future = prefetched.pop(cache_key(url, params), None)
            reply = future.result() if future else self._get_listing(url, params)
            self._check(reply, f"listing the repositories of '{self.user}'")
            page = reply.json()
            if not isinstance(page, list):
                raise SourceError(SOURCE, "the repository listing is not a list; is api_url right?")
            public = [r for r in (_public_repo(item) for item in page) if r is not None]
            self.listed.update(r.full_name for r in public)
            repos = [r for r in public if self._wanted(r)]
            # A 304 page holds exactly what its first answer stored: only repos
            # not stored yet (e.g. a changed include list) need writing.
            fresh = [r for r in repos if r.full_name not in self.known]
            if not reply.not_modified or fresh:
                with self.run.store.transaction() as conn:
                    save_repos(
                        conn,
                        repos if not reply.not_modified else fresh,
                        self.known,
                        self.now.date(),
                    )
                    self.client.cache.flush(conn, [reply.key])
            for repo in repos:
                self.kept[repo.full_name] = repo
                if self._needs_details(repo):
                    self.need.append(repo.full_name)
                    self._ask_details(repo.full_name)
                else:
                    self.done += 1
            self._drain(block=False)
            self._progress()
            # Never build page URLs ourselves: follow the Link header.
            url, params = parse_link_next(reply.headers.get("link")), None
        return True

    def _get_listing(self, url: str, params: dict[str, Any] | None) -> Reply:
        return self.client.get(url, params=params, keep=public_rows)

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

    def _wanted(self, repo: Repo) -> bool:
        """The config's switches and the one include/exclude matcher."""
        if repo.is_fork and not self.cfg.forks:
            return False
        if repo.is_archived and not self.cfg.archived:
            return False
        return self.cfg.wants(repo.full_name)

    def _needs_details(self, repo: Repo) -> bool:
        """Never fetched, pending, or pushed since the push its stored details answer.

        The listing's ``pushed_at`` is compared with the stored one, never
        with a local clock: a push stamped before the last fetch still counts.
        """
        known = self.known.get(repo.full_name)
        if known is None or known.status in (None, "pending"):
            return True
        return known.details_pushed_at is None or repo.pushed_at != known.details_pushed_at

    def _ask_details(self, full_name: str) -> None:
        """Route one repository to GraphQL (with a token, while it answers) or REST."""
        node = self.nodes.pop(full_name, None)
        if node is not None:
            self._graphql_repo(node)
            return
        if not self.with_token or self.graphql_state in ("done", "failed"):
            self._submit_details(full_name)
            return
        self.waiting.add(full_name)
        if self.graphql_state == "idle":
            self.graphql_state = "running"
            self._submit_graphql_page(None)

    def _forget_missing(self) -> None:
        """Remove repositories a complete listing no longer shows (deleted, made private)."""
        gone = [name for name in self.known if name not in self.listed]
        if not gone:
            return
        with self.run.store.transaction() as conn:
            forget_repos(conn, SOURCE, gone, self.api)

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
                reset = _reset_of(reply, body)
                self.client.limits.note("graphql", 0, None, reset)
                wait = None if reset is None else max(reset - self.run.options.clock(), 0.0)
                raise RateLimitStop(SOURCE, wait, "GraphQL rate limit reached", "graphql")
        return body.get("data"), errors

    def _submit_graphql_page(self, after: str | None) -> None:
        self._submit("graphql", after or "", self._graphql_page, after)

    def _graphql_page(self, after: str | None) -> GraphqlPage:
        """One page of languages and yearly commit totals (a worker thread: HTTP only)."""
        since = (self.now - timedelta(days=365)).replace(microsecond=0).isoformat() + "Z"
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
            raise _GraphqlUnusable(_first_message(errors))
        page = repositories.get("pageInfo") or {}
        following = page.get("endCursor") if page.get("hasNextPage") else None
        nodes = [n for n in repositories.get("nodes") or [] if isinstance(n, dict)]
        return GraphqlPage(nodes, following, errors)

    def _graphql_done(self, future: Future[GraphqlPage], quiet: bool) -> None:
        """A GraphQL page came back: answer the repositories waiting for it."""
        error = future.exception()
        if error is not None:
            if quiet or isinstance(error, KeyboardInterrupt | AuthError):
                if not quiet:
                    raise error
                return
            self.graphql_state = "failed"
            if isinstance(error, RateLimitStop):
                reason = str(error).removeprefix(f"{SOURCE}: ")
                self.run.warn(
                    f"{reason}; REST answers for the {len(self.waiting)} repositories left "
                    "(a separate budget)"
                )
            elif isinstance(error, _GraphqlUnusable):
                # The REST listing already proved the account exists (an organization
                # is not a GraphQL `user`): fall back to REST rather than fail.
                self.run.warn(f"GraphQL failed ({error}); using REST instead")
            else:
                raise error
            self._rest_for_waiting()
            return
        page = future.result()
        if page.errors:
            self.run.warn(f"GraphQL answered with errors ({_first_message(page.errors)})")
        for node in page.nodes:
            name = node.get("nameWithOwner")
            if name in self.waiting:
                self._graphql_repo(node)
            elif isinstance(name, str) and name not in self.kept:
                self.nodes[name] = node  # the listing has not shown it yet
        if page.next_cursor and (self.waiting or not self.complete):
            self._submit_graphql_page(page.next_cursor)
        else:
            self.graphql_state = "done"
            self._rest_for_waiting()

    def _finish_graphql(self) -> None:
        """After the listing: wait for GraphQL, then REST for whatever it left unanswered."""
        while self.graphql_state == "running" and any(
            kind == "graphql" for kind, _ in self.futures.values()
        ):
            wait(list(self.futures), return_when=FIRST_COMPLETED)
            self._collect(block=False, quiet=False)
        if self.graphql_state == "running":
            self.graphql_state = "done"
        self._rest_for_waiting()

    def _rest_for_waiting(self) -> None:
        for full_name in sorted(self.waiting):  # not (or not usably) in GraphQL's answer
            self._submit_details(full_name)
        self.waiting.clear()

    def _graphql_repo(self, node: dict[str, Any]) -> None:
        full_name = node.get("nameWithOwner")
        if not isinstance(full_name, str):
            return
        self.waiting.discard(full_name)
        if node.get("isPrivate") is not False:
            self._submit_details(full_name)  # GraphQL's word alone is not trusted: ask REST
            return
        languages = {
            e["node"]["name"]: int(e.get("size") or 0)
            for e in (node.get("languages") or {}).get("edges") or []
            if isinstance(e, dict) and isinstance(e.get("node"), dict)
        }
        branch = node.get("defaultBranchRef") or {}
        target = branch.get("target") if isinstance(branch, dict) else None
        history = (target or {}).get("history") if isinstance(target, dict) else None
        pushed = self.kept[full_name].pushed_at if full_name in self.kept else None
        if not branch or not target:
            self.finished.append(
                Details(full_name, "empty", weeks=[], languages=languages, pushed_at=pushed)
            )
        elif isinstance(history, dict) and history.get("totalCount") == 0:
            # No commit in the year: the weekly statistics would be all zeros.
            self.finished.append(
                Details(full_name, "ok", weeks=[], languages=languages, pushed_at=pushed)
            )
        else:
            self._submit_details(full_name, languages)

    def _calendar(self) -> None:
        """Queue the contribution calendar, if due (stored when it comes back)."""
        cursor = self.run.cursor()
        last = parse_time(cursor.get("calendar_at"))
        if last is not None and self.now - last < CALENDAR_EVERY:
            return
        start = (self.now - timedelta(days=364)).replace(microsecond=0).isoformat() + "Z"
        end = self.now.replace(microsecond=0).isoformat() + "Z"
        variables = {"login": self.user, "from": start, "to": end}
        self._submit("calendar", "", self._graphql, CALENDAR_QUERY, variables)

    def _calendar_done(self, future: Future[tuple[Any, list[Any]]], quiet: bool) -> None:
        error = future.exception()
        if error is not None:
            if isinstance(error, KeyboardInterrupt | AuthError) and not quiet:
                raise error
            if quiet:
                return
            if not isinstance(error, GreenhouseError | RateLimitStop):
                raise error
            data: Any = None
            errors: list[Any] = [{"message": str(error).removeprefix(f"{SOURCE}: ")}]
        else:
            data, errors = future.result()
        try:
            weeks = data["user"]["contributionsCollection"]["contributionCalendar"]["weeks"]
        except (KeyError, TypeError):
            self.run.warn(f"contribution calendar unavailable ({_first_message(errors)})")
            return
        days = [
            (date.fromisoformat(day["date"]), int(day["contributionCount"]))
            for week in weeks or []
            for day in week.get("contributionDays") or []
        ]
        cursor = self.run.cursor()
        with self.run.store.transaction() as conn:
            store_github.save_calendar(conn, days)
            cursor["calendar_at"] = self.now.isoformat()
            self.run.save_cursor(conn, cursor)

    # -- content files' repositories -------------------------------------------

    def _look_up_content_repos(self) -> None:
        """Ask about repositories content files name that the listing did not show."""
        listed = {name.lower() for name in self.listed}
        for full_name in content_repos(self.run.root):
            if full_name.lower() not in listed:
                self._submit("lookup", full_name, self._look_up, full_name)

    def _look_up(self, full_name: str) -> Lookup | None:
        """Renamed (GitHub's 301 leads elsewhere), missing, or outside the owner's listing."""
        reply = self.client.get(f"{self.api}/repos/{full_name}", conditional=False)
        if reply.status in (404, 451):
            return Lookup(full_name, "missing")
        if reply.status != 200:
            raise SourceError(SOURCE, f"HTTP {reply.status} while looking up {full_name}")
        body = reply.json() if reply.text else None
        found = body.get("full_name") if isinstance(body, dict) else None
        if isinstance(body, dict) and _public_repo(body) is None:
            return Lookup(full_name, "missing")  # private: as good as missing for the garden
        if isinstance(found, str) and found.lower() != full_name.lower():
            return Lookup(full_name, "renamed", found)
        return Lookup(full_name, "elsewhere")

    def _save_lookups(self) -> None:
        if not self.complete:
            return
        with self.run.store.transaction() as conn:
            store_github.save_lookups(conn, self.lookups, self.looked_up, self.now)
        for lookup in self.lookups:
            if lookup.status == "renamed":
                self.run.warn(
                    f"{lookup.full_name} was renamed to {lookup.target} on GitHub; "
                    "update the content file's repo"
                )
            elif lookup.status == "missing":
                self.run.warn(f"{lookup.full_name}, named by a content file, was not found")

    # -- per repository (worker threads: HTTP only, no database) --------------

    def _fetch_details(self, full_name: str, languages: dict[str, int] | None) -> Details:
        repo = self.kept.get(full_name)
        details = Details(
            full_name, languages=languages, pushed_at=repo.pushed_at if repo else None
        )
        unchanged = self._commit_activity(details)
        if unchanged and self._push_may_be_missing(full_name):
            details.pushed_at = None  # statistics may predate the push: ask again next sync
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

    def _push_may_be_missing(self, full_name: str) -> bool:
        """A recent push to a repository whose statistics came back unchanged."""
        known = self.known.get(full_name)
        repo = self.kept.get(full_name)
        if known is None or repo is None or repo.pushed_at is None:
            return False
        return known.details_pushed_at != repo.pushed_at and (
            self.now - repo.pushed_at < STATS_SETTLE
        )

    def _commit_activity(self, details: Details) -> bool:
        """Fill the weekly statistics; True when they came back unchanged (304)."""
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
                return False
            if reply.status != 200:
                raise SourceError(
                    SOURCE, f"HTTP {reply.status} for the commit activity of {details.full_name}"
                )
            details.weeks = _weeks(reply.json())
            details.cache_keys.append(reply.key)
            return reply.not_modified
        details.status = "pending"
        return False

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
            store_github.save_details(conn, batch, set(self.known), self.now)
            self.client.cache.flush(conn, [k for d in batch for k in d.cache_keys])
        self.flushed_at = time.monotonic()
        for details in batch:
            if details.status == "pending":
                self.pending.add(details.full_name)
        self.done += len(batch)
        self._progress()


class _GraphqlUnusable(Exception):
    """GraphQL answered without the repositories (an organization, an outage)."""


def _public_repo(item: Any) -> Repo | None:
    """The repository if it is public (every signal checked, none trusted alone), else None."""
    if not isinstance(item, dict) or not item.get("full_name"):
        return None
    if item.get("private") is not False or item.get("visibility", "public") != "public":
        return None
    name = str(item.get("name") or item["full_name"].split("/")[-1])
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
        source=SOURCE,
    )


def public_rows(text: str) -> str:
    """What of a listing page may be cached: the public repositories, the fields the sync reads.

    A token can see private repositories; their names and descriptions must
    never reach the DuckDB file, which CI caches for months.
    """
    try:
        page = json.loads(text)
    except ValueError:
        return "[]"
    if not isinstance(page, list):
        return "[]"
    kept = [
        {key: item.get(key) for key in LISTING_FIELDS if key in item}
        for item in page
        if _public_repo(item) is not None
    ]
    for item in kept:
        licence = item.get("license")
        if isinstance(licence, dict):
            item["license"] = {k: licence.get(k) for k in ("spdx_id", "name")}
    return json.dumps(kept, separators=(",", ":"))


def content_repos(root: Path | None) -> list[str]:
    """The ``owner/name`` repositories the site's content files name (none if unreadable)."""
    if root is None:
        return []
    from greenhouse.content import load_content

    try:
        content = load_content(Path(root))
    except GreenhouseError:
        return []  # `check` reports broken content; the sync carries on without it
    return sorted({p.meta.repo for p in content.projects if p.meta.repo})


def _reset_of(reply: Reply, body: dict[str, Any]) -> float | None:
    """When the GraphQL budget resets: the header, else ``rateLimit.resetAt``, else unknown."""
    try:
        return float(reply.headers["x-ratelimit-reset"])
    except (KeyError, ValueError):
        pass
    rate = ((body.get("data") or {}) if isinstance(body.get("data"), dict) else {}).get("rateLimit")
    moment = parse_time((rate or {}).get("resetAt")) if isinstance(rate, dict) else None
    return moment.replace(tzinfo=UTC).timestamp() if moment else None


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


def _first_message(errors: list[Any]) -> str:
    for error in errors:
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:200]
    return "no data in the answer"
