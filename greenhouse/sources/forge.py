"""What every forge source shares: list the public repositories, fetch what changed, forget what left.

A forge (GitLab, Forgejo, or a plugin's) describes its API through the
:class:`Forge` protocol; :func:`sync_forge` does the rest the same way for
all of them:

1. the listing, page by page, each committed as it arrives (with its cache
   entry); a page identical to what the store holds writes nothing;
2. a repository whose "last activity" changed (or never fetched, or left
   ``partial``) has its languages and new commit ids fetched on a small
   thread pool (HTTP only); finished ones are committed in batches, the
   database touched from this thread alone;
3. when the listing was read to the end, repositories it no longer shows
   (made private, deleted, excluded) are removed with their rows.

A rate-limit stop keeps everything already committed; the next sync resumes
(the repositories whose details were fetched are no longer stale).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, Protocol

from greenhouse.errors import AuthError, SourceError
from greenhouse.sources.http import PoliteClient, Reply, StopSource
from greenhouse.sources.run import Outcome, SourceRun
from greenhouse.store.forges import (
    Commits,
    ForgeRepo,
    KnownRepo,
    forget_repos,
    known_repos,
    mark_fetched,
    recent_shas,
    save_commits,
    save_languages,
    save_repos,
)

#: How far back the first sync of a repository reads commits.
FIRST_SYNC_DAYS = 365
#: Days of stored commit ids a newest-first walk checks to know where to stop.
OVERLAP_DAYS = 7


@dataclass
class Page:
    """One page of the repository listing, already filtered to what the garden may show."""

    repos: list[ForgeRepo]
    #: The cache key of the page's answer, committed together with its rows.
    cache_key: str | None = None
    #: Repositories on this page that were left out (private, forks, excluded): how many.
    skipped: int = 0


@dataclass
class Details:
    """What the per-repository requests found (worker threads fill it; no database)."""

    key: str
    status: str = "ok"  # ok | empty | partial (a bounded walk stopped before the end)
    languages: dict[str, int] | None = None
    commits: Commits | None = None
    cache_keys: list[str] = field(default_factory=list)


class Forge(Protocol):
    """The API of one forge, as :func:`sync_forge` uses it."""

    source: str
    client: PoliteClient

    def pages(self) -> Iterator[Page]:
        """The repository listing, one page at a time, read to the end."""
        ...

    def details(self, repo: ForgeRepo, known: KnownRepo | None, stop_at: set[str]) -> Details:
        """Languages and new commit ids of *repo* (HTTP only; runs on a worker thread).

        *stop_at* holds the commit ids already stored for its last days: a
        newest-first walk can stop at the first of them.
        """
        ...


@dataclass
class ForgeSync:
    """One sync of one forge (see the module docstring)."""

    run: SourceRun
    forge: Forge
    concurrency: int = 2
    kept: dict[str, ForgeRepo] = field(default_factory=dict)
    updated: int = 0
    skipped: int = 0
    new_commits: int = 0
    failed: list[str] = field(default_factory=list)
    finished: list[Details] = field(default_factory=list)
    futures: dict[Future[Details], str] = field(default_factory=dict)

    def sync(self) -> Outcome:
        """List, fetch what changed, forget what left; a rate-limit stop keeps what was stored."""
        self.now = self.run.now()
        self.known = known_repos(self.run.store.conn, self.forge.source)
        self.flushed_at = time.monotonic()
        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix=self.forge.source)
        try:
            self._list(pool)
            self._forget_missing()
            self._collect(block=True)
        except StopSource as stop:
            self._stop()
            message = f"{stop}; kept what was fetched, the next sync resumes from there"
            return Outcome("partial", self.summary(), message)
        except BaseException:
            self._stop()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if self.failed:
            message = f"{len(self.failed)} repositories could not be fetched ({self.failed[0]})"
            return Outcome("partial", self.summary(), message)
        return Outcome("ok", self.summary())

    def summary(self) -> str:
        """The one-line summary of this sync."""
        c = self.forge.client.counters
        line = (
            f"{self.forge.source}: {len(self.kept)} repos ({self.updated} updated, "
            f"{self.new_commits} new commits), {c.requests} requests, "
            f"{c.not_modified} not modified"
        )
        left = self.forge.client.limits.remaining().get(self.forge.source)
        if left is not None:
            line += f", rate limit {left} left"
        return line

    # -- the listing ---------------------------------------------------------

    def _list(self, pool: ThreadPoolExecutor) -> None:
        for page in self.forge.pages():
            changed = [r for r in page.repos if not self._unchanged(r)]
            if changed:
                with self.run.store.transaction() as conn:
                    save_repos(conn, self.forge.source, changed, self.now.date(), self.known)
                    if page.cache_key:
                        self.forge.client.cache.flush(conn, [page.cache_key])
            self.skipped += page.skipped
            for repo in page.repos:
                self.kept[repo.key] = repo
                known = self.known.get(repo.key)
                if known is None or known.stale(repo):
                    self.updated += 1
                    future = pool.submit(
                        self.forge.details, repo, known, self._stop_at(known, repo)
                    )
                    self.futures[future] = repo.key
                if known is not None:
                    # Stars gained are counted once, even if the repo shows up on two pages.
                    self.known[repo.key] = replace(known, stars=repo.stars)
            self._collect(block=False)
            self.run.progress(len(self.kept) - len(self.futures), None)

    def _unchanged(self, repo: ForgeRepo) -> bool:
        """Whether the store already holds exactly this (then the page writes nothing)."""
        known = self.known.get(repo.key)
        if known is None or known.row is None:
            return False
        # A listing without languages (GitLab's) keeps the one learnt from /languages.
        return known.row == replace(repo, language=repo.language or known.row.language)

    def _stop_at(self, known: KnownRepo | None, repo: ForgeRepo) -> set[str]:
        if known is None or known.newest_commit_day is None:
            return set()
        since = known.newest_commit_day - timedelta(days=OVERLAP_DAYS)
        return recent_shas(self.run.store.conn, repo.key, since)

    def _forget_missing(self) -> None:
        gone = [key for key in self.known if key not in self.kept]
        if gone:
            with self.run.store.transaction() as conn:
                forget_repos(conn, self.forge.source, gone)

    # -- per repository --------------------------------------------------------

    def _collect(self, *, block: bool) -> None:
        """Commit finished per-repository work; with *block*, wait for all of it."""
        while self.futures:
            done, _ = wait(
                list(self.futures), timeout=None if block else 0, return_when=FIRST_COMPLETED
            )
            if not done:
                break
            for future in done:
                key = self.futures.pop(future)
                if future.cancelled():
                    continue
                error = future.exception()
                if error is None:
                    self.finished.append(future.result())
                elif isinstance(error, StopSource | AuthError):
                    raise error
                elif isinstance(error, SourceError):
                    reason = str(error).removeprefix(f"{self.forge.source}: ")
                    self.failed.append(self.run.scrub(f"{key}: {reason}"))
                else:
                    raise error
            self._flush(force=False)
        self._flush(force=block)

    def _stop(self) -> None:
        for future in self.futures:
            future.cancel()
        # Keep whatever finished before the stop.
        done = [f for f in self.futures if f.done() and not f.cancelled() and not f.exception()]
        self.finished.extend(f.result() for f in done)
        self.futures.clear()
        self._flush(force=True)

    def _flush(self, *, force: bool) -> None:
        """A checkpoint every few dozen repositories or half a second."""
        if not self.finished:
            return
        if not force and len(self.finished) < 32 and time.monotonic() - self.flushed_at < 0.5:
            return
        batch, self.finished = self.finished, []
        with self.run.store.transaction() as conn:
            save_languages(conn, {d.key: d.languages for d in batch if d.languages is not None})
            commits = [d.commits for d in batch if d.commits is not None]
            self.new_commits += save_commits(conn, self.forge.source, commits)
            mark_fetched(conn, [(d.key, d.status) for d in batch], self.now)
            self.forge.client.cache.flush(conn, [k for d in batch for k in d.cache_keys])
        self.flushed_at = time.monotonic()


def cache_only(client: PoliteClient, reply: Reply, kept: list[Any]) -> None:
    """Keep only *kept* (the items the garden may show) as the cached body of *reply*.

    The conditional cache stores answers in the store so that a 304 can be
    replayed; a listing read with a token may hold private repositories, and
    nothing private may be written there. Call it before the page's checkpoint.
    """
    entry = client.cache.get(reply.key)
    if entry is not None and not reply.not_modified:
        client.cache.put(reply.key, replace(entry, body=json.dumps(kept)))


def check_reply(
    reply: Reply,
    doing: str,
    *,
    source: str,
    token: str,
    scopes: str,
    user: str | None,
    api_url: str,
) -> None:
    """Raise the error a forge's listing *reply* means, unless it is a 200.

    401: the *token* (its environment variable) was rejected, with the *scopes*
    a new one needs; 404: the configured *user* is not on *api_url*.
    """
    if reply.status == 200:
        return
    if reply.status == 401:
        raise AuthError(
            source,
            f"{token} was rejected (401 Unauthorized); create a new token with {scopes}, "
            f"or unset {token} to sync public data",
        )
    if reply.status == 404:
        raise SourceError(source, f"user '{user}' not found on {api_url}; check [{source}] user")
    raise SourceError(source, f"HTTP {reply.status} while {doing}")


def sync_forge(run: SourceRun, forge: Forge, concurrency: int = 2) -> Outcome:
    """Sync one forge into the store (see the module docstring)."""
    return ForgeSync(run, forge, concurrency).sync()
