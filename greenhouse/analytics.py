"""Visitor analytics read back from the store's aggregates.

Two audiences:

- :func:`dashboard` is *published* (``api/v1/analytics/dashboard.json`` and
  the analytics page, only with ``[analytics] publish = true``): every count
  between 1 and ``min_count - 1`` is replaced by ``None``, and referrers seen
  by fewer than ``min_count`` visitors are left out, so no single visitor
  stands out;
- :func:`stats_report` is the owner's private view (``greenhouse stats``):
  exact counts, referrers, busiest hours, garden health and stale sources.

Both read only the aggregate tables (never the raw events), so they show the
same figures after the raw events have expired.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from greenhouse.store import Store
from greenhouse.store.visits import load_realtime

#: "Realtime" without the sidecar's figure: distinct visitors with an event this recent.
REALTIME_WINDOW = timedelta(minutes=5)


def _rows(store: Store, sql: str, params: list[object]) -> list[tuple[Any, ...]]:
    return store.conn.execute(sql, params).fetchall()


def _window(today: date, days: int) -> tuple[date, date]:
    return today - timedelta(days=days - 1), today


def collect(store: Store, today: date, days: int) -> dict[str, Any]:
    """Exact figures of the *days* ending *today* (inclusive), from the aggregates."""
    first, last = _window(today, days)
    span: list[object] = [first, last]
    by_day = {
        r[0]: r[1:]
        for r in _rows(
            store,
            "SELECT day, visitors, visits, views, interactions, seconds FROM visit_daily "
            "WHERE day BETWEEN ? AND ?",
            span,
        )
    }
    daily = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        visitors, visits, views, interactions, seconds = by_day.get(day, (0, 0, 0, 0, 0.0))
        daily.append(
            {
                "date": day.isoformat(),
                "visitors": visitors,
                "visits": visits,
                "views": views,
                "interactions": interactions,
                "seconds": round(float(seconds), 1),
            }
        )
    totals = {
        key: sum(int(d[key]) for d in daily)
        for key in ("visitors", "visits", "views", "interactions")
    }
    actions: dict[str, dict[str, int]] = {}
    for project, action, count in _rows(
        store,
        "SELECT project, action, sum(count)::INTEGER FROM visit_actions "
        "WHERE day BETWEEN ? AND ? GROUP BY ALL ORDER BY ALL",
        span,
    ):
        actions.setdefault(project, {})[action] = count
    projects = [
        {
            "id": r[0] or None,
            "views": r[1],
            "interactions": r[2],
            "visitors": r[3],
            "seconds": round(float(r[4]), 1),
            "actions": actions.get(r[0], {}),
        }
        for r in _rows(
            store,
            "SELECT project, sum(views)::INTEGER AS v, sum(interactions)::INTEGER, "
            "sum(visitors)::INTEGER, sum(seconds) FROM visit_projects WHERE day BETWEEN ? AND ? "
            "GROUP BY project ORDER BY v DESC, project",
            span,
        )
    ]
    referrers = [
        {"domain": r[0], "views": r[1], "visitors": r[2]}
        for r in _rows(
            store,
            "SELECT referrer, sum(views)::INTEGER AS v, sum(visitors)::INTEGER FROM visit_referrers "
            "WHERE day BETWEEN ? AND ? GROUP BY referrer ORDER BY v DESC, referrer LIMIT 20",
            span,
        )
    ]
    devices = {
        r[0]: r[1]
        for r in _rows(
            store,
            "SELECT device, sum(visitors)::INTEGER FROM visit_devices WHERE day BETWEEN ? AND ? "
            "GROUP BY device ORDER BY device",
            span,
        )
    }
    hours = [0] * 24
    for hour, views in _rows(
        store,
        "SELECT hour, sum(views)::INTEGER FROM visit_hours WHERE day BETWEEN ? AND ? GROUP BY hour",
        span,
    ):
        hours[int(hour)] = views
    action_totals: dict[str, int] = {}
    for per_project in actions.values():
        for action, count in per_project.items():
            action_totals[action] = action_totals.get(action, 0) + count
    return {
        "days": days,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "totals": totals,
        "daily": daily,
        "projects": projects,
        "actions": dict(sorted(action_totals.items())),
        "referrers": referrers,
        "devices": devices,
        "hours": hours,
    }


def _hide(value: Any, min_count: int) -> Any:
    """A count below *min_count* (but not zero) becomes None."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < min_count:
        return None
    return value


def dashboard(store: Store, today: date, days: int, min_count: int) -> dict[str, Any]:
    """The published dashboard: :func:`collect` with small counts hidden."""
    exact = collect(store, today, days)
    hide = lambda v: _hide(v, min_count)  # noqa: E731

    def hidden(row: dict[str, Any]) -> dict[str, Any]:
        return {k: hide(v) if k not in ("date", "id", "domain") else v for k, v in row.items()}

    projects = []
    for project in exact["projects"]:
        row = hidden({k: v for k, v in project.items() if k not in ("actions", "seconds")})
        # Time spent is shown only where enough visitors make it an average.
        row["seconds"] = project["seconds"] if row["visitors"] is not None else None
        row["actions"] = {a: hide(c) for a, c in project["actions"].items()}
        projects.append(row)
    return {
        "days": days,
        "min_count": min_count,
        "from": exact["from"],
        "to": exact["to"],
        "totals": {k: hide(v) for k, v in exact["totals"].items()},
        "daily": [hidden({k: v for k, v in d.items() if k != "seconds"}) for d in exact["daily"]],
        "projects": projects,
        "actions": {a: hide(c) for a, c in exact["actions"].items()},
        # A rare referrer could name a visitor's own site: only common ones are shown.
        "referrers": [r for r in exact["referrers"] if r["visitors"] >= max(min_count, 1)],
        "devices": {d: hide(c) for d, c in exact["devices"].items()},
        "hours": [hide(v) for v in exact["hours"]],
    }


