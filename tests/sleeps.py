"""An injectable sleep for the HTTP clients' tests: waits recorded, never slept."""

from __future__ import annotations

import time


class Sleeps:
    """An injectable sleep that records, never sleeps, and moves its clock on instead.

    ``clock`` is the real time plus every second slept, so a client that waits
    for a reset or a retry-after sees the wait over, as it would for real.
    """

    def __init__(self) -> None:
        self.calls: list[float] = []
        self.slept = 0.0

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.slept += seconds

    def clock(self) -> float:
        return time.time() + self.slept

    def waited(self, seconds: float, tolerance: float = 0.5) -> bool:
        """Whether one of the sleeps lasted about *seconds*."""
        return any(abs(call - seconds) <= tolerance for call in self.calls)
