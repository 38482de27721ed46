"""The sharing surfaces of the bundle: link-preview tags and images, README cards, badge, manifest.

A render step of its own, after the pages: it writes ``garden.svg`` and
``projects/<id>/plant.svg`` (README cards), ``static/og/…`` (PNG previews),
``static/icons/…`` (touch and manifest icons), ``manifest.webmanifest`` and
``api/v1/badge.json``; :class:`Share` is what each page's head says about
itself (``og:``/``twitter:`` tags, canonical link).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from greenhouse.site import api, cards, og

if TYPE_CHECKING:
    from greenhouse.config import Config
    from greenhouse.site.render import Bundle, Links

#: The page background of the theme by day and by night: the browser's UI takes it on.
THEME_COLORS = {"light": "#f6f4ec", "dark": "#141a15"}

ImageLookup = Callable[[list[str]], Mapping[str, bytes]]


@dataclass(frozen=True)
class Share:
    """What one page tells link previews and search engines about itself."""

    url: str  # canonical, absolute
    image: str | None  # absolute URL of a 1200×630 PNG, or None when previews are off
    image_alt: str
    kind: str = "website"  # og:type
    index: bool = True  # False: robots noindex (the 404 page)

    def at(self, url: str, *, index: bool = True) -> Share:
        """The same preview for another page."""
        return Share(url, self.image, self.image_alt, self.kind, index)


def _summary(plants: int, stages: Mapping[str, int]) -> str:
    counts = ", ".join(f"{count} {stage}" for stage, count in stages.items() if count)
    return f"{plants} plants" + (f" ({counts})" if counts else "")


def garden_share(
    links: Links, config: Config, condition: str, plants: int, stages: Mapping[str, int]
) -> Share:
    """The garden's preview: the overview and every page without one of its own.

    It says the sky's *condition*, how many *plants* and their *stages*: known
    before any plant's document is made.
    """
    alt = f"The garden of {config.site.title} under a {condition} sky: {_summary(plants, stages)}."
    image = links.absolute("static/og/garden.png") if config.sharing.preview_images else None
    return Share(links.absolute(""), image, alt)


def project_share(links: Links, config: Config, plant: Mapping[str, Any]) -> Share:
    """A project page's preview: its own plant."""
    metrics = plant["metrics"]
    alt = (
        f"{plant['name']}: a {plant['stage']} {plant['species']} with "
        f"{og.plural(metrics['stars'], 'star')}, {og.plural(metrics['commits_30d'], 'commit')} "
        f"and {og.plural(metrics['views_30d'], 'visit')} in 30 days."
    )
    image = (
        links.absolute(f"static/og/projects/{plant['id']}.png")
        if config.sharing.preview_images
        else None
    )
    return Share(links.absolute(f"projects/{plant['id']}/"), image, alt, kind="article")


def badge(label: str, plants: int, stages: Mapping[str, int], ecosystem: float) -> dict[str, Any]:
    """The shields.io endpoint badge: how much blooms, coloured by the garden's health."""
    blooming = stages.get("blooming", 0)
    message = f"{blooming} blooming" if blooming else f"{plants} plants"
    if not plants:
        colour = "lightgrey"
    elif ecosystem >= 0.75:
        colour = "brightgreen"
    elif ecosystem >= 0.5:
        colour = "green"
    elif ecosystem >= 0.3:
        colour = "yellowgreen"
    else:
        colour = "orange"
    doc = api.BadgeDoc(label=label, message=message, color=colour)
    return doc.model_dump(mode="json")


def manifest(config: Config, links: Links) -> dict[str, Any]:
    """``manifest.webmanifest``: name, colours and icons (paths under the base path)."""
    site = config.site
    icons = [
        {"src": links.url("static/favicon.svg"), "sizes": "any", "type": "image/svg+xml"},
    ]
    if config.sharing.preview_images:
        icons += [
            {
                "src": links.url(f"static/icons/icon-{size}.png"),
                "sizes": f"{size}x{size}",
                "type": "image/png",
            }
            for size in (192, 512)
        ]
    return {
        "name": site.title,
        "short_name": site.title if len(site.title) <= 12 else site.title[:11].rstrip() + "…",
        "description": site.description,
        "lang": site.language,
        "start_url": links.base_path,
        "scope": links.base_path,
        "display": "browser",
        "background_color": THEME_COLORS["light"],
        "theme_color": THEME_COLORS["light"],
        "icons": icons,
    }


def write_cards(
    bundle: Bundle,
    title: str,
    garden_doc: Mapping[str, Any],
    plants: Sequence[Mapping[str, Any]],
) -> None:
    """The README cards: ``garden.svg`` and ``projects/<id>/plant.svg``."""
    weather = garden_doc["weather"]
    bundle.write(
        "garden.svg",
        cards.garden_card(title, plants, weather, garden_doc["stages"], garden_doc["date"]),
    )
    for plant in plants:
        bundle.write(f"projects/{plant['id']}/plant.svg", cards.plant_card(plant, weather))


def pictures(
    config: Config,
    garden_doc: Mapping[str, Any],
    plants: Sequence[Mapping[str, Any]],
    favicon: bytes,
) -> list[og.Picture]:
    """Every PNG of the bundle, described (nothing drawn yet)."""
    title = config.site.title
    weather = garden_doc["weather"]
    found = [og.garden_picture(title, plants, weather, garden_doc["stages"], garden_doc["date"])]
    found += [og.project_picture(title, plant) for plant in plants]
    found += og.icon_pictures(favicon, THEME_COLORS["light"])
    return found


def begin_pictures(
    darkroom: og.Darkroom,
    config: Config,
    garden_doc: Mapping[str, Any],
    plants: Sequence[Mapping[str, Any]],
    favicon: bytes,
    cached: ImageLookup,
) -> og.Develop:
    """Start drawing every PNG the store's image cache (*cached*) does not have."""
    return darkroom.begin(pictures(config, garden_doc, plants, favicon), cached)


def write_pictures(bundle: Bundle, develop: og.Develop) -> og.Drawn:
    """Wait for every PNG begun by :func:`begin_pictures` and write it into the bundle."""
    drawn = develop.finish()
    for path, png in sorted(drawn.images.items()):
        bundle.write(path, png)
    return drawn
