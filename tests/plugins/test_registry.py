"""The registry is the greenhouse.sources entry points: built-in sources and plugins alike.

These tests install the plugin of docs/plugins.md on sys.path as an installed
distribution (a .dist-info folder), which importlib.metadata reads like any
other; test_third_party.py installs a built wheel into a fresh venv.
"""

from __future__ import annotations

import dataclasses
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from typer.testing import CliRunner

from greenhouse import __version__
from greenhouse.build import with_base_url
from greenhouse.cli import app
from greenhouse.config import Config, Secrets, load_site
from greenhouse.docs import configuration_markdown
from greenhouse.errors import ConfigError, SourceError
from greenhouse.scaffold import config_template
from greenhouse.sources import Outcome, Source
from greenhouse.sources import sync as sync_module
from greenhouse.sources.http import HttpOptions
from greenhouse.sources.registry import BUILTIN_ORDER, GROUP, registry
from greenhouse.sources.sync import sync_sources
from greenhouse.store import Store
from tests.plugins.pebble import FakePebble, PebbleRepo

FAST = HttpOptions(timeout=2.0, retries=1, backoff=0.01, sleep=lambda _: None)
ORIGIN = "greenhouse-pebble 0.1.0"


def write_site(root: Path, text: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "greenhouse.toml").write_text(text, encoding="utf-8")
    return root


def test_builtin_sources_are_read_from_the_entry_points() -> None:
    found = {point.name: point.value for point in entry_points(group=GROUP)}
    assert set(found) == set(BUILTIN_ORDER)
    assert found["gitlab"] == "greenhouse.sources.builtin:gitlab"
    installed = registry()
    assert installed.names == list(BUILTIN_ORDER)
    assert not installed.broken and not installed.ignored
    assert set(installed.origins.values()) == {f"greenhouse-garden {__version__}"}
    for name, source in installed.sources.items():
        assert installed.builtin(name) and source.name == name and source.summary
        if source.config is not None:  # the typed section in Config is the declared model
            assert Config.model_fields[name].annotation is source.config
    assert installed.sources["gitlab"].secrets == ("GITLAB_TOKEN",)
    assert installed.sources["listenbrainz"].secrets == ()


def test_no_registry_is_filled_at_import_time() -> None:
    for stale in ("SOURCES", "_MISSING", "register_source"):
        assert not hasattr(sync_module, stale)


def test_plugins_load_and_broken_ones_are_one_line_each(broken_installed: Path) -> None:
    installed = registry()
    assert installed.names == [
        *BUILTIN_ORDER, "boom", "crash", "fortytwo", "ghost", "pebble", "site",
    ]  # fmt: skip
    assert {"pebble", "boom"} <= set(installed.sources)
    assert installed.origins["pebble"] == ORIGIN and not installed.builtin("pebble")
    assert installed.broken == {
        "ghost": (
            "cannot load the source plugin 'ghost' (greenhouse_ghost:source, from "
            f"{ORIGIN}): ModuleNotFoundError: No module named 'greenhouse_ghost'"
        ),
        "crash": (
            "cannot load the source plugin 'crash' (greenhouse_pebble_crash:source, from "
            f"{ORIGIN}): RuntimeError: PEBBLE_HOME is not set"
        ),
        "fortytwo": (
            "entry point 'fortytwo' (greenhouse_pebble_broken:not_a_source, from "
            f"{ORIGIN}) names int, not a greenhouse.sources.Source"
        ),
        "site": "source name 'site' is taken by greenhouse's own [site] section",
    }
    assert installed.ignored == [
        f"source 'github' from {ORIGIN} is ignored: greenhouse-garden {__version__} already provides it"
    ]
    assert installed.sources["github"].config is Config.model_fields["github"].annotation
    assert "PEBBLE_TOKEN" in installed.secret_names()


