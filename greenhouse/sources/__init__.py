"""Sources: pull the owner's real activity into the store.

Every source, greenhouse's own ones too, is a :class:`Source` named in the
``greenhouse.sources`` entry-point group (:mod:`greenhouse.sources.registry`).
``sync.sync_sources`` runs the installed, configured ones; each talks to one
upstream through the polite client of ``http`` and writes through
``store.transaction()``. See docs/sources.md for what the built-in ones fetch
and docs/plugins.md for writing one.

The names a plugin needs are importable from here: :class:`Source` (the
declaration), :class:`SourceRun` (what ``sync`` is handed) and
:class:`Outcome` (what it returns). They load on first use, so that reading
the registry stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from greenhouse.sources.plugin import Source
    from greenhouse.sources.run import Outcome, SourceRun

__all__ = ["Outcome", "Source", "SourceRun"]


def __getattr__(name: str) -> Any:
    if name == "Source":
        from greenhouse.sources.plugin import Source

        return Source
    if name in ("Outcome", "SourceRun"):
        from greenhouse.sources import run

        return getattr(run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
