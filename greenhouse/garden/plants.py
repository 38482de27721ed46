"""Which plants grow: repositories and curated content, merged. Pure.

Every public, non-fork repository becomes a plant unless excluded; a content
file can attach to a repository (``repo = "owner/name"``) and override its
name, description, skills and species, pin it or hide it, or describe a
project that has no repository at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from greenhouse.config import GithubConfig
from greenhouse.content import Project, slugify
from greenhouse.store.repos import Repo

__all__ = ["LANGUAGE_SPECIES", "PlantSpec", "Repo", "merge_plants", "plantable", "species_for"]

LANGUAGE_SPECIES = {
    "python": "fern",
    "jupyter notebook": "fern",
    "typescript": "lavender",
    "javascript": "sunflower",
    "rust": "cactus",
    "go": "bamboo",
    "c": "oak",
    "c++": "oak",
    "c#": "pine",
    "java": "pine",
    "kotlin": "pine",
    "ruby": "rose",
    "elixir": "rose",
    "shell": "moss",
    "haskell": "ivy",
    "ocaml": "ivy",
    "html": "sunflower",
    "css": "lavender",
    "swift": "rose",
    "php": "bamboo",
}


@dataclass(frozen=True)
class PlantSpec:
    """Everything the garden needs to know about one plant before simulating it."""

    id: str
    name: str
    description: str
    species: str
    skills: list[str]
    planted_on: date
    archived: bool
    pinned: bool
    repo: str | None = None
    repo_url: str | None = None
    homepage: str | None = None
    language: str | None = None
    topics: list[str] = field(default_factory=list)
    stars: int = 0
    forks: int = 0
    body_html: str = ""
    source: str = "content"


def species_for(language: str | None) -> str:
    """The species a language grows into (moss when unknown)."""
    return LANGUAGE_SPECIES.get((language or "").lower(), "moss")


def plantable(repo: Repo, github: GithubConfig) -> bool:
    """Whether a repository may become a plant: never private; forks, archived, lists as configured."""
    if repo.is_private:
        return False
    if repo.is_fork and not github.forks:
        return False
    if repo.is_archived and not github.archived:
        return False
    return github.wants(repo.full_name)


def merge_plants(
    repos: Sequence[Repo], projects: Sequence[Project], github: GithubConfig, today: date
) -> list[PlantSpec]:
    """Merge repositories and content into plant specs, sorted by id.

    Content wins over repository data; a hidden content file removes its
    repository from the garden. Ids are unique: a repository whose slug is
    taken by a content file gets a numbered suffix.
    """
    by_repo = {p.meta.repo.lower(): p for p in projects if p.meta.repo}
    repo_by_name = {r.full_name.lower(): r for r in repos}
    specs: dict[str, PlantSpec] = {}
    for project in projects:
        if project.meta.hidden:
            continue
        repo = repo_by_name.get((project.meta.repo or "").lower())
        if repo is not None and repo.is_private:
            repo = None  # a private repository never lends its data to the garden
        specs[project.slug] = _spec(project.slug, repo, project, today)
    for repo in repos:
        if repo.full_name.lower() in by_repo or not plantable(repo, github):
            continue
        plant_id = slugify(repo.name)
        base, n = plant_id, 2
        while plant_id in specs:
            plant_id, n = f"{base}-{n}", n + 1
        specs[plant_id] = _spec(plant_id, repo, None, today)
    return [specs[k] for k in sorted(specs)]


def _spec(plant_id: str, repo: Repo | None, project: Project | None, today: date) -> PlantSpec:
    meta = project.meta if project else None
    language = repo.language if repo else None
    topics = list(repo.topics) if repo else []
    skills = (
        list(meta.skills)
        if meta and meta.skills is not None
        else ([language] if language else []) + topics
    )
    planted = (
        meta.planted
        if meta and meta.planted
        else (repo.created_at.date() if repo and repo.created_at else today)
    )
    return PlantSpec(
        id=plant_id,
        name=(meta.title if meta and meta.title else (repo.name if repo else plant_id)),
        description=(
            meta.description if meta and meta.description else (repo.description if repo else "")
        )
        or "",
        species=(meta.species if meta and meta.species else species_for(language)),
        skills=skills,
        planted_on=planted,
        archived=bool(repo and repo.is_archived),
        pinned=bool(meta and meta.pinned),
        repo=repo.full_name if repo else (meta.repo if meta else None),
        repo_url=(repo.html_url or f"https://github.com/{repo.full_name}") if repo else None,
        homepage=(meta.homepage if meta and meta.homepage else (repo.homepage if repo else None))
        or None,
        language=language,
        topics=topics,
        stars=repo.stars if repo else 0,
        forks=repo.forks if repo else 0,
        body_html=project.body_html if project else "",
        source=repo.source if repo else "content",
    )
