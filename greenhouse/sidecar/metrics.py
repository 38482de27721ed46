"""Counters for ``/metrics``, rendered in the Prometheus text format.

Labels are fixed words (reject reasons, event types): never an address, a
user agent or a visitor key.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
#: Buckets of the durability delay: the promise is "under a second".
DURABLE_BUCKETS = (0.1, 0.25, 0.5, 0.6, 0.75, 0.9, 1.0, 1.5, 2.0, 5.0)


class Histogram:
    """A cumulative Prometheus histogram of seconds."""

    def __init__(self, buckets: tuple[float, ...] = BUCKETS):
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, seconds: float) -> None:
        """Record one observation."""
        self.counts[bisect_left(self.buckets, seconds)] += 1
        self.sum += seconds
        self.count += 1

    def lines(self, name: str) -> list[str]:
        """The exposition lines of this histogram."""
        out, running = [], 0
        for bound, n in zip((*self.buckets, float("inf")), self.counts, strict=True):
            running += n
            le = "+Inf" if bound == float("inf") else repr(bound)
            out.append(f'{name}_bucket{{le="{le}"}} {running}')
        out += [f"{name}_sum {self.sum!r}", f"{name}_count {self.count}"]
        return out


class Metrics:
    """Everything ``/metrics`` reports."""

    def __init__(self) -> None:
        self.connections = 0
        self.connections_total = 0
        self.messages_in = 0
        self.messages_out = 0
        self.rejects: Counter[str] = Counter()
        self.events_written: Counter[str] = Counter()
        self.dropped_frames = 0
        self.broadcast_seconds = Histogram()
        self.presence_delay_seconds = Histogram()
        self.durable_seconds = Histogram(DURABLE_BUCKETS)

    def reject(self, reason: str) -> None:
        """Count one refused connection, frame or message."""
        self.rejects[reason] += 1

    def render(self, presence_visitors: int, redis_up: int | None) -> str:
        """The whole exposition, text format 0.0.4."""
        lines = [
            "# HELP greenhouse_sidecar_connections Open websocket connections.",
            "# TYPE greenhouse_sidecar_connections gauge",
            f"greenhouse_sidecar_connections {self.connections}",
            "# HELP greenhouse_sidecar_connections_total Websocket connections accepted.",
            "# TYPE greenhouse_sidecar_connections_total counter",
            f"greenhouse_sidecar_connections_total {self.connections_total}",
            "# HELP greenhouse_sidecar_visitors Visitors in presence (all instances).",
            "# TYPE greenhouse_sidecar_visitors gauge",
            f"greenhouse_sidecar_visitors {presence_visitors}",
            "# HELP greenhouse_sidecar_messages_in_total Client frames received.",
            "# TYPE greenhouse_sidecar_messages_in_total counter",
            f"greenhouse_sidecar_messages_in_total {self.messages_in}",
            "# HELP greenhouse_sidecar_messages_out_total Frames sent (one per recipient).",
            "# TYPE greenhouse_sidecar_messages_out_total counter",
            f"greenhouse_sidecar_messages_out_total {self.messages_out}",
            "# HELP greenhouse_sidecar_dropped_frames_total Frames not sent to slow readers.",
            "# TYPE greenhouse_sidecar_dropped_frames_total counter",
            f"greenhouse_sidecar_dropped_frames_total {self.dropped_frames}",
            "# HELP greenhouse_sidecar_rejects_total Refused connections and messages, by reason.",
            "# TYPE greenhouse_sidecar_rejects_total counter",
        ]
        lines += [
            f'greenhouse_sidecar_rejects_total{{reason="{r}"}} {n}'
            for r, n in sorted(self.rejects.items())
        ]
        lines += [
            "# HELP greenhouse_sidecar_events_written_total Visit events made durable, by type.",
            "# TYPE greenhouse_sidecar_events_written_total counter",
        ]
        lines += [
            f'greenhouse_sidecar_events_written_total{{type="{t}"}} {n}'
            for t, n in sorted(self.events_written.items())
        ]
        lines += [
            "# HELP greenhouse_sidecar_broadcast_seconds Server-side fan-out time of one frame.",
            "# TYPE greenhouse_sidecar_broadcast_seconds histogram",
            *self.broadcast_seconds.lines("greenhouse_sidecar_broadcast_seconds"),
            "# HELP greenhouse_sidecar_presence_delay_seconds From a change of presence to "
            "the frame that carries it (paced by the cost of a frame, longer in a storm).",
            "# TYPE greenhouse_sidecar_presence_delay_seconds histogram",
            *self.presence_delay_seconds.lines("greenhouse_sidecar_presence_delay_seconds"),
            "# HELP greenhouse_sidecar_event_durable_seconds How long the oldest event of each "
            "batch waited to be fsynced: the window a kill -9 can lose.",
            "# TYPE greenhouse_sidecar_event_durable_seconds histogram",
            *self.durable_seconds.lines("greenhouse_sidecar_event_durable_seconds"),
        ]
        if redis_up is not None:
            lines += [
                "# HELP greenhouse_sidecar_redis_up 1 when the Redis bus is connected.",
                "# TYPE greenhouse_sidecar_redis_up gauge",
                f"greenhouse_sidecar_redis_up {redis_up}",
            ]
        return "\n".join(lines) + "\n"
