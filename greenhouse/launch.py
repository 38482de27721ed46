"""The ``greenhouse`` command's entry point: a build runs before the command line loads.

``greenhouse build`` is the command people (and CI, editors' build-on-save,
Makefiles) run most, and importing the command line around it cost more than
a no-change build itself, and a tenth of a forced 1,000-plant rebuild: typer
and, from typer 0.29 on, pydantic models for its parameter coercion (0.15–0.23
s on a 2-core machine). So this module reads the arguments of ``build``
itself and runs it through :func:`greenhouse.commands.build_command`, the
function the command line's ``build`` runs; an offline build with nothing
changed answers from the stamp beside the bundle
(:mod:`greenhouse.fingerprint`) before DuckDB, numpy or pydantic are imported.

It understands ``build`` with ``--offline``, ``--force``, ``--strict``,
``--root``, ``--output``, ``--db`` and ``--base-url``; anything else
(``--help``, an option it does not know, a repeated one, a missing value)
goes to the real command line, which says what is wrong. What it prints and
its exit status are those of the command line: the same function prints them,
and the same :func:`~greenhouse.commands.failure_status` reports a failure.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

#: The options of ``greenhouse build`` that take a value, by the keyword build() takes.
_VALUES = {"--root": "root", "--output": "output", "--db": "db", "--base-url": "base_url"}
#: Its flags, by the keyword build() takes.
_FLAGS = {"--offline": "offline", "--force": "force", "--strict": "strict"}


def build_args(argv: Sequence[str]) -> dict[str, str | bool] | None:
    """The keyword arguments of the ``build`` command in *argv*, else None.

    None for any other command, and for a build with anything but the
    options above, each at most once and with a value that cannot be
    mistaken for an option: the command line reads (or refuses) those.
    """
    if not argv or argv[0] != "build":
        return None
    found: dict[str, str | bool] = {}
    words = list(argv[1:])
    while words:
        word = words.pop(0)
        flag = _FLAGS.get(word)
        if flag is not None:
            if flag in found:
                return None
            found[flag] = True
            continue
        name, equals, value = word.partition("=")
        key = _VALUES.get(name)
        if key is None or key in found:
            return None
        if not equals:
            if not words:
                return None
            value = words.pop(0)
        if not value or value.startswith("-"):
            return None
        found[key] = value
    return found


def run_build(args: dict[str, str | bool]) -> None:
    """Run ``greenhouse build`` with *args* (from :func:`build_args`) as the command line would."""
    from greenhouse.commands import build_command, failure_status, show_library_warnings

    show_library_warnings()
    try:
        build_command(**args)  # type: ignore[arg-type]
    except (Exception, KeyboardInterrupt) as exc:
        status = failure_status(exc)
        if status is None:
            raise
        raise SystemExit(status) from None


#: Pydantic looks for its plugins among the entry points of every installed distribution
#: the first time a model is built (25-37 ms of a build on a 2-core machine). greenhouse's
#: models are its own settings and documents, which no plugin is meant to observe; a user who
#: wants them observed sets the variable (even empty) and it is left as it is.
_PYDANTIC_PLUGINS = ("PYDANTIC_DISABLE_PLUGINS", "__all__")


def main() -> None:
    """Console-script entry point."""
    import os
    import signal

    from greenhouse.collector import collect_rarely, spare_the_exit

    os.environ.setdefault(*_PYDANTIC_PLUGINS)  # inherited by the build's helper processes

    if sys.argv[1:2] != ["sidecar"]:  # the sidecar runs for days: it keeps CPython's settings
        collect_rarely()
    try:
        args = build_args(sys.argv[1:])
        if args is not None:
            try:
                run_build(args)
            finally:
                # Its status is decided: a Ctrl-C while Python shuts down (joining
                # threads, closing DuckDB) must not turn it into a traceback.
                signal.signal(signal.SIGINT, signal.SIG_IGN)
            return
        from greenhouse.cli import main as cli_main

        cli_main()
    finally:
        spare_the_exit()
