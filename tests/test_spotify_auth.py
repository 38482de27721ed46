"""``greenhouse auth spotify`` against a real fake accounts server on 127.0.0.1.

The CLI runs in a real subprocess with --no-browser; the test reads the printed
sign-in URL and plays the browser with httpx (following the redirect back to
the CLI's loopback server).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from greenhouse.errors import AuthError
from greenhouse.sources.spotify_auth import Callback, authorize_url, check_callback

REPO = Path(__file__).resolve().parent.parent
CLIENT_ID = "client-abc"
CLIENT_SECRET = "very-secret-value"


@dataclass
class Accounts:
    """Behaviour of the fake accounts service, and what it saw."""

    url: str = ""
    authorize: str = "ok"  # ok | denied | wrong_state
    token_status: int = 200
    token_body: dict[str, Any] = field(
        default_factory=lambda: {
            "access_token": "access-1",
            "token_type": "Bearer",
            "scope": "user-read-recently-played user-top-read",
            "expires_in": 3600,
            "refresh_token": "refresh-xyz",
        }
    )
    authorize_queries: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)


def _handler(accounts: Accounts) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != "/authorize":
                self.send_error(404)
                return
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            accounts.authorize_queries.append(query)
            answer = {"code": "code-123", "state": query["state"]}
            if accounts.authorize == "denied":
                answer = {"error": "access_denied", "state": query["state"]}
            elif accounts.authorize == "wrong_state":
                answer["state"] = "forged"
            self.send_response(302)
            self.send_header("Location", f"{query['redirect_uri']}?{urlencode(answer)}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:
            if self.path != "/api/token":
                self.send_error(404)
                return
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            accounts.token_requests.append((self.headers.get("Authorization", ""), form))
            expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                status, body = (
                    401,
                    {"error": "invalid_client", "error_description": "Invalid client"},
                )
            else:
                status, body = accounts.token_status, accounts.token_body
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def accounts() -> Iterator[Accounts]:
    state = Accounts()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def _site(tmp_path: Path, accounts: Accounts) -> Path:
    (tmp_path / "greenhouse.toml").write_text(f'[spotify]\naccounts_url = "{accounts.url}"\n')
    return tmp_path


def _sign_in(
    site: Path, env: dict[str, str] | None = None, *, browse: bool = True
) -> tuple[int, str, str]:
    """Run the CLI; play the browser on the printed URL. Returns (status, stdout, stderr)."""
    full_env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "SPOTIFY_CLIENT_ID": CLIENT_ID,
        "SPOTIFY_CLIENT_SECRET": CLIENT_SECRET,
        **(env or {}),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "greenhouse", "auth", "spotify", "--no-browser", "--timeout", "30"],
        cwd=site,
        env={**full_env, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    printed = []
    try:
        if browse:
            for line in process.stdout:
                printed.append(line)
                if line.strip().startswith("http"):
                    httpx.get(line.strip(), follow_redirects=True, timeout=10)
                    break
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return process.returncode, "".join(printed) + out, err


def test_sign_in_prints_refresh_token_once(tmp_path: Path, accounts: Accounts) -> None:
    status, out, err = _sign_in(_site(tmp_path, accounts), {})
    assert status == 0, err
    assert out.count("refresh-xyz") == 1
    assert "gh secret set SPOTIFY_REFRESH_TOKEN" in out
    assert "six months" in out
    assert CLIENT_SECRET not in out + err

    (query,) = accounts.authorize_queries
    assert query["client_id"] == CLIENT_ID
    assert query["response_type"] == "code"
    assert query["scope"] == "user-read-recently-played user-top-read"
    redirect = urlsplit(query["redirect_uri"])
    assert redirect.hostname == "127.0.0.1" and redirect.path == "/callback"
    assert len(query["state"]) >= 16
    (_, form), *_ = accounts.token_requests
    assert form == {
        "grant_type": "authorization_code",
        "code": "code-123",
        "redirect_uri": query["redirect_uri"],
    }


def test_the_url_scopes_are_percent_twenty(accounts: Accounts) -> None:
    url = authorize_url(accounts.url, "id", "http://127.0.0.1:5/callback", "s")
    assert "scope=user-read-recently-played%20user-top-read" in url
    assert url.startswith(f"{accounts.url}/authorize?")


def test_missing_client_credentials(tmp_path: Path, accounts: Accounts) -> None:
    status, _, err = _sign_in(
        _site(tmp_path, accounts), {"SPOTIFY_CLIENT_SECRET": ""}, browse=False
    )
    assert status == 1
    assert "SPOTIFY_CLIENT_SECRET" in err and "Traceback" not in err
    assert not accounts.authorize_queries


def test_access_denied(tmp_path: Path, accounts: Accounts) -> None:
    accounts.authorize = "denied"
    status, out, err = _sign_in(_site(tmp_path, accounts))
    assert status == 1 and "access_denied" in err and "Traceback" not in err
    assert not accounts.token_requests


def test_state_mismatch_is_never_exchanged(tmp_path: Path, accounts: Accounts) -> None:
    accounts.authorize = "wrong_state"
    status, _, err = _sign_in(_site(tmp_path, accounts))
    assert status == 1 and "state" in err
    assert not accounts.token_requests


def test_wrong_client_secret(tmp_path: Path, accounts: Accounts) -> None:
    status, out, err = _sign_in(_site(tmp_path, accounts), {"SPOTIFY_CLIENT_SECRET": "wrong-777"})
    assert status == 1 and "invalid_client" in err and "SPOTIFY_CLIENT_SECRET" in err
    assert "wrong-777" not in out + err


def test_code_refused(tmp_path: Path, accounts: Accounts) -> None:
    accounts.token_status = 400
    accounts.token_body = {
        "error": "invalid_grant",
        "error_description": "Invalid authorization code",
    }
    status, _, err = _sign_in(_site(tmp_path, accounts))
    assert status == 1 and "invalid_grant" in err and "again" in err


def test_token_endpoint_failure(tmp_path: Path, accounts: Accounts) -> None:
    accounts.token_status = 503
    accounts.token_body = {}
    status, _, err = _sign_in(_site(tmp_path, accounts))
    assert status == 1 and "503" in err


def test_answer_without_refresh_token(tmp_path: Path, accounts: Accounts) -> None:
    accounts.token_body = {"access_token": "a", "expires_in": 3600}
    status, out, err = _sign_in(_site(tmp_path, accounts))
    assert status == 1 and "refresh_token" in err


def test_check_callback_cases() -> None:
    assert check_callback(Callback("c", "s", None), "s") == "c"
    for callback in (
        Callback(None, "s", "access_denied"),
        Callback(None, "s", "server_error"),
        Callback("c", None, None),
        Callback("c", "other", None),
        Callback(None, "s", None),
    ):
        with pytest.raises(AuthError):
            check_callback(callback, "s")
