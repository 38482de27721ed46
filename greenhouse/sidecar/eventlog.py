"""The durable, append-only log of visit events.

Layout (documented in docs/sidecar.md, read directly by analytics ingestion)::

    <event_dir>/<instance>/<YYYYMMDD>.jsonl

one JSON object per line, in id order. An event id is
``<YYYYMMDD>-<10-digit sequence>-<instance>``: within one instance, ids sort
lexicographically in write order, and the instance suffix keeps them unique
across sidecars. The sequence restarts at 1 each UTC day and is recovered
from the day's segment on restart.

Events are buffered in memory and written plus fsynced in batches (at most
every flush interval), so a kill -9 loses at most the last interval. Only
fsynced events are ever exported, so an id that was lost (and will be reused
after a restart) was never handed out: the export cursor never skips nor
duplicates. A torn last line (a crash mid-write) is truncated on open.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

log = logging.getLogger("greenhouse.sidecar")

SEGMENT = re.compile(r"^(\d{8})\.jsonl$")
CURSOR = re.compile(r"^(\d{8})-(\d{10})(?:-([a-z0-9-]{1,32}))?$")
MAX_PENDING = 100_000

Clock = Callable[[], datetime]


class CursorError(ValueError):
    """An ``after=`` cursor that is not an event id."""


def parse_cursor(cursor: str) -> tuple[str, int]:
    """``(day, sequence)`` of an event id, the ordering key of the log."""
    match = CURSOR.match(cursor)
    if not match:
        raise CursorError("cursor must be an event id like 20260101-0000000001-main")
    return match.group(1), int(match.group(2))


class EventLog:
    """Daily JSONL segments under ``<directory>/<instance>``, with batched fsync."""

    def __init__(self, directory: Path, instance: str, clock: Clock, retention_days: int):
        self.directory = Path(directory) / instance
        self.instance = instance
        self.clock = clock
        self.retention_days = retention_days
        self._lock = threading.Lock()  # guards the queue
        self._write_lock = threading.Lock()  # one flush at a time, so lines stay in id order
        self._resume: dict[str, tuple[str, int]] = {}  # cursor -> (day, byte offset after it)
        self._pending: list[tuple[str, dict[str, Any]]] = []
        self._day = ""
        self._seq = 0
        self.durable: tuple[str, int] = ("", 0)
        self.last_flush: datetime | None = None
        self.error: str | None = None
        self.dropped = 0
        self.written: dict[str, int] = {}

    # -- opening: repair and recover -------------------------------------------------

    def open(self) -> None:
        """Create the folder, repair torn tails, recover the sequence, expire old days."""
        self.directory.mkdir(parents=True, exist_ok=True)
        segments = self.segments()
        for _day, path in segments:
            repair(path)
        for _day, path in reversed(segments):
            last = _last_line(path)
            if last is not None:
                self._day, self._seq = parse_cursor(json.loads(last)["id"])
                break
        self.durable = (self._day, self._seq)
        self.expire()

    def segments(self) -> list[tuple[str, Path]]:
        """Every segment, oldest first."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in self.directory.iterdir():
            match = SEGMENT.match(path.name)
            if match:
                found.append((match.group(1), path))
        return sorted(found)

    # -- writing ---------------------------------------------------------------------

    def append(self, event: dict[str, Any]) -> str | None:
        """Queue one event; gives it its ``id`` and ``ts``. Returns the id (None if dropped)."""
        now = self.clock().astimezone(UTC)
        with self._lock:
            if len(self._pending) >= MAX_PENDING:
                self.dropped += 1
                return None
            # Never go back a day even if the clock does: ids must keep increasing.
            day = max(now.strftime("%Y%m%d"), self._day)
            self._seq = self._seq + 1 if day == self._day else 1
            self._day = day
            event_id = f"{day}-{self._seq:010d}-{self.instance}"
            record = {
                "id": event_id,
                "ts": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            }
            record.update(event)
            self._pending.append((day, record))
        return event_id

    @property
    def pending(self) -> int:
        """Events not yet durable."""
        return len(self._pending)

    def flush(self) -> int:
        """Write and fsync every queued event; returns how many became durable.

        On an I/O error the segment is cut back to its last good size and the
        batch stays queued for the next attempt (so no line is half-written or
        written twice).
        """
        with self._write_lock:
            return self._flush()

    def _flush(self) -> int:
        with self._lock:
            batch, self._pending = self._pending, []
        if not batch:
            return 0
        try:
            by_day: dict[str, list[dict[str, Any]]] = {}
            for day, record in batch:
                by_day.setdefault(day, []).append(record)
            for day, records in by_day.items():
                self._write(day, records)
        except OSError as exc:
            with self._lock:
                self._pending = batch + self._pending
            self.error = f"{type(exc).__name__}: {exc.strerror or exc}"
            raise
        last = batch[-1][1]["id"]
        self.durable = parse_cursor(last)
        self.last_flush = self.clock()
        self.error = None
        for _day, record in batch:
            self.written[record["type"]] = self.written.get(record["type"], 0) + 1
        return len(batch)

    def _write(self, day: str, records: list[dict[str, Any]]) -> None:
        path = self.directory / f"{day}.jsonl"
        data = "".join(
            json.dumps(r, separators=(",", ":"), sort_keys=True) + "\n" for r in records
        ).encode()
        created = not path.exists()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            size = os.fstat(fd).st_size
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            except OSError:
                os.ftruncate(fd, size)
                raise
        finally:
            os.close(fd)
        if created:
            _fsync_dir(self.directory)

    # -- reading ---------------------------------------------------------------------

    def read(self, after: str | None, limit: int) -> tuple[list[dict[str, Any]], str | None]:
        """Up to *limit* durable events after the cursor, and the next cursor.

        A cursor of another instance is refused. The byte offset after each
        page's last event is remembered, so paging through a day is linear.
        """
        start = parse_cursor(after) if after else ("", 0)
        owner = CURSOR.match(after).group(3) if after else None  # type: ignore[union-attr]
        if owner is not None and owner != self.instance:
            raise CursorError(f"cursor belongs to another instance than {self.instance!r}")
        resume = self._resume.get(after or "")
        durable = self.durable
        events: list[dict[str, Any]] = []
        next_offset = (start[0], 0)
        for day, path in self.segments():
            if day < start[0] or len(events) >= limit:
                continue
            with path.open("rb") as f:
                if resume is not None and resume[0] == day:
                    f.seek(resume[1])
                for raw in iter(f.readline, b""):
                    if not raw.endswith(b"\n"):
                        break
                    record = json.loads(raw)
                    key = parse_cursor(record["id"])
                    if key <= start:
                        continue
                    if key > durable:
                        break
                    events.append(record)
                    next_offset = (day, f.tell())
                    if len(events) >= limit:
                        break
        if not events:
            return events, after
        cursor = events[-1]["id"]
        if len(self._resume) >= 64:
            self._resume.clear()
        self._resume[cursor] = next_offset
        return events, cursor

    # -- retention -------------------------------------------------------------------

    def expire(self) -> list[Path]:
        """Delete segments older than the retention period; returns them."""
        oldest = (self.clock().astimezone(UTC) - timedelta(days=self.retention_days)).strftime(
            "%Y%m%d"
        )
        removed = []
        for day, path in self.segments():
            if day < oldest:
                path.unlink(missing_ok=True)
                removed.append(path)
        if removed:
            log.info("event log: deleted %d expired segment(s)", len(removed))
        return removed


def repair(path: Path) -> bool:
    """Truncate a torn or unparsable last line; True when something was cut."""
    cut = False
    with path.open("r+b") as f:
        while True:
            size = f.seek(0, os.SEEK_END)
            if size == 0:
                return cut
            tail_start = max(0, size - (1 << 20))
            f.seek(tail_start)
            tail = f.read()
            body = tail[:-1] if tail.endswith(b"\n") else tail
            nl = body.rfind(b"\n")
            line_start = tail_start + nl + 1 if nl >= 0 else tail_start
            line = body[nl + 1 :]
            if tail.endswith(b"\n") and _valid(line):
                return cut
            f.truncate(line_start)
            os.fsync(f.fileno())
            cut = True
            log.warning("event log: repaired a torn last line in %s", path.name)


def _valid(line: bytes) -> bool:
    try:
        record = json.loads(line)
        parse_cursor(record["id"])
    except (ValueError, KeyError, TypeError):
        return False
    return True


def _last_line(path: Path) -> bytes | None:
    with path.open("rb") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return None
        f.seek(max(0, size - 65536))
        lines = f.read().splitlines()
        return lines[-1] if lines else None


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
