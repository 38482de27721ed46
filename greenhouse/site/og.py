"""Link-preview images: PNG, 1200×630, drawn at build time and cached by content hash.

Chat apps and social sites show ``og:image`` as a card and do not render
SVG, so the build draws PNGs: the garden under today's sky, and one per
project (its plant, stage and a few figures), plus the touch and manifest
icons from the site's favicon.

Each image is described first as a :class:`Picture`: the bundle path, a
digest of everything that decides its pixels, and what to draw (a plain-data
job). The build looks the digests up in the store's image cache and draws
only the missing ones; a rebuild of an unchanged garden draws nothing. A
first build has hundreds to draw: :func:`begin` hands them to drawing
processes on the other cores as soon as the garden is simulated, and the
build collects them after rendering its pages.

Drawing a 1,200×630 picture from scratch through resvg costs tens of
milliseconds, mostly in filling and encoding the pixels. A project preview
therefore starts from a base shared by every preview of its look (the
backdrop, its plant, the site's title and the stage), drawn once per drawing
process, and letters only its own name and figures onto a copy of the part
they go in; only the rows they change are compressed for each preview
(:class:`~greenhouse.site.raster.PatchedPng`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from greenhouse.site import art, cards, raster
from greenhouse.site.art import n
from greenhouse.site.workers import Helpers, cores, deaf_children

if TYPE_CHECKING:  # Pillow loads where pixels are made (see greenhouse.site.raster)
    from PIL import Image

WIDTH, HEIGHT = 1200, 630
log = logging.getLogger(__name__)

ICON_SIZES = {"apple-touch-icon.png": 180, "icon-192.png": 192, "icon-512.png": 512}
ART_VERSION = "3"  # bump when a drawing changes in a way the inputs below do not show

INK = (31, 42, 31)
MUTED = (77, 91, 77)
PANEL = (560, 40, 1160, 590)
PLANT_BASE = (290, 560)  # where the project's plant stands
PLANT_SCALE = 4.3
SPRITE = (560, 500)  # the canvas a plant is drawn on, base 10 px above its bottom centre


def plural(count: int, noun: str) -> str:
    """``1 star``, ``2 stars``."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def digest(kind: str, inputs: Any) -> str:
    """Content hash of a picture: its kind, its inputs, the art and the rasterizer."""
    text = json.dumps([kind, ART_VERSION, raster.fingerprint(), inputs], sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


# -- shared layers ------------------------------------------------------------


class Layers:
    """What every preview of one drawing process shares: backdrops, plants and their bases.

    One per process (:data:`LAYERS`): the pictures of one look are sent to one
    process together, so each layer is drawn once there. A look's layers
    weigh about 5 MB: only the :data:`KEEP` last used are kept (a process of
    a 1,000-plant first build drew 60 looks, and grew to 650 MB keeping all).
    """

    #: Plants and bases kept (backdrops, one per sky, are always kept).
    KEEP = 12

    def __init__(self) -> None:
        self._made: OrderedDict[tuple[object, ...], Any] = OrderedDict()

    def get(self, key: tuple[object, ...], make: Callable[[], Any]) -> Any:
        """The layer under *key*, drawn by *make* the first time it is asked for (or since dropped)."""
        found = self._made.get(key)
        if found is not None:
            self._made.move_to_end(key)
            return found
        found = self._made[key] = make()
        looks = [k for k in self._made if k[0] != "backdrop"]
        for old in looks[: max(0, len(looks) - self.KEEP)]:
            del self._made[old]
        return found

    def backdrop(self, condition: str) -> Image.Image:
        """Sky, weather, ground and the text panel of a project preview (opaque: RGB)."""

        def make() -> Image.Image:
            return raster.rasterize(_backdrop_svg(condition)).convert("RGB")

        found: Image.Image = self.get(("backdrop", condition), make)
        return found

    def adopt_backdrop(self, condition: str, pixels: bytes) -> None:
        """Take the backdrop of *condition* as another process drew it (RGB bytes), if missing."""
        from PIL import Image

        if ("backdrop", condition) not in self._made:
            self._made[("backdrop", condition)] = Image.frombytes("RGB", (WIDTH, HEIGHT), pixels)

    def plant(self, k: art.Look) -> tuple[Image.Image, tuple[int, int]]:
        """One plant cropped to its drawing, and where that crop goes on the picture."""

        def make() -> tuple[Image.Image, tuple[int, int]]:
            crop, (x, y) = _plant_sprite(art.plant(k))
            return crop, (PLANT_BASE[0] - SPRITE[0] // 2 + x, PLANT_BASE[1] + 10 - SPRITE[1] + y)

        found: tuple[Image.Image, tuple[int, int]] = self.get(("plant", k), make)
        return found

    def base(self, condition: str, site_title: str, k: art.Look) -> Base:
        """Everything of a project preview but its own words and figures, and its palette.

        The palette is fitted to the base with placeholder text in every face
        and colour: it depends only on what decides the base, and every
        preview of the same look shares it.
        """

        def make() -> Base:
            image = self.backdrop(condition).copy()
            sprite, (x, y) = self.plant(k)
            if y < 0:  # a plant taller than the picture: its top is cut
                sprite = sprite.crop((0, -y, sprite.width, sprite.height))
            image.paste(sprite, (x, max(y, 0)), sprite)  # through its own alpha
            _letter_base(image, site_title, k)
            # The palette's sample: the base with placeholder words lettered on the part
            # LETTERED, sampled a part at a time (the same pixels as lettering a copy).
            sample = raster.sampled(image)
            part = image.crop(LETTERED)
            _letter_project(part, k, SAMPLE_NAME, SAMPLE_LINES, 50, LETTERED[:2], shared=True)
            at = (LETTERED[0] // raster.SAMPLE, LETTERED[1] // raster.SAMPLE)
            sample.paste(raster.sampled(part), at)
            palette = raster.palette_of_sample(sample)
            return Base(image, palette, raster.PatchedPng(raster.indexed(image, palette), LETTERED))

        found: Base = self.get(("base", condition, site_title, k), make)
        return found


@dataclass(frozen=True)
class Base:
    """The base of a project preview: its pixels, its palette, and those pixels encoded."""

    rgb: Image.Image
    palette: Image.Image
    encoded: raster.PatchedPng  # mapped to the palette; a preview changes the part LETTERED


#: The layers of this process.
LAYERS = Layers()

#: A plant is first drawn this many times smaller, to find where it lies on its canvas.
PROBE = 8


def _plant_sprite(shapes: str) -> tuple[Image.Image, tuple[int, int]]:
    """The plant *shapes* rasterized on the sprite canvas, cropped to what is drawn.

    A plant covers about a tenth of its canvas, and rasterizing costs by the
    pixel: a small probe finds the plant's box, and only that box (with a
    margin) is drawn at full size. Should the plant reach the edge of the box
    anywhere but at the canvas's edge, the probe missed a part: the whole
    canvas is drawn instead.
    """
    width, height = SPRITE
    probe = raster.rasterize(_plant_svg(shapes), width // PROBE, height // PROBE)
    found = probe.getbbox()
    if found is not None:
        margin = 2 * PROBE
        left = max(0, found[0] * PROBE - margin)
        top = max(0, found[1] * PROBE - margin)
        right = min(width, found[2] * PROBE + margin)
        bottom = min(height, found[3] * PROBE + margin)
        region = raster.rasterize(_plant_svg(shapes, (left, top, right - left, bottom - top)))
        box = region.getbbox()
        if box is not None and _inside(box, region.size, left, top, right, bottom):
            return region.crop(box), (left + box[0], top + box[1])
    canvas = raster.rasterize(_plant_svg(shapes))
    box = canvas.getbbox() or (0, 0, 1, 1)
    return canvas.crop(box), (box[0], box[1])


def _inside(
    box: tuple[int, int, int, int],
    size: tuple[int, int],
    left: int,
    top: int,
    right: int,
    bottom: int,
) -> bool:
    """Whether *box* (in a region of *size*) stays off every region edge inside the canvas."""
    width, height = SPRITE
    return (
        (box[0] > 0 or left == 0)
        and (box[1] > 0 or top == 0)
        and (box[2] < size[0] or right == width)
        and (box[3] < size[1] or bottom == height)
    )


def _sky_svg(condition: str, width: int, height: int, horizon: float) -> str:
    sky = art.sky(condition)
    return (
        _gradient_bands(sky.top, sky.bottom, width, height)
        + art.weather_marks(condition, width, horizon, animated=False)
        + f'<path fill="{sky.ground}" d="M0 {n(horizon)}Q{n(width / 2)} {n(horizon - 50)} {width} {n(horizon)}V{height}H0Z"/>'
    )


def _gradient_bands(top: str, bottom: str, width: int, height: int) -> str:
    """A vertical gradient from *top* to *bottom*, as one flat band per colour.

    The pixels resvg gives a ``linearGradient`` (each row's colour taken at its
    middle, rounded), at half the cost: a gradient is shaded pixel by pixel,
    a flat band is only filled.
    """
    bands: list[list[Any]] = []  # [first row, colour, rows]
    for row in range(height):
        colour = art.mix(top, bottom, (row + 0.5) / height)
        if bands and bands[-1][1] == colour:
            bands[-1][2] += 1
        else:
            bands.append([row, colour, 1])
    return "".join(
        f'<rect y="{row}" width="{width}" height="{rows}" fill="{colour}"/>'
        for row, colour, rows in bands
    )


def _backdrop_svg(condition: str) -> str:
    x0, y0, x1, y1 = PANEL
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}">'
        + _sky_svg(condition, WIDTH, HEIGHT, HEIGHT * 0.6)
        + f'<ellipse cx="{PLANT_BASE[0]}" cy="{PLANT_BASE[1] + 8}" rx="190" ry="34" fill="#6b4f33"/>'
        + f'<rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" rx="28" fill="#fffdf7" fill-opacity=".9"/>'
        "</svg>"
    )


def _plant_svg(shapes: str, view: tuple[int, int, int, int] | None = None) -> str:
    """A plant on the sprite canvas, or on the *view* (x, y, width, height) part of it."""
    width, height = SPRITE
    x, y, w, h = view or (0, 0, width, height)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="{x} {y} {w} {h}">'
        f'<g transform="translate({width // 2} {height - 10}) scale({PLANT_SCALE})">{shapes}</g></svg>'
    )


# -- the pictures -------------------------------------------------------------
#
# A picture's job is plain data (it crosses to a drawing process by pickle);
# :func:`draw` turns it into PNG bytes.


@dataclass(frozen=True)
class GardenJob:
    """The garden picture: its art as SVG, and the words lettered over it."""

    svg: str
    title: str
    line: str
    day: str


@dataclass(frozen=True)
class ProjectJob:
    """A project preview: its look, and its own words and figures."""

    site_title: str
    look: art.Look
    name: str
    lines: tuple[str, ...]
    growth: int

    @property
    def family(self) -> tuple[object, ...]:
        """Previews of one family share a base layer: draw them in one process."""
        return (PROJECT_SKY, self.site_title, self.look)


@dataclass(frozen=True)
class IconJob:
    """A touch or manifest icon: the favicon's SVG on a square of *background*."""

    svg: str
    size: int
    background: str


Job = GardenJob | ProjectJob | IconJob


@dataclass(frozen=True)
class Picture:
    """One image of the bundle: where it goes, what decides it, and what to draw."""

    path: str
    digest: str
    job: Job


def garden_picture(
    title: str,
    plants: Sequence[Mapping[str, Any]],
    weather: Mapping[str, Any],
    stages: Mapping[str, int],
    day: str,
) -> Picture:
    """``static/og/garden.png``: every plant under today's sky, the title and the counts."""
    condition = str(weather.get("condition", "sunny"))
    horizon = HEIGHT * 0.42
    spots = cards.garden_spots(plants, WIDTH, horizon + 26, HEIGHT - 18)
    drawn = sorted({s.symbol for s in spots})
    ids = {symbol: f"p{i}" for i, symbol in enumerate(drawn)}
    defs = "".join(f'<g id="{ids[s]}">{art.plant(art.look(s[0], s[1]))}</g>' for s in drawn)
    uses = "".join(
        f'<use href="#{ids[s.symbol]}" transform="translate({n(s.x)} {n(s.y)}) scale({s.scale * 1.4:.3f})"/>'
        for s in spots
    )
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'width="{WIDTH}" height="{HEIGHT}">'
        + _sky_svg(condition, WIDTH, HEIGHT, horizon)
        + f"<defs>{defs}</defs>{uses}"
        + f'<rect x="40" y="34" width="{WIDTH - 80}" height="150" rx="26" fill="#fffdf7" fill-opacity=".88"/>'
        + "</svg>"
    )
    counts = ", ".join(f"{count} {stage}" for stage, count in stages.items() if count)
    line = f"{len(plants)} plants under a {condition} sky" + (f" · {counts}" if counts else "")
    job = GardenJob(svg, title, line, day)
    return Picture("static/og/garden.png", digest("garden", [svg, title, line, day]), job)


