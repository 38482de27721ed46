"""The ``greenhouse`` command's entry point: an unchanged offline build answers before the CLI loads.

``greenhouse build --offline`` run again with nothing changed is the command
people (and CI caches, editors' build-on-save, Makefiles) run most, and its
answer comes from the stamp beside the bundle in a few milliseconds
(:mod:`greenhouse.fingerprint`). Importing the command line around it cost
several times that: typer, click and, from typer 0.29 on, pydantic for its
parameter coercion. So this module reads the arguments of that one command
itself and asks the stamp before anything else is imported.

It understands only ``build --offline`` with ``--root``, ``--output``,
``--db`` and ``--base-url``; anything else (``--force``, ``--help``, an
option it does not know, a repeated one) goes to the real command line, and
so does every build the stamp does not vouch for, any error included: the
full path reports it properly. What it prints is what the full command prints
for a skipped build.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

#: The options of ``greenhouse build`` that take a value, by the keyword build() takes.
_VALUES = {"--root": "root", "--output": "output", "--db": "db", "--base-url": "base_url"}


def quick_build_args(argv: Sequence[str]) -> dict[str, str] | None:
    """The keyword arguments of an offline build this module can answer, else None.

    None for anything but ``build --offline`` with the options above, each at
    most once and with a value that cannot be mistaken for an option.
    """
    if not argv or argv[0] != "build":
        return None
    found: dict[str, str] = {}
    offline = False
    words = list(argv[1:])
    while words:
        word = words.pop(0)
        if word == "--offline" and not offline:
            offline = True
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
    return found if offline else None


def quick_build(argv: Sequence[str]) -> bool:
    """Answer ``greenhouse build --offline`` from the stamp; False when the CLI must run."""
    args = quick_build_args(argv)
    if args is None:
        return False
    from pathlib import Path

    from greenhouse.build import up_to_date_result
    from greenhouse.errors import GreenhouseError

    try:
        result = up_to_date_result(
            args.get("root", "."),
            output=Path(args["output"]) if "output" in args else None,
            db=Path(args["db"]) if "db" in args else None,
            base_url=args.get("base_url"),
        )
    except GreenhouseError:  # e.g. a bad SOURCE_DATE_EPOCH: the full command reports it
        return False
    if result is None:
        return False
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"Nothing changed; {result.output} is up to date ({result.seconds:.2f}s).")
    return True


def main() -> None:
    """Console-script entry point."""
    from greenhouse.collector import collect_rarely, spare_the_exit

    if sys.argv[1:2] != ["sidecar"]:  # the sidecar runs for days: it keeps CPython's settings
        collect_rarely()
    try:
        try:
            if quick_build(sys.argv[1:]):
                return
        except KeyboardInterrupt:
            print("interrupted; what was already stored is kept", file=sys.stderr)
            raise SystemExit(130) from None
        from greenhouse.cli import main as cli_main

        cli_main()
    finally:
        spare_the_exit()
