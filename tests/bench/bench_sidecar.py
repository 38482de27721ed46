"""Benchmark the sidecar against a bare websockets server, in the same run.

    python tests/bench/bench_sidecar.py                       # 1,000 then 10,000 connections
    python tests/bench/bench_sidecar.py --connections 10000   # one size only
    python tests/bench/bench_sidecar.py --servers sidecar,baseline   # a subset of the servers
    (servers: sidecar, baseline, floor, floor-procs; all four by default)

For each size and each server (the sidecar with its shipped defaults, then a
bare ``websockets`` server that broadcasts a presence frame on every message),
in a subprocess on 127.0.0.1:

1. **storm**: open N connections at once (200 handshakes in flight), each a
   distinct visitor (a distinct ``X-Forwarded-For``, the sidecar trusting
   127.0.0.1 as it would trust nginx). Reports the time to open them all,
   the server's CPU time meanwhile and how long it waited for a CPU (on a
   shared machine the wall time is mostly other people's load), and the
   presence frames each client received while the others were still
   connecting (mean over all N). The bare server sends none: it has no
   presence. The 100 sampled clients of step 3 start their handshakes
   among the others (one beside every (N - 100)/100-th), so they are spread
   over the order in which the server admitted connections. The extra storms
   of step 2 are timed too (their N clients all minimal): beside this storm's
   ratio the summary prints the ratio of the median storms and of each
   server's fastest. Bare websockets is the one that moves: its storm at
   10,000 took from 3.4 s to 6.2 s in runs ten minutes apart, the
   sidecar's 4.3-5.3 s.
2. **memory**: the server's RSS after the storm minus before, per connection. For the
   sidecar and bare, the median of ``--memory-storms`` storms (default 3: this one,
   then more against fresh servers, taking turns), and beside it the ratio of each
   server's lowest storm. A websockets connection object gets a dict of its own
   (about 1.3 KiB more) when a storm has made many of them before the first is told
   of its transport (CPython's key-sharing dicts, see ``GardenConnection``): bare
   websockets lands on one of two steps from storm to storm (14.1 or 15.4 KiB at
   10,000 on this machine), by how the accepts happened to batch. The sidecar keeps
   ``transport`` in a slot and has one step. The lowest storms compare the sidecar
   with bare at its best.
3. **fan-out and latency**: ten driver visitors take turns moving between
   two plants; each move changes presence. The next move waits until 100
   sampled clients (spread over the connection order) got the frame.
   Reports the server-side fan-out time per frame (the sidecar's
   ``broadcast_seconds``; ``perf_counter`` around ``broadcast()`` in the
   bare server) and the delivery latency from the move to each sample's
   receipt (p10, p50, p99). A third server, the **floor**, writes the same frame
   bytes to every transport and does nothing else: no single-threaded
   Python server fans out faster on this machine. **floor-procs** is that
   floor as two processes sharing the port with ``SO_REUSEPORT``, each writing
   to its own connections; its fan-out is from a move's arrival to the later of
   the two processes' last write. ``--parallel-floor`` adds the floor with a
   second writer thread, an experiment.
4. **export** (sidecar, largest size only): the latency phase again in
   ``--export-rounds`` pairs of windows (default 8 pairs of a quarter of
   ``--seconds`` each), one window of each pair while another process pages
   through ``/api/events`` (1,000 events a page, back to back) over a log of
   200,000 events, the order alternating between pairs; reports each pair's
   p99 without and during, its change, and the median change; the p50 and p99
   of all windows of each kind pooled; and the CPU seconds of the server (and of
   its threads other than the event loop, which build the pages) and of the
   exporting process in each kind of window. A window's p99 is its worst move or
   two: one stalled move (a collection, another process taking the core) makes a
   pair's change hundreds of percent, so the figure is the median over the pairs,
   and eight pairs (four until round 5) let two such pairs pass.

A summary at the end gives issue 15's ratios against bare in the same run.

N - 100 clients are minimal: they finish the handshake and count presence
frames in the bytes that arrive, in a process of their own, so that reading
N frames per move does not hold up the sampled clients' receipts; after the
storm that process runs at a lower priority (nice 10) for the same reason.
Keepalive pings are off in both servers (the minimal clients do not answer
them) and the sidecar's idle timeout is an hour (the clients never talk);
neither changes what is measured. Loopback only; bounded in connections and
time. Not part of the test run.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

ORIGIN = "https://bench.example"
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0"
PLANTS = ("p1", "p2")
TOKEN = "bench"
DRIVERS = 10
SAMPLE = 100
IN_FLIGHT = 200
LOGGED_EVENTS = 200_000


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time process *pid* has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_delay_seconds(pid: int) -> float:
    """Time process *pid*'s main thread spent runnable but waiting for a CPU."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9


