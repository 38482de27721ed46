"""Progress of a sync, told to whoever listens.

The library never prints: sources report to a :class:`Reporter`. The CLI hands
in a :class:`RichReporter` (a live ``rich`` progress display per source when
the console is a terminal, one summary line per source either way); tests and
library users may pass nothing (:class:`NullReporter`) or their own object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Progress:
    """A snapshot of one source's progress."""

    source: str
    done: int = 0
    total: int | None = None
    requests: int = 0
    not_modified: int = 0
    #: Remaining requests per rate-limit budget, e.g. (("core", 4321), ("graphql", 4990)).
    rate_limits: tuple[tuple[str, int], ...] = ()


def describe_limits(remaining: dict[str, int]) -> str:
    """``REST 4,321 left, GraphQL 4,990 left``: each budget on its own, never mixed."""
    names = {"core": "REST", "graphql": "GraphQL"}
    return ", ".join(
        f"{names.get(budget, budget)} {left:,} left" for budget, left in sorted(remaining.items())
    )


class Reporter(Protocol):
    """What a sync tells its listener."""

    def progress(self, update: Progress) -> None:
        """Work advanced (called often; keep it cheap)."""

    def warn(self, source: str, message: str) -> None:
        """Something the user should act on, already scrubbed of secrets."""

    def finish(self, source: str, status: str, summary: str) -> None:
        """A source is done; *summary* is its one-line summary."""


class NullReporter:
    """Listens to nothing."""

    def progress(self, update: Progress) -> None:
        pass

    def warn(self, source: str, message: str) -> None:
        pass

    def finish(self, source: str, status: str, summary: str) -> None:
        pass


class RichReporter:
    """A ``rich`` progress bar per source; quiet (summaries only) off a terminal."""

    def __init__(self, console: Any = None, *, show_skipped: bool = False):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.console = console or Console(stderr=True)
        self.show_skipped = show_skipped
        self._live = self.console.is_terminal
        self._bars = Progress(
            TextColumn("[bold]{task.description:<8}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            console=self.console,
            transient=True,
            disable=not self._live,
        )
        self._tasks: dict[str, Any] = {}
        self._started = False

    def progress(self, update: Progress) -> None:
        if not self._live:
            return
        if not self._started:
            self._bars.start()
            self._started = True
        detail = f"{update.requests} requests, {update.not_modified} not modified"
        if update.rate_limits:
            detail += ", rate limit " + describe_limits(dict(update.rate_limits))
        task = self._tasks.get(update.source)
        if task is None:
            task = self._bars.add_task(update.source, total=update.total, detail=detail)
            self._tasks[update.source] = task
        self._bars.update(task, completed=update.done, total=update.total, detail=detail)

    def warn(self, source: str, message: str) -> None:
        from rich.markup import escape

        self.console.print(
            f"[yellow]warning[/] {escape(source)}: {escape(message)}", highlight=False
        )

    def finish(self, source: str, status: str, summary: str) -> None:
        task = self._tasks.pop(source, None)
        if task is not None:
            self._bars.remove_task(task)
        if self._started and not self._tasks:
            self._bars.stop()
            self._started = False
        if status == "skipped" and not self.show_skipped:
            return
        from rich.markup import escape

        colour = {"ok": "green", "partial": "yellow", "failed": "red"}.get(status, "dim")
        self.console.print(f"[{colour}]{status:<7}[/] {escape(summary)}", highlight=False)
