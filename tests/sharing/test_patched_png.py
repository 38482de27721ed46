"""The previews' PNG encoder: a base's unchanged rows compressed once, a picture's own rows each time."""

from __future__ import annotations

import io
import random
import struct
import zlib

import pytest
from PIL import Image, ImageChops, ImageDraw

from greenhouse.site import raster

BOX = (600, 120, 1120, 560)


def base_image(seed: int = 1) -> Image.Image:
    """A 1,200×630 picture like a preview's base: a gradient sky, shapes, a panel; indexed."""
    image = Image.new("RGB", (1200, 630))
    pen = ImageDraw.Draw(image)
    for y in range(630):
        pen.line((0, y, 1199, y), fill=(90 + y // 5, 150 + y // 8, 220 - y // 6))
    rng = random.Random(seed)
    for _ in range(30):
        x, y = rng.randrange(0, 560), rng.randrange(200, 600)
        pen.ellipse((x, y, x + 40, y + 60), fill=(rng.randrange(256), 120, 60))
    pen.rounded_rectangle((560, 40, 1160, 590), 28, fill=(250, 248, 240))
    return raster.indexed(image, raster.palette_of(image))


def lettered(
    base: Image.Image, rows: list[int], seed: int = 2, box: tuple[int, int, int, int] = BOX
) -> Image.Image:
    """The part at *box* of *base*, changed on the given rows (relative to the part)."""
    part = base.crop(box)
    rng = random.Random(seed)
    for row in rows:
        for _ in range(5):
            part.putpixel((rng.randrange(part.width), row), rng.randrange(256))
    return part


def expected(
    base: Image.Image, part: Image.Image, box: tuple[int, int, int, int] = BOX
) -> Image.Image:
    whole = base.copy()
    whole.paste(part, box[:2])
    return whole


def decoded(png: bytes) -> Image.Image:
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        return image.copy()


def idat(png: bytes) -> bytes:
    """The image data of a PNG, checking every chunk's CRC on the way."""
    at, data = 8, b""
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind, body = png[at + 4 : at + 8], png[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", png[at + 8 + length : at + 12 + length])
        assert zlib.crc32(kind + body) == crc, kind
        if kind == b"IDAT":
            data += body
        at += 12 + length
    return data


@pytest.mark.parametrize(
    "rows",
    [
        [],  # nothing lettered: every run is the base's
        [0],  # the box's first row
        [439],  # its last row, next to the kept bottom run
        [5, 6, 7, 200, 201, 420],  # three bands, two of them closer than the gap
        list(range(440)),  # every row
        [8 * k for k in range(55)],  # every grid line: one long changed run
    ],
)
@pytest.mark.parametrize("box", [BOX, (597, 123, 1117, 557)], ids=["on the grid", "off it"])
def test_a_patched_picture_decodes_to_the_base_with_its_part_pasted(
    rows: list[int], box: tuple[int, int, int, int]
) -> None:
    base = base_image()
    encoder = raster.PatchedPng(base, box)
    part = lettered(base, [r for r in rows if r < box[3] - box[1]], box=box)
    png = encoder.encode(part)
    got = decoded(png)
    assert got.mode == "P" and got.size == (1200, 630)
    assert got.getpalette() == base.getpalette()
    whole = expected(base, part, box)
    assert ImageChops.difference(got.convert("RGB"), whole.convert("RGB")).getbbox() is None
    # A strict decoder takes the stream whole: header, blocks, final block and Adler-32.
    raw = zlib.decompress(idat(png))
    assert raw == b"".join(b"\0" + row for row in _rows(whole))


def _rows(image: Image.Image) -> list[bytes]:
    pixels = image.tobytes()
    return [pixels[y * image.width : (y + 1) * image.width] for y in range(image.height)]


def test_a_pictures_bytes_do_not_depend_on_what_was_encoded_before() -> None:
    base = base_image()
    part = lettered(base, [10, 11, 300])
    fresh = raster.PatchedPng(base, BOX).encode(part)
    used = raster.PatchedPng(base, BOX)
    for seed in range(5):
        used.encode(lettered(base, [seed * 37 % 440, 430], seed))
    assert used.encode(part) == fresh


def test_unchanged_rows_are_compressed_once_and_kept() -> None:
    base = base_image()
    encoder = raster.PatchedPng(base, BOX)
    encoder.encode(lettered(base, [100]))
    kept = dict(encoder._kept)
    assert kept, "nothing was kept"
    encoder.encode(lettered(base, [100], seed=9))  # the same rows changed, other pixels
    assert encoder._kept == kept


def test_the_encoding_is_smaller_than_the_raw_rows_and_close_to_pillows() -> None:
    base = base_image()
    part = lettered(base, [50, 51, 52, 250])
    ours = raster.PatchedPng(base, BOX).encode(part)
    pillows = raster.png(expected(base, part))
    assert len(ours) < 1.25 * len(pillows)


def test_a_part_of_the_wrong_size_or_mode_is_refused() -> None:
    base = base_image()
    encoder = raster.PatchedPng(base, BOX)
    with pytest.raises(ValueError, match="indexed part"):
        encoder.encode(base.crop((0, 0, 10, 10)))
    with pytest.raises(ValueError, match="indexed part"):
        encoder.encode(base.crop(BOX).convert("RGB"))
    with pytest.raises(ValueError, match="indexed"):
        raster.PatchedPng(base.convert("RGB"), BOX)


def test_adler32_combine_is_zlibs() -> None:
    rng = random.Random(7)
    for _ in range(200):
        first = rng.randbytes(rng.randrange(0, 3000))
        second = rng.randbytes(rng.choice([0, 1, 65520, 65521, 65522, rng.randrange(200_000)]))
        combined = raster.adler32_combine(zlib.adler32(first), zlib.adler32(second), len(second))
        assert combined == zlib.adler32(first + second)
