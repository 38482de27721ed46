"""The export reads the event log off the event loop and hands the lines on unchanged."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

from tests.sidecar.helpers import (
    TOKEN,
    aio,
    client,
    export_all,
    http_get,
    make_site,
    recv,
    running,
    until,
)

EVENTS = 20_000


def fill_log(root: Path, count: int) -> list[dict]:
    """*count* events of today in the sidecar's own layout, as the sidecar writes them."""
    day = datetime.now(UTC).strftime("%Y%m%d")
    folder = root / "build/live-events/main"
    folder.mkdir(parents=True)
    records = [
        {
            "action": "water" if seq % 7 == 0 else None,
            "device": "mobile",
            "id": f"{day}-{seq:010d}-main",
            "project": "fern",
            "referrer": "news.example.com" if seq % 3 == 0 else None,
            "ts": f"{day[:4]}-{day[4:6]}-{day[6:]}T00:00:00.000Z",
            "type": "interact" if seq % 7 == 0 else "view",
            "visitor": f"{seq:032x}",
        }
        for seq in range(1, count + 1)
    ]
    (folder / f"{day}.jsonl").write_text(
        "".join(json.dumps(r, separators=(",", ":"), sort_keys=True) + "\n" for r in records)
    )
    return records


@aio
async def test_the_export_pages_through_the_log_unchanged_and_off_the_loop(tmp_path):
    site = make_site(tmp_path)
    written = fill_log(tmp_path, EVENTS)
    async with running(site) as sidecar:
        readers: list[bool] = []
        read_lines = sidecar.events.read_lines

        def spied(after: str | None, limit: int) -> tuple[list[bytes], str | None]:
            readers.append(threading.current_thread() is threading.main_thread())
            return read_lines(after, limit)

        sidecar.events.read_lines = spied  # type: ignore[method-assign]

        exported, cursor = await export_all(sidecar, limit=1000)
        assert exported == written  # every event, in order, byte-for-byte the same JSON
        assert cursor == written[-1]["id"]
        assert len(readers) == EVENTS // 1000 + 1 and not any(readers), "read on the loop"

        # New events after the cursor come on the next page, and only once durable.
        async with client(sidecar) as ws:
            await recv(ws)
            await ws.send(json.dumps({"type": "view", "project": "moss"}))
            await until(lambda: sidecar.events.durable[1] == EVENTS + 1)
        answer = (await http_get(sidecar, f"/api/events?after={cursor}", TOKEN)).json()
        assert [e["project"] for e in answer["events"]][:1] == ["moss"]
        assert answer["realtime"]["visitors_5m"] == 1
