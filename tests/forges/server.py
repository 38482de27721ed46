"""A small threaded HTTP server on 127.0.0.1:0 that fakes one upstream API.

Each fake (GitLab, Forgejo, ListenBrainz) is its own server, answering over
real HTTP the way its API does: pagination headers, rate-limit headers,
error bodies. Every request is logged with its query and headers, so tests
can count what a sync cost.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit


@dataclass
class Request:
    """One logged request."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int = 0


@dataclass
class Reply:
    """What a route answers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Route = Callable[[Request, re.Match[str]], Reply]


class FakeServer:
    """A fake upstream: subclasses register routes in ``__init__`` with :meth:`route`."""

    def __init__(self, prefix: str = "") -> None:
        #: Where the API lives on this host (a self-hosted instance under a path).
        self.prefix = prefix
        #: Seconds added to every answer (the benchmarks' network round trip).
        self.latency = 0.0
        self.routes: list[tuple[str, re.Pattern[str], Route]] = []
        self.log: list[Request] = []
        #: Canned replies that override everything for a path, consumed in order.
        self.queued: dict[str, list[Reply]] = {}
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._serve(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def route(self, method: str, pattern: str, handler: Route) -> None:
        """Answer requests whose path matches *pattern* (a regex, anchored) with *handler*."""
        self.routes.append((method, re.compile(f"^{pattern}$"), handler))

    def queue(self, path: str, *replies: Reply) -> None:
        """Answer the next requests to *path* with *replies*, then go back to the model."""
        self.queued.setdefault(path, []).extend(replies)

    def requests(self, part: str = "") -> list[Request]:
        """The logged requests whose path contains *part*."""
        with self.lock:
            return [r for r in self.log if part in r.path]

    def clear(self) -> None:
        with self.lock:
            self.log.clear()

    def _serve(self, http: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(http.path)
        request = Request(
            http.command,
            unquote(parts.path),
            dict(parse_qsl(parts.query, keep_blank_values=True)),
            {k.lower(): v for k, v in http.headers.items()},
        )
        with self.lock:
            self.log.append(request)
            queued = self.queued.get(request.path)
            reply = queued.pop(0) if queued else None
        if self.latency:
            time.sleep(self.latency)
        if reply is None:
            reply = self._dispatch(request)
        request.status = reply.status
        payload = b"" if reply.body is None else json.dumps(reply.body).encode()
        try:
            http.send_response(reply.status)
            for key, value in reply.headers.items():
                http.send_header(key, value)
            if payload:
                http.send_header("Content-Type", "application/json")
            http.send_header("Content-Length", str(len(payload)))
            http.end_headers()
            http.wfile.write(payload)
        except OSError:
            pass

    def _dispatch(self, request: Request) -> Reply:
        if not request.path.startswith(self.prefix):
            return Reply(404, {"message": "404 Not Found"})
        path = request.path[len(self.prefix) :]
        for method, pattern, handler in self.routes:
            found = pattern.match(path)
            if method == request.method and found:
                return handler(request, found)
        return Reply(404, {"message": "404 Not Found"})
