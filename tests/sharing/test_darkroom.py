"""Drawing the previews in other processes: the same bytes, and nothing left behind.

A first build hands its pictures to drawing processes (``og.Darkroom``). These
tests start real processes: they check the pictures are those the build's own
process would draw, that a drawing process killed mid-build costs nothing but
time, and that an interrupted or killed build leaves no drawing process behind.
"""

from __future__ import annotations

import io
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from greenhouse.site import art, og, raster, workers
from tests.conftest import REPO
from tests.processes import (
    marked_build,
    needs_proc,
    spawned_children,
    stop_and_check,
    wait_for,
)


def plants(count: int) -> list[dict[str, object]]:
    """Plant documents of many looks, as the build hands them to the previews."""
    species = sorted(art.SPECIES)
    stages = ("seed", "sprout", "sapling", "blooming", "mature", "dormant")
    return [
        {
            "id": f"p{i}",
            "name": f"Project number {i}",
            "species": species[i % len(species)],
            "stage": stages[i // len(species) % len(stages)],
            "health": (i % 5) / 4,
            "growth": (i % 11) / 10,
            "metrics": {"stars": i, "commits_30d": i % 7, "views_30d": 3 * i},
        }
        for i in range(count)
    ]


def pictures(count: int) -> list[og.Picture]:
    found = [og.project_picture("Garden", plant) for plant in plants(count)]
    favicon = (REPO / "greenhouse/site/theme/static/favicon.svg").read_text()
    return found + og.icon_pictures(favicon.encode(), "#f4f1e8")


def nothing_cached(digests: list[str]) -> dict[str, bytes]:
    return {}


def develop(described: list[og.Picture], workers: int) -> og.Drawn:
    """Every picture drawn, none cached, by a darkroom of *workers* cores."""
    with og.Darkroom(workers) as darkroom:
        return darkroom.begin(described, nothing_cached).finish()


def test_drawing_processes_draw_the_bytes_the_build_would() -> None:
    described = pictures(40)
    here = develop(described, workers=1)
    with og.Darkroom(2) as darkroom:
        job = darkroom.begin(described, nothing_cached)
        assert job.handed == len(job.missing) == len(described)  # all went to the processes
        elsewhere = job.finish()
    assert elsewhere.images == here.images and elsewhere.new == here.new
    assert set(elsewhere.images) == {p.path for p in described}


def test_the_build_draws_what_no_process_has_begun_when_its_pages_are_done() -> None:
    described = pictures(40)
    here = develop(described, workers=1)
    with og.Darkroom(2) as darkroom:
        job = darkroom.begin(described, nothing_cached)  # one process, still starting up
        drawn = job.finish()
    # The process takes at most two tasks before it has started: the build took the rest.
    assert 0 < job.stolen < job.handed == len(described)
    assert drawn.images == here.images


def test_the_build_takes_the_backdrop_a_drawing_process_drew(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    described = pictures(40)
    here = develop(described, workers=1)
    monkeypatch.setattr(og, "LAYERS", og.Layers())  # this process has drawn nothing yet
    drawn_here: list[str] = []
    rasterize = raster.rasterize
    monkeypatch.setattr(
        raster, "rasterize", lambda svg, *a: drawn_here.append(svg) or rasterize(svg, *a)
    )
    with og.Darkroom(2) as darkroom:
        darkroom.warm(len(described))
        job = darkroom.begin(described, nothing_cached)
        # the build's pages are done once the process has drawn its backdrop, and little else
        assert wait_for(lambda: darkroom._warmed[0].done(), 30)
        drawn = job.finish()
    stolen = [p.job for task, f in job._tasks if f.cancelled() for p in task]
    assert any(isinstance(j, og.ProjectJob) for j in stolen)  # previews drawn here…
    assert drawn_here  # (their plants were rasterized here)
    assert og._backdrop_svg(og.PROJECT_SKY) not in drawn_here  # …on the process's backdrop
    assert drawn.images == here.images  # the very bytes it would have drawn itself


def test_a_few_missing_pictures_are_drawn_in_the_build() -> None:
    described = pictures(3)[:3]
    with og.Darkroom(2) as darkroom:
        job = darkroom.begin(described, nothing_cached)
        assert job.handed == 0 and len(job.missing) == 3
        assert len(job.finish().new) == 3


def test_cached_pictures_are_not_drawn_again() -> None:
    described = pictures(12)
    first = develop(described, workers=2)
    cached = first.new
    with og.Darkroom(2) as darkroom:
        job = darkroom.begin(described, lambda digests: {d: cached[d] for d in digests})
        assert job.missing == [] and job.handed == 0
        again = job.finish()
    assert again.new == {} and again.images == first.images


#: Python 3.11's process pool, when a process dies, sets an error on every future it still
#: holds, including those the build took back (cancelled): the pool's thread then fails
#: with InvalidStateError. Harmless (the pictures are drawn), fixed in 3.12 (gh-107219).
stdlib_race = (
    pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
    if sys.version_info < (3, 12)
    else pytest.mark.usefixtures()
)


@needs_proc
@stdlib_race
def test_a_killed_drawing_process_costs_only_time(caplog: pytest.LogCaptureFixture) -> None:
    described = pictures(60)
    here = develop(described, workers=1)
    with og.Darkroom(2) as darkroom:
        darkroom.warm(len(described))
        assert wait_for(lambda: len(spawned_children(os.getpid())) == 2)
        job = darkroom.begin(described, nothing_cached)
        for pid in spawned_children(os.getpid()):
            os.kill(pid, signal.SIGKILL)
        with caplog.at_level(logging.WARNING, logger="greenhouse.site.og"):
            drawn = job.finish()
    assert drawn.images == here.images
    assert caplog.text.count("drawing process stopped") == 1  # said once, not per task


@needs_proc
@stdlib_race
def test_drawing_processes_gone_before_the_garden_is_known_cost_only_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A first build starts its drawing processes long before it knows what to draw: one
    # killed meanwhile (the OOM killer, a crash in Pillow) breaks the pool before the
    # pictures are handed over, and the build draws them itself.
    described = pictures(60)
    here = develop(described, workers=1)
    with og.Darkroom(2) as darkroom:
        darkroom.warm(len(described))
        assert wait_for(lambda: len(spawned_children(os.getpid())) == 2)
        for pid in spawned_children(os.getpid()):
            os.kill(pid, signal.SIGKILL)
        assert wait_for(lambda: all(f.done() for f in darkroom._warmed), 30)
        with caplog.at_level(logging.WARNING, logger="greenhouse.site.og"):
            job = darkroom.begin(described, nothing_cached)
            drawn = job.finish()
    assert drawn.images == here.images
    assert caplog.text.count("drawing process stopped") == 1


def test_the_tight_plant_is_the_canvas_plant() -> None:
    """A plant drawn on its own box is where, and what, the whole canvas would show."""
    for species in art.SPECIES:
        for stage in ("seed", "sprout", "sapling", "blooming", "mature", "dormant"):
            for health in (0.0, 0.5, 1.0):
                shapes = art.plant(art.look(species, stage, health))
                sprite, at = og._plant_sprite(shapes)
                canvas = raster.rasterize(og._plant_svg(shapes))
                box = canvas.getbbox()
                assert box is not None
                assert at == box[:2] and sprite.size == (box[2] - box[0], box[3] - box[1])
                # The rasterizer's anti-aliasing steps with the origin: edges may differ a little.
                alpha = ImageChops.difference(
                    sprite.getchannel("A"), canvas.crop(box).getchannel("A")
                )
                changed = sum(alpha.point(lambda v: v > 0).histogram()[1:])
                assert changed <= 0.03 * sprite.width * sprite.height, (species, stage)
                assert alpha.getextrema()[1] <= 64, (species, stage)


def first_build(site: Path, mark: str) -> subprocess.Popen[bytes]:
    (site / "greenhouse.toml").write_text(
        '[site]\ntitle = "Interrupted"\n[demo]\nenabled = true\nprojects = 400\ndays = 400\n'
    )
    return marked_build(["-m", "greenhouse", "build", "--offline", "--root", str(site)], mark, REPO)


@needs_proc
@pytest.mark.parametrize("how", ["ctrl-c", "kill -9"])
def test_a_stopped_first_build_leaves_no_drawing_process(tmp_path: Path, how: str) -> None:
    mark = f"greenhouse-{uuid.uuid4().hex}"
    proc = first_build(tmp_path, mark)
    try:
        # A first build starts its drawing processes before it seeds the demo data.
        assert wait_for(lambda: len(spawned_children(proc.pid)) >= 2), "no drawing process"
        time.sleep(0.5)
    except BaseException:
        proc.kill()
        raise
    stop_and_check(proc, how, mark)


@pytest.mark.parametrize(
    "name", ["ÉÅĜǺÇ Ÿ", "gjpqy_ descenders", "Ελληνικά κήπος", "日本の庭", "W" * 300, "a"]
)
def test_a_preview_lettered_in_its_part_is_the_whole_preview_lettered(name: str) -> None:
    """Only the part LETTERED is lettered and mapped per preview: nothing may reach outside it."""
    plant = {**plants(1)[0], "name": name, "growth": 1.0}
    job = og.project_picture("A garden's title", plant).job
    assert isinstance(job, og.ProjectJob)
    with Image.open(io.BytesIO(og.draw(job))) as drawn:
        got = drawn.convert("RGB")
    base = og.LAYERS.base(og.PROJECT_SKY, job.site_title, job.look)
    whole = base.rgb.copy()
    og._letter_project(whole, job.look, job.name, job.lines, job.growth)
    expected = raster.indexed(whole, base.palette).convert("RGB")
    assert ImageChops.difference(got, expected).getbbox() is None


@pytest.mark.parametrize("index", [0, 3, 7])
def test_a_looks_palette_is_fitted_to_its_base_with_the_sample_words_lettered(index: int) -> None:
    """The sample is assembled a part at a time: it must be the lettered base's sample."""
    job = og.project_picture("A garden's title", plants(8)[index]).job
    assert isinstance(job, og.ProjectJob)
    base = og.Layers().base(og.PROJECT_SKY, job.site_title, job.look)
    whole = base.rgb.copy()
    og._letter_project(whole, job.look, og.SAMPLE_NAME, og.SAMPLE_LINES, 50)
    fitted = raster.palette_of_sample(raster.sampled(whole))
    assert fitted.getpalette() == base.palette.getpalette()


def test_a_drawing_process_keeps_only_its_last_looks_layers() -> None:
    """A look's layers weigh megabytes: a 1,000-plant build's process must not keep them all."""
    layers = og.Layers()
    made: list[tuple[object, ...]] = []

    def maker(key: tuple[object, ...]) -> Callable[[], object]:
        return lambda: made.append(key) or key

    layers.get(("backdrop", "sunny"), maker(("backdrop", "sunny")))
    for i in range(3 * og.Layers.KEEP):
        layers.get(("base", i), maker(("base", i)))
        layers.get(("base", 0), maker(("base", 0)))  # in use all along: never dropped
    assert made.count(("base", 0)) == 1
    kept = [key for key in layers._made if key[0] != "backdrop"]
    assert len(kept) == og.Layers.KEEP
    assert ("backdrop", "sunny") in layers._made  # backdrops are never dropped
    layers.get(("base", 1), maker(("base", 1)))  # dropped long ago: drawn again
    assert made.count(("base", 1)) == 2


@pytest.mark.parametrize("condition", sorted(art.SKIES))
def test_a_skys_flat_bands_are_resvgs_gradient(condition: str) -> None:
    """The pictures' sky is drawn as flat bands (half the cost): it must be the gradient's pixels."""
    sky = art.sky(condition)
    gradient = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="630"><defs>'
        '<linearGradient id="sky" x1="0" y1="0" x2="0" y2="1">'
        f'<stop offset="0" stop-color="{sky.top}"/><stop offset="1" stop-color="{sky.bottom}"/>'
        '</linearGradient></defs><rect width="1200" height="630" fill="url(#sky)"/></svg>'
    )
    bands = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="630">'
        + og._gradient_bands(sky.top, sky.bottom, 1200, 630)
        + "</svg>"
    )
    shaded, banded = (raster.rasterize(svg).convert("RGB") for svg in (gradient, bands))
    difference = ImageChops.difference(shaded, banded)
    assert max(high for _, high in difference.getextrema()) <= 1  # a rounding, at most
    assert len(banded.getcolors(1 << 16) or []) >= 100  # still a gradient, not a few bands


