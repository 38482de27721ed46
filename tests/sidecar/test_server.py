"""A real sidecar on port 0 with real websocket clients."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.sidecar.helpers import (
    ORIGIN,
    TOKEN,
    UA,
    aio,
    client,
    export_all,
    http_get,
    make_site,
    recv,
    recv_until,
    running,
    until,
    write_garden,
)

OTHER_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Version/17.0 Safari/605.1.15"
)


def view(project: str | None, **extra: object) -> str:
    return json.dumps({"type": "view", "project": project, **extra})


@aio
async def test_welcome_and_presence_across_clients(tmp_path):
    site = make_site(tmp_path, presence_interval=0.05)
    async with running(site) as sidecar, client(sidecar) as alice:
        assert await recv(alice) == {"type": "welcome", "visitors": 1, "projects": {}}
        async with client(sidecar, ua=OTHER_UA) as bob:
            welcome = await recv(bob)
            assert welcome["type"] == "welcome" and welcome["visitors"] == 2
            await alice.send(view("fern"))
            await bob.send(view("fern"))
            both = await recv_until(alice, "presence", lambda f: f["projects"].get("fern") == 2)
            assert both["visitors"] == 2
            await bob.send(view("moss"))
            moved = await recv_until(alice, "presence", lambda f: "moss" in f["projects"])
            assert moved["projects"] == {"fern": 1, "moss": 1}
        gone = await recv_until(alice, "presence", lambda f: f["visitors"] == 1)
        assert gone["projects"] == {"fern": 1}


@aio
async def test_two_tabs_of_one_visitor_count_once(tmp_path):
    site = make_site(tmp_path, presence_interval=0.05)
    async with running(site) as sidecar, client(sidecar) as tab1, client(sidecar) as tab2:
        await recv(tab1)
        await recv(tab2)
        await tab1.send(view("ivy"))
        await tab2.send(view("ivy"))
        frame = await recv_until(tab1, "presence", lambda f: "ivy" in f["projects"])
        await asyncio.sleep(0.2)
        assert frame["visitors"] == 1 and frame["projects"] == {"ivy": 1}


@aio
async def test_presence_is_coalesced_not_sent_per_event(tmp_path):
    site = make_site(tmp_path, presence_interval=0.4)
    async with running(site) as sidecar, client(sidecar) as watcher:
        await recv(watcher)
        others = [client(sidecar, ua=f"{UA} tab/{n}") for n in range(6)]
        connections = [await c.__aenter__() for c in others]
        for ws in connections:
            await recv(ws)
        loop = asyncio.get_running_loop()
        started = loop.time()
        for _ in range(3):
            for ws, plant in zip(connections, ["fern", "moss", "ivy"] * 2, strict=True):
                await ws.send(view(plant))
                await ws.send(view(None))
                await ws.send(view(plant))
        final = {"type": "presence", "visitors": 7, "projects": {"fern": 2, "moss": 2, "ivy": 2}}
        frames = []
        async with asyncio.timeout(10):
            while not frames or frames[-1] != final:
                frame = json.loads(await watcher.recv())
                if frame["type"] == "presence":
                    frames.append(frame)
        elapsed = loop.time() - started
        for ws in connections:
            await ws.close()
        # 6 joins and 54 moves, yet at most one frame per interval (+2 for the edges).
        assert len(frames) <= elapsed / 0.4 + 2 < 30, (len(frames), elapsed)


@aio
async def test_interactions_are_broadcast_and_recorded(tmp_path):
    site = make_site(tmp_path)
    async with (
        running(site) as sidecar,
        client(sidecar) as alice,
        client(sidecar, ua=OTHER_UA) as bob,
    ):
        await recv(alice)
        await recv(bob)
        await alice.send(json.dumps({"type": "interact", "project": "moss", "action": "water"}))
        got = await recv_until(bob, "interaction")
        assert got == {"type": "interaction", "project": "moss", "action": "water"}
        await until(lambda: sidecar.events.durable[1] >= 1)
        events, _ = await export_all(sidecar)
        assert [(e["type"], e["project"], e["action"]) for e in events] == [
            ("interact", "moss", "water")
        ]


@aio
async def test_interaction_fanout_has_a_global_budget(tmp_path):
    site = make_site(tmp_path)
    async with (
        running(site, interactions_per_second=0.5) as sidecar,
        client(sidecar) as ws,
    ):  # burst 1
        await recv(ws)
        for action in ["like", "water", "share"]:
            await ws.send(json.dumps({"type": "interact", "project": "fern", "action": action}))
        assert (await recv_until(ws, "interaction"))["action"] == "like"
        await until(lambda: sidecar.metrics.rejects["interaction_budget"] == 2)
        await until(lambda: sidecar.events.durable[1] == 3)  # every interaction is still recorded


@aio
async def test_origin_allowlist_is_checked_at_the_handshake(tmp_path):
    site = make_site(tmp_path)
    async with running(site) as sidecar:
        for origin in (None, "https://evil.example", ORIGIN + ".evil.example", ORIGIN.upper()):
            with pytest.raises(InvalidStatus) as refused:
                async with client(sidecar, origin=origin):
                    pass
            assert refused.value.response.status_code == 403
        assert sidecar.metrics.rejects["origin"] == 4
        async with client(sidecar) as ok:
            assert (await recv(ok))["type"] == "welcome"


BAD_FRAMES = [
    ("{oops", "bad_json"),
    ("[]", "bad_message"),
    ('{"type": 1}', "bad_message"),
    ('{"type": "dance"}', "unknown_type"),
    ('{"type": "view", "project": 7}', "bad_message"),
    ('{"type": "view", "project": "rose"}', "unknown_project"),
    ('{"type": "interact", "project": "fern", "action": "burn"}', "bad_action"),
    ('{"type": "view", "project": ' + "[" * 2000 + "]" * 2000 + "}", "too_deep"),
]


@pytest.mark.parametrize(("frame", "code"), BAD_FRAMES)
@aio
async def test_bad_messages_get_an_error_frame_and_the_connection_lives_on(tmp_path, frame, code):
    site = make_site(tmp_path, max_message_bytes=8192, presence_interval=0.05)
    async with (
        running(site) as sidecar,
        client(sidecar) as ws,
        client(sidecar, ua=OTHER_UA) as bystander,
    ):
        await recv(ws)
        await recv(bystander)
        await ws.send(frame)
        error = await recv_until(ws, "error")
        assert error["code"] == code and error["message"]
        assert sidecar.metrics.rejects[code] == 1
        await ws.send(view("fern"))
        seen = await recv_until(bystander, "presence", lambda f: f["projects"].get("fern") == 1)
        assert seen["visitors"] == 2


@aio
async def test_binary_frames_are_refused(tmp_path):
    site = make_site(tmp_path)
    async with running(site) as sidecar, client(sidecar) as ws:
        await recv(ws)
        await ws.send(b'{"type":"view","project":null}')
        assert (await recv_until(ws, "error"))["code"] == "binary"


@aio
async def test_oversized_frame_closes_1009(tmp_path):
    site = make_site(tmp_path, max_message_bytes=1024)
    async with running(site) as sidecar, client(sidecar) as ws:
        await recv(ws)
        await ws.send(view(None, referrer="x" * 2000))
        with pytest.raises(ConnectionClosed):
            await recv_until(ws, "never")
        assert ws.close_code == 1009
        await until(lambda: sidecar.metrics.rejects["too_big"] == 1)


@aio
async def test_invalid_utf8_closes_1007(tmp_path):
    site = make_site(tmp_path)
    async with running(site) as sidecar, client(sidecar) as ws:
        await recv(ws)
        await ws.send(b'{"type":"view","project":"\xff\xfe"}', text=True)
        with pytest.raises(ConnectionClosed):
            await recv_until(ws, "never")
        assert ws.close_code == 1007
        await until(lambda: sidecar.metrics.rejects["bad_utf8"] == 1)


@aio
async def test_flood_gets_an_error_then_a_1008_close(tmp_path):
    site = make_site(tmp_path, messages_per_second=1.0, message_burst=3)
    async with (
        running(site) as sidecar,
        client(sidecar) as ws,
        client(sidecar, ua=OTHER_UA) as calm,
    ):
        await recv(ws)
        await recv(calm)
        for _ in range(3):
            await ws.send(view(None))
        await ws.send(view(None))
        assert (await recv_until(ws, "error"))["code"] == "rate_limited"
        with pytest.raises(ConnectionClosed):
            for _ in range(50):
                await ws.send(view(None))
                await asyncio.sleep(0.01)
            await recv_until(ws, "never")
        assert ws.close_code == 1008
        assert sidecar.metrics.rejects["flood"] == 1
        await calm.send(view("fern"))  # the neighbour is unaffected
        await recv_until(calm, "presence", lambda f: f["projects"] == {"fern": 1})


@aio
async def test_connections_per_visitor_are_capped_and_a_reconnect_storm_passes(tmp_path):
    site = make_site(tmp_path, max_connections_per_visitor=3)
    async with running(site) as sidecar:
        held = [await client(sidecar).__aenter__() for _ in range(3)]
        for ws in held:
            await recv(ws)
        async with client(sidecar) as fourth:
            with pytest.raises(ConnectionClosed):
                await recv(fourth)
            assert fourth.close_code == 1008
        assert sidecar.metrics.rejects["visitor_cap"] == 1

        async def churn() -> None:
            async with client(sidecar, ua=OTHER_UA) as ws:
                await recv(ws)

        for _ in range(10):  # a reconnect storm, 3 at a time, from another visitor
            await asyncio.gather(churn(), churn(), churn())
        for ws in held:
            await ws.close()
        await until(lambda: sidecar.metrics.connections == 0)
        assert sidecar.presence.snapshot().visitors == 0 and not sidecar.visits.per_visitor


@aio
async def test_idle_connections_are_closed(tmp_path):
    site = make_site(tmp_path, idle_timeout=0.3)
    async with running(site) as sidecar, client(sidecar) as ws:
        await recv(ws)
        with pytest.raises(ConnectionClosed):
            await recv_until(ws, "never", timeout=3)
        assert ws.close_code == 1000 and ws.close_reason == "idle timeout"
        assert sidecar.metrics.rejects["idle"] == 1


@aio
async def test_a_slow_handshake_is_dropped(tmp_path):
    site = make_site(tmp_path)
    async with running(site, open_timeout=0.3) as sidecar:
        reader, writer = await asyncio.open_connection("127.0.0.1", sidecar.port)
        writer.write(b"GET /ws/garden HTTP/1.1\r\nHost: x\r\n")  # ...and never finish
        async with asyncio.timeout(3):
            assert await reader.read() == b""
        writer.close()
        await until(lambda: sidecar.metrics.rejects["handshake_timeout"] == 1)
        async with client(sidecar) as ws:
            assert (await recv(ws))["type"] == "welcome"


@aio
async def test_slow_readers_do_not_make_the_server_hold_memory(tmp_path):
    site = make_site(tmp_path)
    limit = 64 * 1024
    async with (
        running(site, slow_reader_bytes=limit) as sidecar,
        client(sidecar, max_queue=1),  # and never reads
    ):
        await until(lambda: len(sidecar.visits.open) == 1)
        (visit,) = sidecar.visits.open.values()
        big = json.dumps({"type": "interaction", "pad": "x" * 16000})
        for _ in range(2000):  # 32 MB: far beyond socket buffers
            sidecar.fanout.send(big)
            await asyncio.sleep(0)
        assert visit.ws.transport.get_write_buffer_size() <= limit + 17000
        assert sidecar.metrics.dropped_frames > 0


@aio
async def test_health_and_metrics(tmp_path):
    site = make_site(tmp_path)
    async with running(site) as sidecar, client(sidecar) as ws:
        await recv(ws)
        await ws.send("{oops")
        await recv_until(ws, "error")
        health = (await http_get(sidecar, "/healthz")).json()
        assert health["status"] == "ok" and health["connections"] == 1 and health["plants"] == 3
        assert health["event_log"]["state"] == "ok" and health["redis"] == "off"
        metrics = await http_get(sidecar, "/metrics")
        assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
        text = metrics.text
        assert "greenhouse_sidecar_connections 1" in text
        assert "greenhouse_sidecar_messages_in_total 1" in text
        assert 'greenhouse_sidecar_rejects_total{reason="bad_json"} 1' in text
        assert "greenhouse_sidecar_broadcast_seconds_count" in text
        assert "greenhouse_sidecar_presence_delay_seconds_count 2" in text  # start, join
        assert "greenhouse_sidecar_event_durable_seconds_count" in text
        assert (await http_get(sidecar, "/nope")).status_code == 404


@aio
async def test_realtime_counts_recorded_visitors_of_the_last_five_minutes(tmp_path):
    site = make_site(tmp_path)
    async with running(site) as sidecar:
        health = (await http_get(sidecar, "/healthz")).json()
        assert health["realtime"]["visitors_5m"] == 0
        async with (
            client(sidecar) as ws,
            client(sidecar, ua=OTHER_UA, headers={"DNT": "1"}) as private,
            client(sidecar, ua="Googlebot/2.1 (+http://www.google.com/bot.html)") as bot,
        ):
            for each in (ws, private, bot):
                await recv(each)
            await ws.send(view("fern"))
            await private.send(view("moss"))
            await bot.send(view("ivy"))
            await asyncio.sleep(0.1)
            health = (await http_get(sidecar, "/healthz")).json()
            realtime = health["realtime"]
            assert realtime["visitors_5m"] == 1  # neither the DNT visitor nor the bot
            assert realtime["at"].endswith("Z") and realtime["at"][:4].isdigit()
        # Gone, but seen within the five minutes: still counted.
        answer = (await http_get(sidecar, "/api/events", TOKEN)).json()
        assert set(answer) == {"events", "next", "realtime"}
        assert answer["realtime"]["visitors_5m"] == 1


class Watched(dict):  # type: ignore[type-arg]
    """The sidecar's table of open visits, noting every walk through it."""

    walks = 0

    def values(self):  # type: ignore[no-untyped-def, override]
        Watched.walks += 1
        return super().values()

    def items(self):  # type: ignore[no-untyped-def, override]
        Watched.walks += 1
        return super().items()

    def __iter__(self):  # type: ignore[no-untyped-def]
        Watched.walks += 1
        return super().__iter__()


