"""A polite HTTP client shared by every source.

One concept: talk to an upstream the way its operators ask to be talked to.

- a ``User-Agent`` on every request, redirects followed, a bounded number of
  requests in flight (a semaphore shared by every thread of a source), and
  never an empty query parameter (strict upstreams refuse them);
- conditional requests: the ``ETag`` / ``Last-Modified`` of every cached URL
  is sent back, and a ``304`` reuses the body stored beside it in
  ``http_cache`` (a 304 costs GitHub no primary rate limit). A source may
  cache less than the whole body (``keep=``): GitHub's listing pages keep
  public repositories only;
- 5xx answers and timeouts are retried with capped exponential backoff and
  jitter;
- rate limits are kept per **budget** (:class:`RateLimits`: GitHub's REST
  ``core`` and ``graphql`` are separate) and shared by every thread of a
  source: ``x-ratelimit-remaining: 0`` blocks that budget until
  ``x-ratelimit-reset``; a ``retry-after`` (a secondary limit) pauses the
  whole client, so no other worker sends inside the window. Short waits are
  waited out; longer ones stop the source with :class:`RateLimitStop`, so the
  caller keeps what it already stored. The budgets outlive the run (the
  store keeps them): a later run sends nothing to a budget still spent;
- a **time budget** per source: past its deadline no request is sent and
  :class:`OutOfTime` stops the source, so a hanging upstream costs at most
  that long;
- Ctrl-C: :attr:`HttpOptions.cancel` makes every waiting or retrying thread
  stop at once with :class:`Cancelled`;
- secrets never leave: :class:`Scrubber` blanks them out of every message, and
  cache keys drop secret query parameters (``api_key``, ``appid``).

Sleeping and the clock are injectable (:class:`HttpOptions`) so tests run in
milliseconds. Nothing here touches the database: the cache and the budgets
are loaded before a source runs, and the source flushes new cache entries
inside its own checkpoint transactions.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import re
import ssl
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import duckdb
import httpx

from greenhouse import __version__
from greenhouse.errors import SourceError
from greenhouse.store.limits import BudgetState

if TYPE_CHECKING:
    from greenhouse.store import Store

USER_AGENT = f"greenhouse/{__version__} (+https://github.com/greenhouse-garden/greenhouse)"

#: Query parameters that carry a secret; they never reach a cache key or a message.
SECRET_PARAMS = frozenset({"api_key", "appid", "access_token", "token", "key"})

RETRYABLE_STATUS = frozenset({500, 502, 503, 504})


@dataclass
class HttpOptions:
    """Knobs of the polite client; tests shorten the timeout and the sleeps."""

    timeout: float = 30.0
    #: Attempts after the first for 5xx answers and timeouts.
    retries: int = 4
    #: First backoff in seconds; doubled each attempt, capped, with jitter.
    backoff: float = 1.0
    backoff_cap: float = 30.0
    #: Rate-limit waits in a row before giving up on one request.
    rate_limit_retries: int = 4
    #: None: a real sleep that Ctrl-C (``cancel``) cuts short.
    sleep: Callable[[float], None] | None = None
    clock: Callable[[], float] = time.time
    user_agent: str = USER_AGENT
    #: Set when the user presses Ctrl-C: every client stops before its next request.
    cancel: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class RateLimitHeaders:
    """Where an upstream states its rate limit: the header names differ by API.

    GitHub (the default): ``x-ratelimit-remaining``, ``x-ratelimit-limit``,
    ``x-ratelimit-reset`` (Unix seconds) and ``x-ratelimit-resource`` (the
    budget). GitLab: ``ratelimit-remaining``, ``ratelimit-limit`` and
    ``ratelimit-reset``. ListenBrainz: ``x-ratelimit-remaining``,
    ``x-ratelimit-limit`` and ``x-ratelimit-reset-in`` (seconds from now).
    ``Retry-After`` is obeyed whatever the dialect.
    """

    remaining: str = "x-ratelimit-remaining"
    limit: str | None = "x-ratelimit-limit"
    #: The moment the window resets, in Unix seconds.
    reset: str | None = "x-ratelimit-reset"
    #: The seconds until the window resets (used when *reset* is absent).
    reset_in: str | None = None
    #: Which budget the answer speaks of (GitHub: ``core``, ``graphql``, …).
    resource: str | None = "x-ratelimit-resource"

    def reset_at(self, headers: httpx.Headers, now: float) -> float | None:
        """When the window resets (Unix seconds), from whichever header the upstream sent."""
        at = _float(headers.get(self.reset)) if self.reset else None
        if at is None and self.reset_in:
            seconds = _float(headers.get(self.reset_in))
            at = now + seconds if seconds is not None else None
        return at


GITHUB_LIMITS = RateLimitHeaders()


class StopSource(Exception):
    """The source must stop early and keep what it stored (status ``partial``)."""


class RateLimitStop(StopSource):
    """The upstream asks us to wait longer than we are willing to: stop the source."""

    def __init__(self, source: str, wait: float | None, reason: str, budget: str | None = None):
        self.source = source
        self.wait = wait
        self.reason = reason
        self.budget = budget
        when = f"; it resets in {_duration(wait)}" if wait is not None else ""
        super().__init__(f"{source}: {reason}{when}")


class OutOfTime(StopSource):
    """The source's time budget (``time_budget``) is spent."""

    def __init__(self, source: str, budget: float):
        self.source = source
        super().__init__(
            f"{source}: time budget of {_duration(budget)} spent (a slow or hanging upstream); "
            "raise time_budget in its section of greenhouse.toml if this repeats"
        )


