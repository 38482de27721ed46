"""Shared helpers of the sidecar tests: a site on disk, a sidecar on port 0, clients."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from greenhouse.config import Config, Site
from greenhouse.sidecar import Sidecar, Tuning, start

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0"
ORIGIN = "https://gardener.example"
TOKEN = "s3cret-export-token"
PLANTS = ("fern", "moss", "ivy")


def write_garden(
    root: Path, plants: tuple[str, ...] = PLANTS, generated_at: str = "2026-01-01T00:00:00Z"
) -> None:
    """Publish a minimal garden index into the site's bundle folder."""
    index = root / "build/site/api/v1/garden/index.json"
    index.parent.mkdir(parents=True, exist_ok=True)
    doc = {"schema_version": 1, "generated_at": generated_at, "plants": [{"id": p} for p in plants]}
    tmp = index.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc))
    tmp.replace(index)


def make_site(root: Path, plants: tuple[str, ...] = PLANTS, **live: Any) -> Site:
    """A site folder with a published garden and a greenhouse.toml carrying *live* settings."""
    root.mkdir(parents=True, exist_ok=True)
    write_garden(root, plants)
    settings = {"allowed_origins": [ORIGIN], **live}
    lines = ["[live]"] + [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    (root / "greenhouse.toml").write_text("\n".join(lines) + "\n")
    return Site(root=root.resolve(), config=Config.model_validate({"live": settings}))


def aio(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run an async test function with plain asyncio.run (no plugin)."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return wrapper


FAST = {"flush_interval": 0.1, "open_timeout": 2.0, "close_timeout": 1.0}


@contextlib.asynccontextmanager
async def running(site: Site, token: str | None = TOKEN, **tuning: Any) -> AsyncIterator[Sidecar]:
    """A sidecar on 127.0.0.1, port 0, closed afterwards."""
    sidecar = await start(site, "127.0.0.1", 0, token=token, tuning=Tuning(**{**FAST, **tuning}))
    try:
        yield sidecar
    finally:
        await sidecar.close()


def client(
    sidecar: Sidecar,
    origin: str | None = ORIGIN,
    ua: str = UA,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> Any:
    """A websocket client of /ws/garden (use with ``async with``)."""
    return connect(
        f"ws://127.0.0.1:{sidecar.port}/ws/garden",
        origin=origin,  # type: ignore[arg-type]
        user_agent_header=ua,
        additional_headers=headers,
        compression=None,
        open_timeout=5,
        **kwargs,
    )


async def recv(ws: ClientConnection, timeout: float = 3.0) -> dict[str, Any]:
    """The next frame, parsed."""
    async with asyncio.timeout(timeout):
        return json.loads(await ws.recv())


async def recv_until(
    ws: ClientConnection,
    kind: str,
    check: Callable[[dict[str, Any]], bool] = lambda f: True,
    timeout: float = 5.0,
) -> dict[str, Any]:
    """Skip frames until one of *kind* satisfying *check* arrives."""
    async with asyncio.timeout(timeout):
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == kind and check(frame):
                return frame


async def http_get(
    sidecar: Sidecar, path: str, token: str | None = None, method: str = "GET"
) -> httpx.Response:
    """One plain HTTP request to the sidecar."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=sidecar.url, timeout=5) as http:
        return await http.request(method, path, headers=headers)


async def export_all(
    sidecar: Sidecar, after: str | None = None, limit: int = 1000
) -> tuple[list[dict[str, Any]], str | None]:
    """Page through /api/events from *after* until no more events come."""
    events: list[dict[str, Any]] = []
    while True:
        query = f"/api/events?limit={limit}" + (f"&after={after}" if after else "")
        answer = (await http_get(sidecar, query, TOKEN)).json()
        events += answer["events"]
        if not answer["events"]:
            return events, answer["next"]
        after = answer["next"]


async def raw_request(
    port: int,
    lines: list[str],
    path: str = "/ws/garden",
    method: str = "GET",
    local: str = "127.0.0.1",
) -> tuple[int, bytes]:
    """Send one hand-written request (*lines*: header lines) and read the answer's status and body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(local, 0))
    try:
        head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", *lines, "", ""]
        writer.write("\r\n".join(head).encode())
        async with asyncio.timeout(5):
            answer = await reader.read(65536)
            while b"\r\n\r\n" not in answer:
                more = await reader.read(65536)
                if not more:
                    break
                answer += more
    finally:
        writer.close()
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0
    return status, answer.partition(b"\r\n\r\n")[2]


WS_HEADERS = [
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
]


class LogLines(logging.Handler):
    """Every record of the sidecar's loggers, formatted as one line each (with any traceback)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        return "\n".join(self.format(r) for r in self.records)

    def __enter__(self) -> LogLines:
        logger = logging.getLogger("greenhouse.sidecar")
        self._level = logger.level
        logger.setLevel(logging.INFO)
        logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logger = logging.getLogger("greenhouse.sidecar")
        logger.removeHandler(self)
        logger.setLevel(self._level)


async def until(condition: Callable[[], bool], timeout: float = 5.0, step: float = 0.02) -> None:
    """Wait for *condition* to hold."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(step)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


REPO = Path(__file__).resolve().parents[2]


class Process:
    """``python -m greenhouse.sidecar`` in a subprocess, on a free port of 127.0.0.1.

    Its stderr (the logs) goes to *log*, a file outside the site folder.
    """

    def __init__(
        self,
        root: Path,
        log: Path,
        token: str = TOKEN,
        module: str = "greenhouse.sidecar",
        extra: tuple[str, ...] = (),
        preexec_fn: Callable[[], None] | None = None,
    ):
        import os
        import subprocess
        import sys

        env = {**os.environ, "PYTHONPATH": str(REPO), "GREENHOUSE_LIVE_TOKEN": token}
        self.log = log
        with log.open("ab") as stderr:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    module,
                    "--root",
                    str(root),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    *extra,
                ],
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=env,
                text=True,
                preexec_fn=preexec_fn,
            )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:"), line + log.read_text()
        self.url = line.split()[-1]
        self.port = int(self.url.rsplit(":", 1)[1])

    def stderr(self) -> str:
        """What the process logged so far."""
        return self.log.read_text()

    def stop(self, signum: int) -> int:
        """Send *signum* and wait for the exit status."""
        self.proc.send_signal(signum)
        return self.wait()

    def wait(self) -> int:
        """Wait for the exit status and release the pipe."""
        status = self.proc.wait(timeout=20)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return status

    def __enter__(self) -> Process:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.wait()
