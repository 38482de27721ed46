"""The visitors source, the aggregates, the dashboard and `greenhouse stats`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from greenhouse.analytics import dashboard
from greenhouse.config import Secrets, load_site
from greenhouse.errors import AuthError, SourceError
from greenhouse.sources.http import HttpOptions
from greenhouse.sources.sync import sync_sources
from greenhouse.store import Store
from tests.analytics.helpers import TOKEN, FakeExport, event, pages


def clock() -> float:
    """The tests' "now": real time, but two hours earlier during the first hour of a UTC day.

    Their recent events (up to 50 minutes ago, gaps included) must fall on one
    day with the moment the sync clamps future events to; between 00:00 and
    01:00 UTC they would straddle midnight.
    """
    now = time.time()
    return now - 7200 if datetime.fromtimestamp(now, UTC).hour == 0 else now


def utcnow() -> datetime:
    return datetime.fromtimestamp(clock(), UTC)


FAST = HttpOptions(timeout=2.0, retries=2, backoff=0.01, sleep=lambda _s: None, clock=clock)


def now_iso(delta: timedelta = timedelta()) -> str:
    moment = utcnow() + delta
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def site_with(root: Path, **live: Any) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    lines = ["[live]"] + [f"{k} = {json.dumps(v)}" for k, v in live.items()]
    (root / "greenhouse.toml").write_text("\n".join(lines) + "\n")
    return root


def sync(root: Path, token: str | None = TOKEN) -> Any:
    site = load_site(root)
    with Store.open(root / "build/greenhouse.duckdb") as store:
        return sync_sources(site, store, Secrets(live_token=token), ["visitors"], options=FAST)


def query(root: Path, sql: str) -> list[tuple[Any, ...]]:
    with Store.open(root / "build/greenhouse.duckdb", read_only=True) as store:
        return store.conn.execute(sql).fetchall()


def write_log(folder: Path, events: list[dict[str, Any]], tail: str = "") -> None:
    by_day: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        by_day.setdefault(e["id"][:8], []).append(e)
    for day, records in by_day.items():
        path = folder / "main" / f"{day}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as f:
            for r in records:
                f.write(json.dumps(r, sort_keys=True) + "\n")
            f.write(tail)


# -- the local event folder ----------------------------------------------------------


def test_local_event_dir_is_ingested_once(tmp_path: Path) -> None:
    root = site_with(tmp_path / "site", event_dir="events")
    write_log(
        root / "events",
        [
            event(1, now_iso(timedelta(minutes=-50)), referrer="news.example.com"),
            event(2, now_iso(timedelta(minutes=-49)), "interact", action="water"),
            event(3, now_iso(timedelta(minutes=-48)), "view", project="moss"),
            event(4, now_iso(timedelta(minutes=-10)), "leave", project="moss", duration=30.0),
        ],
        tail='{"id": "torn',  # the sidecar is writing a line right now
    )
    assert sync(root, token=None)["visitors"].status == "ok"
    rows = query(root, "SELECT project, views, interactions, visitors FROM engagement ORDER BY 1")
    assert rows == [("fern", 1, 1, 1), ("moss", 1, 0, 1)]
    before = query(root, "SELECT * FROM visit_daily")
    assert before[0][1:5] == (1, 2, 2, 1)  # one visitor, two visits (38 min idle), 2 views
    seconds = query(root, "SELECT project, seconds FROM visit_projects ORDER BY 1")
    assert dict(seconds)["moss"] == 30.0
    assert sync(root, token=None)["visitors"].status == "ok"  # again: nothing new
    assert query(root, "SELECT * FROM visit_daily") == before
    assert query(root, "SELECT count(*) FROM visit_events")[0][0] == 4


# -- the export endpoint -------------------------------------------------------------


def test_export_pages_duplicates_out_of_order_future_and_unknown(tmp_path: Path) -> None:
    events = [
        event(1, now_iso(timedelta(minutes=-3)), project="fern"),
        event(
            2, now_iso(timedelta(minutes=-4)), project="gone-plant"
        ),  # out of order, removed plant
        event(3, now_iso(timedelta(hours=5)), project="fern"),  # sidecar clock far ahead
        event(4, now_iso(), project="fern", visitor="not a hash 1.2.3.4"),  # malformed: dropped
        event(5, now_iso(), "interact", project="fern", action="water"),
    ]
    doubled = events[:2] + events  # the export repeats itself
    with FakeExport(lambda after, n: pages(doubled, 2)(after, n)) as export:
        root = site_with(tmp_path / "site", export_url=export.url)
        report = sync(root)
        assert report["visitors"].status == "ok", report["visitors"]
        assert all(r["auth"] == f"Bearer {TOKEN}" for r in export.requests)
        sync(root)
    rows = dict(
        (r[0], r[1:]) for r in query(root, "SELECT project, views, interactions FROM engagement")
    )
    assert rows == {"fern": (2, 1), "gone-plant": (1, 0)}
    latest = query(root, "SELECT max(ts) FROM visit_events")[0][0]
    assert latest <= utcnow().replace(tzinfo=None)  # clamped, not in the future
    assert any("future" in w for w in report["visitors"].warnings)
    assert any("malformed" in w for w in report["visitors"].warnings)


def test_truncated_page_stops_keeping_what_was_ingested(tmp_path: Path) -> None:
    events = [event(i, now_iso(timedelta(minutes=-i))) for i in range(1, 7)]
    good = pages(events, 2)
    broken = {"on": True}

    def answer(after: str | None, n: int) -> tuple[int, str]:
        status, body = good(after, n)
        if broken["on"] and after == events[1]["id"]:
            return 200, body[: len(body) // 2]  # a truncated page
        return status, body

    with FakeExport(answer) as export:
        root = site_with(tmp_path / "site", export_url=export.url)
        with pytest.raises(SourceError, match="visitors: .*invalid page"):
            sync(root)  # never succeeded before: the error surfaces
        assert query(root, "SELECT count(*) FROM visit_events")[0][0] == 2
        broken["on"] = False
        assert sync(root)["visitors"].status == "ok"
    assert query(root, "SELECT count(*) FROM visit_events")[0][0] == 6
    assert query(root, "SELECT sum(views) FROM engagement")[0][0] == 6


def test_401_names_the_token_variable_and_never_shows_the_token(tmp_path: Path) -> None:
    with FakeExport(lambda after, n: (401, '{"error": "missing or wrong bearer token"}')) as export:
        root = site_with(tmp_path / "site", export_url=export.url)
        with pytest.raises(AuthError) as caught:
            sync(root, token="wrong-token-123")
    assert "GREENHOUSE_LIVE_TOKEN" in str(caught.value) and "visitors" in str(caught.value)
    assert "wrong-token-123" not in str(caught.value)
    db = (root / "build/greenhouse.duckdb").read_bytes()
    assert b"wrong-token-123" not in db


def test_down_endpoint_fails_clearly_and_keeps_the_last_data(tmp_path: Path) -> None:
    root = site_with(tmp_path / "site", event_dir="events")
    write_log(root / "events", [event(1, now_iso())])
    sync(root, token=None)
    site_with(root, export_url="http://127.0.0.1:9")  # nothing listens on the discard port
    report = sync(root)  # had data before: reported, not raised
    assert report["visitors"].status == "failed"
    assert "visitors" in report["visitors"].summary and "unreachable" in report["visitors"].summary
    assert query(root, "SELECT sum(views) FROM engagement")[0][0] == 1


def test_missing_configuration_says_what_to_set(tmp_path: Path) -> None:
    root = site_with(tmp_path / "site")
    with pytest.raises(SourceError, match="export_url.*GREENHOUSE_LIVE_TOKEN.*event_dir"):
        sync(root)
    root = site_with(tmp_path / "site", export_url="http://127.0.0.1:9")
    with pytest.raises(AuthError, match="GREENHOUSE_LIVE_TOKEN"):
        sync(root, token=None)


# -- retention and the published dashboard -------------------------------------------


def test_retention_deletes_raw_events_but_keeps_aggregates(tmp_path: Path) -> None:
    root = site_with(tmp_path / "site", event_dir="events")
    (root / "greenhouse.toml").write_text(
        (root / "greenhouse.toml").read_text() + "[analytics]\nretention_days = 3\n"
    )
    old = now_iso(timedelta(days=-10))
    write_log(root / "events", [event(1, old), event(2, now_iso())])
    sync(root, token=None)
    assert query(root, "SELECT count(*) FROM visit_events")[0][0] == 1
    assert query(root, "SELECT count(*) FROM visit_daily")[0][0] == 2
    assert query(root, "SELECT sum(views) FROM engagement")[0][0] == 2
    # A late event of the expired day is dropped rather than replacing its aggregates.
    late = event(3, now_iso(timedelta(days=-10)))
    late["id"] = late["id"].replace("-main", "-live-2")  # a second instance, synced late
    (root / "events/live-2").mkdir()
    (root / "events/live-2" / f"{late['id'][:8]}.jsonl").write_text(json.dumps(late) + "\n")
    report = sync(root, token=None)
    assert query(root, "SELECT sum(views) FROM engagement")[0][0] == 2
    assert any("retention" in w for w in report["visitors"].warnings)


def test_dashboard_hides_small_counts(tmp_path: Path) -> None:
    root = site_with(tmp_path / "site", event_dir="events")
    visitors = [f"{i:032x}" for i in range(6)]
    batch = [
        event(i + 1, now_iso(timedelta(minutes=-30)), visitor=v, referrer="popular.example")
        for i, v in enumerate(visitors)
    ]
    batch.append(event(20, now_iso(), project="moss", referrer="me.example"))
    write_log(root / "events", batch)
    sync(root, token=None)
    with Store.open(root / "build/greenhouse.duckdb", read_only=True) as store:
        doc = dashboard(store, utcnow().date(), 30, 5)
    projects = {p["id"]: p for p in doc["projects"]}
    assert projects["fern"]["views"] == 6 and projects["fern"]["visitors"] == 6
    assert projects["moss"]["views"] is None and projects["moss"]["visitors"] is None
    assert [r["domain"] for r in doc["referrers"]] == ["popular.example"]
    assert doc["totals"]["views"] == 7
    assert all(d["views"] in (0, 7) for d in doc["daily"][-1:])


def _build(cli: Callable[..., Any], root: Path) -> None:
    result = cli("build", "--offline", "--root", str(root))
    assert result.exit_code == 0, result.output


def test_dashboard_absent_unless_published(
    demo_site: Path, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    _build(cli, demo_site)
    site = demo_site / "build/site"
    assert not (site / "api/v1/analytics").exists() and not (site / "analytics").exists()
    assert not (site / "api/v1/schema/dashboard.schema.json").exists()
    toml = demo_site / "greenhouse.toml"
    toml.write_text(toml.read_text().replace("publish = false", "publish = true"))
    _build(cli, demo_site)
    doc = json.loads((site / "api/v1/analytics/dashboard.json").read_text())
    assert doc["min_count"] == 5 and doc["days"] == 30
    assert (site / "analytics/index.html").is_file()


def test_the_export_keeps_the_latest_realtime_figure(tmp_path: Path) -> None:
    from greenhouse.analytics import realtime_report

    answers = [
        {"visitors_5m": 3, "at": "2026-11-28T12:00:00Z"},
        {"visitors_5m": 4, "at": "2026-11-28T12:05:00+00:00"},
        {"visitors_5m": "many", "at": "2026-11-28T12:10:00Z"},  # malformed: ignored
        {"visitors_5m": 9, "at": "2026-11-28T11:00:00Z"},  # older than the one kept
    ]
    root = site_with(tmp_path / "site")

    def answer(_after: str | None, _n: int) -> tuple[int, str]:
        return 200, json.dumps({"events": [], "next": None, "realtime": answers.pop(0)})

    with FakeExport(answer) as fake:
        toml = root / "greenhouse.toml"
        toml.write_text(toml.read_text() + f'export_url = "{fake.url}"\n')
        for want in (3, 4, 4, 4):
            assert sync(root)["visitors"].status == "ok"
            rows = query(root, "SELECT visitors, observed_at FROM visit_realtime")
            assert rows[0][0] == want
    assert rows == [(4, datetime(2026, 11, 28, 12, 5))]
    with Store.open(root / "build/greenhouse.duckdb", read_only=True) as store:
        report = realtime_report(store, datetime(2026, 11, 28, 13, 0))
    assert report == {
        "visitors": 4,
        "at": "2026-11-28T12:05:00Z",
        "source": "sidecar",
        "note": "4 visitors in the 5 minutes before 2026-11-28T12:05:00Z (from the sidecar)",
    }


def test_without_the_sidecar_figure_realtime_is_approximated(tmp_path: Path) -> None:
    from greenhouse.analytics import realtime_report

    root = site_with(tmp_path / "site", event_dir="events")
    write_log(root / "events", [event(1, now_iso(timedelta(minutes=-2)))])
    assert sync(root, token=None)["visitors"].status == "ok"
    with Store.open(root / "build/greenhouse.duckdb", read_only=True) as store:
        report = realtime_report(store, utcnow().replace(tzinfo=None))
    assert report["visitors"] == 1 and report["source"] == "events" and report["at"] is None


def test_stats_without_visits_or_build(demo_site: Path, cli: Callable[..., Any]) -> None:
    _build(cli, demo_site)
    result = cli("stats", "--root", str(demo_site))
    assert result.exit_code == 0, result.output
    assert "Garden" in result.output and "Visitors" in result.output
    result = cli("stats", "--json", "--days", "7", "--root", str(demo_site))
    report = json.loads(result.output)
    assert report["days"] == 7 and len(report["daily"]) == 7 and report["garden"]["plants"] > 0


def test_unused_date_import_guard() -> None:
    assert date(2026, 1, 1) < date(2026, 1, 2) and time.time() > 0
