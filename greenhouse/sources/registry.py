"""The installed sources, read from the ``greenhouse.sources`` entry-point group.

As mkdocs and pytest do, the registry is ``importlib.metadata.entry_points``:
greenhouse's own sources are listed in its ``pyproject.toml`` exactly like a
third-party plugin's, so there is no second way in. It is read once per
process, when first needed (a command that never syncs and whose config names
no plugin section never reads it).

A plugin that cannot be loaded never stops greenhouse: its import error (or a
declaration that is not a :class:`~greenhouse.sources.plugin.Source`, or a
name taken by another source or by a core config section) is kept as one line
in :attr:`Registry.broken`; that source alone then fails, saying why.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points

from pydantic import BaseModel

from greenhouse.sources.plugin import NAME, Source

GROUP = "greenhouse.sources"
#: The distribution greenhouse itself ships as; its sources come first.
DISTRIBUTION = "greenhouse-garden"
#: Sections of greenhouse.toml that are not sources; no plugin may take these names.
RESERVED = frozenset({"site", "build", "live", "analytics", "growth", "history", "demo"})


@dataclass(frozen=True)
class Registry:
    """Every installed source: those that loaded, and one line for each that did not."""

    sources: dict[str, Source] = field(default_factory=dict)
    #: name → why it cannot be used (one line, no traceback)
    broken: dict[str, str] = field(default_factory=dict)
    #: name → "distribution version" that provides it
    origins: dict[str, str] = field(default_factory=dict)
    #: entry points left out because another distribution provides the same name
    ignored: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        """Every installed source name, loaded or not, built-in ones first."""
        return list(self.origins)

    def builtin(self, name: str) -> bool:
        """Whether greenhouse itself provides *name*."""
        return self.origins.get(name, "").split(" ")[0] == DISTRIBUTION

    def secret_names(self) -> list[str]:
        """Every environment variable some installed source reads."""
        return sorted({s for source in self.sources.values() for s in source.secrets})


@functools.cache
def registry() -> Registry:
    """The installed sources (read once per process; see :func:`reload`)."""
    return load(entry_points(group=GROUP))


def reload() -> Registry:
    """Forget the cached registry and read the entry points again (after installing a plugin)."""
    registry.cache_clear()
    from greenhouse import config

    config.config_model.cache_clear()
    return registry()


def load(points: Iterable[EntryPoint]) -> Registry:
    """Load *points* into a registry: built-in sources first, then plugins by name."""
    ordered = sorted(points, key=_order)
    result = Registry()
    for point in ordered:
        origin = _origin(point)
        if point.name in result.origins:
            # The first one stays (greenhouse's own come first); the other is refused.
            result.ignored.append(
                f"source '{point.name}' from {origin} is ignored: "
                f"{result.origins[point.name]} already provides it"
            )
            continue
        result.origins[point.name] = origin
        problem = _refusal(point.name)
        if problem is None:
            try:
                declared = point.load()
            except Exception as exc:  # a plugin's import may raise anything
                problem = (
                    f"cannot load the source plugin '{point.name}' ({point.value}, from {origin}): "
                    f"{type(exc).__name__}: {_first_line(exc)}"
                )
            else:
                problem = _check(point, declared, origin)
                if problem is None:
                    result.sources[point.name] = declared
        if problem is not None:
            result.broken[point.name] = problem
    return result


#: The order greenhouse's own sources run and are reported in: forges, music, sky, visitors.
#: (Wheel builders sort entry points by name, so their file order cannot say it.)
BUILTIN_ORDER = (
    "github", "gitlab", "forgejo", "spotify", "lastfm", "listenbrainz", "weather", "visitors",
)  # fmt: skip


def _order(point: EntryPoint) -> tuple[int, int, str]:
    dist = point.dist.name if point.dist is not None else ""
    if _canonical(dist) != DISTRIBUTION:
        return (1, 0, point.name)
    rank = BUILTIN_ORDER.index(point.name) if point.name in BUILTIN_ORDER else len(BUILTIN_ORDER)
    return (0, rank, point.name)


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _origin(point: EntryPoint) -> str:
    if point.dist is None:
        return "an unknown distribution"
    return f"{_canonical(point.dist.name)} {point.dist.version}"


def _refusal(name: str) -> str | None:
    if not NAME.match(name):
        return f"source name '{name}' must match [a-z][a-z0-9_]* (it is a config section)"
    if name in RESERVED:
        return f"source name '{name}' is taken by greenhouse's own [{name}] section"
    from greenhouse.config import Config

    if name not in Config.model_fields and hasattr(Config, name):
        return f"source name '{name}' is taken by greenhouse's config schema"
    return None


def _check(point: EntryPoint, declared: object, origin: str) -> str | None:
    if not isinstance(declared, Source):
        return (
            f"entry point '{point.name}' ({point.value}, from {origin}) names "
            f"{type(declared).__name__}, not a greenhouse.sources.Source"
        )
    if declared.name != point.name:
        return (
            f"entry point '{point.name}' ({point.value}, from {origin}) declares a source "
            f"named '{declared.name}'; the two names must match"
        )
    model = declared.config
    if model is not None and not (isinstance(model, type) and issubclass(model, BaseModel)):
        return f"source '{point.name}' from {origin}: config must be a pydantic model class"
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "(no message)"
