"""A polite HTTP client shared by every source.

One concept: talk to an upstream the way its operators ask to be talked to.

- a ``User-Agent`` on every request, redirects followed, a bounded number of
  requests in flight (a semaphore shared by every thread of a source);
- conditional requests: the ``ETag`` / ``Last-Modified`` of every cached URL
  is sent back, and a ``304`` reuses the body stored beside it in
  ``http_cache`` (a 304 costs GitHub no primary rate limit);
- 5xx answers and timeouts are retried with capped exponential backoff and
  jitter; rate limits (``retry-after``, ``x-ratelimit-remaining: 0`` +
  ``x-ratelimit-reset``, GitHub's secondary limit) are waited out when the
  wait is short and otherwise stop the source with :class:`RateLimitStop`, so
  the caller keeps what it already stored;
- secrets never leave: :class:`Scrubber` blanks them out of every message, and
  cache keys drop secret query parameters (``api_key``, ``appid``).

Sleeping and the clock are injectable (:class:`HttpOptions`) so tests run in
milliseconds. Nothing here touches the database: the cache is loaded before a
source runs and its new entries are flushed by the source inside its own
checkpoint transactions, from the thread that owns the connection.
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
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import duckdb
import httpx

from greenhouse import __version__
from greenhouse.errors import SourceError

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
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    user_agent: str = USER_AGENT


@dataclass(frozen=True)
class RateLimitHeaders:
    """Where an upstream states its rate limit: the header names differ by API.

    GitHub (the default): ``x-ratelimit-remaining`` and ``x-ratelimit-reset``
    (Unix seconds). GitLab: ``ratelimit-remaining`` and ``ratelimit-reset``.
    ListenBrainz: ``x-ratelimit-remaining`` and ``x-ratelimit-reset-in``
    (seconds from now). ``Retry-After`` is obeyed whatever the dialect.
    """

    remaining: str = "x-ratelimit-remaining"
    #: The moment the window resets, in Unix seconds.
    reset: str | None = "x-ratelimit-reset"
    #: The seconds until the window resets (used when *reset* is absent).
    reset_in: str | None = None

    def reset_at(self, headers: httpx.Headers, now: float) -> float | None:
        """When the window resets (Unix seconds), from whichever header the upstream sent."""
        at = _float(headers.get(self.reset)) if self.reset else None
        if at is None and self.reset_in:
            seconds = _float(headers.get(self.reset_in))
            at = now + seconds if seconds is not None else None
        return at


GITHUB_LIMITS = RateLimitHeaders()


class RateLimitStop(Exception):
    """The upstream asks us to wait longer than we are willing to: stop the source."""

    def __init__(self, source: str, wait: float, reason: str):
        self.source = source
        self.wait = wait
        self.reason = reason
        super().__init__(f"{source}: {reason}; it resets in {_duration(wait)}")


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


def cache_key(url: str, params: Mapping[str, Any] | None = None) -> str:
    """The URL with its query sorted and secret parameters dropped."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(k, str(v)) for k, v in (params or {}).items() if v is not None]
    query = sorted((k, v) for k, v in query if k.lower() not in SECRET_PARAMS)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


@dataclass
class CachedBody:
    """What ``http_cache`` holds for one URL."""

    etag: str | None
    last_modified: str | None
    body: str
    #: The ``Link`` header of the cached answer: a 304 need not repeat it.
    link: str | None = None


class HttpCache:
    """An in-memory view of ``http_cache`` with a queue of new entries.

    Worker threads read and record; the thread owning the DuckDB connection
    flushes the queue inside the transaction that stores the parsed data, so a
    validator is never saved without the rows derived from its body.
    """

    def __init__(self, entries: dict[str, CachedBody] | None = None):
        self._entries = entries or {}
        self._pending: dict[str, CachedBody] = {}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, conn: duckdb.DuckDBPyConnection, prefix: str) -> HttpCache:
        """Load the cached entries whose URL starts with *prefix*."""
        rows = conn.execute(
            "SELECT url, etag, last_modified, body, link FROM http_cache WHERE starts_with(url, ?)",
            [prefix],
        ).fetchall()
        return cls({r[0]: CachedBody(r[1], r[2], r[3] or "", r[4]) for r in rows})

    def get(self, key: str) -> CachedBody | None:
        with self._lock:
            return self._pending.get(key) or self._entries.get(key)

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
        rows = [(k, e.etag, e.last_modified, e.body, now, e.link) for k, e in entries]
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


@dataclass
class Counters:
    """What a source's client has done, for progress and the summary line."""

    requests: int = 0
    not_modified: int = 0
    retries: int = 0
    rate_limit_remaining: int | None = None
    rate_limit_reset: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


