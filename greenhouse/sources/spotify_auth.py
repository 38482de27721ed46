"""``greenhouse auth spotify``: a refresh token through a browser sign-in on localhost.

The authorization-code flow with a loopback redirect: a one-shot HTTP server
listens on ``127.0.0.1`` (an ephemeral port unless one is given), the browser
goes to ``{accounts_url}/authorize``, Spotify sends it back to
``http://127.0.0.1:PORT/callback?code=…&state=…``, and the code is exchanged
at ``POST {accounts_url}/api/token`` for an access token and the refresh token
the nightly build needs. The client secret only ever travels in the Basic
authorization header; it is never printed or written.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx

from greenhouse.errors import AuthError, SourceError

SCOPES = ("user-read-recently-played", "user-top-read")
CALLBACK_PATH = "/callback"
SOURCE = "spotify"


@dataclass(frozen=True)
class Grant:
    """What the token endpoint gave: the refresh token is the one to keep."""

    refresh_token: str
    access_token: str
    scope: str
    expires_in: int


@dataclass(frozen=True)
class Callback:
    """The query of the redirect back to the loopback server."""

    code: str | None
    state: str | None
    error: str | None


def authorize_url(accounts_url: str, client_id: str, redirect_uri: str, state: str) -> str:
    """The sign-in page to open in the browser."""
    query = urlencode(
        {
            "client_id": client_id,
            "response_type": "code",
            "redirect_uri": redirect_uri,
            "scope": " ".join(SCOPES),
            "state": state,
        },
        quote_via=quote,  # %20 between scopes, as Spotify documents it
    )
    return f"{accounts_url.rstrip('/')}/authorize?{query}"


def check_callback(callback: Callback, state: str) -> str:
    """The authorization code, or an AuthError saying plainly what went wrong."""
    if callback.error == "access_denied":
        raise AuthError(SOURCE, "sign-in was cancelled (access_denied); run the command again")
    if callback.error:
        raise AuthError(SOURCE, f"sign-in failed: {callback.error}")
    if not callback.state or not secrets.compare_digest(callback.state, state):
        # Someone else's redirect (or a stale tab) must never be exchanged for a token.
        raise AuthError(SOURCE, "the sign-in answer's state does not match; run the command again")
    if not callback.code:
        raise AuthError(SOURCE, "the sign-in answer carries no code; run the command again")
    return callback.code


def exchange_code(
    accounts_url: str,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
    client: httpx.Client | None = None,
) -> Grant:
    """Trade the authorization code for tokens at ``{accounts_url}/api/token``."""
    url = f"{accounts_url.rstrip('/')}/api/token"
    own = client is None
    http = client or httpx.Client(timeout=30)
    try:
        answer = http.post(
            url,
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
            auth=(client_id, client_secret),
        )
    except httpx.HTTPError as exc:
        raise SourceError(SOURCE, f"cannot reach {url}: {type(exc).__name__}") from None
    finally:
        if own:
            http.close()
    body = _json(answer)
    if answer.status_code != 200:
        error = str(body.get("error") or f"HTTP {answer.status_code}")
        detail = body.get("error_description")
        message = f"{error}: {detail}" if detail else error
        if error == "invalid_client":
            raise AuthError(
                SOURCE,
                f"the token endpoint refused the client ({message}); "
                "check SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET",
            )
        if error == "invalid_grant":
            raise AuthError(
                SOURCE,
                f"the code was refused ({message}); it is single-use and short-lived, "
                "so run the command again",
            )
        raise SourceError(SOURCE, f"token endpoint answered {answer.status_code}: {message}")
    refresh = body.get("refresh_token")
    if not isinstance(refresh, str) or not refresh:
        raise SourceError(SOURCE, "the token endpoint answered without a refresh_token")
    return Grant(
        refresh_token=refresh,
        access_token=str(body.get("access_token") or ""),
        scope=str(body.get("scope") or ""),
        expires_in=int(body.get("expires_in") or 0),
    )


def _json(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class _CallbackServer(HTTPServer):
    callback: Callback | None = None


class _CallbackHandler(BaseHTTPRequestHandler):
    server: _CallbackServer

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != CALLBACK_PATH:  # e.g. the browser's /favicon.ico
            self.send_error(404)
            return
        query = parse_qs(parts.query)

        def first(key: str) -> str | None:
            values = query.get(key)
            return values[0] if values else None

        self.server.callback = Callback(first("code"), first("state"), first("error"))
        ok = self.server.callback.code is not None
        page = (
            "<!doctype html><title>greenhouse</title><h1>Signed in</h1>"
            "<p>You can close this tab and go back to the terminal.</p>"
            if ok
            else "<!doctype html><title>greenhouse</title><h1>Sign-in failed</h1>"
            "<p>See the terminal.</p>"
        ).encode()
        self.send_response(200 if ok else 400)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the URL carries the code, and the terminal is for the user."""


def sign_in(
    accounts_url: str,
    client_id: str | None,
    client_secret: str | None,
    show_url: Callable[[str], None],
    *,
    port: int = 0,
    timeout: float = 300.0,
) -> Grant:
    """Run the whole flow and return the grant; *show_url* opens or prints the sign-in page."""
    if not client_id or not client_secret:
        missing = [
            name
            for name, value in (
                ("SPOTIFY_CLIENT_ID", client_id),
                ("SPOTIFY_CLIENT_SECRET", client_secret),
            )
            if not value
        ]
        raise AuthError(
            SOURCE,
            f"{' and '.join(missing)} not set; create an app at "
            "https://developer.spotify.com/dashboard, add the redirect URI "
            "http://127.0.0.1:PORT/callback shown here, and export both",
        )
    try:
        server = _CallbackServer(("127.0.0.1", port), _CallbackHandler)
    except OSError as exc:
        raise AuthError(SOURCE, f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
    with server:
        redirect_uri = f"http://127.0.0.1:{server.server_address[1]}{CALLBACK_PATH}"
        state = secrets.token_urlsafe(24)
        callback = _wait_for_callback(
            server,
            lambda: show_url(authorize_url(accounts_url, client_id, redirect_uri, state)),
            timeout,
        )
    code = check_callback(callback, state)
    return exchange_code(accounts_url, client_id, client_secret, code, redirect_uri)


def _wait_for_callback(
    server: _CallbackServer, ready: Callable[[], None], timeout: float
) -> Callback:
    """Serve until the callback arrives (other paths, like favicons, are answered 404)."""
    done = threading.Event()

    def serve() -> None:
        server.timeout = 0.2
        while not done.is_set() and server.callback is None:
            server.handle_request()
        done.set()

    thread = threading.Thread(target=serve, name="spotify-callback", daemon=True)
    thread.start()
    ready()
    finished = done.wait(timeout)
    done.set()
    thread.join(2)
    if not finished or server.callback is None:
        raise AuthError(SOURCE, f"no sign-in within {timeout:g} s; run the command again")
    return server.callback
