"""Rendering the garden into pages and JSON documents.

Templates come from a ``ChoiceLoader``: the site's ``site_templates/`` first,
then the theme shipped in the package, so a site overrides the theme file by
file. Autoescape is on for HTML and XML. Every document is written with
sorted keys and no wall-clock time, so the same garden gives the same bytes.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import re
import shutil
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape as xml_escape

import jinja2

from greenhouse.config import Config
from greenhouse.errors import TemplateError
from greenhouse.garden.garden import GardenState, PlantState
from greenhouse.garden.growth import STAGES
from greenhouse.site import THEME, api, feed
from greenhouse.site.constellation import LISTED_PROJECTS, star_chart
from greenhouse.site.static import StaticFiles, StaticRule, select

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from greenhouse.store.freshness import Freshness


@dataclass(frozen=True)
class Links:
    """URLs under the site's base URL (which may carry a path)."""

    base_url: str

    @property
    def base_path(self) -> str:
        """The path part of the base URL, always ending in '/'."""
        path = urlsplit(self.base_url).path or "/"
        return path if path.endswith("/") else path + "/"

    def url(self, path: str = "") -> str:
        """A root-relative link: works on any host serving the bundle at base_url's path."""
        return self.base_path + path.lstrip("/")

    def absolute(self, path: str = "") -> str:
        """An absolute URL (sitemap, feed, API documents)."""
        return self.base_url + path.lstrip("/")


#: Every name a page gives its template (the common ones and each page's own), for
#: `greenhouse check` (names the theme's templates use are added to these there).
CONTEXT_NAMES = frozenset(
    {
        # every page
        "site",
        "config",
        "url",
        "absolute",
        "base_path",
        "demo",
        "generated_at",
        "live_url",
        # index.html
        "garden",
        "plants",
        "weather",
        "stages",
        # project.html
        "plant",
        "state",
        "series",
        "chart",
        "health_chart",
        # skills.html
        "skills",
        # analytics.html
        "dashboard",
        # feed.xml
        "milestones",
        "today",
    }
)


def runtime_error(exc: Exception, template: str, folders: Sequence[Path] = ()) -> TemplateError:
    """A failure while rendering *template*, located at the template line that raised it.

    Jinja rewrites tracebacks so that template frames carry the template's
    file and line; the innermost such frame is where the user should look
    (an include or a macro in another file included). A failure before any
    template line ran (the file is not UTF-8, or nests too deeply to
    compile) is put on the page's own file, found in *folders*.
    """
    file: str | None = None
    line: int | None = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if _is_template_file(frame.filename):
            file, line = frame.filename, frame.lineno
    if isinstance(exc, jinja2.TemplateNotFound):
        message = f"template not found: {exc.name}"
    elif isinstance(exc, jinja2.UndefinedError):
        message = exc.message or "undefined value"
    elif isinstance(exc, UnicodeDecodeError):
        message = f"not valid UTF-8 (byte {exc.start})"
        if file is None and isinstance(exc.object, bytes):
            line = exc.object[: exc.start].count(b"\n") + 1
    elif isinstance(exc, RecursionError) and file is None:
        message = "nested too deeply to compile"
    else:
        detail = str(exc)
        message = f"{detail} ({type(exc).__name__})" if detail else type(exc).__name__
    if file is None:
        file = next((str(f / template) for f in folders if (f / template).exists()), None)
    if file is None:
        return TemplateError(f"{template}: {message}")
    return TemplateError(message, file, line)


def _is_template_file(filename: str) -> bool:
    """Whether a traceback frame belongs to a template (not to Python code)."""
    return not filename.endswith(".py") and not filename.startswith("<")


#: Characters XML 1.0 forbids (C0 controls but tab and newlines, lone surrogates,
#: U+FFFE/U+FFFF): one in a title made feed.xml unreadable to every feed reader.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def printable(value: Any) -> Any:
    """A value as a template prints it: text without the characters XML forbids."""
    if isinstance(value, str) and NOT_XML.search(value):
        cleaned = NOT_XML.sub("", value)
        return type(value)(cleaned)  # Markup (already escaped) stays Markup
    return value