#: The sky of every project preview. Not the day's weather: a picture that changed with the
#: sky would be redrawn for every project whenever the weather turns, and the plant and its
#: figures are what a project's preview is about.
PROJECT_SKY = "sunny"


def project_picture(site_title: str, plant: Mapping[str, Any]) -> Picture:
    """``static/og/projects/<id>.png``: the plant, its stage and a few figures."""
    health = art.health_bucket(float(plant.get("health", 1.0)))
    k = art.look(str(plant["species"]), str(plant["stage"]), health)
    metrics = plant.get("metrics", {})
    growth = round(float(plant.get("growth", 0.0)) * 100)
    lines = (
        f"★ {plural(metrics.get('stars', 0), 'star')}",
        f"{plural(metrics.get('commits_30d', 0), 'commit')} in 30 days",
        f"{plural(metrics.get('views_30d', 0), 'visit')} in 30 days",
    )
    name = str(plant["name"])
    inputs = [PROJECT_SKY, site_title, name, k.species, k.stage, health, list(lines), growth]
    job = ProjectJob(site_title, k, name, lines, growth)
    return Picture(f"static/og/projects/{plant['id']}.png", digest("project", inputs), job)


def icon_pictures(favicon: bytes, background: str) -> list[Picture]:
    """The touch icon and the manifest's icons, drawn from the site's ``favicon.svg``."""
    text = favicon.decode("utf-8")
    return [
        Picture(
            f"static/icons/{name}",
            digest("icon", [text, size, background]),
            IconJob(text, size, background),
        )
        for name, size in ICON_SIZES.items()
    ]


