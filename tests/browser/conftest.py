"""Browser fixtures: Debian's Chromium, bundles built by the real build, served on 127.0.0.1.

Gardens at real sizes (230 and 1,000 plants, three years of history) take a
while to grow, so each is built once per test session and shared by the
xdist workers through a lock file in the session's shared temporary folder.
"""

from __future__ import annotations

import fcntl
import functools
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from greenhouse.build import build
from tests.conftest import FIXED_EPOCH, REPO, need_in_ci

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
AXE = REPO / "tests" / "tools" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    need_in_ci(os.path.exists(CHROMIUM), "chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def make_site(folder: Path, extra_config: str = "") -> Path:
    """A copy of the demo site, with extra config appended."""
    folder.mkdir(parents=True)
    config = (REPO / "greenhouse.toml").read_text() + extra_config
    (folder / "greenhouse.toml").write_text(config)
    shutil.copytree(REPO / "content", folder / "content")
    return folder


def build_site(site: Path) -> Path:
    """Build with the fixed clock the rest of the suite uses; returns the bundle."""
    old = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = FIXED_EPOCH
    try:
        return build(site, offline=True).output
    finally:
        if old is None:
            del os.environ["SOURCE_DATE_EPOCH"]
        else:
            os.environ["SOURCE_DATE_EPOCH"] = old


def sized_config(plants: int) -> str:
    """Config lines growing a demo garden of *plants* plants (the content projects included)."""
    curated = len(list((REPO / "content" / "projects").glob("*.md")))
    return f"\n[demo]\nenabled = true\nseed = 7\ndays = 1095\nprojects = {plants - curated}\n"


@pytest.fixture(scope="session")
def garden_of(tmp_path_factory: pytest.TempPathFactory) -> Callable[[int], Path]:
    """A bundle of a demo garden with that many plants, built once per session for every worker."""
    base = tmp_path_factory.getbasetemp()
    # this session's folder: under xdist each worker's basetemp sits in one shared per session
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base

    def get(plants: int) -> Path:
        folder = shared / f"garden-{plants}"
        with open(shared / f"garden-{plants}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            bundle = folder / "site" / "build" / "site"
            if not (folder / "done").exists():
                shutil.rmtree(folder, ignore_errors=True)
                site = make_site(folder / "site")
                (site / "greenhouse.toml").write_text(without(site, "demo") + sized_config(plants))
                build_site(site)
                (folder / "done").write_text("ok")
            return bundle

    return get


def without(site: Path, *sections: str) -> str:
    """The site's config without those sections (to be given anew)."""
    out, skipping = [], False
    for line in (site / "greenhouse.toml").read_text().splitlines():
        if line.startswith("["):
            skipping = line.strip().strip("[]") in sections
        if not skipping:
            out.append(line)
    return "\n".join(out) + "\n"


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class CorsQuiet(Quiet):
    """A static host that lets any origin read the files (what docs/embed.md asks of a host)."""

    def end_headers(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        super().end_headers()


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A browser closing a page mid-download is not a failure worth a traceback."""


@pytest.fixture(scope="module")
def static_server() -> Iterator[Callable[..., str]]:
    """Serve a folder on 127.0.0.1 (port 0); call with a folder, get its URL."""
    servers: list[LocalServer] = []

    def start(folder: Path, cors: bool = False, host: str = "127.0.0.1") -> str:
        handler = CorsQuiet if cors else Quiet
        httpd = LocalServer((host, 0), functools.partial(handler, directory=str(folder)))
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return f"http://{host}:{httpd.server_address[1]}/"

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()