def test_pictures_drawn_in_the_build_are_drawn_a_look_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With only the last looks' layers kept, interleaved looks must not draw a base twice."""
    monkeypatch.setattr(og.Layers, "KEEP", 2)  # one look's plant and base
    monkeypatch.setattr(og, "LAYERS", og.Layers())
    fitted: list[object] = []
    palette_of_sample = raster.palette_of_sample
    monkeypatch.setattr(
        raster, "palette_of_sample", lambda s: fitted.append(s) or palette_of_sample(s)
    )
    three = plants(3)  # three looks
    interleaved = [{**three[i % 3], "id": f"q{i}", "name": f"Project {i}"} for i in range(9)]
    described = [og.project_picture("Garden", plant) for plant in interleaved]
    assert len({p.job.family for p in described if isinstance(p.job, og.ProjectJob)}) == 3
    drawn = develop(described, workers=1)
    assert len(drawn.new) == 9
    assert len(fitted) == 3  # one base a look


@needs_proc
def test_helper_processes_are_deaf_to_ctrl_c() -> None:
    """A terminal's Ctrl-C reaches every process of the group: only the build may handle it."""
    before = signal.getsignal(signal.SIGINT)
    with workers.deaf_children():
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # what a child inherits at birth
        pool = workers.spawn_pool(1)
    assert signal.getsignal(signal.SIGINT) is before
    try:
        pool.submit(int).result(timeout=60)
        (child,) = spawned_children(os.getpid())
        status = Path(f"/proc/{child}/status").read_text()
        ignored = int(
            next(line for line in status.splitlines() if line.startswith("SigIgn:")).split()[1], 16
        )
        assert ignored & (1 << (signal.SIGINT - 1)), "the helper process would take Ctrl-C"
    finally:
        pool.shutdown()
