"""A visit recorded by a real sidecar reaches the garden, the dashboard and `greenhouse stats`."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.analytics.helpers import TOKEN, sidecar_thread

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0"
ORIGIN = "https://gardener.example"


async def visit(port: int, project: str) -> None:
    async with connect(
        f"ws://127.0.0.1:{port}/ws/garden",
        origin=ORIGIN,  # type: ignore[arg-type]
        user_agent_header=UA,
        compression=None,
        open_timeout=5,
    ) as ws:
        await ws.recv()  # welcome
        await ws.send(
            json.dumps(
                {"type": "view", "project": project, "referrer": "https://news.example.com/x"}
            )
        )
        await ws.send(json.dumps({"type": "interact", "project": project, "action": "water"}))
        await asyncio.sleep(0.3)


def test_a_real_visit_reaches_the_garden(
    demo_site: Path, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH")  # the sidecar stamps events with the real clock
    toml = demo_site / "greenhouse.toml"
    text = toml.read_text().replace("enabled = true", "enabled = false")
    text = text.replace("publish = false", "publish = true\nmin_count = 1")
    toml.write_text(text + f'\n[live]\nallowed_origins = ["{ORIGIN}"]\n')
    assert cli("build", "--offline", "--root", str(demo_site)).exit_code == 0
    garden = json.loads((demo_site / "build/site/api/v1/garden/index.json").read_text())
    plant = garden["plants"][0]["id"]
    assert garden["plants"][0]["metrics"]["views_30d"] == 0

    with sidecar_thread(demo_site) as (sidecar, _loop):
        asyncio.run(visit(sidecar.port, plant))
        deadline = time.monotonic() + 5
        while sidecar.events.durable[1] < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        health = httpx.get(sidecar.url + "/healthz", timeout=5).json()
        assert health["realtime"]["visitors_5m"] == 1
        toml.write_text(
            toml.read_text().replace("[live]\n", f'[live]\nexport_url = "{sidecar.url}"\n')
        )
        monkeypatch.setenv("GREENHOUSE_LIVE_TOKEN", TOKEN)
        result = cli("sync", "--source", "visitors", "--root", str(demo_site))
        assert result.exit_code == 0, result.output
        again = cli("sync", "--source", "visitors", "--root", str(demo_site))
        assert again.exit_code == 0, again.output

    assert cli("build", "--offline", "--root", str(demo_site)).exit_code == 0
    garden = json.loads((demo_site / "build/site/api/v1/garden/index.json").read_text())
    metrics = {p["id"]: p["metrics"] for p in garden["plants"]}[plant]
    assert metrics["views_30d"] == 1 and metrics["interactions_30d"] == 1  # once, not twice
    doc = json.loads((demo_site / "build/site/api/v1/analytics/dashboard.json").read_text())
    projects = {p["id"]: p for p in doc["projects"]}
    assert projects[plant]["views"] == 1 and projects[plant]["actions"] == {"water": 1}
    assert doc["referrers"] == [{"domain": "news.example.com", "views": 1, "visitors": 1}]
    result = cli("stats", "--json", "--root", str(demo_site))
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["totals"]["views"] == 1 and report["totals"]["visitors"] == 1
    assert report["projects"][0]["id"] == plant and report["actions"] == {"water": 1}
    realtime = report["realtime"]
    assert realtime["visitors"] == 1 and realtime["source"] == "sidecar"
    assert (
        realtime["note"]
        == f"1 visitors in the 5 minutes before {realtime['at']} (from the sidecar)"
    )
    shown = cli("stats", "--root", str(demo_site))
    assert "(from the sidecar)" in " ".join(shown.output.split())
    # Privacy: nothing of the user agent nor the token landed in the store.
    db = (demo_site / "build/greenhouse.duckdb").read_bytes()
    assert UA.encode() not in db and TOKEN.encode() not in db