def test_a_plugin_section_validates_with_file_line_and_field(
    pebble_installed: Path, tmp_path: Path
) -> None:
    site = write_site(
        tmp_path / "site",
        '[site]\ntitle = "x"\n\n[pebble]\nuser = "ada"\nmin_stars = -1\nusr = "typo"\n\n[pebbel]\n',
    )
    with pytest.raises(ConfigError) as failure:
        load_site(site)
    assert [str(p) for p in failure.value.problems] == [
        f"{site / 'greenhouse.toml'}:6: [pebble.min_stars] Input should be greater than or equal "
        "to 0 (got -1)",
        f"{site / 'greenhouse.toml'}:7: [pebble.usr] unknown key 'usr' (did you mean 'user'?)",
        f"{site / 'greenhouse.toml'}:9: [pebbel] unknown key 'pebbel' (did you mean 'pebble'?)",
    ]
    write_site(site, '[pebble]\nuser = "ada"\nmin_stars = 2\n')
    section = load_site(site).config.source_section("pebble")
    assert section is not None and section.model_dump() == {
        "time_budget": 300.0,  # a SourceSection's bounds, as every built-in source has
        "max_rate_limit_wait": 60.0,
        "user": "ada",
        "api_url": "https://pebble.example/api",
        "min_stars": 2,
    }


def test_init_shows_plugin_sections_and_the_reference_only_greenhouses_own(
    pebble_installed: Path,
) -> None:
    text = config_template()
    section = text[text.index("[pebble]") :]
    assert "# Pebble user whose repositories become plants.\n# user = …" in section
    assert "# Only repositories with this many stars or more.\n# min_stars = 0" in section
    assert "PEBBLE_TOKEN" in text[: text.index("[site]")]
    # The committed reference does not depend on what is installed where it is generated…
    assert "[pebble]" not in configuration_markdown()
    assert "PEBBLE_TOKEN" not in configuration_markdown()
    # …while this installation's reference shows the plugin's section like a built-in one.
    mine = configuration_markdown(plugins=True)
    assert (
        "## `[pebble]`\n\nPebble: public repositories become plants (PEBBLE_TOKEN optional)."
        in mine
    )
    assert "| `min_stars` | int | `0` | Only repositories with this many stars or more. |" in mine
    assert "`PEBBLE_TOKEN`" in mine


def test_a_plugin_syncs_like_a_builtin_source(
    pebble_installed: Path, pebble: FakePebble, tmp_path: Path
) -> None:
    pebble.repos = [PebbleRepo("stone"), PebbleRepo("gravel", private=True), PebbleRepo("sand")]
    root = write_site(tmp_path / "site", f'[pebble]\nuser = "ada"\napi_url = "{pebble.url}/api"\n')
    site = load_site(root)
    token = "pebble-SECRET-token-0042"
    secrets = Secrets.from_env({"PEBBLE_TOKEN": token})
    path = tmp_path / "g.duckdb"
    with Store.open(path) as store:
        report = sync_sources(site, store, secrets, options=FAST)
        assert report["pebble"].status == "ok"
        assert report["pebble"].summary == "pebble: 2 repos, 6 new commits, 1 requests"
        assert {r.status for r in report.sources if r.name != "pebble"} == {"skipped"}
        assert pebble.log[0].headers["authorization"] == f"Bearer {token}"
        stored = store.conn.execute(
            "SELECT full_name, source, stars FROM repos ORDER BY 1"
        ).fetchall()
        assert stored == [("pebble:ada/sand", "pebble", 3), ("pebble:ada/stone", "pebble", 3)]
        warm = sync_sources(site, store, secrets, ["pebble"], options=FAST)["pebble"]
        assert warm.not_modified == 1 and "0 new commits" in warm.summary
        store.conn.execute("CHECKPOINT")
    database = b"".join(p.read_bytes() for p in tmp_path.glob("g.duckdb*"))
    assert token.encode() not in database and b"gravel" not in database


