"""Several sidecars sharing presence and interactions through a real Redis."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest

from tests.sidecar.helpers import Process, aio, client, make_site, recv, recv_until, running, until

pytestmark = [pytest.mark.redis, pytest.mark.timeout(90)]

OTHER_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Version/17.0 Safari/605.1.15"
)
FAST_BUS = {"heartbeat_interval": 0.2, "presence_expiry": 1.0, "presence_interval": 0.05}


@asynccontextmanager
async def two_instances(
    tmp_path, redis_server, bus: dict[str, float] = FAST_BUS, connected: bool = True
) -> AsyncIterator[tuple[Any, Any]]:
    """Sidecars "a" and "b" sharing one Redis (both connected to it, unless told otherwise)."""
    site_a = make_site(tmp_path / "a", redis_url=redis_server.url, instance_id="a", **bus)
    site_b = make_site(tmp_path / "b", redis_url=redis_server.url, instance_id="b", **bus)
    async with running(site_a) as a, running(site_b) as b:
        if connected:
            await until(
                lambda: (
                    a.bus is not None and a.bus.connected and b.bus is not None and b.bus.connected
                )
            )
        yield a, b


def view(project: str | None) -> str:
    return json.dumps({"type": "view", "project": project})


@aio
async def test_two_instances_share_presence_and_interactions(tmp_path, redis_server):
    async with two_instances(tmp_path, redis_server) as (a, b):
        async with client(a) as alice, client(b, ua=OTHER_UA) as bob:
            await recv(alice)
            await recv(bob)
            await alice.send(view("fern"))
            await bob.send(view("moss"))
            want = {"fern": 1, "moss": 1}
            seen_a = await recv_until(alice, "presence", lambda f: f["projects"] == want)
            seen_b = await recv_until(bob, "presence", lambda f: f["projects"] == want)
            assert seen_a["visitors"] == seen_b["visitors"] == 2
            await bob.send(json.dumps({"type": "interact", "project": "moss", "action": "water"}))
            assert await recv_until(alice, "interaction") == {
                "type": "interaction",
                "project": "moss",
                "action": "water",
            }
        health = a.health()
        assert health["redis"] == "connected"
    # Each instance wrote only its own events, under its own id suffix.
    for instance, kinds in (("a", ["view", "leave"]), ("b", ["view", "interact", "leave"])):
        folder = tmp_path / instance / "build/live-events" / instance
        events = [
            json.loads(line) for p in folder.glob("*.jsonl") for line in p.read_text().splitlines()
        ]
        assert [e["type"] for e in events] == kinds
        assert all(e["id"].endswith(f"-{instance}") for e in events)


@aio
async def test_local_changes_reach_other_instances_before_the_next_heartbeat(
    tmp_path, redis_server
):
    slow_beat = {"heartbeat_interval": 30.0, "presence_expiry": 90.0, "presence_interval": 0.05}
    async with (
        two_instances(tmp_path, redis_server, slow_beat) as (a, b),
        client(a) as alice,
        client(b, ua=OTHER_UA) as bob,
    ):
        await recv(alice)
        await recv(bob)
        await asyncio.sleep(0.3)
        for plant in ["moss", "ivy", "fern"]:  # a burst: coalesced into one early beat
            await bob.send(view(plant))
        seen = await recv_until(
            alice, "presence", lambda f: f["projects"] == {"fern": 1}, timeout=5
        )
        assert seen["visitors"] == 2


@aio
async def test_a_killed_instance_disappears_from_presence(tmp_path, redis_server):
    site_a = make_site(tmp_path / "a", redis_url=redis_server.url, instance_id="a", **FAST_BUS)
    site_c = make_site(tmp_path / "c", redis_url=redis_server.url, instance_id="c", **FAST_BUS)
    from websockets.asyncio.client import connect

    with Process(site_c.root, tmp_path / "c.log") as crashing:
        async with running(site_a) as a, client(a) as alice:
            await recv(alice)
            async with connect(
                f"ws://127.0.0.1:{crashing.port}/ws/garden",
                origin="https://gardener.example",
                user_agent_header=OTHER_UA,
            ) as carol:
                await carol.recv()
                await carol.send(view("ivy"))
                await recv_until(
                    alice, "presence", lambda f: f["projects"] == {"ivy": 1}, timeout=10
                )
                crashing.proc.send_signal(signal.SIGKILL)
                crashing.wait()
                loop = asyncio.get_running_loop()
                killed_at = loop.time()
                gone = await recv_until(
                    alice, "presence", lambda f: f["projects"] == {}, timeout=10
                )
                assert gone["visitors"] == 1
                # heartbeat + expiry (0.2 + 1.0 s here; 10 + 30 s by default) + slack.
                assert loop.time() - killed_at < 1.2 + 3.0


@aio
async def test_redis_going_away_degrades_to_local_presence_and_recovers(tmp_path, redis_server):
    async with (
        two_instances(tmp_path, redis_server) as (a, b),
        client(a) as alice,
        client(b, ua=OTHER_UA) as bob,
    ):
        await recv(alice)
        await recv(bob)
        await bob.send(view("moss"))
        await recv_until(alice, "presence", lambda f: f["projects"] == {"moss": 1})
        redis_server.stop()
        local = await recv_until(alice, "presence", lambda f: f["projects"] == {}, timeout=10)
        assert local["visitors"] == 1
        assert a.health()["redis"] == "disconnected"
        await alice.send(view("fern"))  # the instance keeps working alone
        await recv_until(alice, "presence", lambda f: f["projects"] == {"fern": 1})
        redis_server.start()
        both = await recv_until(
            alice, "presence", lambda f: f["projects"] == {"fern": 1, "moss": 1}, timeout=15
        )
        assert both["visitors"] == 2
        assert a.health()["redis"] == "connected"


def _events(root, instance: str) -> list[dict]:
    folder = root / "build/live-events" / instance
    return [json.loads(line) for p in folder.glob("*.jsonl") for line in p.read_text().splitlines()]


@aio
async def test_two_instances_give_one_visitor_the_same_key(tmp_path, redis_server):
    async with two_instances(tmp_path, redis_server, connected=False) as (a, b):
        # The same loopback client with the same user agent, once on each instance.
        for sidecar in (a, b):
            async with client(sidecar) as ws:
                await recv(ws)
                await ws.send(view("fern"))
                await asyncio.sleep(0.1)
        await until(lambda: a.events.durable[1] >= 2 and b.events.durable[1] >= 2)
        assert a.health()["salt"] == b.health()["salt"] == "shared"
    keys_a = {e["visitor"] for e in _events(tmp_path / "a", "a")}
    keys_b = {e["visitor"] for e in _events(tmp_path / "b", "b")}
    assert len(keys_a) == 1 and keys_a == keys_b


@aio
async def test_the_shared_salt_expires_shortly_after_its_day(tmp_path, redis_server):
    import redis.asyncio as aioredis

    from greenhouse.sidecar.redis_salt import GRACE, salt_key
    from greenhouse.sidecar.server import utc_now

    site = make_site(tmp_path / "a", redis_url=redis_server.url, instance_id="a")
    async with running(site) as a:
        async with client(a) as ws:
            await recv(ws)
        now = utc_now()
        conn = aioredis.from_url(redis_server.url)
        try:
            keys = await conn.keys("greenhouse:salt:*")
            assert keys == [salt_key(now.date()).encode()]
            ttl = await conn.ttl(keys[0])
            assert len(await conn.get(keys[0])) == 32
        finally:
            await conn.aclose()
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    until_midnight = (midnight - now).total_seconds()
    assert until_midnight < ttl <= until_midnight + GRACE.total_seconds() + 2


@aio
async def test_with_redis_down_an_instance_serves_and_records_with_a_local_salt(
    tmp_path, redis_server
):
    redis_server.stop()
    site = make_site(tmp_path / "a", redis_url=redis_server.url, instance_id="a", **FAST_BUS)
    async with running(site) as a:
        async with client(a) as ws:
            welcome = await recv(ws)
            assert welcome["visitors"] == 1
            await ws.send(view("moss"))
            await asyncio.sleep(0.1)
        await until(lambda: a.events.durable[1] >= 2)
        health = a.health()
        assert health["status"] == "ok" and health["salt"] == "local"
        local_key = _events(tmp_path / "a", "a")[0]["visitor"]
        redis_server.start()  # the background retry picks up the shared salt
        await until(lambda: a.shared_salt is not None and not a.shared_salt.failing, timeout=15)
        async with client(a) as ws:
            await recv(ws)
            await ws.send(view("ivy"))
            await asyncio.sleep(0.1)
        await until(lambda: a.events.durable[1] >= 4)
        assert a.health()["salt"] == "shared"
    events = _events(tmp_path / "a", "a")
    assert [e["type"] for e in events] == ["view", "leave", "view", "leave"]
    assert events[0]["visitor"] == events[1]["visitor"] == local_key
    assert events[2]["visitor"] != local_key


@aio
async def test_realtime_adds_up_the_instances_counts(tmp_path, redis_server):
    async with (
        two_instances(tmp_path, redis_server) as (a, b),
        client(a) as alice,
        client(b, ua=OTHER_UA) as bob,
    ):
        await recv(alice)
        await recv(bob)
        await until(lambda: a.realtime()["visitors_5m"] == 2 and b.realtime()["visitors_5m"] == 2)
        assert a.health()["realtime"]["visitors_5m"] == 2