@aio
async def test_realtime_counts_the_connected_without_walking_the_connections(tmp_path):
    # /healthz and every /api/events page ask for the realtime count, on the event loop,
    # beside up to 10,000 websockets: it is kept as visitors come and go, not recounted.
    site = make_site(tmp_path)
    async with running(site) as sidecar:
        now = [sidecar.clock()]
        sidecar.clock = lambda: now[0]
        sidecar.visits.open = Watched(sidecar.visits.open)
        async with client(sidecar) as ws, client(sidecar, ua=OTHER_UA) as other:
            await recv(ws)
            await recv(other)
            now[0] += timedelta(hours=1)  # connected and silent for an hour
            walks = Watched.walks  # (no await until the check: only these calls run)
            assert sidecar.realtime()["visitors_5m"] == 2
            assert sidecar.health()["realtime"]["visitors_5m"] == 2
            assert Watched.walks == walks, "the realtime count walked the open connections"
            assert (await http_get(sidecar, "/api/events", TOKEN)).json()["realtime"] == {
                "visitors_5m": 2,
                "at": now[0].isoformat(timespec="seconds").replace("+00:00", "Z"),
            }
            await other.close()
            await until(lambda: sidecar.metrics.connections == 1)
            now[0] += timedelta(minutes=4)
            assert sidecar.realtime()["visitors_5m"] == 2  # the other left 4 minutes ago
            now[0] += timedelta(minutes=2)
            assert sidecar.realtime()["visitors_5m"] == 1  # 6 minutes ago; ws is still here


