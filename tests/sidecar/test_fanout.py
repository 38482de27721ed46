"""Fan-out: the one write under websockets' API, and presence paced by what it costs."""

from __future__ import annotations

import asyncio
import json
import time

from websockets.protocol import State

from greenhouse.sidecar.fanout import PresenceFeed, PresencePacer, encode_text_frame, write_frame
from greenhouse.sidecar.presence import Snapshot
from tests.sidecar.helpers import UA, aio, client, make_site, recv, recv_until, running, until


@aio
async def test_the_fast_fanout_relies_only_on_what_websockets_still_provides(tmp_path):
    # write_frame() writes pre-serialized frames to ws.transport, outside websockets'
    # documented API. If a websockets release changes what that relies on, this fails.
    site = make_site(tmp_path)
    async with running(site) as sidecar, client(sidecar) as ws:
        await recv(ws)
        (conn,) = sidecar.visits.open
        assert conn.state is State.OPEN
        assert isinstance(conn.transport, asyncio.WriteTransport)
        assert conn.transport.get_extra_info("peername") == conn.remote_address
        await recv_until(ws, "presence")  # the join's own presence frame
        assert write_frame(conn, encode_text_frame('{"type":"probe","n":1}'), 1 << 20)
        assert json.loads(await ws.recv()) == {"type": "probe", "n": 1}
        await conn.send('{"type":"after"}')  # websockets' own writes are undisturbed
        assert json.loads(await ws.recv()) == {"type": "after"}
        assert not write_frame(conn, encode_text_frame("{}"), -1)  # over the limit: nothing
        await conn.send('{"type":"still"}')
        assert json.loads(await ws.recv()) == {"type": "still"}
        await ws.send(json.dumps({"type": "view", "project": "fern"}))
        frame = await recv_until(ws, "presence")
        assert frame == {"type": "presence", "visitors": 1, "projects": {"fern": 1}}


def test_the_pacer_is_immediate_when_cheap_and_spreads_out_when_not():
    pacer = PresencePacer(floor=0.02)
    assert pacer.gap(0.0001, storm=False) == 0.02  # 10 connections: the floor
    assert abs(pacer.gap(0.2, storm=False) - 0.2 / 9) < 1e-9  # 10,000: 90 % of the loop
    assert abs(pacer.gap(0.2, storm=True) - 9.8) < 1e-9  # in a storm: 2 %
    assert PresencePacer(floor=0.0).gap(0.0, storm=True) == 0.0


class CostlyFanout:
    """A fan-out whose frames cost *cost* seconds, as 10,000 connections would."""

    def __init__(self, cost: float):
        self.cost = cost
        self.sent: list[tuple[float, str]] = []

    def expected_cost(self) -> float:
        return self.cost

    def send(self, text: str) -> float:
        self.sent.append((time.monotonic(), text))
        return self.cost


async def churn(storm: bool, cost: float, seconds: float = 1.0) -> tuple[CostlyFanout, int]:
    fanout = CostlyFanout(cost)
    state = {"visitors": 0}
    feed = PresenceFeed(
        lambda: Snapshot(state["visitors"], {}),
        fanout,  # type: ignore[arg-type]
        PresencePacer(floor=0.02),
        lambda: storm,
    )
    end = time.monotonic() + seconds
    while time.monotonic() < end:  # a join every 2 ms
        state["visitors"] += 1
        feed.changed()
        await asyncio.sleep(0.002)
    feed.close()
    return fanout, state["visitors"]


@aio
async def test_presence_gives_the_loop_to_handshakes_during_a_storm():
    calm, joined = await churn(storm=False, cost=0.05)
    storm, _ = await churn(storm=True, cost=0.05)
    # Calm: a frame every max(20 ms, 50 ms / 9); in a storm one every 2.45 s.
    # (The first goes at once: nothing was sent before it.)
    assert 25 <= len(calm.sent) <= 55, len(calm.sent)
    assert 1 <= len(storm.sent) <= 2, len(storm.sent)
    # The first change of a quiet spell goes out at once, and frames carry the latest count.
    assert json.loads(storm.sent[0][1])["visitors"] == 1
    assert json.loads(calm.sent[-1][1])["visitors"] > 0.9 * joined


class GrowingFanout:
    """A storm: *rate* connections a second join; a frame costs *per* seconds a connection."""

    def __init__(self, per: float, rate: float):
        self.per, self.rate = per, rate
        self.started = time.monotonic()
        self.costs: list[float] = []

    def expected_cost(self) -> float:
        return self.per * self.rate * (time.monotonic() - self.started)

    def send(self, text: str) -> float:
        self.costs.append(self.expected_cost())
        return self.costs[-1]


