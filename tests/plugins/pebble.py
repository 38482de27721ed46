"""The plugin of docs/plugins.md, its fake upstream, and plugin distributions for the tests.

The example's files are read from the documentation itself, so the
documented plugin is the tested one. :func:`install_in_path` puts a
distribution on ``sys.path`` as an installed one (a ``.dist-info`` folder
with ``entry_points.txt``), which ``importlib.metadata`` finds exactly like a
pip-installed package; the fresh-venv test installs a real built wheel.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.conftest import REPO
from tests.forges.server import FakeServer, Reply, Request

DOC = REPO / "docs" / "plugins.md"
FILE = re.compile(r"<!-- file: (\S+) -->\n```\w+\n(.*?)```", re.S)

#: A source that raises inside sync (a plugin's bug), and one that cannot be imported.
BROKEN_MODULE = """
from greenhouse.sources import Source


def _sync(run):
    raise RuntimeError("the mine collapsed")


boom = Source(name="boom", sync=_sync, missing=lambda site, secrets: None, summary="always fails")
not_a_source = 42
"""
#: A module that fails while it is imported, with something other than an ImportError.
CRASH_MODULE = 'raise RuntimeError("PEBBLE_HOME is not set")\n'
BROKEN_ENTRY_POINTS = {
    "boom": "greenhouse_pebble_broken:boom",
    "crash": "greenhouse_pebble_crash:source",
    "ghost": "greenhouse_ghost:source",
    "fortytwo": "greenhouse_pebble_broken:not_a_source",
    "site": "greenhouse_pebble_broken:boom",
    "github": "greenhouse_pebble:source",
}


def documented_files() -> dict[str, str]:
    """The example distribution's files, as docs/plugins.md shows them."""
    return dict(FILE.findall(DOC.read_text(encoding="utf-8")))


def install_in_path(root: Path, *, broken: bool = False) -> Path:
    """Write the documented plugin (and, with *broken*, the broken ones) as an installed distribution."""
    files = documented_files()
    site = root / "site-packages"
    package = site / "greenhouse_pebble"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(files["greenhouse_pebble/__init__.py"], encoding="utf-8")
    points = {"pebble": "greenhouse_pebble:source"}
    if broken:
        (site / "greenhouse_pebble_broken.py").write_text(BROKEN_MODULE, encoding="utf-8")
        (site / "greenhouse_pebble_crash.py").write_text(CRASH_MODULE, encoding="utf-8")
        points.update(BROKEN_ENTRY_POINTS)
    info = site / "greenhouse_pebble-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: greenhouse-pebble\nVersion: 0.1.0\n", encoding="utf-8"
    )
    lines = ["[greenhouse.sources]", *(f"{k} = {v}" for k, v in points.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return site


@dataclass
class PebbleRepo:
    name: str
    stars: int = 3
    private: bool = False
    #: {days_ago: commits}
    days: dict[int, int] = field(default_factory=lambda: {1: 2, 5: 1})


class FakePebble(FakeServer):
    """The Pebble forge of the example: ``GET /api/users/{user}/repos`` with ETags."""

    def __init__(self, user: str = "ada") -> None:
        super().__init__()
        self.user = user
        self.repos: list[PebbleRepo] = []
        self.route("GET", r"/api/users/([^/]+)/repos", self._repos)

    def _repos(self, request: Request, match: Any) -> Reply:
        if match.group(1) != self.user:
            return Reply(404, {"error": "no such user"})
        today = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0)
        items = [
            {
                "name": repo.name,
                "path": f"{self.user}/{repo.name}",
                "description": f"{repo.name} on Pebble",
                "url": f"https://pebble.example/{self.user}/{repo.name}",
                "private": repo.private,
                "stars": repo.stars,
                "created": (today - timedelta(days=200)).isoformat(),
                "pushed": (today - timedelta(days=1)).isoformat(),
                "commits": [
                    {
                        "id": f"{repo.name}-{ago}-{i}",
                        "date": (today - timedelta(days=ago)).isoformat(),
                    }
                    for ago, count in repo.days.items()
                    for i in range(count)
                ],
            }
            for repo in self.repos
        ]
        tag = '"' + hashlib.sha256(repr(items).encode()).hexdigest()[:16] + '"'
        if request.headers.get("if-none-match") == tag:
            return Reply(304, None, {"ETag": tag})
        return Reply(200, items, {"ETag": tag})