def address(i: int) -> str:
    """A distinct visitor address for client *i*."""
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


# -- the servers under test (run as subprocesses of this script) ------------------------


async def serve_sidecar(root: str) -> None:
    from greenhouse.config import Config, Site
    from greenhouse.sidecar import Tuning, start
    from greenhouse.sidecar.logs import configure

    # Logged as shipped (text, info: a line per connection opened and closed), to a file.
    log = Path(root, "sidecar.log").open("a")  # noqa: SIM115 (open for the process's life)
    configure("text", "info", log)

    site = Site(
        Path(root),
        Config.model_validate(
            {
                "live": {
                    "allowed_origins": [ORIGIN],
                    "trusted_proxies": ["127.0.0.1"],
                    "idle_timeout": 3600,
                }
            }
        ),
    )
    sidecar = await start(
        site,
        "127.0.0.1",
        0,
        token=TOKEN,
        tuning=Tuning(ping_interval=None, ping_timeout=None, watch_garden=False),
    )
    print(f"listening {sidecar.port}", flush=True)
    await asyncio.Event().wait()


async def serve_baseline() -> None:
    """The bare way: a set of connections and websockets.broadcast of a JSON string."""
    from websockets.asyncio.server import broadcast, serve
    from websockets.exceptions import ConnectionClosed

    clients: set = set()
    times: list[float] = []
    where: dict[Any, str] = {}

    async def handler(ws) -> None:  # type: ignore[no-untyped-def]
        clients.add(ws)
        try:
            async for message in ws:
                if message == "stats":
                    await ws.send(json.dumps({"fanout": times}))
                    continue
                where[ws] = json.loads(message)["project"]
                started = time.perf_counter()
                counts = {p: sum(1 for v in where.values() if v == p) for p in PLANTS}
                frame = json.dumps(
                    {"type": "presence", "visitors": len(clients), "projects": counts}
                )
                broadcast(clients, frame)
                times.append(time.perf_counter() - started)
        except ConnectionClosed:
            pass  # the bench aborts its clients at the end
        finally:
            clients.discard(ws)
            where.pop(ws, None)

    async with serve(
        handler, "127.0.0.1", 0, compression=None, ping_interval=None, max_size=4096, backlog=1024
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(f"listening {port}", flush=True)
        await asyncio.Event().wait()


async def serve_floor(
    threads: int = 1, listener: Any = None, peer: Any = None, announce: bool = True
) -> None:
    """The floor of fan-out in one Python process: the same frame bytes written to every
    transport, and nothing else (a hand-made handshake; any client frame triggers a send).

    With *threads* = 2, a worker thread writes half of the sockets with ``os.write`` while
    the loop writes the other half (the GIL is released during each send): what parallel
    writes could gain, where cores are free. Not what the sidecar does.

    With a *peer* (one end of a ``SOCK_SEQPACKET`` pair, see :func:`serve_floor_processes`)
    this is one of two processes that share the port: a move arriving here is passed to the
    peer first (the frame bytes and the moment it arrived), then written to this process's
    connections while the peer writes to its own. The fan-out time of a move is from its
    arrival to the later of the two processes' last write; both record it."""
    import hashlib
    import struct
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(1)

    def raw_writes(fds: list[int], frame: bytes) -> None:
        for fd in fds:
            try:  # noqa: SIM105 (a with-statement per write would weigh on the floor)
                os.write(fd, frame)
            except OSError:
                pass  # a full buffer or a gone client: the floor does not care

    from websockets.frames import Frame, Opcode

    upgraded: list[asyncio.Transport] = []
    times: list[float] = []
    moves = [0]

    class Raw(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport: asyncio.Transport = transport  # type: ignore[assignment]
            self.head = b""
            self.open = False

        def data_received(self, data: bytes) -> None:
            if self.open:
                moves[0] += 1
                started = time.perf_counter()
                body = json.dumps({"type": "presence", "visitors": len(upgraded), "n": moves[0]})
                frame = Frame(Opcode.TEXT, body.encode()).serialize(mask=False)
                if peer is not None:
                    peer.send(b"M" + struct.pack("d", started) + frame)
                    for transport in upgraded:
                        transport.write(frame)
                    mine[started] = time.perf_counter()
                    return
                if threads == 2:
                    half = len(upgraded) // 2
                    fds = [t.get_extra_info("socket").fileno() for t in upgraded[half:]]
                    other = pool.submit(raw_writes, fds, frame)
                    for transport in upgraded[:half]:
                        transport.write(frame)
                    other.result()
                else:
                    for transport in upgraded:
                        transport.write(frame)
                times.append(time.perf_counter() - started)
                return
            self.head += data
            if b"\r\n\r\n" not in self.head:
                return
            if self.head.startswith(b"GET /stats"):
                body = json.dumps({"fanout": times}).encode()
                self.transport.write(
                    b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                    % (len(body), body)
                )
                self.transport.close()
                return
            key = next(
                line.split(b":", 1)[1].strip()
                for line in self.head.split(b"\r\n")
                if line.lower().startswith(b"sec-websocket-key:")
            )
            accept = base64.b64encode(
                hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
            )
            self.transport.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )
            self.open = True
            upgraded.append(self.transport)

        def connection_lost(self, exc: Exception | None) -> None:
            if self.open:
                upgraded.remove(self.transport)

    loop = asyncio.get_running_loop()
    mine: dict[float, float] = {}  # moves that arrived here: arrival -> this side's end
    gone = asyncio.Event()

    def from_peer() -> None:
        try:
            message = peer.recv(65536)
        except BlockingIOError:
            return
        if not message:  # the other process is gone: so are we
            loop.remove_reader(peer.fileno())
            gone.set()
            return
        kind, (moment,), rest = message[:1], struct.unpack("d", message[1:9]), message[9:]
        if kind == b"M":  # a move that arrived there: write it here, say when done
            for transport in upgraded:
                transport.write(rest)
            peer.send(b"E" + struct.pack("d", moment) + struct.pack("d", time.perf_counter()))
        elif kind == b"E":  # the peer finished a move that arrived here
            (theirs,) = struct.unpack("d", rest)
            total = max(theirs, mine.pop(moment)) - moment
            times.append(total)
            peer.send(b"T" + struct.pack("d", total))
        else:  # T: the fan-out time of a move that arrived there
            times.append(moment)

    if peer is not None:
        peer.setblocking(False)
        loop.add_reader(peer.fileno(), from_peer)
    if listener is None:
        server = await loop.create_server(Raw, "127.0.0.1", 0, backlog=1024)
    else:
        server = await loop.create_server(Raw, sock=listener, backlog=1024)
    if announce:
        print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)
    elif peer is not None:
        peer.send(b"R" + struct.pack("d", 0.0))  # the parent announces once we listen too
    await gone.wait()


