"""Visitors: the sidecar's visit events, pulled back into the store.

Two ways in, chosen by configuration:

- ``[live] event_dir`` (the sidecar runs on this machine): the event-log
  files ``<event_dir>/<instance>/<YYYYMMDD>.jsonl`` are read by DuckDB's
  ``read_json`` in one set-based pass, one cursor (the last id) per instance;
- ``[live] export_url`` + ``GREENHOUSE_LIVE_TOKEN``: ``GET /api/events``
  page by page, each page committed with its cursor (an interrupted sync
  resumes after the last committed page). The export answer also carries
  the sidecar's realtime figure (distinct visitors in the 5 minutes before
  its ``at``); the latest one received is kept in ``visit_realtime``.

Either way the events go through :func:`greenhouse.store.visits.ingest_staged`
(deduplicated by id, aggregates of the touched days recomputed), and raw
events older than ``[analytics] retention_days`` are deleted at the end.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from greenhouse.errors import AuthError, SourceError
from greenhouse.sources.http import PoliteClient
from greenhouse.sources.run import Outcome, SourceRun, insert_many
from greenhouse.store.visits import (
    JSON_COLUMNS,
    Ingested,
    Realtime,
    create_staging,
    expire_events,
    ingest_staged,
    save_realtime,
)

SOURCE = "visitors"
PAGE = 1000
#: Pages read per sync (10 million events); the rest waits for the next one.
MAX_PAGES = 10_000
FIELDS = ("id", "ts", "visitor", "type", "project", "action", "referrer", "device", "duration")


def sync_visitors(run: SourceRun) -> Outcome:
    """Ingest the visit events recorded since the last sync."""
    live = run.config.live
    total = Ingested()
    message: str | None = None
    try:
        if live.event_dir:
            root = Path(run.root) if run.root is not None else Path.cwd()
            folder = Path(live.event_dir)
            folder = folder if folder.is_absolute() else root / folder
            ingest_folder(run, folder, total)
        else:
            assert live.export_url is not None
            message = ingest_export(run, live.export_url, total)
    finally:
        # Whatever was committed is aggregated already; expire what is too old.
        with run.store.transaction() as conn:
            deleted = expire_events(conn, run.now().date(), run.config.analytics.retention_days)
    _warn(run, total)
    summary = f"visitors: {total.stored} new events over {total.days} day(s)"
    if deleted:
        summary += f", {deleted} expired"
    if message:
        return Outcome("partial", summary, message)
    return Outcome("ok", summary)


def ingest_folder(run: SourceRun, folder: Path, total: Ingested) -> None:
    """Read every instance's new events from the local event-log folder."""
    if not folder.is_dir():
        raise SourceError(SOURCE, f"{folder}: no such folder; check [live] event_dir")
    cursor = run.cursor()
    after: dict[str, str] = dict(cursor.get("instances") or {})
    for instance in sorted(p for p in folder.iterdir() if p.is_dir()):
        last = after.get(instance.name, "")
        first_day = last[:8]
        files = sorted(
            str(p) for p in instance.glob("*.jsonl") if p.stem >= first_day and p.stat().st_size
        )
        if not files:
            continue
        # ignore_errors skips a torn last line (the sidecar writing right now);
        # it is read whole by the next sync, its id being newer than the cursor.
        source = (
            "(SELECT * FROM read_json(?, columns = "
            + _struct(JSON_COLUMNS)
            + ", format = 'newline_delimited', ignore_errors = true) WHERE id > ?)"
        )
        with run.store.transaction() as conn:
            batch = ingest_staged(conn, run.now(), source, [files, last])
            total.add(batch)
            if batch.newest:
                after[instance.name] = batch.newest
            run.save_cursor(conn, {**cursor, "instances": after})
        run.progress(total.received)


def ingest_export(run: SourceRun, export_url: str, total: Ingested) -> str | None:
    """Page through ``/api/events``; returns a note when stopped before the end.

    The latest realtime figure the pages carried is stored at the end.
    """
    figures: list[Realtime] = []
    try:
        return _ingest_pages(run, export_url, total, figures)
    finally:
        if figures:
            with run.store.transaction() as conn:
                save_realtime(conn, figures[-1], run.now())


