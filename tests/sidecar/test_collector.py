"""The garbage collector is paused while a reconnect storm lasts, and only then."""

from __future__ import annotations

import asyncio
import base64
import gc
import os

from greenhouse.sidecar.collector import CollectorPause
from tests.sidecar.helpers import ORIGIN, UA, aio, client, make_site, recv, running, until


async def handshake(port: int, n: int) -> asyncio.StreamWriter:
    """One websocket handshake from its own loopback address (a distinct visitor); the
    connection stays open."""
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, local_addr=(f"127.0.6.{n % 250 + 1}", 0)
    )
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /ws/garden HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {ORIGIN}\r\nUser-Agent: {UA}\r\n\r\n"
        ).encode()
    )
    async with asyncio.timeout(10):
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
    return writer


@aio
async def test_a_reconnect_storm_pauses_the_collector_until_it_is_over(tmp_path):
    assert gc.isenabled()
    site = make_site(tmp_path, max_connections_per_ip=1000)
    seen: list[bool] = []

    async def watch() -> None:
        while True:
            seen.append(gc.isenabled())
            await asyncio.sleep(0.005)

    async with running(site) as sidecar:
        # One visitor arriving is no storm.
        async with client(sidecar) as ws:
            await recv(ws)
            assert gc.isenabled() and sidecar.collector.pauses == 0
        watcher = asyncio.create_task(watch())
        writers = await asyncio.gather(*(handshake(sidecar.port, n) for n in range(300)))
        try:
            assert sidecar.collector.pauses == 1
            assert False in seen  # paused while the handshakes went on
            assert len(sidecar.visits.open) == 300  # and every visitor was let in
            # Over when no handshake is left and fewer than 20 arrive a second: in 2 s or so.
            await until(gc.isenabled, timeout=5)
            assert sidecar.collector.paused_since is None
        finally:
            watcher.cancel()
            for writer in writers:
                writer.close()
    assert gc.isenabled()


@aio
async def test_a_storm_ends_with_one_full_collection_that_leaves_its_objects_old(tmp_path):
    # Otherwise CPython moves them up a generation at a time over the next minute,
    # each move a stall of the loop in the middle of live presence.
    site = make_site(tmp_path, max_connections_per_ip=1000)
    async with running(site) as sidecar:
        writers = await asyncio.gather(*(handshake(sidecar.port, n) for n in range(300)))
        try:
            assert sidecar.collector.pauses == 1 and sidecar.collector.collections == 0
            await until(gc.isenabled, timeout=5)
            oldest = {id(o) for o in gc.get_objects(generation=2)}
            connections = list(sidecar.visits.open)
            assert len(connections) == 300
            assert all(id(ws) in oldest for ws in connections)
            assert sidecar.collector.collections == 1
        finally:
            for writer in writers:
                writer.close()


@aio
async def test_closing_in_the_middle_of_a_storm_turns_the_collector_back_on(tmp_path):
    site = make_site(tmp_path, max_connections_per_ip=1000)
    async with running(site) as sidecar:
        writers = await asyncio.gather(*(handshake(sidecar.port, n) for n in range(100)))
        assert not gc.isenabled()
    assert gc.isenabled()
    for writer in writers:
        writer.close()


@aio
async def test_a_storm_that_never_ends_pauses_the_collector_for_a_bounded_time():
    assert gc.isenabled()
    pause = CollectorPause(lambda: True, longest=0.3)
    try:
        pause.poke()
        assert not gc.isenabled()
        await until(gc.isenabled, timeout=2)  # after 0.3 s, storm or not
        pause.poke()
        assert gc.isenabled()  # then at least as long with it on
        await asyncio.sleep(0.35)
        pause.poke()
        assert not gc.isenabled() and pause.pauses == 2
    finally:
        pause.resume()
    assert gc.isenabled()


@aio
async def test_a_collector_turned_off_by_the_host_stays_off():
    gc.disable()
    try:
        pause = CollectorPause(lambda: True)
        pause.poke()
        pause.resume()
        assert not gc.isenabled() and pause.pauses == 0
    finally:
        gc.enable()


@aio
async def test_no_pause_when_turned_off():
    pause = CollectorPause(lambda: True, longest=0)
    pause.poke()
    assert gc.isenabled() and pause.pauses == 0