@aio
async def test_export_needs_the_token(tmp_path):
    site = make_site(tmp_path)
    async with running(site) as sidecar:
        assert (await http_get(sidecar, "/api/events")).status_code == 401
        assert (await http_get(sidecar, "/api/events", token="wrong")).status_code == 401
        answer = (await http_get(sidecar, "/api/events", token=TOKEN)).json()
        assert answer["realtime"]["visitors_5m"] == 0
        assert {k: v for k, v in answer.items() if k != "realtime"} == {
            "events": [],
            "next": None,
        }
        assert (await http_get(sidecar, "/api/events?after=junk", token=TOKEN)).status_code == 400
        assert (await http_get(sidecar, "/api/events?limit=0", token=TOKEN)).status_code == 400
    async with running(site, token=None) as sidecar:
        assert (await http_get(sidecar, "/api/events", token="")).status_code == 401
        assert (await http_get(sidecar, "/api/events", token="None")).status_code == 401


@aio
async def test_export_pages_without_skips_or_duplicates_across_a_restart(tmp_path):
    site = make_site(tmp_path)
    seen: list[dict] = []
    cursor = None
    async with running(site) as sidecar, client(sidecar) as ws:
        await recv(ws)
        for plant in ["fern", "moss", "ivy"] * 4:
            await ws.send(view(plant, referrer="https://lobste.rs/s/abc"))
        await until(lambda: sidecar.events.durable[1] == 12)
        while True:
            answer = (
                await http_get(
                    sidecar, "/api/events?limit=5" + (f"&after={cursor}" if cursor else ""), TOKEN
                )
            ).json()
            if not answer["events"]:
                break
            seen += answer["events"]
            cursor = answer["next"]
            if len(seen) >= 10:
                break
    async with running(site) as sidecar:
        async with client(sidecar) as ws:
            await recv(ws)
            await ws.send(view("fern"))
        await until(lambda: sidecar.events.pending == 0 and sidecar.metrics.connections == 0)
        await until(lambda: sidecar.events.durable[1] == 15)
        rest, _ = await export_all(sidecar, cursor, limit=4)
    seen += rest
    ids = [e["id"] for e in seen]
    assert len(ids) == 15 == len(set(ids)) and ids == sorted(ids)
    assert [e["type"] for e in seen] == ["view"] * 12 + ["leave", "view", "leave"]
    first = seen[0]
    assert set(first) >= {"id", "ts", "visitor", "type", "project", "action", "referrer", "device"}
    assert first["referrer"] == "lobste.rs" and first["device"] == "desktop"
    assert seen[12]["duration"] >= 0 and seen[12]["project"] == "ivy"


