"""The curated content of a site: ``content/projects/*.md`` and ``content/skills.toml``.

A project file is TOML front matter between ``+++`` lines and a Markdown body
(CommonMark, rendered with markdown-it-py and sanitised with nh3). Every
problem in every file is collected and raised at once as a
:class:`~greenhouse.errors.ContentError` naming file, line and field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from greenhouse.config import locate_key
from greenhouse.errors import ContentError, Problem
from greenhouse.tomltext import TomlSyntaxError, parse_toml

#: Bounds on skills (see greenhouse.garden.skills: edges grow with the square of a project's skills).
MAX_PLANT_SKILLS = 50  # also the most a plant brings to the constellation (GitHub allows 20 topics)
MAX_DECLARED_SKILLS = 500
MAX_SKILL_NAME = 100
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$")
REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
#: A repository on any forge: ``owner/name`` (GitHub) or ``forge:path``
#: (``gitlab:group/sub/project``, ``forgejo:owner/name``, a plugin's ``name:path``).
REPO_REF = re.compile(
    r"^(?:(?P<forge>[a-z][a-z0-9_]{0,39}):)?(?P<path>[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)+)$"
)
#: Other names people give a forge in a reference.
FORGE_ALIASES = {"codeberg": "forgejo", "gitea": "forgejo"}
#: The forge whose keys carry no prefix (the only one before forges were added).
UNPREFIXED = "github"


def repo_key(source: str, path: str) -> str:
    """The store's key of repository *path* on the forge *source*: ``gitlab:group/project``.

    GitHub's repositories keep the plain ``owner/name`` they always had.
    """
    return path if source == UNPREFIXED else f"{source}:{path}"


def parse_repo(reference: str) -> str:
    """The store key a content file's repository reference means; ValueError if malformed.

    ``owner/name`` and ``github:owner/name`` are on GitHub; ``codeberg:`` and
    ``gitea:`` mean the ``forgejo`` source.
    """
    found = REPO_REF.match(reference.strip())
    if not found:
        raise ValueError(
            f"{reference!r} must be owner/name (GitHub) or forge:path, "
            "e.g. gitlab:group/project or codeberg:owner/name"
        )
    forge = FORGE_ALIASES.get(found["forge"] or UNPREFIXED, found["forge"] or UNPREFIXED)
    path = found["path"]
    if forge == UNPREFIXED and not REPO.match(path):
        raise ValueError(f"{reference!r}: a GitHub repository is owner/name")
    return repo_key(forge, path)


SPECIES = (
    "fern",
    "oak",
    "cactus",
    "rose",
    "bamboo",
    "sunflower",
    "pine",
    "lavender",
    "ivy",
    "moss",
)


class ProjectMeta(BaseModel):
    """The front matter of a project file."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(
        None, description="Display name (default: the repository's name or the slug)."
    )
    slug: str | None = Field(None, description="Page id, [a-z0-9-]+ (default: the file name).")
    description: str | None = Field(
        None, description="One-line description (default: the repository's)."
    )
    repo: str | None = Field(
        None,
        description="The repository this project attaches to: owner/name on GitHub, or "
        "forge:path (gitlab:group/project, codeberg:owner/name).",
    )
    repos: list[str] | None = Field(
        None,
        description="Several repositories that are one project (mirrors on several forges): "
        "their activity adds up, a mirrored commit counted once.",
    )
    skills: list[str] | None = Field(
        None, description="Skills used (default: language and topics)."
    )
    species: str | None = Field(None, description=f"Plant species, one of: {', '.join(SPECIES)}.")
    pinned: bool = Field(False, description="Show first, in the front row.")
    hidden: bool = Field(False, description="Keep this project (or repository) out of the garden.")
    planted: date | None = Field(
        None, description="When the project began (default: repository creation)."
    )
    homepage: str | None = Field(None, description="A link to the running project.")

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str | None) -> str | None:
        if value is not None and not SLUG.match(value):
            raise ValueError("must match [a-z0-9-]+ (no slashes, dots or upper case)")
        return value

    @field_validator("skills")
    @classmethod
    def _skills(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(value) > MAX_PLANT_SKILLS:
            raise ValueError(
                f"at most {MAX_PLANT_SKILLS} skills per project (got {len(value)}): "
                "the constellation links every pair of a project's skills"
            )
        for name in value or ():
            if not name.strip() or len(name) > MAX_SKILL_NAME:
                raise ValueError(
                    f"a skill name has 1 to {MAX_SKILL_NAME} characters (got {len(name)})"
                )
        return value

    @field_validator("repo")
    @classmethod
    def _repo(cls, value: str | None) -> str | None:
        return parse_repo(value) if value is not None else None

    @field_validator("repos")
    @classmethod
    def _repos(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        if value is None:
            return None
        if info.data.get("repo") is not None:
            raise ValueError("set either repo or repos, not both")
        if not value:
            raise ValueError("lists no repository; leave it out instead")
        keys = [parse_repo(reference) for reference in value]
        if len({k.lower() for k in keys}) != len(keys):
            raise ValueError("names the same repository twice")
        return keys

    @property
    def repo_keys(self) -> list[str]:
        """The store keys of every repository this project joins (none, one, or several)."""
        return list(self.repos) if self.repos else ([self.repo] if self.repo else [])

    @field_validator("species")
    @classmethod
    def _species(cls, value: str | None) -> str | None:
        if value is not None and value not in SPECIES:
            raise ValueError(f"unknown species; choose one of: {', '.join(SPECIES)}")
        return value

    @field_validator("homepage")
    @classmethod
    def _homepage(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://", value):
            raise ValueError("must be an http(s) URL")
        return value


class SkillEntry(BaseModel):
    """One ``[[skills]]`` entry of content/skills.toml."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="Skill name.")
    category: str = Field(
        "other", description="Group in the constellation (language, tool, practice…)."
    )
    level: int = Field(3, ge=1, le=5, description="Self-assessed level, 1 to 5.")


class SkillsFile(BaseModel):
    """The whole of content/skills.toml."""

    model_config = ConfigDict(extra="forbid")

    skills: list[SkillEntry] = Field(default_factory=list, description="The declared skills.")

    @field_validator("skills")
    @classmethod
    def _count(cls, value: list[SkillEntry]) -> list[SkillEntry]:
        if len(value) > MAX_DECLARED_SKILLS:
            raise ValueError(
                f"at most {MAX_DECLARED_SKILLS} declared skills (got {len(value)}); "
                "the constellation also adds the skills your projects name"
            )
        return value


@dataclass(frozen=True)
class Project:
    """One curated project file, validated."""

    slug: str
    path: Path
    meta: ProjectMeta
    body_markdown: str
    body_html: str
    source_hash: str = field(default="", compare=False)


@dataclass(frozen=True)
class Content:
    """All curated content of a site."""

    projects: list[Project]
    skills: list[SkillEntry]


def load_content(root: Path) -> Content:
    """Load and validate every content file under ``root/content``."""
    problems: list[Problem] = []
    projects = _load_projects(root / "content" / "projects", problems)
    skills = _load_skills(root / "content" / "skills.toml", problems)
    if problems:
        raise ContentError(problems)
    return Content(projects=projects, skills=skills)


def _load_projects(folder: Path, problems: list[Problem]) -> list[Project]:
    if not folder.is_dir():
        return []
    projects: list[Project] = []
    by_slug: dict[str, Path] = {}
    by_repo: dict[str, Path] = {}
    for path in sorted(folder.glob("*.md")):
        project = _load_project(path, problems)
        if project is None:
            continue
        if project.slug in by_slug:
            problems.append(
                Problem(
                    path,
                    f"duplicate slug '{project.slug}' (also {by_slug[project.slug].name})",
                    None,
                    "slug",
                )
            )
            continue
        keys = project.meta.repo_keys
        taken = [key for key in keys if key.lower() in by_repo]
        if taken:
            problems.append(
                Problem(
                    path,
                    f"repository {taken[0]} is already attached by {by_repo[taken[0].lower()].name}",
                    None,
                    "repos" if project.meta.repos else "repo",
                )
            )
            continue
        by_slug[project.slug] = path
        for key in keys:
            by_repo[key.lower()] = path
        projects.append(project)
    return projects


def split_front_matter(text: str, path: Path) -> tuple[str, str, int]:
    """Split ``+++`` front matter from the body: (toml, markdown, body's first line)."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "+++":
        raise ContentError(
            Problem(path, "must start with a '+++' line opening the TOML front matter", 1)
        )
    for index in range(1, len(lines)):
        if lines[index].strip() == "+++":
            return "".join(lines[1:index]), "".join(lines[index + 1 :]), index + 2
    raise ContentError(Problem(path, "front matter opened with '+++' on line 1 is never closed", 1))


def _load_project(path: Path, problems: list[Problem]) -> Project | None:
    stem_slug = path.stem
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        problems.append(Problem(path, f"not valid UTF-8 (byte {exc.start})", line))
        return None
    except OSError as exc:
        problems.append(Problem(path, f"cannot read: {exc.strerror}"))
        return None
    try:
        front, body, _ = split_front_matter(text, path)
    except ContentError as exc:
        problems.extend(exc.problems)
        return None
    try:
        data: dict[str, Any] = parse_toml(front)
    except TomlSyntaxError as exc:
        problems.append(
            Problem(
                path,
                f"invalid TOML front matter: {exc.message}",
                exc.line + 1 if exc.line else None,
            )
        )
        return None
    try:
        meta = ProjectMeta.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(str(p) for p in err["loc"])
            key_line = locate_key(front, loc[:1])
            message = f"unknown key '{loc[0]}'" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(
                Problem(path, message, key_line + 1 if key_line else None, ".".join(loc))
            )
        return None
    slug = meta.slug or stem_slug
    if not SLUG.match(slug):
        problems.append(
            Problem(
                path,
                f"file name '{path.name}' is not a valid slug; rename it to [a-z0-9-]+.md or set slug",
                None,
                "slug",
            )
        )
        return None
    import hashlib

    return Project(
        slug=slug,
        path=path,
        meta=meta,
        body_markdown=body,
        body_html=render_markdown(body),
        source_hash=hashlib.blake2b(raw, digest_size=16).hexdigest(),
    )


def _load_skills(path: Path, problems: list[Problem]) -> list[SkillEntry]:
    if not path.exists():
        return []
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
        data = parse_toml(text)
    except UnicodeDecodeError as exc:
        bad_line = raw[: exc.start].count(b"\n") + 1
        problems.append(Problem(path, f"not valid UTF-8 (byte {exc.start})", bad_line))
        return []
    except IsADirectoryError:
        problems.append(
            Problem(path, "is a folder; skills.toml must be a file of [[skills]] tables")
        )
        return []
    except OSError as exc:
        problems.append(Problem(path, f"cannot read: {exc.strerror}"))
        return []
    except TomlSyntaxError as exc:
        problems.append(Problem(path, f"invalid TOML: {exc.message}", exc.line))
        return []
    try:
        return SkillsFile.model_validate(data).skills
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(str(p) for p in err["loc"])
            line = _skill_line(text, loc)
            message = f"unknown key '{loc[-1]}'" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(Problem(path, message, line, ".".join(loc)))
        return []


def _skill_line(text: str, loc: tuple[str, ...]) -> int | None:
    """Line of ``skills.<n>.<key>``: the n-th ``[[skills]]`` table, then the key in it.

    A problem with the whole list (too many skills) points at the first table past the bound.
    """
    if loc == ("skills",):
        loc = ("skills", str(MAX_DECLARED_SKILLS))
    if len(loc) < 2 or loc[0] != "skills" or not loc[1].isdigit():
        return None
    wanted = int(loc[1])
    seen = -1
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        if line.strip() == "[[skills]]":
            seen += 1
            if seen == wanted:
                if len(loc) < 3:
                    return number
                for offset, inner in enumerate(lines[number:], start=number + 1):
                    if inner.strip().startswith("["):
                        break
                    if re.match(rf"^\s*{re.escape(loc[2])}\s*=", inner):
                        return offset
                return number
    return None


def slugify(name: str) -> str:
    """A plant id from a repository or project name: ``My_Tool.js`` → ``my-tool-js``."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:80].strip("-") or "project"


_markdown: Any = None


def render_markdown(text: str) -> str:
    """CommonMark to HTML, sanitised (no scripts, no event handlers, safe links only)."""
    global _markdown
    if _markdown is None:
        from markdown_it import MarkdownIt

        _markdown = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")
    import nh3

    html = _markdown.render(text)
    return nh3.clean(html, url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer")
