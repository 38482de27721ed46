"""The store's DuckDB storage format is pinned, checked from the header, and never reinterpreted.

These run on whichever DuckDB the environment has: ``scripts/check-resolution lowest`` runs them
on the oldest release greenhouse allows, ``highest`` on the newest.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from greenhouse.errors import StoreBusyError, StoreError
from greenhouse.store import Store
from greenhouse.store.format import KNOWN_FORMATS, STORAGE_NUMBER, read_format
from tests.conftest import REPO, run_module


def _store_with_a_repo(path: Path) -> None:
    with Store.open(path) as store, store.transaction() as conn:
        conn.execute(
            "INSERT INTO repos (full_name, name, source) VALUES ('me/tidewatch', 'tidewatch', 'github')"
        )


def _copy_in_format(source: Path, target: Path, storage_version: str) -> None:
    """What a DuckDB outside greenhouse does: the same data, written in another format."""
    conn = duckdb.connect(":memory:")
    conn.execute(f"ATTACH '{source}' AS src (READ_ONLY)")
    conn.execute(f"ATTACH '{target}' AS dst (STORAGE_VERSION '{storage_version}')")
    conn.execute("COPY FROM DATABASE src TO dst")
    conn.close()


def test_a_new_store_is_written_in_the_pinned_format(tmp_path: Path) -> None:
    path = tmp_path / "g.duckdb"
    _store_with_a_repo(path)
    found = read_format(path)
    assert found is not None and found.number == STORAGE_NUMBER
    assert found.created_by.startswith("v")


def test_the_pinned_format_is_what_the_default_would_not_always_be(tmp_path: Path) -> None:
    """Without the pin, a new DuckDB would write a format older DuckDBs cannot read."""
    plain = tmp_path / "plain.duckdb"
    duckdb.connect(str(plain)).close()
    default = read_format(plain)
    assert default is not None and default.number in KNOWN_FORMATS
    if duckdb.__version__.startswith("2."):
        assert default.number == 999  # why the pin exists


def test_another_known_format_is_converted_by_export_and_import(tmp_path: Path) -> None:
    ours = tmp_path / "ours.duckdb"
    _store_with_a_repo(ours)
    path = tmp_path / "g.duckdb"
    _copy_in_format(ours, path, "v1.4.0")
    assert read_format(path).number == 67  # type: ignore[union-attr]
    original = path.read_bytes()

    with Store.open(path) as store:
        assert store.conn.execute("SELECT name FROM repos").fetchall() == [("tidewatch",)]

    assert read_format(path).number == STORAGE_NUMBER  # type: ignore[union-attr]
    backup = tmp_path / "g.duckdb.v1.4.0-backup"
    assert backup.read_bytes() == original  # the original bytes are kept, never rewritten
    assert not list(tmp_path.glob(".g.duckdb.converting*"))


def test_the_conversion_is_reported_on_the_command_line(demo_site: Path, tmp_path: Path) -> None:
    ours = tmp_path / "ours.duckdb"
    _store_with_a_repo(ours)
    (demo_site / "build").mkdir()
    _copy_in_format(ours, demo_site / "build" / "greenhouse.duckdb", "v1.4.0")
    result = run_module("build", "--offline", "--root", str(demo_site))
    assert result.returncode == 0, result.stderr
    assert "warning: " in result.stderr
    assert "converted from DuckDB storage format v1.4.0 to v1.0.0" in result.stderr
    assert "greenhouse.duckdb.v1.4.0-backup" in result.stderr


def test_read_only_opening_never_converts(tmp_path: Path) -> None:
    ours = tmp_path / "ours.duckdb"
    _store_with_a_repo(ours)
    path = tmp_path / "g.duckdb"
    _copy_in_format(ours, path, "v1.4.0")
    before = path.read_bytes()
    with pytest.raises(StoreError, match="run 'greenhouse build' once to convert it"):
        Store.open(path, read_only=True)
    assert path.read_bytes() == before


def test_an_unknown_format_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "g.duckdb"
    _store_with_a_repo(path)
    data = bytearray(path.read_bytes())
    struct.pack_into("<Q", data, 12, 4242)  # a format from some future DuckDB
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="format #4242 .* not been tested with; the file was left"):
        Store.open(path)
    assert path.read_bytes() == bytes(data)
    assert list(tmp_path.iterdir()) == [path]


HOLDER = textwrap.dedent(
    """
    import sys, time
    from greenhouse.store import Store
    with Store.open(sys.argv[1]):
        print("holding", flush=True)
        time.sleep(float(sys.argv[2]))
    """
)


def _hold(path: Path, seconds: float) -> subprocess.Popen[str]:
    """Another greenhouse process writing the store, as a build or sync does."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), str(seconds)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    return holder


def _release(holder: subprocess.Popen[str]) -> None:
    holder.kill()
    holder.wait()
    assert holder.stdout is not None
    holder.stdout.close()


def test_stats_waits_for_a_running_build_to_release_the_store(demo_site: Path) -> None:
    assert run_module("build", "--offline", "--root", str(demo_site)).returncode == 0
    db = demo_site / "build" / "greenhouse.duckdb"
    # The holder keeps the store until stats says it is waiting (not for a fixed time: on a
    # loaded machine starting Python alone can outlast a short hold), then one more second.
    holder = _hold(db, 120)
    stats = subprocess.Popen(
        [sys.executable, "-m", "greenhouse", "stats", "--json", "--root", str(demo_site)]
        + ["--wait", "60"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert stats.stderr is not None
        said = stats.stderr.readline()
        time.sleep(1)
        released = time.monotonic()
    finally:
        _release(holder)
    out, rest = stats.communicate(timeout=120)
    assert stats.returncode == 0, said + rest
    assert f"waiting for the build or sync that is using {db}" in said
    assert json.loads(out)["garden"]["plants"] > 0
    assert time.monotonic() - released < 60  # it read the store once it was released


def test_stats_without_waiting_says_the_store_is_busy(demo_site: Path) -> None:
    assert run_module("build", "--offline", "--root", str(demo_site)).returncode == 0
    db = demo_site / "build" / "greenhouse.duckdb"
    holder = _hold(db, 30)
    try:
        result = run_module("stats", "--root", str(demo_site), "--wait", "0")
    finally:
        _release(holder)
    assert result.returncode == 1
    assert "in use by another greenhouse process (a build or a sync)" in result.stderr
    assert "Traceback" not in result.stderr


def test_busy_is_its_own_error_class(tmp_path: Path) -> None:
    path = tmp_path / "g.duckdb"
    _store_with_a_repo(path)
    holder = _hold(path, 30)
    try:
        with pytest.raises(StoreBusyError):
            Store.open(path, read_only=True, wait=0.3)
    finally:
        _release(holder)
    with Store.open(path, read_only=True) as store:  # released, even by a killed holder
        assert store.one("SELECT count(*) FROM repos") == (1,)
