"""Structured logs: text for people, JSON lines for log shippers.

Log records carry connection numbers, device classes and reasons, never a
message's content, an IP address or a user agent. What a hostile client can
cause at will (refused connections, failed accepts) goes through a
:class:`Throttle`, so an attack cannot fill the disk with the log; and no
record carries a traceback an attacker could trigger.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any, TextIO


class JsonLines(logging.Formatter):
    """One JSON object per record: ts, level, logger, message."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
        return json.dumps(entry)


def configure(log_format: str, level: str, stream: TextIO | None = None) -> logging.Handler:
    """Send the sidecar's logs (and websockets' warnings) to *stream* (stderr)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("greenhouse.sidecar")
    for old in list(logger.handlers):
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False
    # websockets' own per-connection chatter stays out unless something is wrong.
    logging.getLogger("greenhouse.sidecar.websockets").setLevel(logging.WARNING)
    return handler


class QuietLogger(logging.LoggerAdapter):  # type: ignore[type-arg,unused-ignore]
    """websockets' logger: WARNING and above only, one line each, no traceback.

    Its debug output dumps every request header (user agent, X-Forwarded-For,
    the bearer token), which must never reach a log; and a traceback per bad
    request is what lets a client flood the log. An error keeps its
    exception's type in the line.
    """

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 (logging's name)
        return level >= logging.WARNING and self.logger.isEnabledFor(level)

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        if kwargs.pop("exc_info", None):
            error = sys.exc_info()[1]
            if error is not None:
                msg = f"{msg} ({type(error).__name__})"
        kwargs.pop("stack_info", None)
        return msg, kwargs


class Throttle:
    """At most one log line per reason every *every* seconds (clock injected).

    Lines held back are counted, and the next line of that reason says how
    many were; :meth:`flush` reports what is still held (on shutdown).
    """

    def __init__(
        self,
        logger: logging.Logger,
        every: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.logger = logger
        self.every = every
        self.clock = clock
        self._last: dict[str, float] = {}
        self._held: Counter[str] = Counter()
        self._level: dict[str, int] = {}

    def log(self, level: int, reason: str, message: str, *args: object) -> bool:
        """Log *message* unless a line of *reason* went out less than *every* ago; True if logged."""
        now = self.clock()
        last = self._last.get(reason)
        if last is not None and now - last < self.every:
            self._held[reason] += 1
            return False
        self._last[reason] = now
        self._level[reason] = level
        held = self._held.pop(reason, 0)
        if held:
            message += f" (and {held} more like it since the last report)"
        self.logger.log(level, message, *args)
        return True

    def flush(self) -> None:
        """Report the lines still held back, one per reason."""
        for reason, held in sorted(self._held.items()):
            self.logger.log(
                self._level[reason], "%d more %s events since the last report", held, reason
            )
        self._held.clear()
