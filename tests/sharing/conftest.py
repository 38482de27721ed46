"""Gardens of real sizes for the sharing tests, built once per module through the real build."""

from __future__ import annotations

import shutil
from pathlib import Path

from greenhouse.build import build
from tests.conftest import REPO


def demo_garden(folder: Path, projects: int, days: int = 1095, previews: bool = True) -> Path:
    """A demo site of *projects* plants over *days*, built; returns the bundle folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "greenhouse.toml").write_text(
        '[site]\ntitle = "Garden of real size"\nbase_url = "https://me.example/garden/"\n'
        f"[demo]\nenabled = true\nprojects = {projects}\ndays = {days}\n"
        f"[sharing]\npreview_images = {'true' if previews else 'false'}\n"
    )
    return build(folder, offline=True).output


def copy_demo(folder: Path) -> Path:
    """A copy of the repository's demo site."""
    folder.mkdir(parents=True)
    shutil.copy(REPO / "greenhouse.toml", folder / "greenhouse.toml")
    shutil.copytree(REPO / "content", folder / "content")
    return folder
