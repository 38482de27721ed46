"""Which plants grow: repositories and curated content, merged. Pure.

Every public, non-fork repository becomes a plant unless excluded; a content
file can attach to a repository (``repo = "owner/name"``) and override its
name, description, skills and species, pin it or hide it, or describe a
project that has no repository at all. A content file may also join several
repositories (``repos = [...]``, mirrors on several forges) into one plant.

Repositories from different forges stay separate plants, even when their
names are the same; GitHub's are placed first, so adding a forge never
renames a plant that already exists (a later one with a taken id gets its
forge's name as a suffix: ``tool-gitlab``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

from greenhouse.config import GithubConfig, repo_wanted
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
    #: Every repository the plant joins (its activity is their sum); empty or ``(repo,)`` usually.
    repos: tuple[str, ...] = ()
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


#: Sources whose repositories come first (and keep the ids they always had).
FIRST = ("github", "demo")


def plantable(repo: Repo, rules: object) -> bool:
    """Whether a repository may become a plant: never private; forks, archived, lists as configured.

    *rules* is the config section of the repository's source: ``forks``,
    ``archived``, ``include`` and ``exclude`` (a forge section matches them
    with its own :meth:`~greenhouse.config.ForgeSection.wants`).
    """
    if repo.is_private:
        return False
    if repo.is_fork and not getattr(rules, "forks", False):
        return False
    if repo.is_archived and not getattr(rules, "archived", True):
        return False
    wants = getattr(rules, "wants", None)
    path = repo.full_name.split(":", 1)[-1]  # gitlab:group/tool -> group/tool
    if callable(wants):
        return bool(wants(path))
    # A plugin's section without a matcher of its own: the same rules as GitHub's.
    return repo_wanted(path, getattr(rules, "include", []), getattr(rules, "exclude", []))


def merge_plants(
    repos: Sequence[Repo],
    projects: Sequence[Project],
    github: GithubConfig,
    today: date,
    sections: Callable[[str], object] | None = None,
) -> list[PlantSpec]:
    """Merge repositories and content into plant specs, sorted by id.

    Content wins over repository data; a hidden content file removes its
    repositories from the garden. Ids are unique: a repository whose slug is
    taken gets its forge as a suffix, then a number. *sections* gives the
    config section of a source (its forks/archived/include/exclude rules);
    GitHub's and the demo's are *github*.
    """
    by_repo = {key.lower(): p for p in projects for key in p.meta.repo_keys}
    repo_by_name = {r.full_name.lower(): r for r in repos}
    specs: dict[str, PlantSpec] = {}
    for project in projects:
        if project.meta.hidden:
            continue
        joined = [repo_by_name.get(key.lower()) for key in project.meta.repo_keys]
        # A private repository never lends its data to the garden.
        found = [r for r in joined if r is not None and not r.is_private]
        specs[project.slug] = _spec(project.slug, found, project, today)
    ordered = sorted(repos, key=lambda r: r.source not in FIRST)  # stable: by name within
    for repo in ordered:
        rules = github if repo.source in FIRST or sections is None else sections(repo.source)
        if repo.full_name.lower() in by_repo or not plantable(repo, rules):
            continue
        plant_id = base = slugify(repo.name)
        if plant_id in specs and repo.source not in FIRST:
            plant_id = base = f"{base}-{slugify(repo.source)}"
        n = 2
        while plant_id in specs:
            plant_id, n = f"{base}-{n}", n + 1
        specs[plant_id] = _spec(plant_id, [repo], None, today)
    return [specs[k] for k in sorted(specs)]


def _spec(plant_id: str, repos: list[Repo], project: Project | None, today: date) -> PlantSpec:
    meta = project.meta if project else None
    repo = repos[0] if repos else None
    language = repo.language if repo else None
    topics = list(dict.fromkeys(t for r in repos for t in r.topics))
    skills = (
        list(meta.skills)
        if meta and meta.skills is not None
        else ([language] if language else []) + topics
    )
    created = [r.created_at.date() for r in repos if r.created_at]
    planted = meta.planted if meta and meta.planted else (min(created) if created else today)
    keys = tuple(meta.repo_keys) if meta and meta.repo_keys else ((repo.full_name,) if repo else ())
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
        archived=bool(repos) and all(r.is_archived for r in repos),
        pinned=bool(meta and meta.pinned),
        repo=repo.full_name if repo else (keys[0] if keys else None),
        repos=keys,
        repo_url=_repo_url(repo) if repo else None,
        homepage=(meta.homepage if meta and meta.homepage else (repo.homepage if repo else None))
        or None,
        language=language,
        topics=topics,
        stars=sum(r.stars for r in repos),
        forks=sum(r.forks for r in repos),
        body_html=project.body_html if project else "",
        source=repo.source if repo else "content",
    )


def _repo_url(repo: Repo) -> str | None:
    if repo.html_url:
        return repo.html_url
    # Only GitHub's (and the demo's) address can be made from the name alone.
    return f"https://github.com/{repo.full_name}" if repo.source in FIRST else None
