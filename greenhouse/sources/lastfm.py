"""Last.fm: scrobbles since the last sync (``user.getrecenttracks``).

Last.fm's JSON has quirks handled here: every number is a string
(``@attr.totalPages``, ``date.uts``), ``track`` is an object instead of a
list when there is one, a now-playing track has ``@attr.nowplaying`` and no
``date`` (it is not a finished play, so it is skipped), and errors are
``{"error": N, "message": …}``, sometimes with HTTP 200.

Pages are committed as they arrive, each with the cursor: the window being
read (its fixed ``to``, the next page) and, once every page was read, the new
``from``. An interrupted sync, or one that hit ``MAX_PAGES``, continues from
the next page; plays are keyed by time, so re-reading stores nothing twice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from greenhouse.errors import AuthError, SourceError
from greenhouse.sources.http import PoliteClient, RateLimitStop
from greenhouse.sources.run import Outcome, SourceRun

SOURCE = "lastfm"
#: Pages of 200 scrobbles read per sync; the rest waits for the next one.
MAX_PAGES = 25
#: Error codes Last.fm documents as temporary.
TEMPORARY = {8, 11, 16}


def sync_lastfm(run: SourceRun) -> Outcome:
    """Store the scrobbles of ``[lastfm] user`` made since the last sync."""
    cfg = run.config.lastfm
    key = run.secrets.lastfm_api_key
    if not cfg.user or not key:
        raise SourceError(SOURCE, "set [lastfm] user in greenhouse.toml and LASTFM_API_KEY")
    client = run.client(cfg.api_url)
    cursor = run.cursor()
    start = int(cursor.get("from") or 0)
    # A window too long for one sync (a first sync of years of scrobbles) is
    # read over several: its fixed end keeps the pages stable in between.
    saved = cursor.get("window")
    window: dict[str, Any] = saved if isinstance(saved, dict) else {}
    end = int(window.get("to") or run.options.clock())
    page = int(window.get("page") or 1)
    newest = max(int(window.get("newest") or 0), start)
    pages, stored, read = page, 0, 0
    complete = False
    while page <= pages and read < MAX_PAGES:
        params: dict[str, Any] = {
            "method": "user.getrecenttracks", "user": cfg.user, "api_key": key, "format": "json",
            "limit": 200, "to": end, "page": page,
        }  # fmt: skip
        if start:  # a first sync has no lower bound: send none (never an empty `from=`)
            params["from"] = start + 1
        body = _ask(client, cfg.api_url, params, cfg.user)
        recent = body.get("recenttracks") or {}
        attr = recent.get("@attr") or {}
        pages = _number(attr.get("totalPages"), 1)
        tracks = recent.get("track") or []
        if isinstance(tracks, dict):
            tracks = [tracks]
        with run.store.transaction() as conn:
            for track in tracks:
                played = _played_at(track)
                if played is None:
                    continue  # now playing: not a finished play
                newest = max(newest, int(played.replace(tzinfo=UTC).timestamp()))
                inserted = conn.execute(
                    "INSERT INTO plays (source, played_at, track, artist) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT DO NOTHING RETURNING 1",
                    [SOURCE, played, track.get("name"), _text(track.get("artist"))],
                ).fetchall()
                stored += len(inserted)
            complete = page >= pages
            if complete:
                cursor["from"] = newest
                cursor.pop("window", None)
            else:
                cursor["window"] = {"to": end, "page": page + 1, "newest": newest}
            run.save_cursor(conn, cursor)
        run.progress(page, pages)
        page += 1
        read += 1
    summary = f"lastfm: {stored} new plays, {run.requests} requests"
    if not complete:
        message = f"read up to page {page - 1} of {pages}; the next sync continues from there"
        return Outcome("partial", summary, message)
    return Outcome("ok", summary)


def _ask(client: PoliteClient, url: str, params: dict[str, Any], user: str) -> dict[str, Any]:
    """One API call, retrying Last.fm's temporary errors and rate limit a few times."""
    for attempt in range(client.options.retries + 1):
        reply = client.get(url, params=params, conditional=False)
        try:
            body = reply.json()
        except ValueError:
            raise SourceError(
                SOURCE, f"HTTP {reply.status}, not JSON; is [lastfm] api_url right?"
            ) from None
        body = body if isinstance(body, dict) else {}
        code = body.get("error")
        if code is None and reply.status == 200:
            return body
        code = _number(code, 0)
        message = str(body.get("message") or f"HTTP {reply.status}")[:200]
        if code == 6:
            # Error 6 is "invalid parameters"; only its message tells an unknown user apart.
            if "not found" in message.lower() and "user" in message.lower():
                raise SourceError(
                    SOURCE, f"user '{user}' not found; check [lastfm] user in greenhouse.toml"
                )
            raise SourceError(SOURCE, f"Last.fm refused the request (error 6: {message})")
        if code in (10, 26):
            raise AuthError(
                SOURCE, "LASTFM_API_KEY was rejected; check the key at last.fm/api/accounts"
            )
        if code == 17:
            raise SourceError(
                SOURCE,
                f"the listening history of '{user}' is private; "
                "make it public in Last.fm's privacy settings",
            )
        if code == 29 or code in TEMPORARY:
            if attempt < client.options.retries:
                client.sleep(client.backoff(attempt))
                continue
            if code == 29:
                # Last.fm tells no reset time: say none rather than invent one.
                raise RateLimitStop(
                    SOURCE, None, f"Last.fm rate limit reached after {attempt + 1} tries (error 29)"
                )
        raise SourceError(SOURCE, f"error {code or reply.status}: {message}")
    raise SourceError(SOURCE, "no answer")  # pragma: no cover - the loop always returns or raises


def _played_at(track: Any) -> datetime | None:
    if not isinstance(track, dict):
        return None
    if (track.get("@attr") or {}).get("nowplaying") == "true":
        return None
    uts = _number((track.get("date") or {}).get("uts"), 0)
    if uts <= 0:
        return None
    return datetime.fromtimestamp(uts, UTC).replace(tzinfo=None)


def _text(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("#text") or value.get("name")
    return str(value) if value else None


def _number(value: Any, default: int) -> int:
    """Last.fm sends numbers as strings."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
