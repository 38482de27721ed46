"""The live sidecar: presence, interactions and a privacy-safe visit log.

An I/O-free core (:mod:`.protocol`, :mod:`.presence`, :mod:`.privacy`,
:mod:`.limits`) under a thin asyncio layer: :mod:`.server` wires
:mod:`.connections`, :mod:`.fanout`, :mod:`.garden` and :mod:`.endpoints`
together, with :mod:`.eventlog` for durability and :mod:`.redis_bus` and
:mod:`.redis_salt` (the ``live`` extra, imported only when ``redis_url`` is
set) for several instances. See docs/sidecar.md.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from greenhouse.config import Site
from greenhouse.sidecar.limits import raise_open_files_limit
from greenhouse.sidecar.logs import configure
from greenhouse.sidecar.server import Sidecar, Tuning, start

__all__ = ["Sidecar", "Tuning", "run", "serve_until_stopped", "start"]


async def serve_until_stopped(site: Site, host: str | None = None, port: int | None = None) -> None:
    """Run until SIGTERM or SIGINT, then drain: close clients with 1001 and flush the log."""
    sidecar = await start(site, host, port)
    print(f"listening on {sidecar.url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        await sidecar.close()


def run(site: Site, host: str | None = None, port: int | None = None) -> None:
    """Run the sidecar of *site* in the foreground (blocking) until SIGTERM or SIGINT.

    Raises the soft open-files limit to the hard one first: every visitor is
    a file descriptor.
    """
    live = site.config.live
    configure(live.log_format, live.log_level, sys.stderr)
    raise_open_files_limit()
    asyncio.run(serve_until_stopped(site, host, port))