def _ingest_pages(
    run: SourceRun, export_url: str, total: Ingested, figures: list[Realtime]
) -> str | None:
    token = run.secrets.live_token
    if not token:
        raise AuthError(
            SOURCE,
            "set the GREENHOUSE_LIVE_TOKEN environment variable to the sidecar's export token",
        )
    run.scrub.add(token)
    base = export_url.rstrip("/")
    client = run.client(base + "/api/events", headers={"Authorization": f"Bearer {token}"})
    cursor = run.cursor()
    after = cursor.get("after")
    for _ in range(MAX_PAGES):
        events, following, figure = _page(client, base, after)
        if figure is not None:
            figures.append(figure)
        if not events:
            return None
        if following is not None and following == after:
            return None  # a cursor that does not move: stop rather than loop
        with run.store.transaction() as conn:
            create_staging(conn)
            insert_many(
                conn,
                f"INSERT INTO visit_staging ({', '.join(FIELDS)})",
                _unique_rows(events),
            )
            total.add(ingest_staged(conn, run.now()))
            after = following
            run.save_cursor(conn, {**cursor, "after": after})
        run.progress(total.received)
        if following is None:
            return None
    return f"read {MAX_PAGES} pages; the next sync continues from there"


def _page(
    client: PoliteClient, base: str, after: str | None
) -> tuple[list[Any], str | None, Realtime | None]:
    """One export page (and its realtime figure, if well formed), retrying an
    unparsable (truncated) answer a few times."""
    params: dict[str, Any] = {"limit": PAGE}
    if after:
        params["after"] = after
    for attempt in range(client.options.retries + 1):
        reply = client.get(base + "/api/events", params=params, conditional=False)
        if reply.status == 401:
            raise AuthError(
                SOURCE,
                f"{base}/api/events refused the token (HTTP 401); set GREENHOUSE_LIVE_TOKEN "
                "to the sidecar's export token",
            )
        if reply.status != 200:
            raise SourceError(SOURCE, f"{base}/api/events answered HTTP {reply.status}")
        try:
            body = json.loads(reply.text)
            events = body["events"]
            following = body.get("next")
            if not isinstance(events, list) or not (
                following is None or isinstance(following, str)
            ):
                raise TypeError("unexpected shape")
        except (ValueError, KeyError, TypeError):
            if attempt < client.options.retries:
                client.sleep(client.backoff(attempt))
                continue
            raise SourceError(
                SOURCE,
                f"{base}/api/events kept answering with an invalid page after {attempt + 1} "
                "attempts; kept the events ingested so far",
            ) from None
        return [e for e in events if isinstance(e, dict)], following, _realtime(body)
    raise SourceError(SOURCE, "no answer")  # pragma: no cover - the loop returns or raises


def _realtime(body: Any) -> Realtime | None:
    """The ``realtime`` field of an export answer; None when absent or malformed."""
    value = body.get("realtime") if isinstance(body, dict) else None
    if not isinstance(value, dict):
        return None
    visitors, at = value.get("visitors_5m"), value.get("at")
    if not isinstance(visitors, int) or isinstance(visitors, bool) or visitors < 0:
        return None
    if not isinstance(at, str):
        return None
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None  # without a zone the time is ambiguous: better no figure
    return Realtime(visitors, moment.astimezone(UTC).replace(tzinfo=None))


def _unique_rows(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Staging rows of a page, an id repeated within the page kept once (the first)."""
    rows: dict[Any, tuple[Any, ...]] = {}
    for event in events:
        row = _row(event)
        rows.setdefault(row[0], row)
    return list(rows.values())


def _row(event: dict[str, Any]) -> tuple[Any, ...]:
    values: list[Any] = []
    for name in FIELDS:
        value = event.get(name)
        if name == "duration":
            value = (
                value if isinstance(value, int | float) and not isinstance(value, bool) else None
            )
        elif value is not None and not isinstance(value, str):
            value = None
        values.append(value)
    return tuple(values)


def _struct(columns: dict[str, str]) -> str:
    return "{" + ", ".join(f"'{k}': '{v}'" for k, v in columns.items()) + "}"


def _warn(run: SourceRun, total: Ingested) -> None:
    if total.invalid:
        run.warn(f"skipped {total.invalid} malformed event(s)")
    if total.clamped:
        run.warn(
            f"{total.clamped} event(s) were dated in the future (sidecar clock ahead?); "
            "counted at the sync time"
        )
    if total.expired:
        run.warn(f"dropped {total.expired} event(s) older than [analytics] retention_days")
