"""What a source is: the declaration every source, built-in or third-party, hands greenhouse.

A distribution adds a source by naming a :class:`Source` in its entry points,
group ``greenhouse.sources``, as mkdocs and pytest find their plugins::

    [project.entry-points."greenhouse.sources"]
    sourcehut = "greenhouse_sourcehut:source"

The entry point's name is the source's name: ``greenhouse sync --source
sourcehut`` and the ``[sourcehut]`` section of greenhouse.toml. The built-in
sources register the same way, through greenhouse's own ``pyproject.toml``.
See docs/plugins.md for a complete example.

This module stays cheap to import (no HTTP client, no database): reading the
registry must not slow down commands that never sync.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel

if TYPE_CHECKING:
    from greenhouse.config import Secrets, Site
    from greenhouse.sources.run import Outcome, SourceRun

#: A source name is a config section and a command-line word.
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

Sync = Callable[["SourceRun"], "Outcome"]
Missing = Callable[["Site", "Secrets"], "str | None"]


@dataclass(frozen=True)
class Source:
    """One source of activity, as declared to greenhouse.

    - ``name``: the entry point's name; ``[name]`` in greenhouse.toml and
      ``--source name`` on the command line.
    - ``sync``: called with a :class:`~greenhouse.sources.run.SourceRun` (the
      polite HTTP client, the cursor, the store, this source's config section)
      and returns an :class:`~greenhouse.sources.run.Outcome`. Whatever it
      raises fails this source only.
    - ``config``: the pydantic model of ``[name]`` (subclass
      :class:`greenhouse.config.Section` so unknown keys are refused). It is
      validated with the rest of greenhouse.toml (errors name file, line and
      field), written commented out by ``greenhouse init``, and handed to
      ``sync`` as ``run.section``.
    - ``secrets``: the environment variables it reads (``run.secret(NAME)``);
      they are scrubbed from every message and never stored.
    - ``missing``: what to configure before it can run, or None when ready.
      Without one, a source with a ``config`` runs when its ``[name]``
      section sets at least one key (``greenhouse init`` writes every
      section with its keys commented out, which does not count); a source
      with neither always runs.
    - ``summary``: one line for ``greenhouse sync --help``.
    """

    name: str
    sync: Sync
    config: type[BaseModel] | None = None
    secrets: tuple[str, ...] = ()
    missing: Missing | None = None
    summary: str = ""

    def needs(self, site: Site, secrets: Secrets) -> str | None:
        """What to configure before this source can sync, or None when it is ready."""
        if self.missing is not None:
            return self.missing(site, secrets)
        if self.config is None:
            return None
        section = site.config.source_section(self.name)
        if section is not None and section.model_fields_set:
            return None
        return f"set the [{self.name}] section in greenhouse.toml"
