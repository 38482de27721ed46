"""What a long-running process keeps between its builds, and growing the garden through it.

``greenhouse serve`` builds again on every edit. It hands :func:`greenhouse.build.build`
a :class:`BuildCache`, and each costly step looks its result up by a key of
its inputs: the compiled templates (until a template changes), what the store
holds for the plants, the simulation, the grown garden; the bundle module
keeps the keys of every output (:class:`~greenhouse.site.bundle.Published`).
A one-off build passes no cache and digests nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, cast

if TYPE_CHECKING:
    from pathlib import Path

    import jinja2

    from greenhouse.config import Site
    from greenhouse.content import Content
    from greenhouse.garden.garden import GardenState
    from greenhouse.garden.growth import Activity
    from greenhouse.garden.weather import Observation, Play
    from greenhouse.site.bundle import Published
    from greenhouse.store import Store
    from greenhouse.store.images import ImagesAhead

Progress = Callable[[str], None]


class Readings(NamedTuple):
    """What the garden is grown from, read from the store."""

    activity: Activity
    plays: list[Play]
    observation: Observation | None


@dataclass
class BuildCache:
    """What a long-running process keeps between its builds; every entry is keyed by its inputs.

    ``greenhouse serve`` holds one, so an edit redoes only what it touches:
    a template or stylesheet edit re-renders pages from the garden it already
    grew; a content edit grows the garden again (from the readings of the
    store it kept) and renders only the outputs whose inputs changed.
    """

    entries: dict[str, tuple[str, Any]] = field(default_factory=dict)  # name -> (key, value)
    published: Published | None = None  # keys of the outputs of the bundle published last
    grown: int = 0  # gardens grown so far (tests check the edits that must not)
    #: The link-preview PNGs the last build showed, by the digest of their inputs.
    images: dict[str, bytes] = field(default_factory=dict)


T = TypeVar("T")


def _cached(
    cache: BuildCache | None, name: str, key: Callable[[], str], make: Callable[[], T]
) -> T:
    """``make()``, or the value *cache* keeps under *name* while ``key()`` is the same.

    Without a cache nothing is digested: a one-off build only makes.
    """
    if cache is None:
        return make()
    digested = key()
    kept = cache.entries.get(name)
    if kept is not None and kept[0] == digested:
        return cast(T, kept[1])
    value = make()
    cache.entries[name] = (digested, value)
    return value


def template_environment(
    site: Site, cache: BuildCache | None, compiled: Path | None = None
) -> jinja2.Environment:
    """The template environment, compiled templates kept while no template changes.

    *compiled* is a folder where compiled templates are also kept between
    processes (:class:`~greenhouse.site.render.CompiledTemplates`).
    """
    from greenhouse.site import render

    folder = site.root / "site_templates"
    # Any template change, even a new file overriding a theme one, gets a fresh environment.
    return _cached(
        cache,
        "templates",
        lambda: render.templates_digest(folder),
        lambda: render.template_environment(folder, compiled),
    )


def grow_garden(
    site: Site,
    content: Content,
    store: Store,
    now: datetime,
    say: Progress,
    cache: BuildCache | None,
) -> tuple[GardenState, bool]:
    """The garden at *now*, and whether it was grown (False: the cache had it).

    Its key covers every input of :func:`~greenhouse.garden.garden.grow`: the
    store's data, the moment, the merged plant specs, the config and the
    declared skills. Templates are not among them: a template edit re-renders
    from the same garden. The readings (what the store holds for these plants)
    and the simulation are kept by keys of their own, so an edit to a
    project's description does not read the store or simulate again.
    """
    from greenhouse.garden.garden import grow, simulation_inputs
    from greenhouse.garden.growth import simulate
    from greenhouse.garden.plants import merge_plants
    from greenhouse.site.bundle import digest
    from greenhouse.store import queries

    today = now.date()
    data = f"{store.data_version()}:{now.isoformat()}"
    specs = merge_plants(
        queries.load_repos(store),
        content.projects,
        site.config.github,
        today,
        sections=site.config.source_section,
    )
    skills = [s.model_dump() for s in content.skills]
    grown = False

    def readings_key() -> str:
        return digest(data, repr([(s.id, s.repo, s.repos, s.planted_on) for s in specs]))

    def read() -> Readings:
        start = queries.activity_span(store, specs, today)
        return Readings(
            queries.load_activity(store, specs, start, today),
            queries.load_plays(store, now - timedelta(days=7)),
            queries.latest_observation(store, now),
        )

    def grow_now() -> GardenState:
        nonlocal grown
        say("simulate")
        readings = _cached(cache, "readings", readings_key, read)
        planted, archived = simulation_inputs(specs, readings.activity.start)
        growth = site.config.growth
        simulated = _cached(
            cache,
            "simulation",
            lambda: digest(readings_key(), planted.tobytes(), archived.tobytes(), repr(growth)),
            lambda: simulate(readings.activity, planted, archived, growth),
        )
        grown = True
        if cache is not None:
            cache.grown += 1
        activity, plays, observation = readings
        return grow(
            specs, activity, today, site.config, skills, plays, observation, simulated=simulated
        )

    config = site.config.model_dump_json
    garden = _cached(
        cache,
        "garden",
        lambda: digest(data, repr(specs), config(), repr(skills)),
        grow_now,
    )
    return garden, grown


class ImageLookup:
    """The store's image cache, through the PNGs a long-running process kept from its last build.

    A PNG's digest covers every input of its drawing, so a kept one is the one
    the store holds; a thousand previews are not read from DuckDB on every edit.
    With *ahead*, the whole table is being read already
    (:class:`~greenhouse.store.images.ImagesAhead`).
    """

    def __init__(self, store: Store, cache: BuildCache | None, ahead: ImagesAhead | None = None):
        self.store = store
        self.cache = cache
        self.ahead = ahead
        self.found: dict[str, bytes] = {}  # what this build was given, kept or read

    def __call__(self, digests: list[str]) -> dict[str, bytes]:
        """The PNG of each of *digests* that is kept or stored."""
        from greenhouse.store.images import cached_images

        kept = self.cache.images if self.cache is not None else {}
        found = {d: kept[d] for d in digests if d in kept}
        missing = [d for d in digests if d not in found]
        if missing and self.ahead is not None:
            stored = self.ahead.images()
            found.update((d, stored[d]) for d in missing if d in stored)
        elif missing:
            found.update(cached_images(self.store, missing))
        self.found.update(found)
        return found

    def keep(self, new: Mapping[str, bytes], used: set[str]) -> None:
        """Keep the PNGs this build showed (given or drawn) for the next build of the process."""
        if self.cache is not None:
            shown = {**self.found, **new}
            self.cache.images = {d: shown[d] for d in used if d in shown}
