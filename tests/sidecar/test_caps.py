"""One hostile host cannot take the sidecar: caps per address and in all, a bounded log.

Distinct client addresses are real: Linux routes all of 127.0.0.0/8 to the
loopback, so a client socket bound to 127.0.0.2 reaches the sidecar on
127.0.0.1 from 127.0.0.2.
"""

from __future__ import annotations

import asyncio
import resource
import signal
import time
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from greenhouse.sidecar import Tuning, start
from tests.sidecar.helpers import (
    FAST,
    ORIGIN,
    UA,
    WS_HEADERS,
    LogLines,
    Process,
    aio,
    client,
    http_get,
    make_site,
    raw_request,
    recv,
    running,
    until,
)

HOSTILE = "127.0.0.2"
FRIEND = "127.0.0.3"

pytestmark = pytest.mark.timeout(120)


async def half_open(port: int, local: str) -> asyncio.StreamWriter:
    """A TCP connection that starts a handshake and never finishes it."""
    _reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(local, 0))
    writer.write(b"GET /ws/garden HTTP/1.1\r\nHost: x\r\n")
    await writer.drain()
    return writer


async def refused_at_accept(port: int, local: str) -> bool:
    """Whether a new connection from *local* is closed by the server before any answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(local, 0))
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        async with asyncio.timeout(5):
            return await reader.read() == b""
    except ConnectionResetError:
        return True
    finally:
        writer.close()


async def timed_welcome(port_client, started: float) -> tuple[dict, float]:
    async with port_client as ws:
        frame = await recv(ws)
        return frame, time.monotonic() - started


@aio
async def test_a_hostile_address_holds_its_cap_and_others_still_get_in_within_a_second(tmp_path):
    cap = 12
    site = make_site(tmp_path, max_connections_per_ip=cap)
    with LogLines() as log:
        async with running(site, log_every=60.0) as sidecar:
            # A new user agent per connection: without the cap, each would be a new visitor.
            held = [
                await client(sidecar, ua=f"{UA} hostile/{n}", local_addr=(HOSTILE, 0)).__aenter__()
                for n in range(cap // 2)
            ]
            for ws in held:
                await recv(ws)
            stalled = [await half_open(sidecar.port, HOSTILE) for _ in range(cap // 2)]
            await until(lambda: sidecar.admission.hosts.count(HOSTILE) == cap)

            refusals = await asyncio.gather(
                *(refused_at_accept(sidecar.port, HOSTILE) for _ in range(150))
            )
            assert all(refusals)
            assert sidecar.metrics.rejects["ip_cap"] == 150

            for n in range(5):  # legitimate visitors, one after the other
                started = time.monotonic()
                frame, took = await timed_welcome(
                    client(sidecar, ua=f"{UA} friend/{n}", local_addr=(FRIEND, 0)), started
                )
                assert took < 1.0, took
                # Presence: the hostile address inflates it by its cap of websockets at most.
                assert frame["visitors"] == cap // 2 + 1

            for ws in held:
                await ws.close()
            for writer in stalled:
                writer.close()
            await until(lambda: sidecar.admission.sockets == 0)
            assert len(sidecar.admission.hosts) == 0
    refused_lines = [r for r in log.records if "refused at accept" in r.getMessage()]
    assert 1 <= len(refused_lines) <= 3, log.text()  # 150 refusals, rate-limited
    assert "Traceback" not in log.text() and not any(r.exc_info for r in log.records)
    assert len(log.records) < 60, log.text()


@aio
async def test_behind_a_trusted_proxy_the_forwarded_address_is_capped(tmp_path):
    cap = 4
    site = make_site(tmp_path, max_connections_per_ip=cap, trusted_proxies=["127.0.0.1"])
    hostile = {"X-Forwarded-For": "198.51.100.7"}
    async with running(site) as sidecar:
        held = [
            await client(sidecar, ua=f"{UA} h/{n}", headers=hostile).__aenter__()
            for n in range(cap)
        ]
        for ws in held:
            await recv(ws)
        with pytest.raises(InvalidStatus) as refused:
            async with client(sidecar, ua=f"{UA} h/x", headers=hostile):
                pass
        assert refused.value.response.status_code == 429
        assert sidecar.metrics.rejects["ip_cap"] == 1
        # The proxy's own address is not capped: everyone comes through it.
        started = time.monotonic()
        friends = [
            await client(
                sidecar, ua=f"{UA} f/{n}", headers={"X-Forwarded-For": f"198.51.100.{20 + n}"}
            ).__aenter__()
            for n in range(cap + 2)
        ]
        for ws in friends:
            assert (await recv(ws))["visitors"] >= cap + 1
        assert time.monotonic() - started < 1.0 * len(friends)
        for ws in held + friends:
            await ws.close()
        await until(lambda: sidecar.admission.sockets == 0 and len(sidecar.admission.hosts) == 0)


@aio
async def test_at_the_websocket_cap_new_visitors_get_503_and_healthz_still_answers(tmp_path):
    site = make_site(tmp_path, max_connections=3, max_connections_per_ip=100)
    with LogLines() as log:
        async with running(site) as sidecar:
            held = [await client(sidecar, ua=f"{UA} {n}").__aenter__() for n in range(3)]
            for ws in held:
                await recv(ws)
            for _ in range(20):
                with pytest.raises(InvalidStatus) as refused:
                    async with client(sidecar, ua=f"{UA} late"):
                        pass
                assert refused.value.response.status_code == 503
            health = await http_get(sidecar, "/healthz")
            assert health.status_code == 200
            capacity = health.json()["capacity"]
            assert capacity["max_connections"] == 3 and capacity["max_connections_per_ip"] == 100
            assert sidecar.metrics.rejects["capacity"] == 20
            await held[0].close()
            await until(lambda: sidecar.admission.websockets == 2)
            async with client(sidecar, ua=f"{UA} again") as ws:  # room again
                assert (await recv(ws))["type"] == "welcome"
            for ws in held[1:]:
                await ws.close()
    capacity_lines = [r for r in log.records if "websocket connections" in r.getMessage()]
    assert len(capacity_lines) == 1, log.text()  # 20 refusals, one line


@aio
async def test_a_proxy_without_the_header_is_capped_as_itself(tmp_path):
    # A misconfigured proxy that forwards no address makes everyone one host:
    # the cap then applies to the proxy's address, and the log says so once.
    site = make_site(tmp_path, max_connections_per_ip=2, trusted_proxies=["127.0.0.1"])
    async with running(site) as sidecar:
        first = [await client(sidecar, ua=f"{UA} {n}").__aenter__() for n in range(2)]
        for ws in first:
            await recv(ws)
        status, body = await raw_request(
            sidecar.port, [*WS_HEADERS, "Origin: x", f"User-Agent: {UA}"]
        )
        assert status == 429 and b"too many connections" in body
        for ws in first:
            await ws.close()


def limits_of(pid: int) -> tuple[int, int]:
    """The soft and hard open-files limits of a running process, from /proc."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError("no open-files line")


