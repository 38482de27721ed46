"""The durable, append-only log of visit events.

Layout (documented in docs/sidecar.md, read directly by analytics ingestion)::

    <event_dir>/<instance>/<YYYYMMDD>.jsonl

one JSON object per line, in id order. An event id is
``<YYYYMMDD>-<10-digit sequence>-<instance>``: within one instance, ids sort
lexicographically in write order, and the instance suffix keeps them unique
across sidecars. The sequence restarts at 1 each UTC day and is recovered
from the day's segment on restart.

Events are buffered in memory and written plus fsynced in batches by a
:class:`Flusher` on its own thread, every flush interval (half a second), so
a kill -9 loses at most the events of the last interval plus one fsync: under
a second, whatever the event loop is busy with. Each batch reports how long
its oldest event waited (``EventLog.last_delay``), which is the window
measured, not assumed. Only fsynced events are ever exported, so an id that
was lost (and will be reused after a restart) was never handed out: the
export cursor never skips nor duplicates. A torn last line (a crash
mid-write) is truncated on open.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

log = logging.getLogger("greenhouse.sidecar")

SEGMENT = re.compile(r"^(\d{8})\.jsonl$")
CURSOR = re.compile(r"^(\d{8})-(\d{10})(?:-([a-z0-9-]{1,32}))?$")
#: The id of a line as written by :meth:`EventLog._write` (compact JSON). A
#: string value cannot contain it: a quote inside a JSON string is escaped.
LINE_ID = re.compile(rb'"id":"(\d{8})-(\d{10})')
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

    def __init__(
        self,
        directory: Path,
        instance: str,
        clock: Clock,
        retention_days: int,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.directory = Path(directory) / instance
        self.instance = instance
        self.clock = clock
        self.monotonic = monotonic
        self.retention_days = retention_days
        self._lock = threading.Lock()  # guards the queue
        self._write_lock = threading.Lock()  # one flush at a time, so lines stay in id order
        self._resume_lock = threading.Lock()  # exports run on worker threads
        self._resume: dict[str, tuple[str, int]] = {}  # cursor -> (day, byte offset after it)
        self._pending: list[tuple[str, dict[str, Any]]] = []
        self._oldest: float | None = None  # when the oldest pending event was appended
        #: Seconds the oldest event of the last durable batch waited for its fsync.
        self.last_delay: float | None = None
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
            if not self._pending:
                self._oldest = self.monotonic()
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
            oldest, self._oldest = self._oldest, None
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
                if oldest is not None:
                    self._oldest = oldest
            self.error = f"{type(exc).__name__}: {exc.strerror or exc}"
            raise
        last = batch[-1][1]["id"]
        self.durable = parse_cursor(last)
        self.last_flush = self.clock()
        if oldest is not None:
            self.last_delay = self.monotonic() - oldest
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
        """Up to *limit* durable events after the cursor, parsed, and the next cursor."""
        lines, cursor = self.read_lines(after, limit)
        return [json.loads(line) for line in lines], cursor

    def read_lines(self, after: str | None, limit: int) -> tuple[list[bytes], str | None]:
        """Up to *limit* durable events after the cursor, as their JSON lines, and the next cursor.

        The lines are handed on as they are on disk (no parsing: the export
        runs beside 10,000 websockets and must cost little). A cursor of
        another instance is refused. The byte offset after each page's last
        event is remembered, so paging through a day is linear. Safe to call
        from a worker thread while the flusher appends.
        """
        start = parse_cursor(after) if after else ("", 0)
        owner = CURSOR.match(after).group(3) if after else None  # type: ignore[union-attr]
        if owner is not None and owner != self.instance:
            raise CursorError(f"cursor belongs to another instance than {self.instance!r}")
        with self._resume_lock:
            resume = self._resume.get(after or "")
        durable = self.durable
        lines: list[bytes] = []
        last: tuple[str, int] = start
        next_offset = (start[0], 0)
        for day, path in self.segments():
            if day < start[0] or len(lines) >= limit:
                continue
            try:
                f = path.open("rb")
            except FileNotFoundError:  # expired meanwhile
                continue
            with f:
                if resume is not None and resume[0] == day:
                    f.seek(resume[1])
                for raw in iter(f.readline, b""):
                    if not raw.endswith(b"\n"):
                        break
                    match = LINE_ID.search(raw)
                    if match is None:
                        continue
                    key = (match.group(1).decode(), int(match.group(2)))
                    if key <= start:
                        continue
                    if key > durable:
                        break
                    lines.append(raw.rstrip(b"\n"))
                    last = key
                    next_offset = (day, f.tell())
                    if len(lines) >= limit:
                        break
        if not lines:
            return lines, after
        cursor = f"{last[0]}-{last[1]:010d}-{self.instance}"
        with self._resume_lock:
            if len(self._resume) >= 64:
                self._resume.clear()
            self._resume[cursor] = next_offset
        return lines, cursor

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


FlushReport = Callable[[int, "float | None", "OSError | None"], None]


class Flusher:
    """Writes and fsyncs an :class:`EventLog` every *interval* seconds, on its own thread.

    Its own thread rather than the event loop: a loop busy fanning a frame
    out to 10,000 connections would otherwise delay the flush, and with it
    the durability window. Flushes keep a fixed cadence (the next one is
    due *interval* after the previous one started), so an event waits at
    most *interval* plus one write and fsync. After each flush, *report* is
    called on this thread with the number of events made durable, the wait
    of the batch's oldest event (None if there was none) and the error, if
    any. Old segments are expired every *expire_every* seconds here too.
    """

    def __init__(
        self,
        log: EventLog,
        interval: float,
        report: FlushReport,
        expire_every: float = 3600.0,
    ):
        self.log = log
        self.interval = interval
        self.report = report
        self.expire_every = expire_every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="greenhouse-event-log", daemon=True)

    def start(self) -> None:
        """Start flushing in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the flush in progress (if any); the caller flushes what is left."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        due = time.monotonic() + self.interval
        expire_due = time.monotonic() + self.expire_every
        while not self._stop.wait(max(0.0, due - time.monotonic())):
            due += self.interval
            now = time.monotonic()
            if due < now:  # fell behind (a slow disk): keep the cadence from here
                due = now + self.interval
            self.flush_once()
            if now >= expire_due:
                expire_due = now + self.expire_every
                try:
                    self.log.expire()
                except OSError as exc:
                    log.warning("event log: cannot expire old segments: %s", exc.strerror or exc)

    def flush_once(self) -> None:
        """One flush, reported (never raises)."""
        try:
            count = self.log.flush()
        except OSError as exc:
            self.report(0, None, exc)
        else:
            self.report(count, self.log.last_delay if count else None, None)


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