@pytest.mark.parametrize("header", [{"DNT": "1"}, {"Sec-GPC": "1"}])
@aio
async def test_opted_out_visitors_are_shown_but_never_recorded(tmp_path, header):
    site = make_site(tmp_path, presence_interval=0.05)
    async with running(site) as sidecar:
        async with client(sidecar, headers=header) as ws:
            await recv(ws)
            await ws.send(view("fern"))
            frame = await recv_until(ws, "presence", lambda f: f["projects"].get("fern") == 1)
            assert frame["visitors"] == 1
            await ws.send(json.dumps({"type": "interact", "project": "fern", "action": "like"}))
            await recv_until(ws, "interaction")
        await until(lambda: sidecar.metrics.connections == 0)
        await asyncio.sleep(0.3)
        assert (await export_all(sidecar))[0] == []
    assert list((tmp_path / "build/live-events").rglob("*.jsonl")) == []


@aio
async def test_bots_are_neither_counted_nor_recorded(tmp_path):
    site = make_site(tmp_path, presence_interval=0.05)
    headless = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/120.0"
    async with running(site) as sidecar:
        async with client(sidecar, ua=headless) as bot, client(sidecar) as human:
            assert (await recv(bot))["visitors"] == 0
            await recv(human)
            await bot.send(view("moss"))
            await human.send(view("fern"))
            frame = await recv_until(human, "presence", lambda f: "fern" in f["projects"])
            assert frame == {"type": "presence", "visitors": 1, "projects": {"fern": 1}}
        await until(lambda: sidecar.metrics.connections == 0)
        await until(lambda: sidecar.events.durable[1] == 2)
        events, _ = await export_all(sidecar)
        assert [(e["type"], e["project"]) for e in events] == [("view", "fern"), ("leave", "fern")]