def template_environment(site_templates: Path) -> jinja2.Environment:
    """The Jinja environment: site templates override the theme's, autoescape on.

    Every printed value passes :func:`printable`, so no page or feed carries a
    character XML forbids, whatever a title or description holds.
    """
    loader = jinja2.ChoiceLoader(
        [
            jinja2.FileSystemLoader(str(site_templates)),
            jinja2.FileSystemLoader(str(THEME / "templates")),
        ]
    )
    env = jinja2.Environment(
        loader=loader,
        autoescape=jinja2.select_autoescape(["html", "xml", "j2"], default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=printable,
    )
    env.filters["tojson_attr"] = lambda value: json.dumps(value, sort_keys=True, ensure_ascii=True)
    return env


def dumps(document: Any) -> bytes:
    """Canonical JSON: sorted keys, compact, UTF-8."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


class Bundle:
    """Writes files into the staging folder."""

    def __init__(self, root: Path):
        self.root = root
        self.files = 0
        self.bytes = 0
        self._folders: set[Path] = set()

    def write(self, relative: str, data: bytes | str) -> None:
        """Write one file of the bundle."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        path = self.root / relative
        if path.parent not in self._folders:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._folders.add(path.parent)
        with open(path, "wb", buffering=0) as handle:
            handle.write(data)
        self.files += 1
        self.bytes += len(data)

    def json(self, relative: str, document: Any) -> None:
        """Write one JSON document."""
        self.write(relative, dumps(document))


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat() + "Z"


class Renderer:
    """Turns a :class:`GardenState` into the files of the bundle."""

    def __init__(
        self,
        config: Config,
        site_templates: Path,
        generated_at: datetime,
        demo: bool,
        freshness: Mapping[str, Freshness],
        dashboard: dict[str, Any] | None = None,
        progress: Callable[[str], None] | None = None,
        snapshots: Mapping[str, tuple[str, bytes]] | None = None,
        private: Sequence[Path] = (),
    ):
        self.config = config
        self.links = Links(config.site.base_url)
        self.site_templates = site_templates
        self.env = template_environment(site_templates)
        self.generated_at = generated_at
        self.stamp = iso(generated_at)
        self.demo = demo
        self.freshness = freshness
        self.dashboard = dashboard
        self.progress = progress or (lambda _: None)
        # History snapshots of earlier builds: date -> (fingerprint, encoded plants list).
        self.snapshot_cache = dict(snapshots or {})
        self.snapshots_written: dict[str, tuple[str, bytes]] = {}
        self.snapshots_reused = 0
        self.private = tuple(private)  # files a static link may never publish (the store)

    # -- documents -------------------------------------------------------

    def plant_doc(self, state: PlantState) -> dict[str, Any]:
        """The public JSON of one plant (validated against :class:`api.Plant`)."""
        spec = state.spec
        x, y, z = state.position
        plant = api.Plant(
            id=spec.id,
            name=spec.name,
            description=spec.description,
            url=self.links.absolute(f"projects/{spec.id}/"),
            api_url=self.links.absolute(f"api/v1/projects/{spec.id}.json"),
            repo_url=spec.repo_url,
            homepage=spec.homepage,
            species=spec.species,
            stage=state.stage,
            growth=state.growth,
            health=state.health,
            height=state.height,
            position=api.Position(x=x, y=y, z=z),
            planted_at=spec.planted_on.isoformat(),
            last_activity_at=state.last_activity.isoformat() if state.last_activity else None,
            skills=spec.skills,
            pinned=spec.pinned,
            why=state.why,
            metrics=api.Metrics(**state.metrics),
        )
        return plant.model_dump(mode="json")

    def render(self, garden: GardenState, bundle: Bundle) -> None:
        """Write every page and document of the bundle."""
        ordered = sorted(garden.plants, key=lambda p: (not p.spec.pinned, -p.growth, p.spec.id))
        plant_docs = {state.spec.id: self.plant_doc(state) for state in garden.plants}
        stages = {s: 0 for s in STAGES}
        for state in garden.plants:
            stages[state.stage] += 1
        weather = api.Weather.model_validate(garden.weather).model_dump(mode="json")
        garden_doc = self._doc(
            demo=self.demo,
            title=self.config.site.title,
            base_url=self.config.site.base_url,
            date=garden.today.isoformat(),
            weather=weather,
            stages=stages,
            plants=[plant_docs[s.spec.id] for s in ordered],
        )
        self.progress("api")
        bundle.json("api/v1/garden/index.json", garden_doc)
        self._render_feed(garden, ordered, weather, bundle)
        bundle.json("api/v1/garden/weather.json", self._doc(**weather))
        bundle.json("api/v1/garden/health.json", self._health(garden, stages))
        self._history(garden, bundle)
        self._projects(garden, ordered, plant_docs, bundle)
        bundle.json("api/v1/skills/index.json", self._doc(**garden.skills))
        if self.config.analytics.publish and self.dashboard is not None:
            bundle.json("api/v1/analytics/dashboard.json", self._doc(**self.dashboard))
        for name, model in api.SCHEMAS.items():
            if name == "dashboard" and not self.config.analytics.publish:
                continue
            bundle.json(f"api/v1/schema/{name}.schema.json", model.model_json_schema())
        self.progress("pages")
        self._pages(garden, ordered, plant_docs, garden_doc, bundle)
        self._static(bundle)

    def _render_feed(
        self,
        garden: GardenState,
        ordered: list[PlantState],
        weather: dict[str, Any],
        bundle: Bundle,
    ) -> None:
        """The compact feed the garden canvas draws, and the time-lapse as keyframes and deltas."""
        doc = self._doc(
            date=garden.today.isoformat(),
            title=self.config.site.title,
            timelapse="timelapse/index.json",
            **feed.render_feed(ordered, weather, self.config.live.url),
        )
        bundle.json("api/v1/garden/render.json", doc)
        lapse = feed.timelapse(garden.history, ordered, feed.CHUNK_SNAPSHOTS)
        chunks = []
        for n, chunk in enumerate(lapse.chunks):
            bundle.json(f"api/v1/garden/timelapse/{n}.json", self._doc(**chunk))
            chunks.append(
                {"first": chunk["first"], "count": len(chunk["frames"]), "url": f"{n}.json"}
            )
        bundle.json(
            "api/v1/garden/timelapse/index.json",
            self._doc(snapshots=lapse.snapshots, fields=list(feed.FRAME_FIELDS), chunks=chunks),
        )

    def _doc(self, **fields: Any) -> dict[str, Any]:
        return {"schema_version": api.SCHEMA_VERSION, "generated_at": self.stamp, **fields}

    def _health(self, garden: GardenState, stages: dict[str, int]) -> dict[str, Any]:
        living = [p.health for p in garden.plants if p.stage != "dormant"]
        sources = {}
        for name, row in sorted(self.freshness.items()):
            age = row.age_seconds / 3600 if row.age_seconds is not None else None
            sources[name] = {
                "status": row.status,
                "last_success": iso(row.last_success) if row.last_success else None,
                "age_hours": round(age, 2) if age is not None else None,
                "stale": row.stale,  # the one rule: greenhouse.store.freshness
                "message": row.message,
            }
        doc = self._doc(
            demo=self.demo,
            ecosystem=round(sum(living) / len(living), 4) if living else 0.0,
            plants=len(garden.plants),
            stages=stages,
            sources=sources,
        )
        return api.HealthDoc.model_validate(doc).model_dump(mode="json")

    def _history(self, garden: GardenState, bundle: Bundle) -> None:
        items = []
        history = garden.history
        for k, day in enumerate(history.days):
            name = day.isoformat()
            fingerprint = history.fingerprint(k)
            cached = self.snapshot_cache.get(name)
            if cached is not None and cached[0] == fingerprint:
                encoded = cached[1]  # unchanged since an earlier build: reuse, don't re-encode
                self.snapshots_reused += 1
            else:
                encoded = dumps(history.snapshot(k))
            self.snapshots_written[name] = (fingerprint, encoded)
            # The same bytes dumps() gives the whole document: keys in sorted order.
            document = b"".join(
                [
                    b'{"date":',
                    dumps(name),
                    b',"generated_at":',
                    dumps(self.stamp),
                    b',"plants":',
                    encoded,
                    b',"schema_version":',
                    dumps(api.SCHEMA_VERSION),
                    b"}",
                ]
            )
            bundle.write(f"api/v1/garden/history/{name}.json", document)
            items.append(
                {
                    "date": name,
                    "url": self.links.absolute(f"api/v1/garden/history/{name}.json"),
                    "plants": history.planted_count(k),
                }
            )
        bundle.json(
            "api/v1/garden/history/index.json",
            self._doc(interval_days=self.config.history.interval_days, snapshots=items),
        )

    def _projects(
        self, garden: GardenState, ordered: list[PlantState], docs: dict[str, Any], bundle: Bundle
    ) -> None:
        per_page = self.config.build.per_page
        total = len(ordered)
        pages = max(1, math.ceil(total / per_page))
        for page in range(1, pages + 1):
            items = [docs[s.spec.id] for s in ordered[(page - 1) * per_page : page * per_page]]
            doc = self._doc(
                page=page,
                per_page=per_page,
                total=total,
                pages=pages,
                next=self.links.absolute(f"api/v1/projects/page/{page + 1}.json")
                if page < pages
                else None,
                prev=self.links.absolute(f"api/v1/projects/page/{page - 1}.json")
                if page > 1
                else None,
                items=items,
            )
            bundle.json(f"api/v1/projects/page/{page}.json", doc)
            if page == 1:
                bundle.json("api/v1/projects/index.json", doc)
        weather = garden.weather
        for state in garden.plants:
            series = garden.history.series(state.row)  # once per plant: its JSON and its page
            bundle.write(
                f"projects/{state.spec.id}/index.html",
                self.page(
                    "project.html",
                    plant=docs[state.spec.id],
                    state=state,
                    weather=weather,
                    series=series,
                    chart=_chart_points(series, "growth"),
                    health_chart=_chart_points(series, "health"),
                ),
            )
            bundle.json(
                f"api/v1/projects/{state.spec.id}.json",
                self._doc(
                    plant=docs[state.spec.id],
                    body_html=state.spec.body_html,
                    history=series,
                    analytics={
                        "views_30d": state.metrics["views_30d"],
                        "interactions_30d": state.metrics["interactions_30d"],
                    },
                ),
            )

    # -- pages -----------------------------------------------------------

    def _context(self, **extra: Any) -> dict[str, Any]:
        # Keep CONTEXT_NAMES in step: `greenhouse check` judges site templates by it.
        return {
            "site": self.config.site,
            "config": self.config,
            "url": self.links.url,
            "absolute": self.links.absolute,
            "base_path": self.links.base_path,
            "demo": self.demo,
            "generated_at": self.stamp,
            "live_url": self.config.live.url,
            **extra,
        }

    def page(self, template: str, **context: Any) -> str:
        """Render one template, turning any failure in it into an error with file and line."""
        try:
            return self.env.get_template(template).render(self._context(**context))
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(
                exc.message or "syntax error", exc.filename or exc.name, exc.lineno, exc.source
            ) from None
        except Exception as exc:  # {{ 1 // 0 }}, an undefined name, a missing include…
            folders = (self.site_templates, THEME / "templates")
            raise runtime_error(exc, template, folders) from None

    def _pages(
        self,
        garden: GardenState,
        ordered: list[PlantState],
        docs: dict[str, Any],
        garden_doc: dict[str, Any],
        bundle: Bundle,
    ) -> None:
        weather = garden_doc["weather"]
        pages = plant_pages(len(ordered), self.config.build.per_page)
        for pager in pages:
            bundle.write(
                pager.path,
                self.page(
                    "index.html" if pager.number == 1 else "plants.html",
                    garden=garden_doc,
                    plants=ordered,
                    page_plants=ordered[pager.start : pager.stop],
                    pager=pager,
                    pages=pages,
                    weather=weather,
                    stages=garden_doc["stages"],
                ),
            )
        by_id = {s.spec.id: s for s in garden.plants}
        bundle.write(
            "skills/index.html",
            self.page(
                "skills.html",
                skills=garden.skills,
                plants=by_id,
                stars=star_chart(garden.skills),
                listed=LISTED_PROJECTS,
            ),
        )
        bundle.write("404.html", self.page("404.html"))
        if self.config.analytics.publish and self.dashboard is not None:
            bundle.write(
                "analytics/index.html", self.page("analytics.html", dashboard=self.dashboard)
            )
        bundle.write("feed.xml", self._feed(garden))
        bundle.write("sitemap.xml", self._sitemap(garden))
        bundle.write(
            "robots.txt",
            f"User-agent: *\nAllow: /\n\nSitemap: {self.links.absolute('sitemap.xml')}\n",
        )

    def _sitemap(self, garden: GardenState) -> str:
        pages = plant_pages(len(garden.plants), self.config.build.per_page)
        paths = (
            ["", "skills/"]
            + [p.url for p in pages[1:]]
            + [f"projects/{p.spec.id}/" for p in sorted(garden.plants, key=lambda p: p.spec.id)]
        )
        if self.config.analytics.publish and self.dashboard is not None:
            paths.append("analytics/")
        entries = "".join(
            f"  <url><loc>{xml_escape(self.links.absolute(p))}</loc><lastmod>{garden.today.isoformat()}</lastmod>"
            "</url>\n"
            for p in paths
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            + entries
            + "</urlset>\n"
        )

    def _feed(self, garden: GardenState) -> str:
        return self.page("feed.xml", milestones=garden.milestones[:50], today=garden.today)

    def _static(self, bundle: Bundle) -> None:
        found = static_files(self.site_templates, self.private)
        for relative in sorted(found.files):
            bundle.write(f"static/{relative}", found.files[relative].read_bytes())
        for line in found.skipped:  # shown by the CLI as "warning: …"
            log.warning("skipped static file %s", line)


@dataclass(frozen=True)
class PlantPage:
    """One page of the plant list: the index is page 1, the others live at ``plants/<n>/``."""

    number: int
    count: int  # how many pages there are
    start: int
    stop: int
    total: int

    @property
    def url(self) -> str:
        """The page's path under the base URL."""
        return "" if self.number == 1 else f"plants/{self.number}/"

    @property
    def path(self) -> str:
        """The page's file in the bundle."""
        return self.url + "index.html"


def plant_pages(total: int, per_page: int) -> list[PlantPage]:
    """Split the plant list into pages, so no page holds more than *per_page* plants.

    The index shows the first page beside the garden; a thousand-plant garden
    stays a page of bounded length and bounded Tab stops.
    """
    count = max(1, math.ceil(total / per_page))
    return [
        PlantPage(n, count, (n - 1) * per_page, min(total, n * per_page), total)
        for n in range(1, count + 1)
    ]


def static_files(site_templates: Path, private: Sequence[Path] = ()) -> StaticFiles:
    """The theme's static files, a site's own ``site_templates/static`` ones overriding.

    Only regular files, and links that stay inside the site (see
    :mod:`greenhouse.site.static`); the rest is listed in ``skipped``.
    """
    found = select(StaticRule(THEME / "static", THEME / "static"))
    own = StaticRule(site_templates / "static", site_templates.parent, private)
    return select(own, found)


def _chart_points(series: list[dict[str, Any]], key: str) -> str:
    """SVG polyline points of a history series (x: snapshot index, y: 1 - value)."""
    return " ".join([f"{i},{1 - p[key]:.4f}" for i, p in enumerate(series)])


def gzip_size(data: bytes) -> int:
    """Size after gzip -9 (for reporting page weight)."""
    return len(gzip.compress(data, 9, mtime=0))


def copy_tree(source: Path, target: Path) -> None:
    """Copy a folder (used by tests and serve)."""
    shutil.copytree(source, target, dirs_exist_ok=True)
