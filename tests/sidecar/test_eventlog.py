"""The durable event log: ids, paging, restart recovery, torn lines, retention."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import pytest

from greenhouse.sidecar.eventlog import CursorError, EventLog, parse_cursor, repair


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def event(n: int) -> dict[str, object]:
    return {"visitor": f"v{n}", "type": "view", "project": None, "action": None}


def page_all(log: EventLog, after: str | None, limit: int) -> list[dict]:
    seen = []
    while True:
        events, after = log.read(after, limit)
        if not events:
            return seen
        seen += events


def test_ids_sort_in_write_order_and_only_durable_events_are_read(tmp_path):
    clock = Clock(datetime(2026, 5, 4, 12, tzinfo=UTC))
    log = EventLog(tmp_path, "main", clock, retention_days=30)
    log.open()
    ids = [log.append(event(n)) for n in range(5)]
    assert ids == [f"20260504-{n:010d}-main" for n in range(1, 6)]
    assert log.read(None, 100) == ([], None), "nothing is exported before it is fsynced"
    assert log.flush() == 5
    events, cursor = log.read(None, 100)
    assert [e["id"] for e in events] == ids and cursor == ids[-1]
    assert events[0]["ts"] == "2026-05-04T12:00:00.000Z"
    lines = (tmp_path / "main/20260504.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ids


def test_paging_across_days_and_restarts_never_skips_or_duplicates(tmp_path):
    clock = Clock(datetime(2026, 5, 4, 23, 59, tzinfo=UTC))
    log = EventLog(tmp_path, "main", clock, retention_days=30)
    log.open()
    for n in range(7):
        log.append(event(n))
    log.flush()
    first, cursor = log.read(None, 4)
    clock.now += timedelta(minutes=2)  # a new UTC day: a new segment, sequence from 1
    for n in range(7, 12):
        log.append(event(n))
    log.flush()
    # Restart: a new EventLog recovers the sequence from the last segment.
    log = EventLog(tmp_path, "main", clock, retention_days=30)
    log.open()
    for n in range(12, 15):
        log.append(event(n))
    log.flush()
    rest = page_all(log, cursor, 3)
    ids = [e["id"] for e in first + rest]
    assert [e["visitor"] for e in first + rest] == [f"v{n}" for n in range(15)]
    assert len(set(ids)) == 15 and ids == sorted(ids)
    assert ids[7] == "20260505-0000000001-main" and ids[-1] == "20260505-0000000008-main"


def test_a_clock_going_back_does_not_reorder_ids(tmp_path):
    clock = Clock(datetime(2026, 5, 5, 0, 0, 1, tzinfo=UTC))
    log = EventLog(tmp_path, "main", clock, retention_days=30)
    log.open()
    a = log.append(event(1))
    clock.now -= timedelta(seconds=5)
    b = log.append(event(2))
    assert a is not None and b is not None and b > a


def test_torn_last_line_is_truncated_on_open(tmp_path):
    clock = Clock(datetime(2026, 5, 4, 12, tzinfo=UTC))
    log = EventLog(tmp_path, "main", clock, retention_days=30)
    log.open()
    for n in range(3):
        log.append(event(n))
    log.flush()
    segment = tmp_path / "main/20260504.jsonl"
    good = segment.read_bytes()
    with segment.open("ab") as f:
        f.write(b'{"id":"20260504-0000000004-main","ts":"2026-05-04T12:0')
    log = EventLog(tmp_path, "main", clock, retention_days=30)
    log.open()
    assert segment.read_bytes() == good
    assert log.append(event(3)) == "20260504-0000000004-main"
    log.flush()
    assert [e["visitor"] for e in page_all(log, None, 10)] == ["v0", "v1", "v2", "v3"]


def test_repair_cuts_a_complete_but_unparsable_last_line(tmp_path):
    segment = tmp_path / "20260504.jsonl"
    segment.write_bytes(b'{"id":"20260504-0000000001-main"}\n{"id": garbage}\n')
    assert repair(segment) is True
    assert segment.read_bytes() == b'{"id":"20260504-0000000001-main"}\n'
    assert repair(segment) is False


def test_expired_segments_are_deleted(tmp_path):
    clock = Clock(datetime(2026, 5, 1, 12, tzinfo=UTC))
    log = EventLog(tmp_path, "main", clock, retention_days=3)
    log.open()
    for _ in range(6):
        log.append(event(0))
        log.flush()
        clock.now += timedelta(days=1)
    assert len(log.segments()) == 6
    removed = log.expire()
    assert [p.name for p in removed] == ["20260501.jsonl", "20260502.jsonl", "20260503.jsonl"]
    assert [d for d, _ in log.segments()] == ["20260504", "20260505", "20260506"]


def test_a_failed_flush_keeps_the_batch_and_writes_nothing_half(tmp_path, monkeypatch):
    clock = Clock(datetime(2026, 5, 4, 12, tzinfo=UTC))
    log = EventLog(tmp_path, "main", clock, retention_days=30)
    log.open()
    log.append(event(1))
    log.flush()
    segment = tmp_path / "main/20260504.jsonl"
    before = segment.read_bytes()
    log.append(event(2))

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(os, "fsync", disk_full)
        with pytest.raises(OSError):
            log.flush()
    assert log.pending == 1 and "No space" in (log.error or "")
    assert segment.read_bytes() == before, "the unsynced batch was cut back"
    assert [e["visitor"] for e in page_all(log, None, 10)] == ["v1"]
    assert log.flush() == 1 and log.error is None
    assert [e["visitor"] for e in page_all(log, None, 10)] == ["v1", "v2"]


def test_bad_cursors_are_refused(tmp_path):
    with pytest.raises(CursorError):
        parse_cursor("yesterday")
    log = EventLog(tmp_path, "live-1", Clock(datetime(2026, 5, 4, tzinfo=UTC)), retention_days=30)
    log.open()
    with pytest.raises(CursorError):
        log.read("20260504-0000000001-live-2", 10)
    assert log.read("20260504-0000000001-live-1", 10) == ([], "20260504-0000000001-live-1")
    assert log.read("20260504-0000000001", 10) == ([], "20260504-0000000001")
    assert parse_cursor("20260504-0000000012-main") == ("20260504", 12)