@aio
async def test_visitor_keys_rotate_at_midnight_with_an_injected_clock(tmp_path):
    from datetime import UTC, datetime, timedelta

    now = [datetime(2026, 6, 1, 23, 59, 59, tzinfo=UTC)]
    site = make_site(tmp_path)
    sidecar_kwargs = {"clock": lambda: now[0]}
    from greenhouse.sidecar import Tuning, start

    sidecar = await start(
        site, "127.0.0.1", 0, token=TOKEN, tuning=Tuning(flush_interval=0.05), **sidecar_kwargs
    )
    try:
        async with client(sidecar) as ws:
            await recv(ws)
            await ws.send(view("fern"))
            await ws.send(view("moss"))
            await until(lambda: sidecar.events.durable[1] == 2)
            now[0] += timedelta(seconds=2)
            await ws.send(view("ivy"))
            await until(lambda: sidecar.events.durable == ("20260602", 1))
        events, _ = await export_all(sidecar)
    finally:
        await sidecar.close()
    keys = [e["visitor"] for e in events]
    assert keys[0] == keys[1] and keys[2] != keys[0]
    assert [e["id"][:8] for e in events[:3]] == ["20260601", "20260601", "20260602"]


@aio
async def test_a_new_garden_is_announced_and_its_plants_accepted(tmp_path):
    site = make_site(tmp_path)
    async with running(site) as sidecar, client(sidecar) as ws:
        await recv(ws)
        await ws.send(view("rose"))
        assert (await recv_until(ws, "error"))["code"] == "unknown_project"
        await asyncio.sleep(0.3)  # let the watcher settle
        write_garden(tmp_path, ("fern", "rose"), generated_at="2026-02-02T00:00:00Z")
        update = await recv_until(ws, "garden_updated", timeout=10)
        assert update["generated_at"] == "2026-02-02T00:00:00Z"
        await ws.send(view("rose"))
        await recv_until(ws, "presence", lambda f: f["projects"] == {"rose": 1})


