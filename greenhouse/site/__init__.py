"""Rendering and publishing the static bundle."""

from pathlib import Path

THEME = Path(__file__).parent / "theme"  # the default theme shipped in the package
