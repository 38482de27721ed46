"""A sidecar on another machine than the bundle fetches the garden from the site's URL."""

from __future__ import annotations

import functools
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

from greenhouse.config import Config, Site
from tests.sidecar.helpers import (
    ORIGIN,
    TOKEN,
    aio,
    client,
    http_get,
    recv,
    recv_until,
    running,
    until,
    write_garden,
)


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the stdlib's name)
        pass


@aio
async def test_garden_is_fetched_from_the_site_and_refetched_on_the_hook(tmp_path):
    public = tmp_path / "public"  # the static host
    write_garden(public, ("fern",))
    (public / "build/site").rename(public / "www")
    handler = functools.partial(Quiet, directory=str(public / "www"))
    host = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=host.serve_forever, daemon=True)
    thread.start()
    try:
        base_url = f"http://127.0.0.1:{host.server_address[1]}/"
        root = tmp_path / "sidecar-host"
        root.mkdir()
        site = Site(
            root,
            Config.model_validate(
                {"site": {"base_url": base_url}, "live": {"allowed_origins": [ORIGIN]}}
            ),
        )
        async with running(site, garden_fetch_retry=0.1, watch_garden=False) as sidecar:
            await until(lambda: sidecar.garden.plants == {"fern"})
            async with client(sidecar) as ws:
                await recv(ws)
                await ws.send(json.dumps({"type": "view", "project": "rose"}))
                assert (await recv_until(ws, "error"))["code"] == "unknown_project"
                doc = {
                    "generated_at": "2026-09-09T00:00:00Z",
                    "plants": [{"id": "fern"}, {"id": "rose"}],
                }
                (public / "www/api/v1/garden/index.json").write_text(json.dumps(doc))
                answer = await http_get(sidecar, "/api/published", TOKEN, method="POST")
                assert answer.status_code == 202 and answer.json() == {"status": "fetching"}
                update = await recv_until(ws, "garden_updated")
                assert update["generated_at"] == "2026-09-09T00:00:00Z"
                await ws.send(json.dumps({"type": "view", "project": "rose"}))
                await recv_until(ws, "presence", lambda f: f["projects"] == {"rose": 1})
    finally:
        host.shutdown()
        host.server_close()
        thread.join()