class Cancelled(KeyboardInterrupt):
    """Ctrl-C: the run is stopping; raised in whichever thread was about to send."""


class Scrubber:
    """Blanks every known secret out of a text."""

    def __init__(self, secrets: Iterable[str] = ()):
        # Longest first, so a secret containing another is removed whole.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
        _LIVE_SCRUBBERS.add(self)

    def add(self, secret: str | None) -> None:
        """Scrub this secret too (e.g. an access token learnt during the sync)."""
        if secret and len(secret) >= 4 and secret not in self._secrets:
            self._secrets.append(secret)
            self._secrets.sort(key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


_LIVE_SCRUBBERS: weakref.WeakSet[Scrubber] = weakref.WeakSet()
_SECRET_QUERY = re.compile(r"(?i)\b(" + "|".join(sorted(SECRET_PARAMS)) + r")=[^&\s\"'>]+")


class _RedactLogs(logging.Filter):
    """httpx logs every request URL at INFO: Last.fm and OWM keys travel in the query."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = _SECRET_QUERY.sub(r"\1=***", record.getMessage())
        for scrub in list(_LIVE_SCRUBBERS):
            message = scrub(message)
        record.msg, record.args = message, ()
        return True


for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).addFilter(_RedactLogs())


def sendable(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """*params* without None or empty values: a strict upstream refuses ``from=``."""
    if params is None:
        return None
    return {k: v for k, v in params.items() if v is not None and v != ""}


def cache_key(url: str, params: Mapping[str, Any] | None = None) -> str:
    """The URL with its query sorted and secret parameters dropped."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(k, str(v)) for k, v in (sendable(params) or {}).items()]
    query = sorted((k, v) for k, v in query if k.lower() not in SECRET_PARAMS)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


@dataclass
class CachedBody:
    """What ``http_cache`` holds for one URL."""

    etag: str | None
    last_modified: str | None
    #: None until read (see :meth:`HttpCache.body`).
    body: str | None
    #: The ``Link`` header of the cached answer: a 304 need not repeat it.
    link: str | None = None


class HttpCache:
    """An in-memory view of ``http_cache`` with a queue of new entries.

    Validators are loaded up front; a body only when a 304 needs it (a warm
    sync reuses a few listing pages, not the thousands of bodies stored), by
    *load_body*, which reads the store from the calling thread.

    Worker threads read and record; the source's own thread flushes the queue
    inside the transaction that stores the parsed data, so a validator is
    never saved without the rows derived from its body.
    """

    def __init__(
        self,
        entries: dict[str, CachedBody] | None = None,
        load_body: Callable[[str], str | None] | None = None,
    ):
        self._entries = entries or {}
        self._pending: dict[str, CachedBody] = {}
        self._lock = threading.Lock()
        self._load_body = load_body

    @classmethod
    def load(
        cls, conn: duckdb.DuckDBPyConnection, prefix: str, store: Store | None = None
    ) -> HttpCache:
        """Load the validators of the cached URLs starting with *prefix*.

        With *store*, bodies are read when first needed (from the thread that
        needs them); without, they are loaded now.
        """
        body = "NULL" if store is not None else "body"
        rows = conn.execute(
            f"SELECT url, etag, last_modified, {body}, link FROM http_cache "
            "WHERE starts_with(url, ?)",
            [prefix],
        ).fetchall()
        loader = None
        if store is not None:

            def loader(url: str) -> str | None:
                row = store.one("SELECT body FROM http_cache WHERE url = ?", [url])
                return row[0] if row else None

        return cls({r[0]: CachedBody(r[1], r[2], r[3], r[4]) for r in rows}, loader)

    def get(self, key: str) -> CachedBody | None:
        with self._lock:
            return self._pending.get(key) or self._entries.get(key)

    def body(self, key: str) -> str:
        """The cached body of *key* (read from the store on first use)."""
        entry = self.get(key)
        if entry is None:
            return ""
        if entry.body is None:
            entry.body = (self._load_body(key) if self._load_body else None) or ""
        return entry.body

    def put(self, key: str, entry: CachedBody) -> None:
        with self._lock:
            self._pending[key] = entry

    def flush(self, conn: duckdb.DuckDBPyConnection, keys: Iterable[str] | None = None) -> None:
        """Write pending entries (all, or only *keys*) inside the caller's transaction."""
        with self._lock:
            chosen = (
                list(self._pending) if keys is None else [k for k in keys if k in self._pending]
            )
            entries = [(k, self._pending.pop(k)) for k in chosen]
            for key, entry in entries:
                self._entries[key] = entry
        now = datetime.now(UTC).replace(tzinfo=None)
        rows = [(k, e.etag, e.last_modified, e.body or "", now, e.link) for k, e in entries]
        if not rows:
            return
        one = "(?, ?, ?, ?, ?, ?)"
        conn.execute(
            "INSERT INTO http_cache (url, etag, last_modified, body, fetched_at, link) "
            f"VALUES {', '.join([one] * len(rows))} ON CONFLICT (url) DO UPDATE SET "
            "etag = excluded.etag, last_modified = excluded.last_modified, "
            "body = excluded.body, fetched_at = excluded.fetched_at, link = excluded.link",
            [v for row in rows for v in row],
        )


#: The budget name of a pause that stops every request of a client (a secondary limit).
PAUSE = "*"


class RateLimits:
    """A source's rate-limit budgets, shared by all its clients and threads.

    Loaded from the store before the run and saved after it, so the reset
    time of a spent budget (or the end of a secondary limit's pause) is known
    to the next run too.
    """

    def __init__(self, budgets: Iterable[BudgetState] = ()):
        self._budgets = {b.budget: b for b in budgets}
        self._lock = threading.Lock()

    def note(self, budget: str, remaining: int, limit: int | None, reset: float | None) -> None:
        """What the upstream's headers just said about *budget*.

        Answers to concurrent requests arrive in any order: within one window
        (the same reset, give or take a clock tick) the count only falls, so a
        late, higher count is an older answer and is ignored.
        """
        with self._lock:
            current = self._budgets.get(budget)
            if (
                current is not None
                and current.remaining is not None
                and remaining > current.remaining
                and current.reset is not None
                and reset is not None
                and abs(reset - current.reset) <= 5
            ):
                return
            self._budgets[budget] = BudgetState(budget, remaining, limit, reset)

    def pause(self, until: float) -> None:
        """Send nothing at all before *until* (a secondary limit's ``retry-after``)."""
        with self._lock:
            current = self._budgets.get(PAUSE)
            if current is None or (current.reset or 0) < until:
                self._budgets[PAUSE] = BudgetState(PAUSE, 0, None, until)

    def blocked(self, budget: str, now: float) -> tuple[float, str] | None:
        """``(until, reason)`` when nothing may be sent to *budget* before *until*."""
        with self._lock:
            pause = self._budgets.get(PAUSE)
            spent = self._budgets.get(budget)
        if pause is not None and pause.reset is not None and pause.reset > now:
            return pause.reset, "secondary rate limit"
        if spent is not None and spent.remaining == 0 and (spent.reset or 0) > now:
            label = {"core": "REST", "graphql": "GraphQL"}.get(budget, budget)
            return spent.reset or now, f"{label} rate limit used up"
        return None

    def reset_passed(self, budget: str, until: float) -> None:
        """After waiting until *until*, the budget is unknown again (not spent)."""
        with self._lock:
            spent = self._budgets.get(budget)
            if spent is not None and spent.reset == until and spent.remaining == 0:
                spent.remaining = None

    def remaining(self) -> dict[str, int]:
        """Remaining requests per budget the upstream told about (pauses left out)."""
        with self._lock:
            return {
                b.budget: b.remaining
                for b in self._budgets.values()
                if b.budget != PAUSE and b.remaining is not None
            }

    def states(self, now: float) -> list[BudgetState]:
        """What is worth keeping for the next run: budgets whose reset is still ahead."""
        with self._lock:
            return [
                BudgetState(b.budget, b.remaining, b.limit, b.reset)
                for b in self._budgets.values()
                if b.reset is not None and b.reset > now
            ]


@dataclass
class Counters:
    """What a source's client has done, for progress and the summary line."""

    requests: int = 0
    not_modified: int = 0
    retries: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


@dataclass
class Reply:
    """A finished exchange: the final status, headers and body text."""

    status: int
    headers: httpx.Headers
    text: str
    key: str
    not_modified: bool = False
    #: The URL that finally answered (after redirects).
    url: str = ""

    def json(self) -> Any:
        """The body as JSON; a body that is not JSON is an upstream fault."""
        try:
            return json.loads(self.text) if self.text else None
        except ValueError:
            raise ValueError(f"answer to {self.key} is not JSON") from None


class PoliteClient:
    """An ``httpx.Client`` wrapper for one source. Thread-safe."""

    def __init__(
        self,
        source: str,
        *,
        headers: Mapping[str, str] | None = None,
        options: HttpOptions | None = None,
        cache: HttpCache | None = None,
        concurrency: int = 4,
        max_rate_limit_wait: float = 60.0,
        scrub: Scrubber | None = None,
        limits: RateLimits | None = None,
        budget_of: Callable[[str], str] | None = None,
        deadline: float | None = None,
        time_budget: float | None = None,
        wait_unhinted: bool = False,
        limit_headers: RateLimitHeaders | None = None,
    ):
        self.source = source
        #: Where this upstream states its rate limit (GitHub's headers by default).
        self.limit_headers = limit_headers or GITHUB_LIMITS
        self.options = options or HttpOptions()
        self.cache = cache or HttpCache()
        self.max_rate_limit_wait = max_rate_limit_wait
        self.scrub = scrub or Scrubber()
        self.counters = Counters()
        self.limits = limits or RateLimits()
        #: Which budget a URL spends (GitHub: ``graphql`` or ``core``); default the source's.
        self.budget_of = budget_of or (lambda url: source)
        #: ``time.monotonic()`` past which nothing is sent (None: no limit).
        self.deadline = deadline
        self.time_budget = time_budget
        #: GitHub's advice for a refusal with no hint at all: wait a minute, then longer.
        self.wait_unhinted = wait_unhinted
        self._slots = threading.BoundedSemaphore(concurrency)
        self._client = httpx.Client(
            headers={"User-Agent": self.options.user_agent, **(headers or {})},
            timeout=self.options.timeout,
            follow_redirects=True,
            verify=_ssl_context(),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )

    def close(self) -> None:
        """Close the connection pool (requests in flight in other threads fail at once)."""
        self._client.close()

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sleep(self, seconds: float) -> None:
        """Sleep (injectable for tests); Ctrl-C and the time budget cut it short."""
        if seconds <= 0:
            return
        left = self._time_left()
        if left is not None and seconds > left:
            raise OutOfTime(self.source, self.time_budget or 0.0)
        if self.options.sleep is not None:
            self.options.sleep(seconds)
        else:
            self.options.cancel.wait(seconds)
        self._check_cancel()

    def backoff(self, attempt: int) -> float:
        """Capped exponential backoff with jitter for the *attempt*-th retry (0-based)."""
        ceiling = min(self.options.backoff_cap, self.options.backoff * (2**attempt))
        return ceiling * (0.5 + random.random() / 2)

    def get(
        self,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        conditional: bool = True,
        keep: Callable[[str], str] | None = None,
    ) -> Reply:
        """GET *url*; with *conditional*, send validators and reuse the cached body on 304.

        *keep* turns a body into what may be cached (e.g. public rows only).
        """
        return self.request(
            "GET", url, params=params, headers=headers, conditional=conditional, keep=keep
        )

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        data: Mapping[str, str] | None = None,
        conditional: bool = False,
        keep: Callable[[str], str] | None = None,
    ) -> Reply:
        """Send one request, retrying and waiting as the upstream asks; return the final reply."""
        params = sendable(params)
        key = cache_key(url, params)
        budget = self.budget_of(url)
        cached = self.cache.get(key) if conditional else None
        send_headers = dict(headers or {})
        if cached is not None:
            if cached.etag:
                send_headers["If-None-Match"] = cached.etag
            if cached.last_modified:
                send_headers["If-Modified-Since"] = cached.last_modified
        failures = 0
        waits = 0
        waited: set[float] = set()
        while True:
            self._respect_limits(budget, waited)
            try:
                with self._slots:
                    # Looked at again once a slot is ours: a limit may have landed meanwhile.
                    if self._limited_now(budget, waited):
                        continue
                    self._check_cancel()
                    self._count(requests=1)
                    response = self._client.request(
                        method,
                        url,
                        params=params,
                        headers=send_headers,
                        json=json_body,
                        data=data,
                        timeout=self._timeout(),
                    )
                    text = response.text
                    # Noted before the slot is given back, so no other thread sends
                    # in the window a rate limit (or a retry-after) just opened.
                    self._note_limits(response.headers, budget)
                    limited = self._rate_limited(response, text, waits)
            except (httpx.TransportError, RuntimeError) as exc:
                # Timeouts, refused and reset connections: the network's fault, retry.
                # (A client closed under us by Ctrl-C raises RuntimeError.)
                self._check_cancel()
                if isinstance(exc, RuntimeError):
                    raise
                failures += 1
                if failures > self.options.retries:
                    raise SourceError(
                        self.source,
                        f"{self._where(key)} unreachable after {failures} attempts "
                        f"({type(exc).__name__}); check the network or the api_url setting",
                    ) from None
                self._count(retries=1)
                self.sleep(self.backoff(failures - 1))
                continue
            status = response.status_code
            if status in RETRYABLE_STATUS:
                failures += 1
                if failures > self.options.retries:
                    raise SourceError(
                        self.source,
                        f"{self._where(key)} kept failing with HTTP {status} after "
                        f"{failures} attempts; the upstream is having trouble, try again later",
                    )
                self._count(retries=1)
                self.sleep(self.backoff(failures - 1))
                continue
            if limited is not None:
                if limited > 0:
                    self.sleep(limited)  # a refusal without any hint: a short backoff
                waits += 1
                if waits > self.options.rate_limit_retries:
                    blocked = self.limits.blocked(budget, self.options.clock())
                    wait = blocked[0] - self.options.clock() if blocked else None
                    raise RateLimitStop(self.source, wait, "rate limit reached", budget)
                continue
            if status == 304 and cached is not None:
                self._count(not_modified=1)
                replayed = httpx.Headers(response.headers)
                if cached.link and "link" not in replayed:
                    replayed["link"] = cached.link
                return Reply(
                    200,
                    replayed,
                    self.cache.body(key),
                    key,
                    not_modified=True,
                    url=str(response.url),
                )
            if conditional and status == 200 and method == "GET":
                etag = response.headers.get("etag")
                modified = response.headers.get("last-modified")
                if etag or modified:
                    link = response.headers.get("link")
                    body = keep(text) if keep is not None else text
                    self.cache.put(key, CachedBody(etag, modified, body, link))
            return Reply(status, response.headers, text, key, url=str(response.url))

    def _where(self, key: str) -> str:
        return self.scrub(urlsplit(key).path or key)

    def _count(self, requests: int = 0, retries: int = 0, not_modified: int = 0) -> None:
        with self.counters.lock:
            self.counters.requests += requests
            self.counters.retries += retries
            self.counters.not_modified += not_modified

    def _check_cancel(self) -> None:
        if self.options.cancel.is_set():
            raise Cancelled

    def _time_left(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def _timeout(self) -> float:
        left = self._time_left()
        if left is None:
            return self.options.timeout
        if left <= 0:
            raise OutOfTime(self.source, self.time_budget or 0.0)
        return max(min(self.options.timeout, left), 0.01)

    def _note_limits(self, headers: httpx.Headers, budget: str) -> None:
        dialect = self.limit_headers
        remaining = _int(headers.get(dialect.remaining))
        if remaining is None:
            return
        resource = (headers.get(dialect.resource) if dialect.resource else None) or budget
        self.limits.note(
            resource,
            remaining,
            _int(headers.get(dialect.limit)) if dialect.limit else None,
            dialect.reset_at(headers, self.options.clock()),
        )

    def _respect_limits(self, budget: str, waited: set[float]) -> None:
        """Don't send what we already know will be refused: wait, or stop the source.

        *waited* holds the ends this request already slept until, so an
        injected sleep that lets no time pass cannot loop for ever.
        """
        self._check_cancel()
        self._timeout()  # raises OutOfTime past the deadline
        now = self.options.clock()
        blocked = self.limits.blocked(budget, now)
        if blocked is None or blocked[0] in waited:
            return
        until, reason = blocked
        wait = until - now
        if wait > self.max_rate_limit_wait:
            raise RateLimitStop(self.source, wait, reason, budget)
        waited.add(until)
        self.sleep(wait)
        self.limits.reset_passed(budget, until)

    def _limited_now(self, budget: str, waited: set[float]) -> bool:
        blocked = self.limits.blocked(budget, self.options.clock())
        return blocked is not None and blocked[0] not in waited

    def _rate_limited(self, response: httpx.Response, text: str, waits: int) -> float | None:
        """None unless *response* is a rate-limit refusal; else the seconds to back off
        (0 when a pause or a spent budget now says how long to wait)."""
        status, headers = response.status_code, response.headers
        if status not in (403, 429):
            return None
        now = self.options.clock()
        retry_after = _float(headers.get("retry-after"))
        if retry_after is not None:
            # A secondary limit: the whole client pauses, not only this thread.
            self.limits.pause(now + max(retry_after, 0.0))
            return 0.0
        if headers.get(self.limit_headers.remaining) == "0":
            reset = self.limit_headers.reset_at(headers, now)
            if reset is not None:
                return 0.0  # _note_limits recorded the budget as spent until the reset
        if self.wait_unhinted and (status == 429 or "rate limit" in text.lower()):
            # GitHub's advice for a secondary limit without retry-after: wait at
            # least a minute, then back off exponentially.
            self.limits.pause(now + min(60.0 * (2**waits), 15 * 60.0))
            return 0.0
        if status == 429:
            # No hint at all (Last.fm, Spotify without Retry-After): back off briefly.
            return self.backoff(waits)
        return None


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One verifying TLS context per process (loading the CA bundle costs ~30 ms)."""
    return httpx.create_ssl_context()


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def parse_link_next(link: str | None) -> str | None:
    """The ``rel="next"`` URL of a ``Link`` header, if any."""
    if not link:
        return None
    for part in link.split(","):
        section = part.split(";")
        if len(section) < 2:
            continue
        url = section[0].strip().strip("<>")
        for attr in section[1:]:
            if attr.strip().replace(" ", "") in ('rel="next"', "rel=next"):
                return url
    return None
