"""Turning the build's SVG art into pixels: the one place that calls resvg and Pillow.

resvg (through ``resvg-py``) rasterizes SVG with anti-aliasing, identically
on every platform its abi3 wheels cover (Linux, macOS, Windows); system
fonts are never loaded, so nothing on the machine changes a pixel. Pillow
then composes, letters (FreeType, with the DejaVu Sans subsets shipped in
``greenhouse/site/fonts``), maps to a palette and encodes PNG; a project
preview's rows are deflated by Python's ``zlib`` (:class:`PatchedPng`).
Nothing writes a timestamp or other varying chunk: the same picture is the
same bytes.
"""

from __future__ import annotations

import functools
import hashlib
import io
import struct
import threading
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import PIL

# Pillow's image modules and resvg load where pixels are made, not with this
# module: a build whose pictures are all in the image cache never needs them
# (about 25 ms of its start).
if TYPE_CHECKING:
    from PIL import Image, ImageDraw, ImageFont

FONTS = Path(__file__).parent / "fonts"
REGULAR = FONTS / "DejaVuSans.ttf"
BOLD = FONTS / "DejaVuSans-Bold.ttf"


def rasterize(svg: str, width: int | None = None, height: int | None = None) -> Image.Image:
    """An RGBA image of *svg* (at its own size, or scaled to *width* × *height*)."""
    import resvg_py
    from PIL import Image

    png = resvg_py.svg_to_bytes(svg_string=svg, skip_system_fonts=True, width=width, height=height)
    image = Image.open(io.BytesIO(bytes(png)))
    image.load()
    return image.convert("RGBA")


def palette_of(sample: Image.Image) -> Image.Image:
    """A 256-colour palette fitted to *sample* (median cut: smooth skies, exact flat colours).

    Fitted to every fourth pixel of every fourth row: such a sample still
    holds each colour that covers a visible area (the previews' mean error was
    the same as fitted to a quarter, 1.04 against 1.05 levels, in a third of
    the time). The fast octree fits five times faster, but bands the sky's
    gradient.
    """
    return palette_of_sample(sampled(sample.convert("RGB"), 4))


#: A project preview's look fits its palette to every SAMPLE-th pixel of every SAMPLE-th row.
SAMPLE = 8


def sampled(image: Image.Image, step: int = SAMPLE) -> Image.Image:
    """Every *step*-th pixel of every *step*-th row of *image*.

    For a preview's look, a 64th of the pixels: over 40 looks the previews'
    mean error was 0.97 levels, against 1.11 fitted to a 16th, in 40% of the
    16th's time (3.9 against 6.9 ms); side by side, no difference shows. (A
    small picture, an icon, needs more: :func:`palette_of` takes a 16th.) A
    part cut on the grid samples exactly as the whole does there.
    """
    from PIL import Image

    width, height = image.width // step, image.height // step
    # On a whole number of steps, so the sample's grid is exactly every step-th pixel.
    box = (0, 0, width * step, height * step)
    return image.resize((width, height), Image.Resampling.NEAREST, box=box)


def palette_of_sample(sample: Image.Image) -> Image.Image:
    """A 256-colour palette fitted to *sample* as it is (see :func:`palette_of`)."""
    from PIL import Image

    return sample.quantize(256, method=Image.Quantize.MEDIANCUT)


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
    from PIL import Image

    rgb = image if image.mode == "RGB" else image.convert("RGB")
    return rgb.quantize(palette=palette, dither=Image.Dither.NONE)


def png(image: Image.Image) -> bytes:
    """PNG bytes of an indexed *image*, at zlib's fastest level (see :func:`encode_png`)."""
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


