"""Whether the repository each content file attaches to still exists under that name.

A content file naming a repository that was renamed or deleted would
otherwise become an empty plant without a word. ``greenhouse sync`` asks
GitHub about every such repository (following its 301 for a rename) and
keeps the answers in the store (``repo_lookups``); ``check`` and ``build``
turn them into warnings here, naming the file, line and field.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from greenhouse.config import locate_key
from greenhouse.errors import Problem, StoreError

if TYPE_CHECKING:
    from greenhouse.content import Project
    from greenhouse.store import Store
    from greenhouse.store.github import Lookup


def repo_warnings(projects: Sequence[Project], lookups: dict[str, Lookup]) -> list[Problem]:
    """One located warning per content file whose ``repo`` was renamed, is gone, or is elsewhere."""
    warnings: list[Problem] = []
    for project in projects:
        repo = project.meta.repo
        lookup = lookups.get(repo.lower()) if repo else None
        if lookup is None:
            continue
        if lookup.status == "renamed":
            message = (
                f"{repo} was renamed on GitHub to {lookup.target}: "
                f'set repo = "{lookup.target}" (until then this plant shows no activity)'
            )
        elif lookup.status == "missing":
            message = (
                f"{repo} was not found on GitHub (deleted, made private or misspelt): "
                "this plant grows from the content file only"
            )
        else:
            message = (
                f"{repo} is not one of [github] user's repositories, so its activity is "
                "not synced: this plant grows from the content file only"
            )
        warnings.append(Problem(project.path, message, _repo_line(project.path), "repo"))
    return warnings


def stored_repo_warnings(projects: Sequence[Project], store: Store) -> list[Problem]:
    """:func:`repo_warnings` from what the last sync found (nothing if it never looked)."""
    from greenhouse.store.github import load_lookups

    return repo_warnings(projects, load_lookups(store))


def warnings_from_file(projects: Sequence[Project], db: Path) -> list[Problem]:
    """The same, opening the store read-only; no store yet (or a busy one) means no warnings."""
    from greenhouse.store import Store

    if not db.is_file():
        return []
    try:
        with Store.open(db, read_only=True) as store:
            return stored_repo_warnings(projects, store)
    except StoreError:
        return []  # `check` must work while a build holds the store, or before a migration


def _repo_line(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    return locate_key(text, ("repo",))
