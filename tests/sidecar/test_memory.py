"""What a connection costs the sidecar: nothing kept per visit that a storm makes larger.

The figures are in ``tests/bench/bench_sidecar.py``; these tests hold the
mechanisms that keep them down, each through a real sidecar on port 0.
"""

from __future__ import annotations

import asyncio
import gc
import types
from typing import Any

from tests.sidecar.helpers import ORIGIN, UA, aio, make_site, running

STORM = 150


def own_dict(connection: Any) -> bool:
    """Whether *connection* has an instance dict of its own, rather than its attributes in
    the compact form CPython shares between instances of a class (PEP 412).

    A dict of its own shows among the object's referents, holding websockets' attribute
    names; compact attributes show as their values only.
    """
    return any(type(r) is dict and "protocol" in r for r in gc.get_referents(connection))


async def handshake(port: int, i: int) -> asyncio.StreamWriter:
    """One visitor's handshake by hand (a distinct forwarded address each), read to its 101."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        (
            f"GET /ws/garden HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            f"Sec-WebSocket-Version: 13\r\nOrigin: {ORIGIN}\r\nUser-Agent: {UA}\r\n"
            f"X-Forwarded-For: 10.0.{i >> 8}.{i & 255}\r\n\r\n"
        ).encode()
    )
    async with asyncio.timeout(20):
        head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return writer


@aio
async def test_a_reconnect_storm_does_not_give_each_connection_a_dict_of_its_own(tmp_path):
    # All at once, in the sidecar's own loop: the server makes many connection objects
    # before the first is told of its transport, as in a real storm. websockets sets
    # ``transport`` after its __init__; unless the sidecar keeps it in a slot, CPython
    # then gives every connection a dict of its own (about 1.3 KiB each, the "steps" of
    # bench_sidecar.py's memory figure).
    site = make_site(tmp_path, trusted_proxies=["127.0.0.1"], idle_timeout=3600)
    async with running(site, ping_interval=None, ping_timeout=None) as sidecar:
        writers = await asyncio.gather(*(handshake(sidecar.port, i) for i in range(STORM)))
        try:
            open_ = list(sidecar.visits.open)
            assert len(open_) == STORM
            assert not [ws for ws in open_ if own_dict(ws)]
            assert all(ws.transport is not None for ws in open_)  # the slot holds it
        finally:
            for writer in writers:
                writer.transport.abort()


@aio
async def test_a_visit_keeps_no_coroutine_beyond_its_handler(tmp_path):
    # One suspended coroutine per visit (the handler's), as a bare websockets handler
    # has with ``async for``: each more is a frame kept per connection.
    site = make_site(tmp_path, trusted_proxies=["127.0.0.1"], idle_timeout=3600)
    async with running(site, ping_interval=None, ping_timeout=None) as sidecar:
        writers = await asyncio.gather(*(handshake(sidecar.port, i) for i in range(3)))
        try:
            await asyncio.sleep(0.1)  # the handlers are waiting for a message
            suspended = [
                o
                for o in gc.get_objects()
                if type(o) is types.CoroutineType
                and o.cr_frame is not None
                and o.cr_frame.f_code.co_filename.endswith("sidecar/connections.py")
            ]
            per_visit = sorted(
                c.cr_code.co_name for c in suspended if c.cr_code.co_name != "close_idle"
            )
            assert per_visit == ["handle"] * 3  # (close_idle: the one sweep of the sidecar)
        finally:
            for writer in writers:
                writer.transport.abort()