def realtime(store: Store, now: datetime) -> int:
    """Distinct visitors with an event in the last five minutes before *now* (as synced)."""
    row = store.conn.execute(
        "SELECT count(DISTINCT visitor) FROM visit_events WHERE ts > ?", [now - REALTIME_WINDOW]
    ).fetchone()
    return int(row[0]) if row else 0


def realtime_report(store: Store, now: datetime) -> dict[str, Any]:
    """The sidecar's latest realtime figure (kept by the visitors sync through the
    export endpoint), or else the approximation from the synced events."""
    figure = load_realtime(store.conn)
    if figure is not None:
        at = figure.at.isoformat(timespec="seconds") + "Z"
        return {
            "visitors": figure.visitors,
            "at": at,
            "source": "sidecar",
            "note": f"{figure.visitors} visitors in the 5 minutes before {at} (from the sidecar)",
        }
    visitors = realtime(store, now)
    return {
        "visitors": visitors,
        "at": None,
        "source": "events",
        "note": f"{visitors} distinct visitors in the 5 minutes before the last visitors sync "
        "(approximated from the synced events)",
    }


def stats_report(
    store: Store, now: datetime, days: int, garden_index: Path | None = None
) -> dict[str, Any]:
    """The owner's private report: exact analytics, garden health and source freshness."""
    from greenhouse.sources.sync import freshness

    report = collect(store, now.date(), days)
    report["realtime"] = realtime_report(store, now)
    report["garden"] = _garden(garden_index)
    sources = freshness(store, now)
    report["sources"] = sources
    report["stale"] = sorted(name for name, row in sources.items() if row["stale"])
    return report


def _garden(index: Path | None) -> dict[str, Any] | None:
    """Stage counts of the last published garden (None before the first build)."""
    if index is None or not index.is_file():
        return None
    try:
        doc = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    plants = doc.get("plants") or []
    return {
        "date": doc.get("date"),
        "stages": doc.get("stages") or {},
        "plants": len(plants),
        "health": round(sum(p.get("health", 0) for p in plants) / len(plants), 3)
        if plants
        else None,
    }


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[int]) -> str:
    """A one-line bar chart of *values*."""
    top = max(values, default=0)
    if top <= 0:
        return SPARKS[0] * len(values)
    return "".join(SPARKS[min(len(SPARKS) - 1, v * (len(SPARKS) - 1) // top)] for v in values)


def print_report(report: dict[str, Any], console: Any) -> None:
    """Render a :func:`stats_report` on a ``rich`` console."""
    from rich.table import Table

    totals = report["totals"]
    daily = report["daily"]
    console.print(
        f"[bold]Visitors[/bold] {report['from']} → {report['to']} ({report['days']} days): "
        f"{totals['visitors']} visitors, {totals['visits']} visits, {totals['views']} views, "
        f"{totals['interactions']} interactions"
    )
    console.print(f"  visitors {sparkline([d['visitors'] for d in daily])}")
    console.print(f"  views    {sparkline([d['views'] for d in daily])}")
    console.print(f"  realtime: {report['realtime']['note']}")
    projects = Table(title="Top projects", title_justify="left")
    for column in ("project", "views", "interactions", "visitors", "time"):
        projects.add_column(column, justify="left" if column == "project" else "right")
    for p in report["projects"][:10]:
        projects.add_row(
            p["id"] or "(overview)",
            str(p["views"]),
            str(p["interactions"]),
            str(p["visitors"]),
            f"{p['seconds'] / 60:.1f} min",
        )
    console.print(projects)
    if report["actions"]:
        console.print(
            "Interactions: " + ", ".join(f"{a} {n}" for a, n in report["actions"].items())
        )
    if report["referrers"]:
        console.print(
            "Referrers: "
            + ", ".join(f"{r['domain']} {r['views']}" for r in report["referrers"][:8])
        )
    if report["devices"]:
        console.print("Devices: " + ", ".join(f"{d} {n}" for d, n in report["devices"].items()))
    hours = report["hours"]
    if any(hours):
        busiest = sorted(range(24), key=lambda h: (-hours[h], h))[:3]
        console.print(
            f"Busiest hours (UTC): {', '.join(f'{h:02d}:00' for h in busiest)}  {sparkline(hours)}"
        )
    garden = report["garden"]
    if garden is None:
        console.print("Garden: no published garden yet (run `greenhouse build`).")
    else:
        stages = ", ".join(f"{n} {s}" for s, n in garden["stages"].items() if n)
        console.print(
            f"Garden ({garden['date']}): {garden['plants']} plants — {stages}; "
            f"mean health {garden['health']}"
        )
    stale = report["stale"]
    console.print("Stale sources: " + ", ".join(stale) if stale else "Sources: all fresh")