def test_the_soft_open_files_limit_is_raised_to_the_hard_one(tmp_path):
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    assert hard > 300, "the test needs a hard limit above its ulimit -n 256"
    site = make_site(tmp_path / "site")
    with Process(
        site.root,
        tmp_path / "sidecar.log",
        module="tests.sidecar.fd_limited",
        extra=("--soft", "256"),
    ) as sidecar:
        assert limits_of(sidecar.proc.pid) == (hard, hard)
        health = httpx.get(sidecar.url + "/healthz", timeout=5).json()
        assert health["capacity"]["open_files"] == hard
        assert health["capacity"]["max_connections"] < hard
        sidecar.stop(signal.SIGTERM)
    assert f"open files limit {hard}" in (tmp_path / "sidecar.log").read_text()


def test_out_of_descriptors_the_accept_failures_are_logged_rate_limited_without_tracebacks(
    tmp_path,
):
    site = make_site(tmp_path / "site", max_connections_per_ip=1000)
    log = tmp_path / "sidecar.log"

    async def flood(port: int) -> list[asyncio.StreamWriter]:
        writers = []
        for n in range(120):
            local = f"127.0.1.{n % 200 + 1}"
            try:
                _r, w = await asyncio.open_connection("127.0.0.1", port, local_addr=(local, 0))
            except OSError:
                continue
            w.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            writers.append(w)
        await asyncio.sleep(3.5)  # EMFILE, retried every second by asyncio
        return writers

    async def healthy_again(url: str) -> int:
        async with asyncio.timeout(15), httpx.AsyncClient(timeout=2) as http:
            while True:
                try:
                    return (await http.get(url + "/healthz")).status_code
                except httpx.HTTPError:
                    await asyncio.sleep(0.2)

    with Process(
        site.root, log, module="tests.sidecar.fd_limited", extra=("--spare", "4")
    ) as sidecar:

        async def attack() -> int:
            writers = await flood(sidecar.port)
            for w in writers:
                w.close()
            return await healthy_again(sidecar.url)

        assert asyncio.run(attack()) == 200
        assert sidecar.proc.poll() is None, "the sidecar is still running"
        sidecar.stop(signal.SIGTERM)
    text = log.read_text()
    accept_lines = [line for line in text.splitlines() if "cannot accept connections" in line]
    assert 1 <= len(accept_lines) <= 2, text
    assert "Too many open files" in accept_lines[0]
    assert "Traceback" not in text and "ERROR" not in text
    assert len(text.splitlines()) < 40, text


@aio
async def test_the_admission_bookkeeping_lives_in_slots(tmp_path):
    # Attributes added to a websockets connection after its __init__ un-share its
    # __dict__: 1.5 KiB more per connection, a tenth of its whole size.
    site = make_site(tmp_path)
    async with running(site) as sidecar, client(sidecar) as ws:
        await recv(ws)
        (conn,) = sidecar.visits.open
        assert conn.host == "127.0.0.1" and conn.client_ip == "127.0.0.1" and conn.upgraded
        assert not {"host", "client_ip", "upgraded", "plain"} & set(vars(conn))


@aio
async def test_connections_cut_anywhere_in_their_handshake_leave_nothing_counted(tmp_path):
    # Admission counts from accept, a visit from its admission in process_response:
    # whatever moment a connection dies at, and a shutdown in the middle of a storm,
    # nothing may stay counted (no phantom visitor, no host stuck at its cap).
    import socket
    import struct

    site = make_site(tmp_path, max_connections_per_ip=1000)
    request = "\r\n".join(
        [
            "GET /ws/garden HTTP/1.1",
            "Host: x",
            *WS_HEADERS,
            f"Origin: {ORIGIN}",
            f"User-Agent: {UA}",
            "",
            "",
        ]
    ).encode()

    async def cut_after(port: int, n: int) -> None:
        loop = asyncio.get_running_loop()
        sock = socket.socket()
        sock.setblocking(False)
        sock.bind((f"127.0.3.{n % 50 + 1}", 0))
        try:
            await loop.sock_connect(sock, ("127.0.0.1", port))
            if n % 3:
                await loop.sock_sendall(sock, request[: len(request) * (n % 3) // 2])
            await asyncio.sleep((n % 7) / 1000)
        except OSError:
            pass
        finally:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()  # a reset, at a different moment for each

    sidecar = await start(site, "127.0.0.1", 0, token=None, tuning=Tuning(**FAST))
    try:
        await asyncio.gather(*(cut_after(sidecar.port, n) for n in range(150)))
        # A visit whose handler had begun is left when that handler next runs, a moment
        # after its socket is uncounted: wait for both (a visit never left times out here).
        visits = sidecar.visits
        await until(lambda: sidecar.admission.sockets == 0 and not visits.open)
        assert not visits.per_visitor
        assert sidecar.presence.snapshot().visitors == 0 and sidecar.metrics.connections == 0
        assert len(sidecar.admission.hosts) == 0
        storm = [asyncio.create_task(cut_after(sidecar.port, n)) for n in range(150)]
        await asyncio.sleep(0.01)
    finally:
        await sidecar.close()  # in the middle of the second storm
    await asyncio.gather(*storm)
    assert not sidecar.visits.open and not sidecar.visits.per_visitor
    assert sidecar.presence.snapshot().visitors == 0 and sidecar.metrics.connections == 0


def test_a_reconnect_storm_finds_room_in_the_accept_queue(tmp_path):
    # While the sidecar is busy (here: stopped), the kernel completes handshakes into
    # the listening socket's queue, up to its backlog; beyond it a SYN is dropped and
    # the client retries a second later. asyncio's default backlog is 100.
    import socket

    site = make_site(tmp_path / "site", max_connections_per_ip=1000)
    with Process(site.root, tmp_path / "sidecar.log") as sidecar:
        sidecar.proc.send_signal(signal.SIGSTOP)
        clients = []
        try:
            for n in range(400):  # all at once, without waiting for each
                sock = socket.socket()
                sock.bind((f"127.0.4.{n % 200 + 1}", 0))
                sock.setblocking(False)
                sock.connect_ex(("127.0.0.1", sidecar.port))
                clients.append(sock)
            time.sleep(0.5)  # a dropped SYN is retried only after a second
            connected = sum(
                1
                for sock in clients
                if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0 and _established(sock)
            )
        finally:
            sidecar.proc.send_signal(signal.SIGCONT)
            for sock in clients:
                sock.close()
        assert connected == 400
        sidecar.stop(signal.SIGTERM)


def _established(sock) -> bool:
    """Whether a non-blocking connect has completed (the peer address is known)."""
    try:
        sock.getpeername()
    except OSError:
        return False
    return True
