"""redis is the ``live`` extra: nothing but a sidecar with ``redis_url`` needs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.sidecar.helpers import REPO, make_site

#: Run a module with ``import redis`` failing, as on an install without the extra.
WITHOUT_REDIS = (
    "import runpy, sys; sys.modules['redis'] = None; module = sys.argv.pop(1); "
    "runpy.run_module(module, run_name='__main__', alter_sys=True)"
)


def without_redis(*args: str, **kwargs: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "GREENHOUSE_LIVE_TOKEN": "t"}
    return subprocess.Popen(
        [sys.executable, "-c", WITHOUT_REDIS, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
        **kwargs,  # type: ignore[arg-type]
    )


def test_every_module_but_the_redis_ones_imports_without_redis():
    script = (
        "import importlib, pkgutil, greenhouse; "
        "names = [m.name for m in pkgutil.walk_packages(greenhouse.__path__, 'greenhouse.')]; "
        "names = [n for n in names if not n.endswith('__main__')]; "
        "skipped = [n for n in names if n.startswith('greenhouse.sidecar.redis_')]; "
        "[importlib.import_module(n) for n in names if n not in skipped]; "
        "print(len(names), sorted(skipped))"
    )
    done = subprocess.run(
        [sys.executable, "-c", "import sys; sys.modules['redis'] = None; " + script],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    count, skipped = done.stdout.split(" ", 1)
    assert int(count) > 30
    assert skipped.strip() == "['greenhouse.sidecar.redis_bus', 'greenhouse.sidecar.redis_salt']"


def test_greenhouse_check_runs_without_redis(demo_site: Path):
    proc = without_redis("greenhouse", "check", "--root", str(demo_site))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, out + err


def test_redis_url_without_redis_is_one_clear_line(tmp_path: Path):
    site = make_site(tmp_path, redis_url="redis://127.0.0.1:1/0")
    proc = without_redis(
        "greenhouse.sidecar", "--root", str(site.root), "--host", "127.0.0.1", "--port", "0"
    )
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "greenhouse.toml: [live.redis_url] redis_url is set" in err
    assert "pip install 'greenhouse-garden[live]'" in err


def test_a_single_sidecar_runs_without_redis(tmp_path: Path):
    site = make_site(tmp_path)
    proc = without_redis(
        "greenhouse.sidecar", "--root", str(site.root), "--host", "127.0.0.1", "--port", "0"
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:"), line
        health = httpx.get(line.split()[-1] + "/healthz", timeout=5).json()
        assert health["status"] == "ok" and health["redis"] == "off"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