@dataclass
class Reply:
    """A finished exchange: the final status, headers and body text."""

    status: int
    headers: httpx.Headers
    text: str
    key: str
    not_modified: bool = False

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
        limits: RateLimitHeaders | None = None,
    ):
        self.source = source
        self.limits = limits or GITHUB_LIMITS
        self.options = options or HttpOptions()
        self.cache = cache or HttpCache()
        self.max_rate_limit_wait = max_rate_limit_wait
        self.scrub = scrub or Scrubber()
        self.counters = Counters()
        self._slots = threading.BoundedSemaphore(concurrency)
        self._client = httpx.Client(
            headers={"User-Agent": self.options.user_agent, **(headers or {})},
            timeout=self.options.timeout,
            follow_redirects=True,
            verify=_ssl_context(),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sleep(self, seconds: float) -> None:
        """Sleep through the injectable sleep (so tests stay fast)."""
        if seconds > 0:
            self.options.sleep(seconds)

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
    ) -> Reply:
        """GET *url*; with *conditional*, send validators and reuse the cached body on 304."""
        return self.request("GET", url, params=params, headers=headers, conditional=conditional)

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
    ) -> Reply:
        """Send one request, retrying and waiting as the upstream asks; return the final reply."""
        key = cache_key(url, params)
        cached = self.cache.get(key) if conditional else None
        send_headers = dict(headers or {})
        if cached is not None:
            if cached.etag:
                send_headers["If-None-Match"] = cached.etag
            if cached.last_modified:
                send_headers["If-Modified-Since"] = cached.last_modified
        failures = 0
        waits = 0
        while True:
            self._respect_known_limit()
            try:
                with self._slots:
                    self._count(requests=1)
                    response = self._client.request(
                        method, url, params=params, headers=send_headers, json=json_body, data=data
                    )
                    text = response.text
            except httpx.TransportError as exc:
                # Timeouts, refused and reset connections: the network's fault, retry.
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
            self._note_limits(response.headers)
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
            wait = self._rate_limit_wait(status, response.headers, text, waits)
            if wait is not None:
                waits += 1
                if wait > self.max_rate_limit_wait or waits > self.options.rate_limit_retries:
                    raise RateLimitStop(self.source, wait, "rate limit reached")
                self.sleep(wait)
                continue
            if status == 304 and cached is not None:
                self._count(not_modified=1)
                replayed = httpx.Headers(response.headers)
                if cached.link and "link" not in replayed:
                    replayed["link"] = cached.link
                return Reply(200, replayed, cached.body, key, not_modified=True)
            if conditional and status == 200 and method == "GET":
                etag = response.headers.get("etag")
                modified = response.headers.get("last-modified")
                if etag or modified:
                    link = response.headers.get("link")
                    self.cache.put(key, CachedBody(etag, modified, text, link))
            return Reply(status, response.headers, text, key)

    def _where(self, key: str) -> str:
        return self.scrub(urlsplit(key).path or key)

    def _count(self, requests: int = 0, retries: int = 0, not_modified: int = 0) -> None:
        with self.counters.lock:
            self.counters.requests += requests
            self.counters.retries += retries
            self.counters.not_modified += not_modified

    def _note_limits(self, headers: httpx.Headers) -> None:
        remaining = _int(headers.get(self.limits.remaining))
        if remaining is None:
            return
        with self.counters.lock:
            self.counters.rate_limit_remaining = remaining
            self.counters.rate_limit_reset = self.limits.reset_at(headers, self.options.clock())

    def _respect_known_limit(self) -> None:
        """Don't send a request we already know will be refused."""
        with self.counters.lock:
            remaining = self.counters.rate_limit_remaining
            reset = self.counters.rate_limit_reset
        if remaining != 0 or reset is None:
            return
        wait = reset - self.options.clock() + 1
        if wait <= 0:
            return
        if wait > self.max_rate_limit_wait:
            raise RateLimitStop(self.source, wait, "rate limit used up")
        self.sleep(wait)
        with self.counters.lock:
            if self.counters.rate_limit_reset == reset:
                self.counters.rate_limit_remaining = None

    def _rate_limit_wait(
        self, status: int, headers: httpx.Headers, text: str, waits: int
    ) -> float | None:
        """Seconds to wait when *status* is a rate-limit refusal, else None."""
        if status not in (403, 429):
            return None
        retry_after = _float(headers.get("retry-after"))
        if retry_after is not None:
            return max(retry_after, 0.0)
        if headers.get(self.limits.remaining) == "0":
            reset = self.limits.reset_at(headers, self.options.clock())
            if reset is not None:
                return max(reset - self.options.clock() + 1, 0.0)
        if status == 429 or "rate limit" in text.lower():
            # GitHub's advice for a secondary limit without retry-after: wait at
            # least a minute, then back off exponentially.
            return min(60.0 * (2**waits), 15 * 60.0)
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
