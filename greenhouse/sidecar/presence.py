"""Who is in the garden right now, with no I/O.

Presence counts distinct visitor keys: a visitor with two tabs on the same
plant counts once there. Several sidecars each count their own connections
and add up the others' latest heartbeats (see :mod:`.redis_bus`); a
heartbeat older than the expiry is dropped, so a crashed instance's visitors
fade out on their own.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

#: "Realtime": distinct recorded visitors seen within this many seconds.
RECENT_WINDOW = 300.0
#: At most this many visitor keys are remembered for the realtime count.
RECENT_LIMIT = 100_000


@dataclass(frozen=True)
class Snapshot:
    """Presence counts: the total and per project (projects with nobody are absent).

    ``recent`` (distinct recorded visitors of the last five minutes) travels
    with the heartbeats but does not make presence frames differ.
    """

    visitors: int = 0
    projects: Mapping[str, int] = field(default_factory=dict)
    recent: int = field(default=0, compare=False)

    def to_json(self) -> dict[str, object]:
        """The wire form, as carried in heartbeats."""
        return {"visitors": self.visitors, "projects": dict(self.projects), "recent": self.recent}

    @classmethod
    def from_json(cls, value: object) -> Snapshot | None:
        """Parse a heartbeat's presence; None when it is malformed."""
        if not isinstance(value, dict):
            return None
        visitors, projects = value.get("visitors"), value.get("projects")
        if not isinstance(visitors, int) or not isinstance(projects, dict):
            return None
        if not all(
            isinstance(k, str) and isinstance(v, int) and v > 0 for k, v in projects.items()
        ):
            return None
        recent = value.get("recent", 0)  # absent from the beats of older instances
        recent = recent if isinstance(recent, int) and not isinstance(recent, bool) else 0
        return cls(max(0, visitors), dict(projects), max(0, recent))


class Presence:
    """The local garden's counts: distinct visitors in all and per project.

    Only counts are kept, no entry per connection: the caller (a visit)
    already knows its visitor key and where it looks, and says both on each
    change. That saves a dictionary entry and a tuple per connection.
    """

    def __init__(self) -> None:
        self._connections: Counter[str] = Counter()
        self._viewers: dict[str | None, Counter[str]] = {}

    def connections_of(self, visitor: str) -> int:
        """Open connections of one visitor key."""
        return self._connections[visitor]

    def join(self, visitor: str) -> None:
        """A connection of *visitor* opens; it looks at the overview until it says otherwise."""
        self._connections[visitor] += 1
        self._add(visitor, None)

    def move(self, visitor: str, before: str | None, after: str | None) -> None:
        """A connection of *visitor* that looked at *before* now looks at *after*
        (None: the overview)."""
        if before == after:
            return
        self._remove(visitor, before)
        self._add(visitor, after)

    def leave(self, visitor: str, project: str | None) -> None:
        """A connection of *visitor* that looked at *project* closes."""
        self._remove(visitor, project)
        self._connections[visitor] -= 1
        if self._connections[visitor] <= 0:
            del self._connections[visitor]

    def _add(self, visitor: str, project: str | None) -> None:
        self._viewers.setdefault(project, Counter())[visitor] += 1

    def _remove(self, visitor: str, project: str | None) -> None:
        viewers = self._viewers[project]
        viewers[visitor] -= 1
        if viewers[visitor] <= 0:
            del viewers[visitor]
        if not viewers:
            del self._viewers[project]

    def snapshot(self) -> Snapshot:
        """The local counts."""
        projects = {p: len(v) for p, v in self._viewers.items() if p is not None}
        return Snapshot(len(self._connections), projects)


def merge(
    local: Snapshot, remotes: Mapping[str, tuple[Snapshot, float]], now: float, expiry: float
) -> Snapshot:
    """Local presence plus every remote instance heard from within *expiry* seconds."""
    visitors, recent = local.visitors, local.recent
    projects: Counter[str] = Counter(local.projects)
    for snapshot, seen in remotes.values():
        if now - seen <= expiry:
            visitors += snapshot.visitors
            recent += snapshot.recent
            projects.update(snapshot.projects)
    return Snapshot(visitors, dict(projects), recent)


class RecentVisitors:
    """Distinct visitor keys seen in the last *window* seconds (time injected).

    Only recorded visitors are fed in (no bots, no Do-Not-Track or GPC), so
    the count matches what the event log holds. A visitor with an open
    connection counts as seen now: :meth:`opened` holds its key until the
    matching :meth:`closed`, which records it as last seen then. The count is
    kept as it goes, so asking for it (every ``/api/events`` page and
    ``/healthz``, beside 10,000 websockets) never walks the connections.
    Memory is bounded: keys older than the window are pruned, and beyond
    *limit* keys of visitors no longer connected the least recently seen are
    forgotten (the count then under-reports, at *limit*).
    """

    def __init__(self, window: float = RECENT_WINDOW, limit: int = RECENT_LIMIT):
        self.window = window
        self.limit = limit
        self._seen: OrderedDict[str, float] = OrderedDict()  # never a key of _open
        self._open: Counter[str] = Counter()

    def seen(self, visitor: str, now: float) -> None:
        """*visitor* did something at *now* (seconds)."""
        if visitor in self._open:
            return  # connected: counted as seen now until it closes
        self._seen[visitor] = now
        self._seen.move_to_end(visitor)
        while len(self._seen) > self.limit:
            self._seen.popitem(last=False)

    def opened(self, visitor: str) -> None:
        """A recorded connection of *visitor* opened: seen now, for as long as it is open."""
        if self._open[visitor] == 0:
            self._seen.pop(visitor, None)
        self._open[visitor] += 1

    def closed(self, visitor: str, now: float) -> None:
        """A connection :meth:`opened` for *visitor* closed at *now*."""
        left = self._open[visitor] - 1
        if left > 0:
            self._open[visitor] = left
            return
        del self._open[visitor]
        self.seen(visitor, now)

    def prune(self, now: float) -> None:
        """Forget visitors last seen more than the window before *now*."""
        while self._seen:
            visitor, when = next(iter(self._seen.items()))
            if now - when <= self.window:
                break
            del self._seen[visitor]

    def count(self, now: float) -> int:
        """Distinct visitors connected now or seen within the window before *now*."""
        self.prune(now)
        return len(self._open) + len(self._seen)