@aio
async def test_in_a_storm_presence_keeps_to_its_share_as_the_audience_grows():
    # Each frame goes to many more connections than the one before: pausing by the
    # cost of the last frame let presence take 13 % of a storm instead of 2 %.
    fanout = GrowingFanout(per=1.8e-5, rate=1000)  # a frame to n costs 18 µs x n
    joined = [0]
    feed = PresenceFeed(
        lambda: Snapshot(joined[0], {}),
        fanout,  # type: ignore[arg-type]
        PresencePacer(floor=0.0),
        lambda: True,
    )
    seconds = 3.0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        joined[0] += 1
        feed.changed()
        await asyncio.sleep(0.005)
    feed.close()
    share = sum(fanout.costs) / seconds
    assert len(fanout.costs) >= 2 and share <= 0.02, (share, fanout.costs)


@aio
async def test_when_the_storm_ends_presence_goes_out_without_waiting_for_the_storm_pause():
    fanout = CostlyFanout(0.2)  # 10,000 connections: a storm pause of 9.8 s
    storm = [True]
    visitors = [1]
    feed = PresenceFeed(
        lambda: Snapshot(visitors[0], {}),
        fanout,  # type: ignore[arg-type]
        PresencePacer(floor=0.02),
        lambda: storm[0],
    )
    feed.changed()
    await asyncio.sleep(0.01)
    assert len(fanout.sent) == 1
    visitors[0] = 2
    feed.changed()  # waits: the storm goes on
    await asyncio.sleep(0.3)
    assert len(fanout.sent) == 1
    storm[0] = False  # the storm is over: the calm pause (0.2 / 9 s) has long passed
    ended = time.monotonic()
    await until(lambda: len(fanout.sent) == 2, timeout=2)
    assert time.monotonic() - ended < 0.35
    feed.close()


@aio
async def test_an_unchanged_presence_sends_nothing():
    fanout = CostlyFanout(0.0)
    feed = PresenceFeed(
        lambda: Snapshot(1, {"fern": 1}),
        fanout,  # type: ignore[arg-type]
        PresencePacer(floor=0.0),
        lambda: False,
    )
    for _ in range(5):
        feed.changed()
        await asyncio.sleep(0.01)
    assert len(fanout.sent) == 1


@aio
async def test_with_few_visitors_presence_arrives_at_once(tmp_path):
    # No fixed tick: a move reaches the others within milliseconds.
    site = make_site(tmp_path)
    other_ua = UA.replace("Firefox", "Gecko-Other")
    async with (
        running(site) as sidecar,
        client(sidecar) as alice,
        client(sidecar, ua=other_ua) as bob,
    ):
        await recv(alice)
        await recv(bob)
        await until(lambda: len(sidecar.visits.open) == 2)
        await asyncio.sleep(0.1)
        delays = []
        for n in range(12):
            plant = ("fern", "moss", "ivy")[n % 3]
            sent = time.monotonic()
            await alice.send(json.dumps({"type": "view", "project": plant}))
            await recv_until(bob, "presence", lambda f, p=plant: p in f["projects"])
            delays.append(time.monotonic() - sent)
            await asyncio.sleep(0.06)
    delays.sort()
    # The old fixed 0.25 s tick made the median 0.125 s.
    assert delays[len(delays) // 2] < 0.05, delays


class RecordingTransport:
    """The edge under a connection: records which connection a frame was written to."""

    def __init__(self, name: int, log: list[int]):
        self.name = name
        self.log = log

    def get_write_buffer_size(self) -> int:
        return 0

    def write(self, data: bytes) -> None:
        self.log.append(self.name)


class OpenConnection:
    state = State.OPEN

    def __init__(self, transport: RecordingTransport):
        self.transport = transport


def test_a_fanout_starts_at_a_random_connection_so_nobody_always_hears_last():
    from greenhouse.sidecar.fanout import Fanout
    from greenhouse.sidecar.metrics import Metrics

    written: list[int] = []
    connections = {OpenConnection(RecordingTransport(n, written)): n for n in range(10)}
    fanout = Fanout(lambda: connections, Metrics(), 1 << 20)
    firsts, lasts = set(), set()
    for _ in range(200):
        written.clear()
        fanout.send('{"type":"presence"}')
        assert sorted(written) == list(range(10))  # everyone, once
        start = written[0]
        assert written == [(start + i) % 10 for i in range(10)]  # in order, wrapping around
        firsts.add(start)
        lasts.add(written[-1])
    assert len(firsts) == 10 and len(lasts) == 10
