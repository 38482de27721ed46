"""ListenBrainz: public listens since the newest stored one; they feed the music mood like Last.fm's.

``GET {api_url}/1/user/{user}/listens?min_ts=<s>&count=1000`` needs no token.
With ``min_ts`` the server returns the ``count`` listens *just after* it
(oldest first, then presented newest first), so reading forward is: ask from
the newest stored ``listened_at``, store the page, move ``min_ts`` to the
page's newest listen, until the page reaches ``payload.latest_listen_ts``.
Each page is committed with the cursor; a sync reads at most
:data:`MAX_PAGES` pages, the next one continues. A first sync starts
:data:`FIRST_SYNC_DAYS` back (the mood needs the recent weeks, not a
decade of history).

``min_ts`` must be positive: ``0`` counts as "not given" and returns the
newest listens instead. Rate limits: ``X-RateLimit-Remaining`` and
``X-RateLimit-Reset-In`` (seconds); 429 when exceeded.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from greenhouse.errors import SourceError
from greenhouse.sources.http import PoliteClient, RateLimitHeaders
from greenhouse.sources.run import Outcome, SourceRun, insert_many

SOURCE = "listenbrainz"
LIMITS = RateLimitHeaders(
    remaining="x-ratelimit-remaining",
    limit="x-ratelimit-limit",
    reset="x-ratelimit-reset",
    reset_in="x-ratelimit-reset-in",
    resource=None,
)
#: The most listens ListenBrainz returns per request (``MAX_ITEMS_PER_GET``).
COUNT = 1000
#: Pages read per sync; a longer history is read over several syncs.
MAX_PAGES = 20
#: How far back a first sync starts.
FIRST_SYNC_DAYS = 365


def sync_listenbrainz(run: SourceRun) -> Outcome:
    """Store the public listens of ``[listenbrainz] user`` made since the last sync."""
    cfg = run.config.listenbrainz
    if not cfg.user:
        raise SourceError(SOURCE, "set [listenbrainz] user in greenhouse.toml")
    api = cfg.api_url.rstrip("/")
    client = run.client(api + "/", limit_headers=LIMITS)
    cursor = run.cursor()
    first = int((run.now() - timedelta(days=FIRST_SYNC_DAYS)).replace(tzinfo=UTC).timestamp())
    since = max(int(cursor.get("min_ts") or first), 1)
    url = f"{api}/1/user/{quote(cfg.user, safe='')}/listens"
    stored = pages = 0
    complete = False
    while pages < MAX_PAGES:
        payload = _page(client, url, since, cfg.user)
        pages += 1
        listens = [listen for listen in payload.get("listens") or [] if isinstance(listen, dict)]
        plays = [play for play in (_play(listen) for listen in listens) if play is not None]
        newest = max([since, *(int(p[1].replace(tzinfo=UTC).timestamp()) for p in plays)])
        latest = _int(payload.get("latest_listen_ts"))
        complete = not plays or newest >= (latest or newest)
        with run.store.transaction() as conn:
            before = _count(conn)
            insert_many(
                conn,
                "INSERT INTO plays (source, played_at, track, artist)",
                plays,
                "ON CONFLICT DO NOTHING",
            )
            stored += _count(conn) - before
            run.save_cursor(conn, {**cursor, "min_ts": newest})
        run.progress(pages, None)
        if complete or newest == since:
            complete = True
            break
        since = newest
    summary = f"listenbrainz: {stored} new listens, {run.requests} requests"
    if not complete:
        message = f"read {pages} pages of {COUNT}; the next sync continues from there"
        return Outcome("partial", summary, message)
    return Outcome("ok", summary)


def _page(client: PoliteClient, url: str, since: int, user: str) -> dict[str, Any]:
    reply = client.get(url, params={"min_ts": since, "count": COUNT}, conditional=False)
    try:
        body = reply.json()
    except ValueError:
        raise SourceError(
            SOURCE, f"HTTP {reply.status}, not JSON; is [listenbrainz] api_url right?"
        ) from None
    body = body if isinstance(body, dict) else {}
    if reply.status == 404:
        raise SourceError(
            SOURCE, f"user '{user}' not found; check [listenbrainz] user in greenhouse.toml"
        )
    if reply.status != 200:
        error = str(body.get("error") or f"HTTP {reply.status}")[:200]
        raise SourceError(SOURCE, f"HTTP {reply.status}: {error}")
    payload = body.get("payload")
    if not isinstance(payload, dict):
        raise SourceError(SOURCE, "the answer has no payload; is [listenbrainz] api_url right?")
    return payload


def _play(listen: dict[str, Any]) -> tuple[str, datetime, str | None, str | None] | None:
    """A finished listen as a ``plays`` row (a listen without a time is "playing now")."""
    when = _int(listen.get("listened_at"))
    if when is None or when <= 0:
        return None
    meta = listen.get("track_metadata") or {}
    track = meta.get("track_name") if isinstance(meta, dict) else None
    artist = meta.get("artist_name") if isinstance(meta, dict) else None
    played = datetime.fromtimestamp(when, UTC).replace(tzinfo=None)
    return (SOURCE, played, str(track) if track else None, str(artist) if artist else None)


def _count(conn: Any) -> int:
    row = conn.execute("SELECT count(*) FROM plays WHERE source = ?", [SOURCE]).fetchone()
    return int(row[0]) if row else 0


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
