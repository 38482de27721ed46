"""No raw IP address or user agent is ever written anywhere."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.sidecar.helpers import (
    TOKEN,
    client,
    export_all,
    http_get,
    make_site,
    recv,
    recv_until,
    running,
    until,
)

SECRET_IP = "198.51.100.23"
OTHER_IP = "203.0.113.99"
SECRET_UA = "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/130.0 CanaryAgent/7.7.7"
NEEDLES = (SECRET_IP, OTHER_IP, "CanaryAgent", "7.7.7")


def scan(root: Path) -> list[str]:
    """Every file under *root* that contains one of the needles."""
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path}: {n}" for n in NEEDLES if n.encode() in data]
    return found


async def session(tmp_path: Path, trusted: list[str]) -> tuple[list[dict], str]:
    site = make_site(tmp_path, trusted_proxies=trusted, message_burst=5, messages_per_second=1.0)
    bodies = []
    async with running(site) as sidecar:
        headers = {"X-Forwarded-For": SECRET_IP}
        async with client(sidecar, ua=SECRET_UA, headers=headers) as ws:
            await recv(ws)
            await ws.send(
                json.dumps({"type": "view", "project": "fern", "referrer": f"http://{SECRET_IP}/x"})
            )
            await ws.send(json.dumps({"type": "interact", "project": "fern", "action": "share"}))
            await ws.send("{not json " + SECRET_UA)
            await recv_until(ws, "error")
            with pytest.raises(ConnectionClosed):
                for _ in range(40):
                    await ws.send(json.dumps({"type": "view", "project": None}))
                    await asyncio.sleep(0.01)
                await recv_until(ws, "never")
        async with client(sidecar, ua=SECRET_UA, headers={"X-Forwarded-For": OTHER_IP}) as ws:
            await recv(ws)
            await ws.send(json.dumps({"type": "view", "project": "moss"}))
            await recv_until(ws, "presence")
        with pytest.raises(InvalidStatus):
            async with client(
                sidecar, origin="https://evil.example", ua=SECRET_UA, headers=headers
            ):
                pass
        await until(lambda: sidecar.metrics.connections == 0)
        await until(lambda: sidecar.events.pending == 0 and sidecar.events.durable[1] >= 5)
        events, _ = await export_all(sidecar)
        for path in ("/healthz", "/metrics", "/api/events"):
            bodies.append((await http_get(sidecar, path, TOKEN)).text)
    return events, "\n".join(bodies)


@pytest.mark.parametrize("trusted", [["127.0.0.1"], []])
def test_no_raw_ip_or_user_agent_anywhere(tmp_path, caplog, trusted):
    caplog.set_level(logging.DEBUG)
    events, bodies = asyncio.run(session(tmp_path, trusted))
    assert scan(tmp_path) == []
    # Everything the server side logged, at DEBUG (the test's own clients excepted).
    client_side = ("websockets.client", "httpx", "httpcore", "hpack")
    server_log = "\n".join(
        f"{r.getMessage()} {r.exc_text or ''}"
        for r in caplog.records
        if not r.name.startswith(client_side)
    )
    for needle in NEEDLES:
        assert needle not in server_log
        assert needle not in bodies
    assert "connection #1 open" in server_log, "the scan looked at real logs"
    assert len(events) >= 5 and (tmp_path / "build/live-events/main").is_dir()
    by_project = {e["project"]: e["visitor"] for e in events if e["type"] == "view"}
    # X-Forwarded-For counts only from a trusted proxy: there, two addresses are two visitors.
    assert (by_project["fern"] != by_project["moss"]) == bool(trusted)
    assert all(e["referrer"] is None for e in events), "an address is never kept as a referrer"