@aio
async def test_the_publish_hook_needs_the_token_and_announces(tmp_path):
    site = make_site(tmp_path)
    async with running(site, watch_garden=False) as sidecar, client(sidecar) as ws:
        await recv(ws)
        assert (await http_get(sidecar, "/api/published", method="POST")).status_code == 401
        write_garden(tmp_path, ("fern", "tulip"), generated_at="2026-03-03T00:00:00Z")
        answer = await http_get(sidecar, "/api/published", token=TOKEN, method="POST")
        assert answer.status_code == 202 and answer.json()["plants"] == 2
        assert (await recv_until(ws, "garden_updated"))["generated_at"] == "2026-03-03T00:00:00Z"
        assert sidecar.garden.plants == {"fern", "tulip"}


@aio
async def test_viewers_of_a_removed_plant_are_counted_on_the_overview(tmp_path):
    site = make_site(tmp_path, presence_interval=0.05)
    async with running(site, watch_garden=False) as sidecar, client(sidecar) as alice:
        await recv(alice)
        async with client(sidecar, ua=OTHER_UA) as bob:
            await recv(bob)
            await bob.send(view("moss"))
            await alice.send(view("fern"))
            await recv_until(alice, "presence", lambda f: f["projects"] == {"fern": 1, "moss": 1})
            write_garden(tmp_path, ("fern",), generated_at="2026-04-04T00:00:00Z")
            answer = await http_get(sidecar, "/api/published", token=TOKEN, method="POST")
            assert answer.status_code == 202
            moved = await recv_until(alice, "presence", lambda f: "moss" not in f["projects"])
            assert moved == {"type": "presence", "visitors": 2, "projects": {"fern": 1}}
            await bob.send(view("fern"))  # from the overview, where the new garden put it
            both = await recv_until(alice, "presence", lambda f: f["projects"] == {"fern": 2})
            assert both["visitors"] == 2
        gone = await recv_until(alice, "presence", lambda f: f["visitors"] == 1)
        assert gone["projects"] == {"fern": 1}
        assert sidecar.presence.snapshot().visitors == 1