def serve_floor_processes() -> None:
    """The floor with two processes behind one port (``SO_REUSEPORT``): the kernel spreads
    the connections over the two listeners; a move reaching either is written by both, each
    to its own connections (see :func:`serve_floor`). The second process is forked before
    either starts its loop and exits when the first does."""
    import socket

    def reusing(port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(1024)
        return sock

    first = reusing(0)
    port = first.getsockname()[1]
    here, there = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    if os.fork() == 0:
        here.close()
        first.close()
        asyncio.run(serve_floor(listener=reusing(port), peer=there, announce=False))
        os._exit(0)
    there.close()
    assert here.recv(64)[:1] == b"R"  # the second listener is up
    asyncio.run(serve_floor(listener=first, peer=here, announce=True))


# -- the clients ---------------------------------------------------------------------------


class Counting(asyncio.Protocol):
    """A minimal client after the handshake: counts presence frames while asked to, drops the rest."""

    counting = True

    def __init__(self) -> None:
        self.buffer = b""
        self.frames = 0
        self.upgraded = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        if not self.upgraded.done():
            self.buffer += data
            if b"\r\n\r\n" in self.buffer:
                self.upgraded.set_result(self.buffer.startswith(b"HTTP/1.1 101"))
            return
        if Counting.counting:
            self.frames += data.count(b'"type":"presence"')


async def open_minimal(port: int, i: int) -> tuple[asyncio.BaseTransport, Counting]:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_connection(Counting, "127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    transport.write(
        (
            f"GET /ws/garden HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {ORIGIN}\r\nUser-Agent: {UA}\r\nX-Forwarded-For: {address(i)}\r\n\r\n"
        ).encode()
    )
    if not await asyncio.wait_for(proto.upgraded, 120):
        raise RuntimeError("handshake refused: " + proto.buffer[:80].decode(errors="replace"))
    return transport, proto


async def crowd(port: int, n: int, every: int) -> None:
    """The minimal clients, in a process of their own (so reading N frames per move does not
    delay the sampled clients): opens *n* connections, 200 in flight, and says ``tick`` on
    stdout as every *every*-th of them starts (the parent opens a sampled client then) and
    ``opened`` at the end. On ``stop`` (stdin) it reports the presence frames each got so
    far; it holds the connections until ``exit``."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print("ready", flush=True)
    await reader.readline()  # go
    gate = asyncio.Semaphore(IN_FLIGHT)
    opened: list[tuple[asyncio.BaseTransport, Counting]] = []

    async def open_one(i: int) -> None:
        async with gate:  # first come, first served: the i-th starts i-th
            if i % every == every - 1:
                print("tick", flush=True)  # a sampled client starts beside this one
            opened.append(await open_minimal(port, i))

    await asyncio.gather(*(open_one(i) for i in range(n)))
    print("opened", flush=True)
    await reader.readline()  # stop
    Counting.counting = False
    print(json.dumps([p.frames for _, p in opened]), flush=True)
    await reader.readline()  # exit
    for transport, _ in opened:
        transport.abort()


async def open_real(port: int, i: int) -> Any:
    from websockets.asyncio.client import connect

    return await connect(
        f"ws://127.0.0.1:{port}/ws/garden",
        origin=ORIGIN,  # type: ignore[arg-type]
        user_agent_header=UA,
        additional_headers={"X-Forwarded-For": address(i)},
        compression=None,
        ping_interval=None,
        open_timeout=120,
        max_queue=None,
    )


async def open_sampled(port: int, i: int) -> Sampled:
    return Sampled(await open_real(port, i))


class Sampled:
    """A real websockets client that timestamps every presence frame."""

    def __init__(self, ws: Any):
        self.ws = ws
        self.times: list[float] = []
        self.task = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        async for message in self.ws:
            if '"presence"' in message:
                self.times.append(time.perf_counter())

    def received_after(self, moment: float) -> float | None:
        for t in self.times:
            if t > moment:
                return t
        return None


async def moves(
    drivers: list[Any], place: list[str], sampled: list[Sampled], seconds: float, limit: int
) -> tuple[list[float], int]:
    """Drivers take turns moving plants (*place*: where each is); returns the delivery
    latencies and the moves made."""
    latencies: list[float] = []
    count = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline and count < limit:
        d = count % len(drivers)
        place[d] = PLANTS[1] if place[d] == PLANTS[0] else PLANTS[0]
        sent = time.perf_counter()
        await drivers[d].send(json.dumps({"type": "view", "project": place[d]}))
        give_up = sent + 10.0
        while time.perf_counter() < give_up:
            arrivals = [s.received_after(sent) for s in sampled]
            if all(a is not None for a in arrivals):
                break
            await asyncio.sleep(0.0005)
        latencies += [a - sent for s in sampled if (a := s.received_after(sent)) is not None]
        count += 1
        await asyncio.sleep(0.02)
    return latencies, count


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def exporter(port: int) -> None:
    """Page through /api/events back to back while told to (run in a child process).

    Commands on stdin: ``go`` starts paging (from the start of the log again at its end),
    ``pause`` stops after the page in flight and prints the pages fetched since ``go``,
    ``exit`` ends. One process for every export window, so that none pays for starting
    Python and importing httpx. Every byte of every page is read; only the cursor is
    parsed out of it."""
    import threading

    import httpx

    active = threading.Event()
    busy = threading.Lock()
    pages = [0]

    def page_through() -> None:
        after = None
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            while True:
                active.wait()
                with busy:
                    if not active.is_set():
                        continue
                    query = {"limit": "1000", **({"after": after} if after else {})}
                    body = http.get(
                        "/api/events", params=query, headers={"Authorization": f"Bearer {TOKEN}"}
                    ).content
                    pages[0] += 1
                    # Only the page's tail is parsed: this process stands in for an exporter
                    # on another machine, and on these two cores parsing 1,000 events a
                    # page took CPU from the server and the clients measured.
                    tail = json.loads(b"{" + body[body.rindex(b'],"next":') + 2 :])
                    after = tail["next"] if not body.startswith(b'{"events":[]') else None

    threading.Thread(target=page_through, daemon=True).start()
    print("ready", flush=True)
    for line in sys.stdin:
        word = line.strip()
        if word == "go":
            pages[0] = 0
            active.set()
        elif word == "pause":
            active.clear()
            with busy:  # the page in flight is done
                print(pages[0], flush=True)
        else:
            return


async def export_windows(
    port: int,
    server_pid: int,
    drivers: list[Any],
    place: list[str],
    sampled: list[Sampled],
    seconds: float,
    rounds: int,
) -> dict[str, Any]:
    """Others' latency with and without an export running, in *rounds* pairs of windows.

    The windows alternate (with then without, then without then with, ...) so that a
    change in the machine's load during the phase weighs on both sides alike; each round
    compares its two adjacent windows. One exporting process, paused between windows.
    Beside the latencies: the CPU seconds the server and the exporting process used in
    each kind of window, and the server's share of its threads' CPU that was not its
    event loop (the worker thread building pages)."""
    child = subprocess.Popen(
        [sys.executable, __file__, "--export", str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    tell, hear = child.stdin, child.stdout
    try:
        assert await asyncio.to_thread(hear.readline) == "ready\n"
        window = max(3.0, seconds / 4)
        rounds_p99: list[tuple[float, float]] = []  # (without, with) per round
        pooled: dict[bool, list[float]] = {False: [], True: []}
        cpu: dict[bool, list[float]] = {False: [0.0, 0.0, 0.0], True: [0.0, 0.0, 0.0]}
        pages = 0
        for r in range(rounds):
            p99: dict[bool, float] = {}
            for exporting in (True, False) if r % 2 == 0 else (False, True):
                if exporting:
                    tell.write("go\n")
                    tell.flush()
                await asyncio.sleep(0.5)  # an export under way, or the last one over
                before = (
                    cpu_seconds(server_pid),
                    cpu_seconds(child.pid),
                    helper_thread_seconds(server_pid),
                )
                latencies, _count = await moves(drivers, place, sampled, window, 300)
                after = (
                    cpu_seconds(server_pid),
                    cpu_seconds(child.pid),
                    helper_thread_seconds(server_pid),
                )
                for i in range(3):
                    cpu[exporting][i] += after[i] - before[i]
                if exporting:
                    tell.write("pause\n")
                    tell.flush()
                    pages += int(await asyncio.to_thread(hear.readline))
                p99[exporting] = percentile(latencies, 0.99)
                pooled[exporting] += latencies
            rounds_p99.append((p99[False], p99[True]))
        tell.write("exit\n")
        tell.flush()
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    changes = [(w - wo) / wo * 100 for wo, w in rounds_p99]
    return {
        "pages_exported": pages,
        "rounds": rounds,
        "window_seconds": window,
        "latency_ms_p99_without": [round(wo * 1000, 1) for wo, _ in rounds_p99],
        "latency_ms_p99_during": [round(w * 1000, 1) for _, w in rounds_p99],
        "p99_change_pct": [round(c, 1) for c in changes],
        "p99_change_pct_median": round(statistics.median(changes), 1),
        "pooled_p99_ms_without_during": [
            round(percentile(pooled[False], 0.99) * 1000, 1),
            round(percentile(pooled[True], 0.99) * 1000, 1),
        ],
        "pooled_p50_ms_without_during": [
            round(percentile(pooled[False], 0.5) * 1000, 1),
            round(percentile(pooled[True], 0.5) * 1000, 1),
        ],
        # CPU seconds over all windows of each kind: the server, the exporting process,
        # and the server's threads other than its event loop.
        "cpu_s_server_without_during": [round(cpu[False][0], 2), round(cpu[True][0], 2)],
        "cpu_s_exporter_during": round(cpu[True][1], 2),
        "cpu_s_server_helper_threads_without_during": [
            round(cpu[False][2], 2),
            round(cpu[True][2], 2),
        ],
    }


def helper_thread_seconds(pid: int) -> float:
    """CPU seconds of process *pid*'s threads other than its main one (the event loop)."""
    total = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        if task.name == str(pid):
            continue
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def as_installed(root: Path, kinds: list[str]) -> None:
    """Run every process from here on from compiled bytecode, as ``pip install`` leaves it.

    Importing a module from source leaves the compiler's freed memory in the
    allocator's arenas, and a storm's first connections fill it without growing
    the RSS: about 1 MiB, 1 KiB a connection at 1,000. Which modules a venv has
    compiled (``uv sync`` compiles none, ``pip install`` all, an editor or an
    earlier run some) then moved the memory figures at 1,000 by up to 12 %.
    So the servers and clients read their bytecode from a cache of this run's
    own (``PYTHONPYCACHEPREFIX``), filled by starting each server once first.
    """
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(root / "bytecode")
    for kind in kinds:
        proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", kind, "--root", str(root)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            proc.stdout.readline()  # "listening PORT": everything it needs is imported
        finally:
            proc.kill()
            proc.wait()
    # The clients too (no connection: an empty stdin answers every question at once).
    subprocess.run(
        [sys.executable, __file__, "--crowd", "0,0,1"],
        input="",
        capture_output=True,
        text=True,
        check=True,
    )


async def memory_storm(kind: str, n: int, root: str) -> tuple[float, float]:
    """One more storm of *n* minimal clients against a fresh *kind* server: its RSS growth
    per connection in KiB (as in :func:`measure`, without the other phases), and the
    seconds the server took to open them all."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--root", root],
        stdout=subprocess.PIPE,
        text=True,
    )
    people: subprocess.Popen[str] | None = None
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().split()[1])
        await asyncio.sleep(0.5)
        rss_before = rss_bytes(proc.pid)
        people = subprocess.Popen(
            [sys.executable, __file__, "--crowd", f"{port},{n},{n + 1}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert people.stdin is not None and people.stdout is not None
        assert await asyncio.to_thread(people.stdout.readline) == "ready\n"
        opened = time.perf_counter()
        people.stdin.write("go\n")
        people.stdin.flush()
        assert await asyncio.to_thread(people.stdout.readline) == "opened\n"
        open_seconds = time.perf_counter() - opened
        people.stdin.write("stop\n")
        people.stdin.flush()
        await asyncio.to_thread(people.stdout.readline)  # the frame counts
        await asyncio.sleep(2.0)
        return (rss_bytes(proc.pid) - rss_before) / n / 1024, open_seconds
    finally:
        for child in (people, proc):
            if child is not None and child.poll() is None:
                child.kill()
                child.wait()


async def measure(
    kind: str, n: int, seconds: float, root: str, export: bool, rounds: int = 8
) -> dict[str, Any]:
    args = [sys.executable, __file__, "--serve", kind, "--root", root]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    people: subprocess.Popen[str] | None = None
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().split()[1])
        await asyncio.sleep(0.5)
        rss_before = rss_bytes(proc.pid)
        every = max(1, (n - SAMPLE) // SAMPLE)
        people = subprocess.Popen(
            [sys.executable, __file__, "--crowd", f"{port},{n - SAMPLE},{every}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert people.stdin is not None and people.stdout is not None
        tell, hear = people.stdin, people.stdout

        def say(word: str) -> None:
            tell.write(word + "\n")
            tell.flush()

        assert await asyncio.to_thread(hear.readline) == "ready\n"
        cpu_before = cpu_seconds(proc.pid)
        waited_before = run_delay_seconds(proc.pid)
        opened = time.perf_counter()
        say("go")
        # A sampled client starts its handshake after every (n - 100)/100 others, without
        # waiting for the last one's: the samples are then spread over the order in which
        # the server admits connections (its fan-out order), whatever its handshake speed.
        # (Opened one after another they fell behind the crowd of a slower server and
        # heard every frame last.)
        opening: list[asyncio.Task[Sampled]] = []
        while (line := await asyncio.to_thread(hear.readline)) != "opened\n":
            assert line == "tick\n", line
            if len(opening) < SAMPLE:
                opening.append(asyncio.create_task(open_sampled(port, n + len(opening))))
        while len(opening) < SAMPLE:
            opening.append(asyncio.create_task(open_sampled(port, n + len(opening))))
        sampled = list(await asyncio.gather(*opening))
        open_seconds = time.perf_counter() - opened
        open_cpu = cpu_seconds(proc.pid) - cpu_before
        open_waited = run_delay_seconds(proc.pid) - waited_before
        say("stop")
        storm_frames = json.loads(await asyncio.to_thread(hear.readline)) + [
            sum(1 for t in s.times if t <= opened + open_seconds) for s in sampled
        ]
        # From here on the crowd only reads (the kernel holds its bytes meanwhile): at a
        # lower priority it no longer delays the sampled clients' receipts, which are
        # what the latency measures.
        os.setpriority(os.PRIO_PROCESS, people.pid, 10)
        await asyncio.sleep(2.0)
        rss_after = rss_bytes(proc.pid)

        drivers = [await open_real(port, n + SAMPLE + d) for d in range(DRIVERS)]
        for ws in drivers:
            asyncio.create_task(drain(ws))
        place = ["overview"] * DRIVERS
        await asyncio.sleep(1.0)
        delay_name = "greenhouse_sidecar_presence_delay_seconds"
        before = await fanout_totals(kind, port)
        if kind == "sidecar":
            delay_before = await histogram_totals(port, delay_name)
        latencies, count = await moves(drivers, place, sampled, seconds, 300)
        after = await fanout_totals(kind, port)
        fanout = (after[0] - before[0]) / max(1, after[1] - before[1])  # this phase only
        result: dict[str, Any] = {
            "server": kind,
            "connections": n,
            "open_seconds": round(open_seconds, 2),
            "open_cpu_seconds": round(open_cpu, 2),
            "open_cpu_waited_seconds": round(open_waited, 2),
            "storm_presence_frames_per_client": round(statistics.fmean(storm_frames), 2),
            "storm_presence_frames_max": max(storm_frames),
            "rss_mib": round(rss_after / 2**20, 1),
            "rss_per_connection_kib": round((rss_after - rss_before) / n / 1024, 2),
            "moves": count,
            "fanout_ms_mean": round(fanout * 1000, 3),
            "latency_ms_p10": round(percentile(latencies, 0.1) * 1000, 2),
            "latency_ms_p50": round(percentile(latencies, 0.5) * 1000, 2),
            "latency_ms_p99": round(percentile(latencies, 0.99) * 1000, 2),
            "missed": count * len(sampled) - len(latencies),
        }
        if kind == "sidecar":
            delay_after = await histogram_totals(port, delay_name)
            result["presence_delay_ms_mean"] = round(
                (delay_after[0] - delay_before[0])
                / max(1, delay_after[1] - delay_before[1])
                * 1000,
                2,
            )
        if export:
            result["export"] = await export_windows(
                port, proc.pid, drivers, place, sampled, seconds, rounds
            )
        say("exit")
        people.wait()
        for s in sampled:
            s.task.cancel()
            s.ws.transport.abort()
        for ws in drivers:
            ws.transport.abort()
        return result
    finally:
        for child in (people, proc):
            if child is not None and child.poll() is None:
                child.kill()
                child.wait()


async def drain(ws: Any) -> None:
    async for _ in ws:
        pass


async def fanout_totals(kind: str, port: int) -> tuple[float, int]:
    """The server's total fan-out seconds and number of fan-outs so far."""
    import httpx

    if kind in ("floor", "floor2", "floor-procs"):
        async with httpx.AsyncClient() as http:
            times = (await http.get(f"http://127.0.0.1:{port}/stats")).json()["fanout"]
        return sum(times), len(times)
    if kind == "baseline":
        from websockets.asyncio.client import connect

        async with connect(
            f"ws://127.0.0.1:{port}/ws/garden",
            origin=ORIGIN,  # type: ignore[arg-type]
            user_agent_header=UA,
        ) as ws:
            await ws.send("stats")
            while True:
                answer = json.loads(await ws.recv())
                if "fanout" in answer:
                    return sum(answer["fanout"]), len(answer["fanout"])
    return await histogram_totals(port, "greenhouse_sidecar_broadcast_seconds")


async def histogram_totals(port: int, name: str) -> tuple[float, int]:
    """The sum and count of one of the sidecar's histograms."""
    import httpx

    async with httpx.AsyncClient() as http:
        text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    values = dict(line.rsplit(" ", 1) for line in text.splitlines() if line.startswith(name))
    return float(values[f"{name}_sum"]), int(values[f"{name}_count"])


def fill_event_log(root: Path, count: int) -> None:
    """*count* events of today in the sidecar's layout, for the export phase."""
    day = datetime.now(UTC).strftime("%Y%m%d")
    folder = root / "build/live-events/main"
    folder.mkdir(parents=True)
    with (folder / f"{day}.jsonl").open("w") as f:
        for seq in range(1, count + 1):
            record = {
                "action": None,
                "device": "desktop",
                "id": f"{day}-{seq:010d}-main",
                "project": PLANTS[seq % 2],
                "referrer": "news.example.com",
                "ts": f"{day[:4]}-{day[4:6]}-{day[6:]}T00:00:00.000Z",
                "type": "view",
                "visitor": f"{seq:032x}",
            }
            f.write(json.dumps(record, separators=(",", ":"), sort_keys=True) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", default="1000,10000", help="sizes, comma-separated")
    parser.add_argument("--seconds", type=float, default=20, help="time budget of each phase")
    parser.add_argument(
        "--parallel-floor",
        action="store_true",
        help="also measure the floor with two writer threads (an experiment, not the sidecar)",
    )
    parser.add_argument(
        "--servers",
        default="sidecar,baseline,floor,floor-procs",
        help="which servers to measure, comma-separated (default: all four)",
    )
    parser.add_argument(
        "--serve",
        choices=["sidecar", "baseline", "floor", "floor2", "floor-procs"],
        help=argparse.SUPPRESS,
    )
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument(
        "--export-rounds",
        type=int,
        default=8,
        help="pairs of latency windows with and without an export (default 8)",
    )
    parser.add_argument(
        "--memory-storms",
        type=int,
        default=3,
        help="storms per server (sidecar, bare) whose median is the memory figure (default 3)",
    )
    parser.add_argument("--export", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--crowd", help=argparse.SUPPRESS)
    args = parser.parse_args()
    limit = raise_nofile()
    if args.serve == "sidecar":
        asyncio.run(serve_sidecar(args.root))
        return
    if args.serve == "baseline":
        asyncio.run(serve_baseline())
        return
    if args.serve == "floor-procs":
        serve_floor_processes()
        return
    if args.serve in ("floor", "floor2"):
        asyncio.run(serve_floor(threads=2 if args.serve == "floor2" else 1))
        return
    if args.export:
        exporter(args.export)
        return
    if args.crowd:
        port, count, every = (int(v) for v in args.crowd.split(","))
        asyncio.run(crowd(port, count, every))
        return
    sizes = [int(s) for s in args.connections.split(",")]
    if not all(1 <= s <= 20000 for s in sizes) or max(sizes) + 200 > limit:
        sys.exit(f"sizes must be 1..20000 and fit the open-files limit ({limit})")
    import websockets

    machine = platform.processor() or platform.machine()
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} {platform.node()} {machine} {os.cpu_count()} CPUs")
    print(f"# Python {platform.python_version()}, websockets {websockets.__version__}")
    print(f"# load average before: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        index = root / "build/site/api/v1/garden/index.json"
        index.parent.mkdir(parents=True)
        index.write_text(json.dumps({"plants": [{"id": p} for p in PLANTS]}))
        fill_event_log(root, LOGGED_EVENTS)
        kinds = [k for k in args.servers.split(",") if k != "floor2"]
        kinds += ["floor2"] if args.parallel_floor else []
        as_installed(root, kinds)
        results: list[dict[str, Any]] = []
        for n in sizes:
            for kind in kinds:
                export = kind == "sidecar" and n == max(sizes)
                result = asyncio.run(
                    measure(kind, n, args.seconds, str(root), export, args.export_rounds)
                )
                print(json.dumps(result), flush=True)
                results.append(result)
            # More storms for the memory figure, the servers taking turns: bare websockets'
            # RSS lands on one of two steps from storm to storm (see the docstring).
            targets = [r for r in results if r["connections"] == n and r["server"] in TARGETED]
            for _ in range(args.memory_storms - 1):
                for r in targets:
                    kib, seconds = asyncio.run(memory_storm(r["server"], n, str(root)))
                    r.setdefault("memory_storms", []).append((kib, seconds))
            for r in targets:
                extra = r.pop("memory_storms", [])
                spread(r, "memory_storms_kib", "rss_per_connection_kib", [kib for kib, _ in extra])
                spread(r, "open_storms_seconds", "open_seconds", [s for _, s in extra])
                print(json.dumps({k: v for k, v in r.items() if k in STORM_FIELDS}), flush=True)
    print(f"# load average after: {os.getloadavg()}")
    summary(results)


TARGETED = ("sidecar", "baseline")
#: What the summary of the extra storms shows, per server (see :func:`spread`).
STORM_FIELDS = (
    "server",
    "connections",
    "memory_storms_kib",
    "rss_per_connection_kib_median",
    "rss_per_connection_kib_lowest",
    "open_storms_seconds",
    "open_seconds_median",
    "open_seconds_lowest",
)


def spread(r: dict[str, Any], name: str, key: str, more: list[float]) -> None:
    """*r*'s figure *key* over every storm (the first's, then *more*): all as *name*, median, lowest."""
    values = [r[key], *(round(v, 2) for v in more)]
    r[name] = values
    r[f"{key}_median"] = round(statistics.median(values), 2)
    r[f"{key}_lowest"] = min(values)


def summary(results: list[dict[str, Any]]) -> None:
    """Issue 15's ratios (sidecar, or a floor, against bare in this run), one line each."""
    for n in sorted({r["connections"] for r in results}):
        at = {r["server"]: r for r in results if r["connections"] == n}
        bare = at.get("baseline")
        if bare is None:
            continue
        for kind, r in at.items():
            if kind == "baseline":
                continue
            fanout = r["fanout_ms_mean"] / bare["fanout_ms_mean"]
            line = f"# {n:>6,} {kind:<12} fan-out {fanout:.2f}x bare"
            if kind == "sidecar":
                line += f", open {r['open_seconds'] / bare['open_seconds']:.2f}x"
                if "open_seconds_median" in r:
                    line += (
                        f" (median of storms {r['open_seconds_median'] / bare['open_seconds_median']:.2f}x;"
                        f" fastest storms {r['open_seconds_lowest'] / bare['open_seconds_lowest']:.2f}x)"
                    )
                line += f", p50 {r['latency_ms_p50'] / bare['latency_ms_p50']:.2f}x"
                if "rss_per_connection_kib_median" in r:
                    memory = (
                        r["rss_per_connection_kib_median"] / bare["rss_per_connection_kib_median"]
                    )
                    lowest = (
                        r["rss_per_connection_kib_lowest"] / bare["rss_per_connection_kib_lowest"]
                    )
                    line += (
                        f", memory per connection {memory:.2f}x (median of storms;"
                        f" lowest storms {lowest:.2f}x)"
                    )
                if "export" in r:
                    changes = r["export"]["p99_change_pct"]
                    line += (
                        f", others' p99 during an export {r['export']['p99_change_pct_median']:+.1f}%"
                        f" (median; rounds {min(changes):+.1f}..{max(changes):+.1f}%;"
                        " pooled p99 {:.1f} -> {:.1f} ms)".format(
                            *r["export"]["pooled_p99_ms_without_during"]
                        )
                    )
            print(line)


if __name__ == "__main__":
    main()
