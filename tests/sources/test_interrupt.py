"""Issue 12.6: Ctrl-C at any moment of a sync: one clean line, exit 130, a consistent store."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from greenhouse.config import Secrets
from greenhouse.sources.http import HttpOptions
from greenhouse.sources.sync import sync_sources
from greenhouse.store import SCHEMA_VERSION, Store, interrupted
from tests.conftest import REPO
from tests.sources.conftest import make_site, repos
from tests.sources.fake_upstream import FakeUpstream, GitHubModel

CLEAN = "interrupted; what was already stored is kept"


def _site(folder: Path, fake: FakeUpstream) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "greenhouse.toml").write_text(
        f"""
[github]
user = "octo"
api_url = "{fake.url}/gh"
concurrency = 4

[weather]
provider = "open-meteo"
latitude = 1.5
longitude = 2.5
api_url = "{fake.url}/meteo"
""",
        encoding="utf-8",
    )
    return folder


def _consistent(path: Path) -> dict[str, list[tuple]]:
    """Open the store and check what every checkpoint promises; return its synced rows."""
    with Store.open(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        conn = store.conn
        # A repository marked fetched has everything its details brought, written with it.
        unfinished = conn.execute(
            "SELECT full_name FROM repos WHERE fetched_at IS NOT NULL AND full_name NOT IN "
            "(SELECT full_name FROM repo_languages)"
        ).fetchall()
        assert unfinished == []
        # A cached validator is never stored without the rows derived from its body.
        orphans = conn.execute(
            "SELECT url FROM http_cache WHERE regexp_matches(url, '/repos/octo/[^/]+/') AND "
            "regexp_extract(url, '/repos/(octo/[^/]+)/', 1) NOT IN "
            "(SELECT full_name FROM repos WHERE fetched_at IS NOT NULL)"
        ).fetchall()
        assert orphans == []
        states = conn.execute("SELECT source, status FROM sync_state").fetchall()
        assert all(status in ("ok", "failed", "partial") for _, status in states), states
        return {
            "repos": conn.execute("SELECT full_name, stars FROM repos ORDER BY 1").fetchall(),
            "activity": conn.execute(
                "SELECT full_name, day, commits FROM activity ORDER BY 1, 2"
            ).fetchall(),
            "languages": conn.execute("SELECT * FROM repo_languages ORDER BY 1, 2").fetchall(),
        }


def test_ctrl_c_at_random_points_of_a_real_sync(tmp_path: Path) -> None:
    model = GitHubModel(user="octo")
    model.repos = repos(240)
    rng = random.Random(12)
    with FakeUpstream(model, latency=0.004) as fake:
        site = _site(tmp_path / "site", fake)
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        env.pop("SOURCE_DATE_EPOCH", None)
        interrupted_runs = 0
        trials = 0
        # Warm syncs are quick, so on a fast machine many signals land after
        # the run ended: keep trying until enough runs were really cut short.
        while interrupted_runs < 8 and trials < 40:
            trial, trials = trials, trials + 1
            before = len(fake.log)
            process = subprocess.Popen(
                [sys.executable, "-m", "greenhouse", "sync", "--root", str(site)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            deadline = time.monotonic() + 30
            while len(fake.log) == before and process.poll() is None:
                assert time.monotonic() < deadline, "the sync never sent a request"
                time.sleep(0.002)
            time.sleep(rng.uniform(0, 0.5))
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=60)
            assert "Traceback" not in err, err
            if process.returncode == 0:
                continue  # it finished before the signal: nothing to check but the store
            interrupted_runs += 1
            assert process.returncode == 130, (trial, out, err)
            assert err.strip().splitlines()[-1] == CLEAN, err
            _consistent(site / "build" / "greenhouse.duckdb")
        assert interrupted_runs >= 6, f"only {interrupted_runs} of {trials} runs were cut short"

        done = subprocess.run(
            [sys.executable, "-m", "greenhouse", "sync", "--root", str(site)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        resumed = _consistent(site / "build" / "greenhouse.duckdb")

        reference = _site(tmp_path / "reference", fake)
        subprocess.run(
            [sys.executable, "-m", "greenhouse", "sync", "--root", str(reference)],
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        assert resumed == _consistent(reference / "build" / "greenhouse.duckdb")
        assert len(resumed["repos"]) == 240


def test_an_interrupted_duckdb_write_rolls_back_and_raises_keyboard_interrupt(
    tmp_path: Path,
) -> None:
    """Store.transaction turns DuckDB's interrupt into KeyboardInterrupt, after a rollback.

    The interrupt comes from ``interrupt()`` (what DuckDB does on SIGINT, minus the
    race of a signal that lands between two of DuckDB's checks); the real signal is
    covered by the test above and the one below.
    """
    with Store.open(tmp_path / "g.duckdb") as store:
        store.conn.execute("CREATE TABLE big (i BIGINT)")
        before = store.data_version()
        main = store.conn
        stop = threading.Event()

        def press() -> None:
            while not stop.wait(0.2):
                main.interrupt()

        presser = threading.Thread(target=press, daemon=True)
        presser.start()
        try:
            with pytest.raises(KeyboardInterrupt), store.transaction() as conn:
                conn.execute("INSERT INTO big VALUES (1)")
                conn.execute(
                    "INSERT INTO big SELECT count(*) FROM range(20000000000) t(i) WHERE i % 7 = 3"
                )
        finally:
            stop.set()
            presser.join()
        assert store.conn.execute("SELECT count(*) FROM big").fetchone() == (0,)
        assert store.data_version() == before


def test_duckdb_still_reports_an_interrupt_the_way_store_expects() -> None:
    """If DuckDB changes how an interrupted statement surfaces, this fails first.

    ``interrupt()`` is what DuckDB's own SIGINT handling calls (the error is the
    same: ``RuntimeError: Query interrupted``); a real signal is never sent
    inside a pytest worker, the random-points test sends them to a child.
    """
    conn = duckdb.connect()
    stop = threading.Event()

    def press() -> None:
        while not stop.wait(0.2):
            conn.interrupt()

    presser = threading.Thread(target=press, daemon=True)
    presser.start()
    caught: BaseException | None = None
    try:
        conn.execute("SELECT count(*) FROM range(20000000000) t(i) WHERE i % 7 = 3").fetchall()
    except Exception as exc:  # the point is which exception it is
        caught = exc
    finally:
        stop.set()
        presser.join()
        conn.close()
    assert caught is not None and interrupted(caught), repr(caught)
    assert interrupted(RuntimeError("Query interrupted"))
    assert not interrupted(RuntimeError("something else"))


def test_a_reporter_pressing_ctrl_c_in_one_source_stops_them_all(
    tmp_path: Path, fake: FakeUpstream
) -> None:
    """KeyboardInterrupt raised inside one source's thread stops every source cleanly."""

    class CtrlC:
        def progress(self, update: object) -> None:
            raise KeyboardInterrupt

        def warn(self, source: str, message: str) -> None:
            pass

        def finish(self, source: str, status: str, summary: str) -> None:
            pass

    fake.github.repos = repos(50)
    site = make_site(
        tmp_path,
        fake,
        weather={"provider": "open-meteo", "latitude": 1, "longitude": 2,
                 "api_url": f"{fake.url}/meteo"},
    )  # fmt: skip
    with Store.open(tmp_path / "s.duckdb") as store:
        with pytest.raises(KeyboardInterrupt):
            sync_sources(site, store, Secrets(), reporter=CtrlC(), options=HttpOptions(timeout=2))
        states = dict(store.conn.execute("SELECT source, message FROM sync_state").fetchall())
    assert "interrupted" in (states.get("github") or "")
