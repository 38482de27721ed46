"""What ``greenhouse build`` does and prints, without the command line's own imports.

The command line (:mod:`greenhouse.cli`, typer) and the entry point's early
path (:mod:`greenhouse.launch`) both run a build through
:func:`build_command`, and report a failure through :func:`failure_status`:
the same lines and the same exit status whichever path ran it. Importing
typer and building its parameter coercion costs 0.15–0.23 s of every
command's start on a 2-core machine, a tenth of a forced 1,000-plant rebuild,
so the entry point reads the arguments of a build itself whenever it can.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path

INTERRUPTED = "interrupted; what was already stored is kept"


def err(message: str) -> None:
    """One line on stderr."""
    print(message, file=sys.stderr, flush=True)


def failure_status(exc: BaseException) -> int | None:
    """Report *exc* as the commands do and return the exit status (None: not ours, re-raise).

    A :class:`~greenhouse.errors.GreenhouseError` is a problem the user can
    fix: its message, or one line per problem, and status 1. Ctrl-C, or
    DuckDB's own error for a Ctrl-C inside a statement: status 130.
    """
    from greenhouse.errors import GreenhouseError

    if isinstance(exc, GreenhouseError):
        problems = getattr(exc, "problems", None)
        if problems and len(problems) > 1:
            err(f"error: {len(problems)} problems found:")
            for problem in problems:
                err(f"  {problem}")
        else:
            err(f"error: {exc}")
        return 1
    if isinstance(exc, KeyboardInterrupt):
        err(INTERRUPTED)
        return 130
    if isinstance(exc, Exception):
        from greenhouse.store import interrupted

        if interrupted(exc):
            err(INTERRUPTED)
            return 130
    return None


class LibraryWarnings(logging.Handler):
    """The library's warnings (say, a store converted to another format) as lines on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        err(f"{record.levelname.lower()}: {record.getMessage()}")


def show_library_warnings() -> None:
    """Print the library's warnings on stderr (once, however often called)."""
    logger = logging.getLogger("greenhouse")
    if not any(isinstance(handler, LibraryWarnings) for handler in logger.handlers):
        logger.addHandler(LibraryWarnings(logging.WARNING))


def stage_printer() -> Callable[[str], None]:
    """``… stage`` lines on a terminal's stderr (rich is imported at the first line, if any)."""
    if not sys.stderr.isatty():
        return lambda _: None
    console = None

    def say(stage: str) -> None:
        nonlocal console
        if console is None:
            from rich.console import Console

            console = Console(stderr=True)
        console.print(f"[dim]… {stage}[/dim]")

    return say


def build_command(
    root: Path | str = ".",
    *,
    offline: bool = False,
    output: Path | str | None = None,
    db: Path | str | None = None,
    strict: bool = False,
    force: bool = False,
    base_url: str | None = None,
) -> None:
    """``greenhouse build``: run the build, print its warnings and its one-line summary."""
    from greenhouse.build import build

    reporter = None
    if not offline:  # rich is not imported when nothing is synced
        from greenhouse.sources.progress import RichReporter

        reporter = RichReporter()
    result = build(
        root,
        offline=offline,
        output=output,
        db=db,
        strict=strict or None,
        force=force,
        progress=stage_printer(),
        base_url=base_url,
        sync_reporter=reporter,
    )
    for warning in result.warnings:
        err(f"warning: {warning}")
    if result.skipped:
        print(f"Nothing changed; {result.output} is up to date ({result.seconds:.2f}s).")
        return
    stages = ", ".join(f"{n} {s}" for s, n in sorted((result.stages or {}).items()))
    demo = " [demo data]" if result.demo else ""
    print(
        f"Built {result.plants} plants{demo} ({stages}) into {result.output}: "
        f"{result.files} files, {result.bytes / 1e6:.1f} MB in {result.seconds:.2f}s."
    )
