"""Benchmark the sidecar against a bare websockets broadcast server.

    python tests/bench/bench_sidecar.py --connections 10000 --seconds 60

For each server (ours, then the baseline), in a subprocess on 127.0.0.1:
open N connections, measure the server's RSS per connection, then drive
presence updates and measure the server-side fan-out time per update and the
client-observed delivery latency (p50/p99) on a sample of clients spread over
the connection order. N - sample connections are minimal clients that finish
the handshake and discard whatever arrives (so the client process does not
dominate); the sample are real websockets clients. Keepalive pings are off in
both servers (the minimal clients do not answer them). Loopback only; bounded
in connections and time. Not part of the test run.
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
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

ORIGIN = "https://bench.example"
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0"
PLANTS = ("p1", "p2")


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


# -- the servers under test (run as subprocesses of this script) ------------------------


async def serve_sidecar(root: str, connections: int) -> None:
    from greenhouse.config import Config, Site
    from greenhouse.sidecar import Tuning, start

    site = Site(
        Path(root),
        Config.model_validate(
            {
                "live": {
                    "allowed_origins": [ORIGIN],
                    "max_connections_per_visitor": connections + 100,
                    "presence_interval": 0.002,
                    "idle_timeout": 3600,
                    "message_burst": 100000,
                    "messages_per_second": 100000,
                }
            }
        ),
    )
    sidecar = await start(
        site,
        "127.0.0.1",
        0,
        token="bench",
        tuning=Tuning(ping_interval=None, ping_timeout=None, watch_garden=False),
    )
    print(f"listening {sidecar.port}", flush=True)
    await asyncio.Event().wait()


async def serve_baseline() -> None:
    """The bare way: a set of connections and websockets.broadcast of a JSON string."""
    from websockets.asyncio.server import broadcast, serve

    clients: set = set()
    times: list[float] = []
    counts = {"p1": 0, "p2": 0}

    async def handler(ws) -> None:  # type: ignore[no-untyped-def]
        clients.add(ws)
        try:
            async for message in ws:
                if message == "stats":
                    await ws.send(json.dumps({"fanout": times}))
                    continue
                project = json.loads(message)["project"]
                counts.update({"p1": 0, "p2": 0, project: 1})
                started = time.perf_counter()
                frame = json.dumps({"type": "presence", "visitors": 1, "projects": {project: 1}})
                broadcast(clients, frame)
                times.append(time.perf_counter() - started)
        finally:
            clients.discard(ws)

    async with serve(
        handler, "127.0.0.1", 0, compression=None, ping_interval=None, max_size=4096
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(f"listening {port}", flush=True)
        await asyncio.Event().wait()


# -- the clients ---------------------------------------------------------------------------


class Discard(asyncio.Protocol):
    """A minimal client after the handshake: reads and drops every byte."""

    def __init__(self) -> None:
        self.buffer = b""
        self.upgraded = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        if not self.upgraded.done():
            self.buffer += data
            if b"\r\n\r\n" in self.buffer:
                self.upgraded.set_result(self.buffer.startswith(b"HTTP/1.1 101"))


async def open_idle(port: int) -> asyncio.BaseTransport:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_connection(Discard, "127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    transport.write(
        (
            f"GET /ws/garden HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {ORIGIN}\r\nUser-Agent: {UA}\r\n\r\n"
        ).encode()
    )
    if not await asyncio.wait_for(protocol.upgraded, 30):
        raise RuntimeError("handshake refused: " + protocol.buffer[:80].decode(errors="replace"))
    return transport


async def measure(kind: str, connections: int, sample: int, seconds: float, root: str) -> dict:
    from websockets.asyncio.client import connect

    args = [
        sys.executable,
        __file__,
        "--serve",
        kind,
        "--root",
        root,
        "--connections",
        str(connections),
    ]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().split()[1])
        await asyncio.sleep(0.5)
        rss_before = rss_bytes(proc.pid)
        every = max(1, connections // sample)
        idle: list[asyncio.BaseTransport] = []
        sampled = []
        received: list[list[float]] = []
        gate = asyncio.Semaphore(200)

        async def open_one(i: int) -> None:
            async with gate:
                if i % every == 0 and len(sampled) < sample:
                    ws = await connect(
                        f"ws://127.0.0.1:{port}/ws/garden",
                        origin=ORIGIN,  # type: ignore[arg-type]
                        user_agent_header=UA,
                        compression=None,
                        ping_interval=None,
                        open_timeout=60,
                    )
                    sampled.append(ws)
                else:
                    idle.append(await open_idle(port))

        opened = time.perf_counter()
        await asyncio.gather(*(open_one(i) for i in range(connections)))
        open_seconds = time.perf_counter() - opened
        await asyncio.sleep(1.0)
        rss_after = rss_bytes(proc.pid)

        async def listen(ws, times: list[float]) -> None:  # type: ignore[no-untyped-def]
            async for message in ws:
                if '"presence"' in message:
                    times.append(time.perf_counter())

        listeners = []
        for ws in sampled:
            times: list[float] = []
            received.append(times)
            listeners.append(asyncio.create_task(listen(ws, times)))
        await asyncio.sleep(0.5)
        for times in received:
            times.clear()

        driver = await connect(
            f"ws://127.0.0.1:{port}/ws/garden",
            origin=ORIGIN,  # type: ignore[arg-type]
            user_agent_header=UA + " driver",
            compression=None,
            ping_interval=None,
        )
        latencies: list[float] = []
        updates = 0
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline and updates < 300:
            project = PLANTS[updates % 2]
            expected = updates + 1
            sent = time.perf_counter()
            await driver.send(json.dumps({"type": "view", "project": project}))
            limit = sent + 5.0
            while any(len(t) < expected for t in received) and time.perf_counter() < limit:
                await asyncio.sleep(0.0005)
            latencies += [t[expected - 1] - sent for t in received if len(t) >= expected]
            updates += 1
            await asyncio.sleep(0.02)
        if kind == "baseline":
            await driver.send("stats")
            while True:
                answer = json.loads(await driver.recv())
                if "fanout" in answer:
                    fanout = answer["fanout"]
                    break
            fanout_mean = statistics.fmean(fanout)
        else:
            import httpx

            text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
            values = dict(
                line.rsplit(" ", 1)
                for line in text.splitlines()
                if line.startswith("greenhouse_sidecar_broadcast_seconds_")
            )
            fanout_mean = float(values["greenhouse_sidecar_broadcast_seconds_sum"]) / float(
                values["greenhouse_sidecar_broadcast_seconds_count"]
            )
        for task in listeners:
            task.cancel()
        latencies.sort()
        result = {
            "server": kind,
            "connections": connections,
            "open_seconds": round(open_seconds, 1),
            "rss_mib": round(rss_after / 2**20, 1),
            "rss_per_connection_kib": round((rss_after - rss_before) / connections / 1024, 2),
            "updates": updates,
            "fanout_ms_mean": round(fanout_mean * 1000, 3),
            "latency_ms_p50": round(latencies[len(latencies) // 2] * 1000, 2),
            "latency_ms_p99": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
            "deliveries": len(latencies),
            "missed": updates * len(sampled) - len(latencies),
        }
        for transport in idle:
            transport.abort()
        for ws in sampled:
            ws.transport.abort()
        driver.transport.abort()
        return result
    finally:
        proc.kill()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument(
        "--seconds", type=float, default=60, help="total time budget of the update phases"
    )
    parser.add_argument("--sample", type=int, default=100, help="real clients measuring latency")
    parser.add_argument("--serve", choices=["sidecar", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args()
    limit = raise_nofile()
    if args.serve == "sidecar":
        asyncio.run(serve_sidecar(args.root, args.connections))
        return
    if args.serve == "baseline":
        asyncio.run(serve_baseline())
        return
    if not 1 <= args.connections <= 20000 or args.connections + args.sample + 50 > limit:
        sys.exit(f"--connections must be 1..20000 and fit the open-files limit ({limit})")
    with tempfile.TemporaryDirectory() as root:
        index = Path(root, "build/site/api/v1/garden/index.json")
        index.parent.mkdir(parents=True)
        index.write_text(json.dumps({"plants": [{"id": p} for p in PLANTS]}))
        results = [
            asyncio.run(measure(kind, args.connections, args.sample, args.seconds / 2, root))
            for kind in ("sidecar", "baseline")
        ]
    import websockets

    machine = platform.processor() or platform.machine()
    print(f"# {time.strftime('%Y-%m-%d')} {platform.node()} {machine} {os.cpu_count()} CPUs")
    print(f"# Python {platform.python_version()}, websockets {websockets.__version__}")
    for result in results:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
