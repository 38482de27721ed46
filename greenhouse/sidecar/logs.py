"""Structured logs: text for people, JSON lines for log shippers.

Log records carry connection numbers, device classes and reasons, never a
message's content, an IP address or a user agent.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TextIO


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