def draw(job: Job) -> bytes:
    """PNG bytes of one picture."""
    from PIL import Image, ImageDraw

    if isinstance(job, ProjectJob):
        # Only the panel's lower part differs between previews of one look: letter and map
        # a copy of that part; only the rows it changes are compressed for this preview.
        base = LAYERS.base(PROJECT_SKY, job.site_title, job.look)
        part = base.rgb.crop(LETTERED)
        _letter_project(part, job.look, job.name, job.lines, job.growth, LETTERED[:2])
        return base.encoded.encode(raster.indexed(part, base.palette))
    if isinstance(job, GardenJob):
        image = raster.rasterize(job.svg)
        pen = ImageDraw.Draw(image)
        text, face = raster.fit(pen, job.title, WIDTH - 160, 64, 36, bold=True)
        pen.text((80, 62), text, font=face, fill=INK)
        text, face = raster.fit(pen, job.line, WIDTH - 160 - 190, 30, 20, bold=False)
        pen.text((80, 136), text, font=face, fill=MUTED)
        pen.text((WIDTH - 80, 136), job.day, font=raster.font(26), fill=MUTED, anchor="ra")
        return raster.encode_png(image)
    mark = raster.rasterize(job.svg, round(job.size * 0.78), round(job.size * 0.78))
    image = Image.new("RGBA", (job.size, job.size), job.background)
    offset = ((job.size - mark.width) // 2, (job.size - mark.height) // 2)
    image.alpha_composite(mark, offset)
    return raster.encode_png(image)


def draw_all(jobs: Sequence[Job]) -> list[bytes]:
    """PNG bytes of several pictures, in order (one task of a drawing process)."""
    return [draw(job) for job in jobs]


def _letter_base(image: Image.Image, site_title: str, k: art.Look) -> None:
    """The words a project preview shares with its look: the site, the stage, the bar."""
    from PIL import ImageDraw

    pen = ImageDraw.Draw(image)
    left, top, right, _ = PANEL
    text, face = raster.fit(pen, site_title, right - left - 96, 26, 20, bold=False)
    raster.stamp(image, (left + 48, top + 44), text, int(face.size), MUTED)
    stage_colour = art.STAGE_COLORS.get(k.stage, "#2f8f4a")
    pen.rounded_rectangle((left + 48, top + 186, left + 78, top + 216), 15, fill=stage_colour)
    raster.stamp(image, (left + 92, top + 182), f"{k.stage} {k.species}", 34, INK, bold=True)
    pen.rounded_rectangle(BAR, 10, fill=(222, 218, 204))


#: The words a look's palette is fitted with, in every face and colour a preview letters.
SAMPLE_NAME = "Sample 0123456789 ★ abcdefghijklmnopqrstuvwxyz"
SAMPLE_LINES = ("★ 0123456789 stars", "56789 commits in 30 days", "56789 visits in 30 days")

BAR = (PANEL[0] + 48, PANEL[1] + 436, PANEL[2] - 48, PANEL[1] + 456)
#: The part of a project preview that its own name and figures are lettered on.
LETTERED = (PANEL[0] + 40, PANEL[1] + 80, PANEL[2] - 40, PANEL[1] + 520)
# A palette's sample takes every raster.SAMPLE-th pixel: the part must lie on that grid.
assert all(edge % raster.SAMPLE == 0 for edge in LETTERED)


def _letter_project(
    image: Image.Image,
    k: art.Look,
    name: str,
    lines: Sequence[str],
    growth: int,
    origin: tuple[int, int] = (0, 0),
    shared: bool = False,
) -> None:
    """A project's own name, figures and growth, on its base (or the part at *origin*).

    A *shared* name (the palette's sample words) is rendered once per process.
    """
    from PIL import ImageDraw

    pen = ImageDraw.Draw(image)
    ox, oy = origin
    left, top, right, _ = PANEL
    left, top, right = left - ox, top - oy, right - ox
    text, face = raster.fit(pen, name, right - left - 96, 64, 34, bold=True)
    if shared:
        raster.stamp(image, (left + 48, top + 88), text, int(face.size), INK, bold=True)
    else:
        pen.text((left + 48, top + 88), text, font=face, fill=INK)
    for i, line in enumerate(lines):
        raster.stamp(image, (left + 48, top + 262 + i * 52), line, 32, INK)
    bar = (BAR[0] - ox, BAR[1] - oy, BAR[2] - ox, BAR[3] - oy)
    filled = bar[0] + round((bar[2] - bar[0]) * growth / 100)
    if filled > bar[0] + 20:
        stage_colour = art.STAGE_COLORS.get(k.stage, "#2f8f4a")
        pen.rounded_rectangle((bar[0], bar[1], filled, bar[3]), 10, fill=stage_colour)
    raster.stamp(image, (left + 48, top + 472), f"growth {growth}%", 26, MUTED)


# -- drawing what is missing ---------------------------------------------------


@dataclass
class Drawn:
    """The outcome of :meth:`Develop.finish`: every picture's bytes, and which ones were new."""

    images: dict[str, bytes] = field(default_factory=dict)  # path -> PNG
    new: dict[str, bytes] = field(default_factory=dict)  # digest -> PNG, drawn by this build
    used: set[str] = field(default_factory=set)  # every digest this build shows


#: Fewer missing pictures than this are drawn in the build's own process: starting a
#: drawing process (a new interpreter importing Pillow and resvg) would cost more.
IN_PROCESS = 8

#: Pictures worth one more drawing process: on the 20-plant demo a second process would
#: cost more CPU (its start, imports and layers) than it saves in wall time.
PER_PROCESS = 50

#: The most previews of one family in one task: a large family is split so that every
#: drawing process has work (each then draws the family's base once).
TASK = 40


def batches(missing: Sequence[Picture]) -> list[list[Picture]]:
    """The missing pictures in tasks: each family together, the largest tasks first."""
    families: dict[object, list[Picture]] = {}
    for picture in missing:
        key = picture.job.family if isinstance(picture.job, ProjectJob) else picture.digest
        families.setdefault(key, []).append(picture)
    tasks = [
        family[i : i + TASK] for family in families.values() for i in range(0, len(family), TASK)
    ]
    # The garden picture costs as much as a dozen previews: it goes first.
    return sorted(tasks, key=lambda t: (not isinstance(t[0].job, GardenJob), -len(t)))


class Darkroom:
    """The drawing processes of one build (a context manager; :meth:`close` stops them).

    On one core everything is drawn in the build's own process. On more, up to
    one process per core (and per :data:`PER_PROCESS` pictures) draws, started fresh (``spawn``: the build's DuckDB
    threads stay in the build) when :meth:`begin` has enough to draw, or as
    soon as :meth:`warm` is called: a first build calls it before seeding and
    simulating, so the processes have imported Pillow and resvg and drawn the
    shared backdrop by the time the garden is known.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or cores()
        self._helpers = Helpers()
        self._warmed: list[Future[bytes]] = []  # each process's backdrop, as it drew it

    def __enter__(self) -> Darkroom:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def warm(self, expected: int) -> None:
        """Start the drawing processes now: about *expected* pictures will be drawn."""
        if self.workers > 1 and self._helpers.pool is None and expected >= IN_PROCESS:
            size = self._size(expected)
            with deaf_children():
                pool = self._helpers.start(size)
                for _ in range(size):  # each finds no idle process yet: *size* of them start
                    self._warmed.append(pool.submit(warm_up))

    @property
    def started(self) -> bool:
        """Whether drawing processes are running (warmed, or begun on many missing pictures)."""
        return self._helpers.pool is not None

    def _size(self, pictures: int) -> int:
        """How many drawing processes *pictures* are worth (each costs its start and layers)."""
        return max(1, min(self.workers, -(-pictures // PER_PROCESS)))

    def begin(
        self, pictures: Iterable[Picture], cached: Callable[[list[str]], Mapping[str, bytes]]
    ) -> Develop:
        """Start drawing every picture *cached* (digest -> PNG) does not have."""
        pictures = list(pictures)
        job = Develop(pictures, cached(sorted({p.digest for p in pictures})), self._warmed)
        if self.workers > 1 and len(job.missing) >= IN_PROCESS:
            with deaf_children():
                pool = self._helpers.pool or self._helpers.start(self._size(len(job.missing)))
                job.submit(pool)
        return job

    def release(self) -> None:
        """Let the drawing processes end while the build goes on (every picture is in)."""
        self._helpers.release()

    def close(self) -> None:
        """Stop the drawing processes and wait for them; pictures not begun are dropped."""
        self._helpers.close()


class Develop:
    """The pictures of one build: those the cache has, and those being drawn.

    :meth:`finish` waits for the drawing processes (and draws here whatever
    they did not); :meth:`close` drops what is not drawn yet.
    """

    def __init__(
        self,
        pictures: list[Picture],
        found: Mapping[str, bytes],
        warmed: Sequence[Future[bytes]] = (),
    ) -> None:
        self.pictures = pictures
        self.found = dict(found)
        self._warmed = warmed
        missing: dict[str, Picture] = {}
        for picture in pictures:
            if picture.digest not in found:
                missing.setdefault(picture.digest, picture)
        self.missing = list(missing.values())
        self._tasks: list[tuple[list[Picture], Future[list[bytes]]]] = []
        self.handed = 0  # pictures handed to drawing processes
        self.stolen = 0  # of those, drawn by the build after all (no process had begun them)
        self._lost = False  # a drawing process stopped (said once)

    def submit(self, pool: ProcessPoolExecutor) -> None:
        """Hand the missing pictures to *pool*'s processes, a family per task.

        A pool whose process died since it started (killed while the build
        was still seeding, say) takes nothing more: :meth:`finish` draws what
        was not handed over.
        """
        for task in batches(self.missing):
            try:
                future = pool.submit(draw_all, [p.job for p in task])
            except BrokenProcessPool:
                self._stopped()
                return
            self._tasks.append((task, future))
            self.handed += len(task)

    def finish(self) -> Drawn:
        """Every picture's bytes.

        Called once the pages are rendered: the build's own process then
        joins in, taking from the end of the queue the tasks no drawing
        process has begun, until it meets one that has.
        """
        new: dict[str, bytes] = {}
        self._adopt_backdrop()  # before drawing any preview here
        for task, future in reversed(self._tasks):
            if not future.cancel():
                break
            new.update(zip([p.digest for p in task], draw_all([p.job for p in task]), strict=True))
            self.stolen += len(task)
        for task, future in self._tasks:
            if future.cancelled():
                continue
            try:
                pngs = future.result()
            except BrokenProcessPool:  # a process could not start, or was killed
                self._stopped()
                pngs = draw_all([p.job for p in task])
            new.update((p.digest, png) for p, png in zip(task, pngs, strict=True))
        # Drawn here (one core, or too few to start a process): a family at a time, so
        # each look's layers are drawn once (a process keeps only its last few looks').
        left = [picture for picture in self.missing if picture.digest not in new]
        for task in batches(left):
            new.update(zip([p.digest for p in task], draw_all([p.job for p in task]), strict=True))
        found = {**self.found, **new}
        return Drawn(
            images={p.path: found[p.digest] for p in self.pictures},
            new=new,
            used={p.digest for p in self.pictures},
        )

    def close(self) -> None:
        """Drop the tasks no process has begun (the build failed or was interrupted)."""
        for _, future in self._tasks:
            future.cancel()

    def _stopped(self) -> None:
        """Say once that a drawing process stopped: the build draws what it held."""
        if not self._lost:
            self._lost = True
            log.warning("a drawing process stopped; drawing its pictures in the build")

    def _adopt_backdrop(self) -> None:
        """The project previews' backdrop from a drawing process that drew it already.

        The build's own process draws the previews no process has begun: with
        the backdrop a process drew on starting, it saves drawing it again
        (70-110 ms of the demo's last tenths of a second). Not waited for.
        """
        for future in self._warmed:
            if future.done() and not future.cancelled() and future.exception() is None:
                LAYERS.adopt_backdrop(PROJECT_SKY, future.result())
                return


def warm_up() -> bytes:
    """A drawing process's first task: the backdrop every project preview starts from.

    Its pixels go back to the build, which may draw some previews itself
    (:meth:`Develop.finish`).
    """
    return LAYERS.backdrop(PROJECT_SKY).tobytes()
