"""How fresh each source's data is: the one definition of "stale".

``health.json`` and ``greenhouse stats`` both read :func:`freshness`. A source
is **stale** when its latest sync did not complete (status other than ``ok``:
partial, failed, or rate-limited before it could start), when it never
succeeded, or when its last success is older than :data:`STALE_AFTER`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from greenhouse.store import Store

#: A nightly sync that missed one night is still fresh; two missed nights are not.
STALE_AFTER = timedelta(hours=48)


@dataclass(frozen=True)
class Freshness:
    """One source's freshness at a moment."""

    source: str
    status: str | None
    message: str | None
    last_attempt: datetime | None
    last_success: datetime | None
    #: Seconds since the last success (None: never succeeded).
    age_seconds: float | None

    @property
    def stale(self) -> bool:
        """See the module docstring: incomplete latest sync, no success, or too old."""
        return is_stale(self.status, self.age_seconds)

    def as_dict(self) -> dict[str, Any]:
        """Plain data with ISO 8601 times (UTC, ``Z``)."""
        return {
            "status": self.status,
            "message": self.message,
            "last_attempt": _iso(self.last_attempt),
            "last_success": _iso(self.last_success),
            "age_seconds": self.age_seconds,
            "stale": self.stale,
        }


def is_stale(status: str | None, age_seconds: float | None) -> bool:
    """The rule itself: not ok, never succeeded, or last success older than STALE_AFTER."""
    if status != "ok" or age_seconds is None:
        return True
    return age_seconds > STALE_AFTER.total_seconds()


def freshness(store: Store, now: datetime) -> dict[str, Freshness]:
    """Every source that ever ran, by name, as seen at *now* (naive UTC or aware)."""
    if now.tzinfo is not None:
        now = now.astimezone(UTC).replace(tzinfo=None)
    rows = store.conn.execute(
        "SELECT source, status, message, last_attempt, last_success FROM sync_state "
        "WHERE last_attempt IS NOT NULL OR last_success IS NOT NULL ORDER BY source"
    ).fetchall()
    return {
        source: Freshness(
            source,
            status,
            message,
            attempt,
            success,
            max((now - success).total_seconds(), 0.0) if success else None,
        )
        for source, status, message, attempt, success in rows
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.replace(microsecond=0).isoformat() + "Z" if moment else None
