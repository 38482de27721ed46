import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from greenhouse.errors import StoreError
from greenhouse.store import SCHEMA_VERSION, Store
from greenhouse.store.migrations import MIGRATIONS


def test_new_store_is_at_the_current_version(tmp_path: Path) -> None:
    with Store.open(tmp_path / "g.duckdb") as store:
        assert store.schema_version() == SCHEMA_VERSION


def test_old_store_is_migrated_forward_keeping_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    conn = duckdb.connect(str(path))
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, note VARCHAR)")
    conn.execute(MIGRATIONS[0][1])
    conn.execute("INSERT INTO schema_version VALUES (1, 'initial schema')")
    conn.execute("INSERT INTO repos (full_name, name, source) VALUES ('me/old', 'old', 'github')")
    conn.close()
    with Store.open(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.conn.execute("SELECT name FROM repos").fetchall() == [("old",)]
        assert store.conn.execute("SELECT count(*) FROM snapshots").fetchone() == (0,)


def test_newer_store_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "new.duckdb"
    with Store.open(path) as store:
        store.conn.execute(
            "INSERT INTO schema_version VALUES (?, 'from the future')", [SCHEMA_VERSION + 5]
        )
    before = path.read_bytes()
    with pytest.raises(StoreError, match="newer than this greenhouse"):
        Store.open(path)
    assert path.read_bytes() == before


def test_a_file_that_is_not_duckdb_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.duckdb"
    path.write_text("these are my notes, not a database\n" * 100)
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a DuckDB database"):
        Store.open(path)
    assert path.read_bytes() == before


def test_a_foreign_duckdb_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.duckdb"
    conn = duckdb.connect(str(path))
    conn.execute("CREATE TABLE invoices (n INTEGER)")
    conn.close()
    with pytest.raises(StoreError, match="not made by greenhouse"):
        Store.open(path)


def test_failed_transaction_rolls_back(tmp_path: Path) -> None:
    with Store.open(tmp_path / "g.duckdb") as store:
        version = store.data_version()
        with pytest.raises(RuntimeError), store.transaction() as conn:
            conn.execute(
                "INSERT INTO repos (full_name, name, source) VALUES ('me/x', 'x', 'github')"
            )
            raise RuntimeError("boom")
        assert store.conn.execute("SELECT count(*) FROM repos").fetchone() == (0,)
        assert store.data_version() == version


def test_killed_writer_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "g.duckdb"
    with Store.open(path) as store, store.transaction() as conn:
        conn.execute(
            "INSERT INTO repos (full_name, name, source) VALUES ('me/kept', 'kept', 'github')"
        )
    script = textwrap.dedent(f"""
        import sys, time
        from greenhouse.store import Store
        store = Store.open({str(path)!r})
        with store.transaction() as conn:
            conn.execute("DELETE FROM repos")
            conn.execute("INSERT INTO repos (full_name, name, source) SELECT 'me/r' || i, 'r', 'github' "
                         "FROM range(100000) t(i)")
            print("ready", flush=True)
            time.sleep(60)
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parent.parent,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    with Store.open(path) as store:
        assert store.conn.execute("SELECT full_name FROM repos").fetchall() == [("me/kept",)]


def _schema(store: Store) -> list[tuple[object, ...]]:
    return (
        store.conn.execute(
            "SELECT table_name, column_name, data_type, column_default, is_nullable "
            "FROM information_schema.columns ORDER BY ALL"
        ).fetchall()
        + store.conn.execute("SELECT sql FROM duckdb_indexes() ORDER BY ALL").fetchall()
    )


def _store_at(path: Path, version: int) -> None:
    """A store as greenhouse left it at schema *version*, with one repository stored."""
    conn = duckdb.connect(str(path))
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, note VARCHAR)")
    for n, (note, sql) in enumerate(MIGRATIONS[:version], start=1):
        conn.execute(sql)
        conn.execute("INSERT INTO schema_version VALUES (?, ?)", [n, note])
    conn.execute("INSERT INTO repos (full_name, name, source) VALUES ('me/old', 'old', 'github')")
    conn.close()


def test_a_store_at_every_older_version_migrates_to_the_new_schema(tmp_path: Path) -> None:
    with Store.open(tmp_path / "new.duckdb") as store:
        expected = _schema(store)
    for version in range(1, SCHEMA_VERSION):
        path = tmp_path / f"v{version}.duckdb"
        _store_at(path, version)
        with Store.open(path) as store:
            assert store.schema_version() == SCHEMA_VERSION
            assert _schema(store) == expected, version
            assert store.conn.execute("SELECT name FROM repos").fetchall() == [("old",)]


def test_a_failed_migration_leaves_the_store_at_its_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import greenhouse.store as store_module

    path = tmp_path / "old.duckdb"
    _store_at(path, 1)
    broken = [*MIGRATIONS[:-1], ("broken", "CREATE TABLE nowhere (n NOT_A_TYPE)")]
    monkeypatch.setattr(store_module, "MIGRATIONS", broken)
    with pytest.raises(duckdb.Error):
        Store.open(path)
    monkeypatch.undo()
    conn = duckdb.connect(str(path))
    # All or nothing: not one of the migrations that did run is kept.
    assert conn.execute("SELECT max(version) FROM schema_version").fetchone() == (1,)
    conn.close()
    with Store.open(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