def test_a_raising_or_unloadable_plugin_fails_alone_naming_itself(
    broken_installed: Path, pebble: FakePebble, tmp_path: Path
) -> None:
    pebble.repos = [PebbleRepo("stone")]
    root = write_site(
        tmp_path / "site",
        f'[pebble]\nuser = "ada"\napi_url = "{pebble.url}/api"\n\n[ghost]\nhaunts = true\n',
    )
    site = load_site(root)
    assert site.config.sets_unloaded("ghost") and not site.config.sets_unloaded("fortytwo")
    assert with_base_url(site, "https://ada.example/garden/").config.sets_unloaded("ghost")
    with Store.open(tmp_path / "g.duckdb") as store:
        with pytest.raises(
            SourceError
        ) as failure:  # neither ever succeeded: nothing to fall back on
            sync_sources(site, store, Secrets.from_env({}), options=FAST)
        report = failure.value.report  # type: ignore[attr-defined]
        assert report["pebble"].status == "ok"
        assert report["boom"].status == "failed"
        assert report["boom"].error == (
            f"RuntimeError: the mine collapsed (a bug in the source plugin from {ORIGIN})"
        )
        assert report["ghost"].status == "failed"
        assert report["ghost"].error == registry().broken["ghost"]
        assert report["fortytwo"].status == "skipped"  # broken, but no [fortytwo] section
        assert str(failure.value).startswith("boom: RuntimeError: the mine collapsed")
        assert store.conn.execute("SELECT count(*) FROM repos").fetchone() == (1,)
        # Once the plugin has worked, its failure no longer fails the sync (stale data is used).
        store.conn.execute("UPDATE sync_state SET last_success = now() WHERE source = 'boom'")
        with pytest.raises(SourceError, match="^ghost: cannot load"):
            sync_sources(site, store, Secrets.from_env({}), options=FAST)
        assert (
            sync_sources(site, store, Secrets.from_env({}), ["boom"], options=FAST)["boom"].status
            == "failed"
        )


def test_the_cli_lists_plugins_and_reports_broken_ones_in_one_line(
    broken_installed: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    helped = runner.invoke(app, ["sync", "--help"], env={"COLUMNS": "200"})
    assert helped.exit_code == 0
    assert "pebble        public repositories of [pebble] user on a Pebble forge" in helped.output
    assert "ghost         cannot be loaded (greenhouse check says why)" in helped.output
    root = write_site(tmp_path / "site", '[site]\ntitle = "t"\n\n[ghost]\nhaunts = true\n')
    checked = runner.invoke(app, ["check", "--root", str(root)])
    assert checked.exit_code == 1
    assert checked.output == (
        f"error: {root / 'greenhouse.toml'}:4: [ghost] {registry().broken['ghost']}\n"
    )
    synced = runner.invoke(app, ["sync", "--source", "ghost", "--root", str(root)])
    assert synced.exit_code == 1
    assert "Traceback" not in synced.output
    assert synced.output.splitlines()[-1] == f"error: ghost: {registry().broken['ghost']}"
    unknown = runner.invoke(app, ["sync", "--source", "nope", "--root", str(root)])
    assert unknown.exit_code == 1
    assert unknown.output.startswith(
        "error: nope: unknown source; the installed sources are github"
    )


def test_without_missing_a_source_runs_once_its_section_sets_a_key(
    pebble_installed: Path, tmp_path: Path
) -> None:
    declared = dataclasses.replace(registry().sources["pebble"], missing=None)
    scaffolded = load_site(write_site(tmp_path / "a", "[pebble]\n# user = …\n"))
    assert declared.needs(scaffolded, Secrets()) == "set the [pebble] section in greenhouse.toml"
    configured = load_site(write_site(tmp_path / "b", '[pebble]\nuser = "ada"\n'))
    assert declared.needs(configured, Secrets()) is None
    bare = Source(name="tally", sync=lambda run: Outcome("ok", "tally"))  # no config at all
    assert bare.needs(scaffolded, Secrets()) is None
