"""Words rendered once and stamped after must be the words ``ImageDraw.text`` letters."""

from __future__ import annotations

import pytest
from PIL import Image, ImageChops, ImageDraw

from greenhouse.site import raster


@pytest.mark.parametrize("bold", [False, True])
@pytest.mark.parametrize("size", [20, 26, 34, 64])
@pytest.mark.parametrize("text", ["growth 40%", "★ 1 star", "blooming cactus", "Ågjpqy 日本", " "])
def test_a_stamped_word_is_the_lettered_word(text: str, size: int, bold: bool) -> None:
    background = Image.new("RGB", (700, 120), (236, 240, 214))
    ImageDraw.Draw(background).rectangle((0, 60, 700, 120), fill=(120, 160, 220))
    lettered, stamped = background.copy(), background.copy()
    ImageDraw.Draw(lettered).text((13, 21), text, font=raster.font(size, bold), fill=(31, 42, 31))
    raster.stamp(stamped, (13, 21), text, size, (31, 42, 31), bold=bold)
    assert ImageChops.difference(lettered, stamped).getbbox() is None


def test_the_bold_and_regular_masks_of_a_word_are_kept_apart() -> None:
    regular, bold = Image.new("RGB", (300, 60), "white"), Image.new("RGB", (300, 60), "white")
    raster.stamp(regular, (5, 5), "Bramble", 34, (0, 0, 0))
    raster.stamp(bold, (5, 5), "Bramble", 34, (0, 0, 0), bold=True)
    assert ImageChops.difference(regular, bold).getbbox() is not None
