"""Spotify: recently played tracks, top items, and audio features when allowed.

The refresh-token flow: ``POST {accounts_url}/api/token`` with the client's
Basic credentials gives a one-hour access token, and sometimes a new refresh
token (a rotation, after which the old one may be refused). The newest
refresh token is kept in the store (``credentials``): ``SPOTIFY_REFRESH_TOKEN``
seeds it, and a rotated one wins over the value it replaced, so a rotation
never needs the secret updated by hand. The store then holds a credential,
like the HTTP cache's validators: keep it private.

Spotify only ever returns the last 50 plays, so history exists only because
``plays`` accumulates them; the ``after`` cursor (milliseconds) lives in
``sync_state``. ``/audio-features`` answers 403 for apps created since late
2024: plays are then stored without valence and energy, and the mood falls
back to listening rhythm.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from greenhouse.errors import AuthError, SourceError
from greenhouse.sources.http import PoliteClient
from greenhouse.sources.run import Outcome, SourceRun, parse_time
from greenhouse.store.limits import current_credential, save_rotation

SOURCE = "spotify"
TIME_RANGES = ("short_term", "medium_term", "long_term")
#: Pages of recently played read per sync (50 plays each; Spotify keeps 50).
MAX_PAGES = 4


def sync_spotify(run: SourceRun) -> Outcome:
    """Refresh the access token, then store new plays, top items and audio features."""
    s = run.secrets
    if not (s.spotify_client_id and s.spotify_client_secret and s.spotify_refresh_token):
        raise SourceError(
            SOURCE,
            "set SPOTIFY_CLIENT_ID, SPOTIFY_CLIENT_SECRET and SPOTIFY_REFRESH_TOKEN "
            "(get the refresh token with `greenhouse auth spotify`)",
        )
    cfg = run.config.spotify
    accounts = run.client(cfg.accounts_url.rstrip("/") + "/")
    api_url = cfg.api_url.rstrip("/")
    access = _access_token(run, accounts, s.spotify_client_id, s.spotify_client_secret,
                           s.spotify_refresh_token)  # fmt: skip
    api = run.client(api_url + "/", headers={"Authorization": f"Bearer {access}"})
    cursor = run.cursor()
    new_plays, track_ids = _recently_played(run, api, api_url, cursor)
    run.progress(1, 3)
    tops = _top_items(run, api, api_url)
    run.progress(2, 3)
    with_features = _audio_features(run, api, api_url, track_ids, cursor)
    run.progress(3, 3)
    summary = (
        f"spotify: {new_plays} new plays, {tops} top items"
        f"{', with audio features' if with_features else ''}, "
        f"{run.requests} requests, {run.not_modified} not modified"
    )
    return Outcome("ok", summary)


def _access_token(
    run: SourceRun, accounts: PoliteClient, client_id: str, secret: str, seed: str
) -> str:
    """A fresh access token from the newest refresh token (kept if Spotify rotates it)."""
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    run.scrub.add(basic)
    credential = current_credential(run.store, SOURCE, "refresh_token", seed)
    refresh = credential.value
    run.scrub.add(refresh)
    reply = accounts.request(
        "POST",
        f"{run.config.spotify.accounts_url.rstrip('/')}/api/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh},
        headers={"Authorization": f"Basic {basic}"},
    )
    body = _json_object(reply.json() if reply.text else None)
    error = str(body.get("error") or "")
    if error == "invalid_grant":
        raise AuthError(SOURCE, _refused(credential.rotated, credential.rotated_at,
                                         str(body.get("error_description") or "")))  # fmt: skip
    if error == "invalid_client" or reply.status == 401:
        raise AuthError(
            SOURCE,
            "SPOTIFY_CLIENT_ID / SPOTIFY_CLIENT_SECRET were rejected (invalid_client); "
            "check them in the Spotify developer dashboard",
        )
    access = body.get("access_token")
    if reply.status != 200 or not isinstance(access, str) or not access:
        raise SourceError(SOURCE, f"token refresh failed (HTTP {reply.status} {error})".strip())
    run.scrub.add(access)
    rotated = body.get("refresh_token")
    if isinstance(rotated, str) and rotated and rotated != refresh:
        run.scrub.add(rotated)
        # Kept at once, in its own transaction: the old token may already be refused.
        save_rotation(run.store, SOURCE, "refresh_token", seed, refresh, rotated, run.now())
    return access


def _refused(rotated: bool, rotated_at: datetime | None, description: str) -> str:
    """Why the refresh token was refused, as far as the store can tell."""
    said = f"invalid_grant{': ' + description if description else ''}"
    again = "sign in again with `greenhouse auth spotify` and update SPOTIFY_REFRESH_TOKEN"
    if rotated:
        when = f" on {rotated_at:%Y-%m-%d}" if rotated_at else ""
        return (
            f"the refresh token Spotify issued in a rotation{when} (kept in the store) was "
            f"refused ({said}); it was revoked or has expired: {again}"
        )
    return (
        f"SPOTIFY_REFRESH_TOKEN was refused ({said}): it has expired (six months after "
        "sign-in), was revoked, or Spotify rotated it during a sync whose store is not this "
        f"one (a lost CI cache): {again}"
    )


def _recently_played(
    run: SourceRun, api: PoliteClient, api_url: str, cursor: dict[str, Any]
) -> tuple[int, list[tuple[str, datetime]]]:
    """Store plays newer than the cursor, one page per transaction."""
    after = int(cursor.get("after") or 0)
    url: str | None = f"{api_url}/me/player/recently-played"
    params: dict[str, Any] | None = {"limit": 50, "after": after}
    stored = 0
    track_ids: list[tuple[str, datetime]] = []
    for _ in range(MAX_PAGES):
        if not url:
            break
        reply = api.get(url, params=params, conditional=False)
        _check(reply.status, "recently played")
        body = _json_object(reply.json())
        items = [i for i in body.get("items") or [] if isinstance(i, dict)]
        if not items:
            break
        newest = after
        with run.store.transaction() as conn:
            for item in items:
                played = parse_time(item.get("played_at"))
                track = item.get("track") or {}
                if played is None or not isinstance(track, dict):
                    continue
                artists = [a.get("name") for a in track.get("artists") or [] if isinstance(a, dict)]
                inserted = conn.execute(
                    "INSERT INTO plays (source, played_at, track, artist) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT DO NOTHING RETURNING 1",
                    [SOURCE, played, track.get("name"), ", ".join(a for a in artists if a) or None],
                ).fetchall()
                stored += len(inserted)
                if track.get("id"):
                    track_ids.append((str(track["id"]), played))
                newest = max(newest, int(played.replace(tzinfo=UTC).timestamp() * 1000))
            cursor["after"] = newest
            run.save_cursor(conn, cursor)
        url, params = body.get("next") or None, None
        after = newest
    return stored, track_ids


def _top_items(run: SourceRun, api: PoliteClient, api_url: str) -> int:
    """Replace the top tracks and artists of each time range (conditional requests)."""
    count = 0
    now = run.now()
    for kind in ("tracks", "artists"):
        for time_range in TIME_RANGES:
            reply = api.get(
                f"{api_url}/me/top/{kind}", params={"time_range": time_range, "limit": 20}
            )
            if reply.status == 403:
                run.warn("top items need the user-top-read scope: sign in again with "
                         "`greenhouse auth spotify`")  # fmt: skip
                return count
            _check(reply.status, f"top {kind}")
            items = [
                i for i in _json_object(reply.json()).get("items") or [] if isinstance(i, dict)
            ]
            with run.store.transaction() as conn:
                conn.execute(
                    "DELETE FROM music_top WHERE source = ? AND kind = ? AND time_range = ?",
                    [SOURCE, kind, time_range],
                )
                for rank, item in enumerate(items, start=1):
                    artists = [
                        a.get("name") for a in item.get("artists") or [] if isinstance(a, dict)
                    ]
                    genres = item.get("genres") if kind == "artists" else None
                    popularity = item.get("popularity")
                    conn.execute(
                        "INSERT INTO music_top VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            SOURCE, kind, time_range, rank, str(item.get("name") or "?"),
                            ", ".join(a for a in artists if a) or None,
                            [str(g) for g in genres] if isinstance(genres, list) else None,
                            int(popularity) if isinstance(popularity, int) else None,
                            now,
                        ],
                    )  # fmt: skip
                api.cache.flush(conn, [reply.key])
            count += len(items)
    return count


def _audio_features(
    run: SourceRun,
    api: PoliteClient,
    api_url: str,
    plays: list[tuple[str, datetime]],
    cursor: dict[str, Any],
) -> bool:
    """Valence and energy of the new plays; False when the app may not ask (403)."""
    if not plays or cursor.get("audio_features") is False:
        return False
    ids = list(dict.fromkeys(track_id for track_id, _ in plays))[:100]
    reply = api.get(f"{api_url}/audio-features", params={"ids": ",".join(ids)}, conditional=False)
    if reply.status == 403:
        run.warn(
            "audio features are not available to this Spotify app (403; apps created since "
            "late 2024); the mood falls back to listening rhythm"
        )
        with run.store.transaction() as conn:
            cursor["audio_features"] = False
            run.save_cursor(conn, cursor)
        return False
    _check(reply.status, "audio features")
    features = {
        f["id"]: f
        for f in _json_object(reply.json()).get("audio_features") or []
        if isinstance(f, dict) and f.get("id")
    }
    with run.store.transaction() as conn:
        for track_id, played in plays:
            feature = features.get(track_id)
            if feature is None:
                continue
            conn.execute(
                "UPDATE plays SET valence = ?, energy = ? WHERE source = ? AND played_at = ?",
                [_unit(feature.get("valence")), _unit(feature.get("energy")), SOURCE, played],
            )
    return True


def _check(status: int, what: str) -> None:
    if status == 200:
        return
    if status == 401:
        raise AuthError(
            SOURCE, "the access token was refused: sign in again with `greenhouse auth spotify`"
        )
    if status == 403:
        raise AuthError(
            SOURCE,
            f"not allowed to read {what} (403): sign in again with `greenhouse auth spotify` "
            "to grant the needed scopes",
        )
    raise SourceError(SOURCE, f"HTTP {status} while reading {what}")


def _unit(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _json_object(body: Any) -> dict[str, Any]:
    return body if isinstance(body, dict) else {}