class PatchedPng:
    """PNG bytes of copies of one indexed *base* image, each changed only inside *box*.

    The previews of one look differ only where their own words are lettered:
    compressing all 630 rows for each (about 2.5 ms) compresses the same rows
    again and again. Here a picture is a row of deflate segments, each begun
    afresh and ended on a byte boundary (a sync flush), so segments compressed
    at different times join into one valid stream: the rows that differ from
    the base are compressed for each picture, the runs that do not are
    compressed once and kept. Around the image data go the header, the
    palette and the end: nothing else, so equal pictures are equal bytes.

    A picture's bytes depend only on its pixels, never on what was kept
    before: the segments follow from the rows that differ, snapped to a grid.
    """

    #: Rows of the grid runs are snapped to: the same few runs recur, and are kept.
    GRID = 8
    #: Changed runs this close are compressed as one: each segment costs a compressor's set-up.
    GAP = 32

    def __init__(self, base: Image.Image, box: tuple[int, int, int, int]) -> None:
        if base.mode != "P":
            raise ValueError(f"an indexed (P) image is needed, not {base.mode}")
        width, height = base.size
        palette = bytes(base.getpalette() or [0, 0, 0])
        # 8 bits a pixel, indexed colour, deflate, no filter method or interlace to declare.
        header = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)
        self._head = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"PLTE", palette)
        self._tail = _chunk(b"IEND", b"")
        self.size = base.size
        self.box = box
        x0, y0, x1, y1 = box
        pixels = base.tobytes()
        rows = [pixels[y * width : (y + 1) * width] for y in range(height)]
        self._filtered = [b"\0" + row for row in rows]  # a row as PNG stores it (no filter)
        self._inside = [row[x0:x1] for row in rows[y0:y1]]
        self._left = [b"\0" + row[:x0] for row in rows[y0:y1]]
        self._right = [row[x1:] for row in rows[y0:y1]]
        self._kept: dict[tuple[int, int], tuple[bytes, int, int]] = {}

    def encode(self, part: Image.Image) -> bytes:
        """PNG bytes of the base with *part* (indexed on the same palette) pasted at the box."""
        x0, y0, x1, y1 = self.box
        if part.size != (x1 - x0, y1 - y0) or part.mode != "P":
            raise ValueError(f"a {x1 - x0}×{y1 - y0} indexed part is needed")
        width = x1 - x0
        pixels = part.tobytes()
        inside = self._inside
        changed = [
            y0 + i for i in range(y1 - y0) if pixels[i * width : (i + 1) * width] != inside[i]
        ]
        stream = [b"\x78\x01"]  # zlib header: deflate, 32 KiB window, fastest level
        checksum = 1  # Adler-32 of nothing
        for start, end, differs in self._runs(changed):
            if differs:
                pieces: list[bytes] = []
                for y in range(start, end):
                    if y0 <= y < y1:
                        i = y - y0
                        pieces += (
                            self._left[i],
                            pixels[i * width : (i + 1) * width],
                            self._right[i],
                        )
                    else:
                        pieces.append(self._filtered[y])
                raw = b"".join(pieces)
                segment, adler, length = _deflate(raw), zlib.adler32(raw), len(raw)
            else:
                segment, adler, length = self._kept_run(start, end)
            stream.append(segment)
            checksum = adler32_combine(checksum, adler, length)
        stream.append(b"\x03\x00")  # an empty final block ends the deflate stream
        stream.append(struct.pack(">I", checksum))
        return self._head + _chunk(b"IDAT", b"".join(stream)) + self._tail

    def _runs(self, changed: list[int]) -> list[tuple[int, int, bool]]:
        """The picture's rows as (start, end, differs) runs, the changed ones snapped to the grid."""
        height, grid = self.size[1], self.GRID
        spans: list[list[int]] = []
        for y in changed:
            start = y // grid * grid
            if spans and start <= spans[-1][1] + self.GAP:
                spans[-1][1] = min(height, start + grid)
            else:
                spans.append([start, min(height, start + grid)])
        runs: list[tuple[int, int, bool]] = []
        at = 0
        for start, end in spans:
            if start > at:
                runs.append((at, start, False))
            runs.append((start, end, True))
            at = end
        if at < height:
            runs.append((at, height, False))
        return runs

    def _kept_run(self, start: int, end: int) -> tuple[bytes, int, int]:
        """A run of the base's own rows: deflated, its Adler-32 and its length (kept)."""
        found = self._kept.get((start, end))
        if found is None:
            raw = b"".join(self._filtered[start:end])
            found = self._kept[(start, end)] = (_deflate(raw), zlib.adler32(raw), len(raw))
        return found


def _deflate(raw: bytes) -> bytes:
    """*raw* as deflate blocks that begin afresh and end on a byte boundary, stream left open."""
    squeeze = zlib.compressobj(1, zlib.DEFLATED, -15)
    return squeeze.compress(raw) + squeeze.flush(zlib.Z_SYNC_FLUSH)


def adler32_combine(first: int, second: int, length: int) -> int:
    """The Adler-32 of two byte strings joined, from theirs and the second's *length*.

    zlib's ``adler32_combine``, which Python does not expose: summing 750 KB
    of rows again for each picture would cost half of what the segments save.
    """
    base = 65521
    rem = length % base
    low = first & 0xFFFF
    high = (rem * low) % base
    low = (low + (second & 0xFFFF) + base - 1) % base
    high = (high + (first >> 16) + (second >> 16) + base - rem) % base
    return low | (high << 16)


def _chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data and the CRC of type and data."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def stamp(
    image: Image.Image,
    xy: tuple[int, int],
    text: str,
    size: int,
    fill: tuple[int, int, int],
    bold: bool = False,
) -> None:
    """Letter *text* (*size* px) at *xy*, as ``ImageDraw.text`` would.

    For the words many pictures share ("3 stars", "growth 40%", the site's
    title): each is rendered by FreeType once per process and pasted through
    its mask after.
    """
    mask, (left, top) = _mask(text, size, bold)
    image.paste(fill, (xy[0] + left, xy[1] + top), mask)


@functools.lru_cache(maxsize=2048)
def _mask(text: str, size: int, bold: bool) -> tuple[Image.Image, tuple[int, int]]:
    from PIL import Image, ImageDraw

    face = font(size, bold)
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
        from PIL import ImageFont

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
    from importlib import metadata  # only the build asks: a drawing process need not import it

    digest = hashlib.blake2b(digest_size=8)
    # zlib: the project previews are deflated by Python's own (see :class:`PatchedPng`).
    versions = (
        f"resvg-py {metadata.version('resvg-py')} pillow {PIL.__version__}"
        f" zlib {zlib.ZLIB_RUNTIME_VERSION}"
    )
    digest.update(versions.encode())
    for path in (REGULAR, BOLD):
        digest.update(path.read_bytes())
    return digest.hexdigest()
