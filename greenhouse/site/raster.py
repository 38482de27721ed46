"""Turning the build's SVG art into pixels: the one place that calls resvg and Pillow.

resvg (through ``resvg-py``) rasterizes SVG with anti-aliasing, identically
on every platform its abi3 wheels cover (Linux, macOS, Windows); system
fonts are never loaded, so nothing on the machine changes a pixel. Pillow
then composes, letters (FreeType, with the DejaVu Sans subsets shipped in
``greenhouse/site/fonts``) and encodes PNG, releasing the GIL while it
encodes so previews render on every core. Neither writes a timestamp or
other varying chunk: the same picture is the same bytes.
"""

from __future__ import annotations

import functools
import hashlib
import io
import threading
from importlib import metadata
from pathlib import Path

import PIL
import resvg_py
from PIL import Image, ImageDraw, ImageFont

FONTS = Path(__file__).parent / "fonts"
REGULAR = FONTS / "DejaVuSans.ttf"
BOLD = FONTS / "DejaVuSans-Bold.ttf"


def rasterize(svg: str, width: int | None = None, height: int | None = None) -> Image.Image:
    """An RGBA image of *svg* (at its own size, or scaled to *width* × *height*)."""
    png = resvg_py.svg_to_bytes(svg_string=svg, skip_system_fonts=True, width=width, height=height)
    image = Image.open(io.BytesIO(bytes(png)))
    image.load()
    return image.convert("RGBA")


def palette_of(sample: Image.Image) -> Image.Image:
    """A 256-colour palette fitted to *sample* (median cut: smooth skies, exact flat colours).

    The fast octree fits five times faster, but bands the sky's gradient.
    """
    rgb = sample.convert("RGB")
    # Every fourth pixel of every fourth row still holds each colour that covers a
    # visible area: fitted to a sixteenth of the pixels, the previews' mean error was
    # the same as fitted to a quarter (1.04 against 1.05 levels), in a third of the time.
    sixteenth = rgb.resize((rgb.width // 4, rgb.height // 4), Image.Resampling.NEAREST)
    return sixteenth.quantize(256, method=Image.Quantize.MEDIANCUT)


def encode_png(image: Image.Image, palette: Image.Image | None = None) -> bytes:
    """PNG bytes of *image*, mapped onto a 256-colour palette (its own, or *palette*).

    An indexed PNG encodes about five times faster than RGB (a third of the
    bytes and no per-row filter search) and is less than half the size; the
    drawings are flat colours, so 256 of them lose nothing a viewer sees.
    zlib's fastest level: a link preview is fetched once by each chat app, and
    level 6 took twice the time for a fifth fewer bytes (about 28 KiB against
    22). No metadata is written, so equal pictures are equal bytes.
    """
    return png(indexed(image, palette or palette_of(image)))


def indexed(image: Image.Image, palette: Image.Image) -> Image.Image:
    """*image* with each pixel mapped to the nearest colour of *palette* (no dithering)."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    return rgb.quantize(palette=palette, dither=Image.Dither.NONE)


def png(image: Image.Image) -> bytes:
    """PNG bytes of an indexed *image*, at zlib's fastest level (see :func:`encode_png`)."""
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def stamp(
    image: Image.Image, xy: tuple[int, int], text: str, size: int, fill: tuple[int, int, int]
) -> None:
    """Letter *text* (regular face, *size* px) at *xy*, as ``ImageDraw.text`` would.

    For the words many pictures share ("3 stars", "growth 40%"): each is
    rendered by FreeType once per process and pasted through its mask after.
    """
    mask, (left, top) = _mask(text, size)
    image.paste(fill, (xy[0] + left, xy[1] + top), mask)


@functools.lru_cache(maxsize=2048)
def _mask(text: str, size: int) -> tuple[Image.Image, tuple[int, int]]:
    face = font(size)
    left, top, right, bottom = (int(v) for v in face.getbbox(text))
    mask = Image.new("L", (max(1, right - left), max(1, bottom - top)))
    ImageDraw.Draw(mask).text((-left, -top), text, font=face, fill=255)
    return mask, (left, top)


_faces = threading.local()


def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """The shipped DejaVu Sans at *size* pixels.

    One set of faces per thread: a FreeType face is not safe to share between
    threads drawing at once.
    """
    faces: dict[tuple[int, bool], ImageFont.FreeTypeFont] = _faces.__dict__.setdefault("faces", {})
    face = faces.get((size, bold))
    if face is None:
        face = faces[(size, bold)] = ImageFont.truetype(str(BOLD if bold else REGULAR), size)
    return face


def fit(
    draw: ImageDraw.ImageDraw, text: str, width: int, size: int, smallest: int, bold: bool
) -> tuple[str, ImageFont.FreeTypeFont]:
    """The largest font (down to *smallest*) that fits *text* in *width*; else the text shortened.

    A name may be thousands of characters long: no glyph is narrower than a
    fifth of its size, so only as many characters as could fit are ever
    measured, and the shortened text is found by bisection.
    """
    longest = width * 5 // smallest + 1
    cut, text = len(text) > longest, text[:longest]
    for points in range(size, smallest - 1, -2) if not cut else ():
        face = font(points, bold)
        if draw.textlength(text, font=face) <= width:
            return text, face
    face = font(smallest, bold)
    low, high = 0, len(text)  # the longest prefix that fits with its ellipsis
    while low < high:
        middle = (low + high + 1) // 2
        if draw.textlength(text[:middle] + "…", font=face) <= width:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + "…", face


@functools.lru_cache(maxsize=1)
def fingerprint() -> str:
    """What besides the drawing decides the pixels: library versions and the fonts' bytes."""
    digest = hashlib.blake2b(digest_size=8)
    versions = f"resvg-py {metadata.version('resvg-py')} pillow {PIL.__version__}"
    digest.update(versions.encode())
    for path in (REGULAR, BOLD):
        digest.update(path.read_bytes())
    return digest.hexdigest()
