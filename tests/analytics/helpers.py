"""Helpers of the analytics tests: a sidecar in a background thread, a fake export server."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from greenhouse.config import load_site
from greenhouse.sidecar import Sidecar, Tuning, start

TOKEN = "analytics-export-token-42"
VISITOR = "0123456789abcdef0123456789abcdef"


@contextmanager
def sidecar_thread(
    root: Path, token: str = TOKEN
) -> Iterator[tuple[Sidecar, asyncio.AbstractEventLoop]]:
    """A real sidecar of the site at *root* on 127.0.0.1 port 0, its loop in a thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    site = load_site(root)
    tuning = Tuning(flush_interval=0.1, open_timeout=2.0, close_timeout=1.0)
    sidecar = asyncio.run_coroutine_threadsafe(
        start(site, "127.0.0.1", 0, token=token, tuning=tuning), loop
    ).result(10)
    try:
        yield sidecar, loop
    finally:
        asyncio.run_coroutine_threadsafe(sidecar.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def event(
    seq: int, ts: str, kind: str = "view", project: str | None = "fern", **extra: Any
) -> dict[str, Any]:
    """One event in the sidecar's log format."""
    day = ts[:10].replace("-", "")
    record = {
        "id": f"{day}-{seq:010d}-main",
        "ts": ts,
        "visitor": extra.pop("visitor", VISITOR),
        "type": kind,
        "project": project,
        "action": extra.pop("action", None),
        "referrer": extra.pop("referrer", None),
        "device": extra.pop("device", "desktop"),
    }
    record.update(extra)
    return record


class FakeExport:
    """A stand-in for the sidecar's /api/events on 127.0.0.1 port 0.

    *answer* maps (after, request number) to (status, body text).
    """

    def __init__(self, answer: Callable[[str | None, int], tuple[int, str]]):
        self.answer = answer
        self.requests: list[dict[str, str | None]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                from urllib.parse import parse_qs, urlsplit

                query = parse_qs(urlsplit(self.path).query)
                after = (query.get("after") or [None])[0]
                outer.requests.append({"after": after, "auth": self.headers.get("Authorization")})
                status, body = outer.answer(after, len(outer.requests))
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeExport:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def pages(
    events: list[dict[str, Any]], size: int = 2
) -> Callable[[str | None, int], tuple[int, str]]:
    """An export answering *events* in pages of *size*, like the sidecar."""

    def answer(after: str | None, _n: int) -> tuple[int, str]:
        rest = [e for e in events if after is None or e["id"] > after]
        page = rest[:size]
        following = page[-1]["id"] if page else after
        return 200, json.dumps({"events": page, "next": following})

    return answer
