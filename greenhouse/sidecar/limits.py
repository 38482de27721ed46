"""Per-connection flood control, with time passed in (no clock inside)."""

from __future__ import annotations


class TokenBucket:
    """A token bucket: *rate* tokens a second, at most *burst* saved up.

    Each message takes one token; a message with no token left is refused.
    """

    def __init__(self, rate: float, burst: int, now: float):
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.updated = now

    def take(self, now: float) -> bool:
        """Take one token at time *now* (seconds, monotonic); False when empty."""
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False
