"""Fixtures of the safety tests: a small real site (no demo data, so builds are quick)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

SMALL_CONFIG = """\
[site]
title = "Small garden"
description = "A garden of two projects."
author = "me"
base_url = "https://me.example/garden/"

[weather]
provider = "none"
"""


def write_small_site(root: Path) -> Path:
    """A site folder with config, two projects and skills: everything a build reads."""
    projects = root / "content" / "projects"
    projects.mkdir(parents=True)
    (root / "greenhouse.toml").write_text(SMALL_CONFIG)
    (projects / "fern.md").write_text(
        '+++\ntitle = "Fern"\nskills = ["Python", "DuckDB"]\nplanted = 2025-06-01\n+++\n'
        "A *small* project.\n"
    )
    (projects / "moss.md").write_text(
        '+++\ntitle = "Moss"\nskills = ["Python", "Rust"]\npinned = true\n+++\nAnother one.\n'
    )
    (root / "content" / "skills.toml").write_text(
        '[[skills]]\nname = "Python"\ncategory = "language"\nlevel = 5\n'
    )
    return root


@pytest.fixture
def small_site(tmp_path: Path) -> Path:
    """A small real site in tmp_path/site."""
    return write_small_site(tmp_path / "site")


def tree_digest(folder: Path) -> dict[str, str]:
    """Every file under *folder* (links not followed) and the digest of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }
