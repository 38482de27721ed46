"""Plain HTTP on the websocket port, and the checks every request passes first.

websockets hands every request to ``process_request`` before anything else;
that is where the sidecar answers ``/healthz``, ``/metrics``,
``/api/events`` and ``POST /api/published``, and where a websocket handshake
is refused (duplicate headers, wrong method, foreign origin, a host over its
cap, the server full) with a plain HTTP status and one log line.
"""

from __future__ import annotations

import asyncio
import hmac
import http
import json
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from greenhouse.sidecar.connections import GardenConnection, peer_of
from greenhouse.sidecar.eventlog import CursorError

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection
    from websockets.http11 import Request, Response

    from greenhouse.sidecar.server import Sidecar

log = logging.getLogger("greenhouse.sidecar")

WS_PATH = "/ws/garden"
#: Headers the sidecar reads. Sent twice, each is ambiguous (which Origin was
#: checked? which address is the visitor's?), so such a request is refused.
SINGLE_HEADERS = ("Origin", "Authorization", "User-Agent", "DNT", "Sec-GPC", "X-Forwarded-For")


class Endpoints:
    """The ``process_request`` and ``process_response`` hooks of the websockets server."""

    def __init__(self, sidecar: Sidecar):
        self.sidecar = sidecar

    async def process_request(self, ws: ServerConnection, request: Request) -> Response | None:
        """Answer plain HTTP, refuse a bad handshake, or let a good one through (None)."""
        sidecar = self.sidecar
        for name in SINGLE_HEADERS:
            if len(request.headers.get_all(name)) > 1:
                sidecar.metrics.reject("duplicate_header")
                sidecar.throttle.log(
                    logging.INFO,
                    "duplicate_header",
                    "request refused: duplicate %s header",
                    name,
                )
                return self._json(
                    ws, http.HTTPStatus.BAD_REQUEST, {"error": f"duplicate {name} header"}
                )
        if isinstance(ws, GardenConnection):
            address = sidecar.proxies.client_ip(peer_of(ws), request.headers.get("X-Forwarded-For"))
            if not sidecar.admission.charge(ws, address):
                sidecar.metrics.reject("ip_cap")
                sidecar.throttle.log(
                    logging.WARNING,
                    "ip_cap_forwarded",
                    "request refused: too many connections from one forwarded address",
                )
                return self._json(
                    ws,
                    http.HTTPStatus.TOO_MANY_REQUESTS,
                    {"error": "too many connections from your address"},
                )
            ws.client_ip = address
        url = urlsplit(request.path)
        if url.path == WS_PATH:
            return self._handshake(ws, request)
        if isinstance(ws, GardenConnection):
            sidecar.admission.plain_http(ws)
        route = (request.method, url.path)
        if route == ("GET", "/healthz"):
            return self._json(ws, http.HTTPStatus.OK, sidecar.health())
        if route == ("GET", "/metrics"):
            return self._metrics(ws)
        if route == ("GET", "/api/events"):
            if not self._authorized(request):
                return self._unauthorized(ws)
            return await self._export(ws, parse_qs(url.query))
        if route == ("POST", "/api/published"):
            if not self._authorized(request):
                return self._unauthorized(ws)
            body = await sidecar.garden.published()
            return self._json(ws, http.HTTPStatus.ACCEPTED, body)
        return self._json(ws, http.HTTPStatus.NOT_FOUND, {"error": "not found"})

    async def process_response(
        self, ws: ServerConnection, request: Request, response: Response
    ) -> None:
        """Admit a visitor whose handshake succeeded, its welcome frame riding with the 101;
        count the handshakes websockets itself refused (missing upgrade headers and the like)."""
        if urlsplit(request.path).path != WS_PATH:
            return
        if response.status_code == 101:
            welcome = await self.sidecar.visits.admit(ws, request)
            if welcome is not None:
                response.body = welcome
        elif response.status_code in (400, 426):
            self.sidecar.metrics.reject("bad_handshake")

    def _handshake(self, ws: ServerConnection, request: Request) -> Response | None:
        sidecar = self.sidecar
        if request.method != "GET":
            return self._json(ws, http.HTTPStatus.METHOD_NOT_ALLOWED, {"error": "use GET"})
        if request.headers.get("Origin") not in sidecar.config.allowed_origins:
            sidecar.metrics.reject("origin")
            sidecar.throttle.log(logging.INFO, "origin", "handshake refused: origin not allowed")
            return self._json(ws, http.HTTPStatus.FORBIDDEN, {"error": "origin not allowed"})
        if isinstance(ws, GardenConnection) and not sidecar.admission.upgrade(ws):
            sidecar.metrics.reject("capacity")
            sidecar.throttle.log(
                logging.WARNING,
                "capacity",
                "handshake refused: %d websocket connections, the most this process holds",
                sidecar.admission.budget.websockets,
            )
            return self._json(
                ws, http.HTTPStatus.SERVICE_UNAVAILABLE, {"error": "too many visitors right now"}
            )
        return None

    def _metrics(self, ws: ServerConnection) -> Response:
        sidecar = self.sidecar
        redis_up = None if sidecar.bus is None else int(sidecar.bus.connected)
        body = sidecar.metrics.render(sidecar.current_presence().visitors, redis_up)
        response = ws.respond(http.HTTPStatus.OK, body)
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8"
        return response

    def _authorized(self, request: Request) -> bool:
        token = self.sidecar.token
        header = request.headers.get("Authorization", "")
        if not token or not header.startswith("Bearer "):
            return False
        return hmac.compare_digest(header[7:].strip().encode(), token.encode())

    def _unauthorized(self, ws: ServerConnection) -> Response:
        self.sidecar.metrics.reject("unauthorized")
        response = self._json(
            ws, http.HTTPStatus.UNAUTHORIZED, {"error": "missing or wrong bearer token"}
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="greenhouse"'
        return response

    async def _export(self, ws: ServerConnection, query: dict[str, list[str]]) -> Response:
        after = (query.get("after") or [""])[0] or None
        try:
            limit = int((query.get("limit") or ["100"])[0])
        except ValueError:
            limit = 0
        if not 1 <= limit <= 1000:
            return self._json(ws, http.HTTPStatus.BAD_REQUEST, {"error": "limit must be 1..1000"})
        realtime = self.sidecar.realtime()
        try:
            # Reading the files and joining the page happen on a worker thread:
            # an export must not stall the websockets.
            body = await asyncio.to_thread(self._export_body, after, limit, realtime)
        except CursorError as exc:
            return self._json(ws, http.HTTPStatus.BAD_REQUEST, {"error": str(exc)})
        return self._text(ws, http.HTTPStatus.OK, body, "application/json")

    def _export_body(self, after: str | None, limit: int, realtime: dict[str, Any]) -> str:
        # The log's lines are JSON objects already: the page is put together
        # around them, never parsed and serialized again.
        lines, cursor = self.sidecar.events.read_lines(after, limit)
        events = b",".join(lines).decode()
        tail = json.dumps({"next": cursor, "realtime": realtime}, separators=(",", ":"))
        return '{"events":[' + events + "]," + tail[1:] + "\n"

    @staticmethod
    def _json(ws: ServerConnection, status: http.HTTPStatus, body: dict[str, Any]) -> Response:
        text = json.dumps(body, separators=(",", ":")) + "\n"
        return Endpoints._text(ws, status, text, "application/json")

    @staticmethod
    def _text(ws: ServerConnection, status: http.HTTPStatus, text: str, kind: str) -> Response:
        response = ws.respond(status, text)
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = kind
        response.headers["Cache-Control"] = "no-store"
        return response
