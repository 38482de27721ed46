"""Every sidecar setting and endpoint is documented; the module entry point fails politely."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from greenhouse.config import LiveConfig
from tests.sidecar.helpers import REPO

DOC = (REPO / "docs/sidecar.md").read_text()
SITE_ONLY = {"url", "export_url"}  # read by the site and the sync, not by the sidecar


@pytest.mark.parametrize("name", sorted(set(LiveConfig.model_fields) - SITE_ONLY))
def test_every_live_setting_is_documented(name):
    assert f"`{name}`" in DOC


@pytest.mark.parametrize(
    "text", ["/ws/garden", "/healthz", "/metrics", "/api/events", "POST /api/published"]
)
def test_every_endpoint_is_documented(text):
    assert text in DOC


def test_a_bad_config_is_one_line_and_exit_status_1(tmp_path: Path):
    (tmp_path / "greenhouse.toml").write_text("[live]\nport = 'eighty'\n")
    done = subprocess.run(
        [sys.executable, "-m", "greenhouse.sidecar", "--root", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=30,
    )
    assert done.returncode == 1
    assert (
        done.stderr.startswith("error: ")
        and "live.port" in done.stderr
        and "Traceback" not in done.stderr
    )


def test_a_busy_port_is_one_line_and_exit_status_1(tmp_path: Path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "greenhouse.sidecar",
                "--root",
                str(tmp_path),
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=30,
        )
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "[live.port]" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
