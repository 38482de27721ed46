"""Visit events in the store: ingest, aggregate, expire.

The sidecar's events arrive in a temporary ``visit_staging`` table (from an
export page, or straight from the event-log files through DuckDB's
``read_json``). :func:`ingest_staged` then, in set-based SQL:

1. cleans them: ids, visitor keys and types that do not match the event-log
   format are dropped (so nothing but a keyed hash ever lands in the store),
   timestamps more than :data:`FUTURE_SKEW` ahead of the sync are clamped to
   the sync time (a sidecar clock running fast), events of days already
   expired are dropped (their day's aggregates cannot be recomputed any more);
2. appends the ones whose id is not stored yet (an anti-join: the same event
   ingested twice is stored once). Ids are unique within one batch: the
   sidecar's log never repeats one, and export pages are deduplicated by the
   caller (a hash de-duplication of a million-row batch would cost more than
   everything else here);
3. recomputes every aggregate of the days it touched from the raw events, and
   the ``engagement`` rows (source ``visitors``) the growth model reads.

Aggregates live in tables of their own, so :func:`expire_events` can delete
raw events older than ``[analytics] retention_days`` and keep them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import duckdb

#: A visit ends after this much idle time.
VISIT_GAP = timedelta(minutes=30)
#: Events dated later than the sync by more than this are clamped to the sync time.
FUTURE_SKEW = timedelta(minutes=5)
#: Longest believable time on one view (a forgotten tab counts this much at most).
MAX_DWELL_SECONDS = 30 * 60
META_PRUNED = "visits_pruned_before"

STAGING_COLUMNS = (
    "id VARCHAR, ts VARCHAR, visitor VARCHAR, type VARCHAR, project VARCHAR, "
    "action VARCHAR, referrer VARCHAR, device VARCHAR, duration DOUBLE"
)
#: The same columns for ``read_json(columns=…)``.
JSON_COLUMNS = {
    "id": "VARCHAR",
    "ts": "VARCHAR",
    "visitor": "VARCHAR",
    "type": "VARCHAR",
    "project": "VARCHAR",
    "action": "VARCHAR",
    "referrer": "VARCHAR",
    "device": "VARCHAR",
    "duration": "DOUBLE",
}


@dataclass
class Ingested:
    """What one ingestion did."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    invalid: int = 0
    clamped: int = 0
    expired: int = 0
    days: int = 0
    #: The largest well-formed id read (the next cursor of a local log), or "".
    newest: str = ""

    def add(self, other: Ingested) -> None:
        """Accumulate another batch's counts."""
        for name in self.__dataclass_fields__:
            if name == "newest":
                self.newest = max(self.newest, other.newest)
            else:
                setattr(self, name, getattr(self, name) + getattr(other, name))


def create_staging(conn: duckdb.DuckDBPyConnection, source_sql: str | None = None) -> None:
    """(Re)create the temporary staging table, empty or ``AS`` *source_sql*."""
    conn.execute("DROP TABLE IF EXISTS visit_staging")
    if source_sql is None:
        conn.execute(f"CREATE TEMP TABLE visit_staging ({STAGING_COLUMNS})")
    else:
        conn.execute(f"CREATE TEMP TABLE visit_staging AS {source_sql}")


def pruned_before(conn: duckdb.DuckDBPyConnection) -> date | None:
    """The first day whose raw events are still complete (None: nothing expired yet)."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", [META_PRUNED]).fetchall()
    return date.fromisoformat(row[0][0]) if row else None


def ingest_staged(
    conn: duckdb.DuckDBPyConnection,
    now: datetime,
    source: str = "visit_staging",
    params: list[object] | None = None,
) -> Ingested:
    """Move the events of *source* into ``visit_events`` and refresh the touched days.

    *source* is a table or a table function (``read_json(?, …)`` with
    *params*): it is read once. Runs inside the caller's transaction; *now* is
    the sync time (naive UTC).
    """
    floor = pruned_before(conn) or date(1970, 1, 1)
    conn.execute(
        """
        CREATE OR REPLACE TEMP TABLE visit_clean AS
        WITH parsed AS (
            SELECT id, try_cast(replace(ts, 'Z', '') AS TIMESTAMP) AS ts, visitor, type,
                   CASE WHEN length(project) BETWEEN 1 AND 200 THEN project END AS project,
                   CASE WHEN type = 'interact' THEN action END AS action,
                   CASE WHEN type = 'view' AND regexp_full_match(referrer, '[A-Za-z0-9.-]{1,253}')
                        THEN lower(referrer) END AS referrer,
                   CASE WHEN device IN ('desktop', 'mobile', 'tablet') THEN device END AS device,
                   CASE WHEN type = 'leave' THEN least(greatest(coalesce(duration, 0), 0), ?) END
                       AS duration,
                   coalesce(regexp_full_match(id, '[0-9]{8}-[0-9]{10}-[a-z0-9-]{1,32}'), false)
                       AS id_ok,
                   coalesce(regexp_full_match(visitor, '[0-9a-f]{32}')
                       AND type IN ('view', 'interact', 'leave')
                       AND (type <> 'interact' OR action IN ('like', 'water', 'share', 'open_repo')),
                       false) AS fields_ok
            FROM {source}
        )
        -- Only stamps beyond the allowed skew are clamped; small skews stay as sent.
        SELECT id, CASE WHEN ts > ?::TIMESTAMP THEN ?::TIMESTAMP ELSE ts END AS ts,
               ts > ?::TIMESTAMP AS clamped,
               visitor, type, project, action, referrer, device, duration, id_ok,
               id_ok AND fields_ok AND ts IS NOT NULL AS valid
        FROM parsed
        """.replace("{source}", source),
        [MAX_DWELL_SECONDS, *(params or []), now + FUTURE_SKEW, now, now + FUTURE_SKEW],
    )
    row = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE valid), "
        "count(*) FILTER (WHERE valid AND clamped), "
        "count(*) FILTER (WHERE valid AND ts::DATE < ?), max(id) FILTER (WHERE id_ok) "
        "FROM visit_clean",
        [floor],
    ).fetchone()
    assert row is not None
    received, valid, clamped, expired = (int(v or 0) for v in row[:4])
    newest = str(row[4] or "")
    inserted = conn.execute(
        """
        INSERT INTO visit_events
        SELECT c.id, c.ts, c.ts::DATE, c.visitor, c.type, c.project, c.action,
               c.referrer, c.device, c.duration
        FROM visit_clean c
        WHERE c.valid AND c.ts::DATE >= ?
          AND NOT EXISTS (SELECT 1 FROM visit_events e WHERE e.id = c.id)
        """,
        [floor],
    ).fetchone()
    stored = int(inserted[0]) if inserted else 0
    days = 0
    if stored:
        # Days of the batch (a superset of those that changed: recomputing one more is harmless).
        conn.execute(
            "CREATE OR REPLACE TEMP TABLE visit_days AS "
            "SELECT DISTINCT ts::DATE AS day FROM visit_clean WHERE valid AND ts::DATE >= ?",
            [floor],
        )
        days = _count(conn, "SELECT count(*) FROM visit_days")
        aggregate_days(conn)
    for table in ("visit_clean", "visit_days", "visit_staging"):
        conn.execute(f"DROP TABLE IF EXISTS {table}")
    return Ingested(
        received=received,
        stored=stored,
        duplicates=valid - expired - stored,
        invalid=received - valid,
        clamped=clamped,
        expired=expired,
        days=days,
        newest=newest,
    )


def aggregate_days(conn: duckdb.DuckDBPyConnection) -> None:
    """Recompute every aggregate of the days listed in ``visit_days`` from the raw events."""
    conn.execute(
        """
        CREATE OR REPLACE TEMP TABLE visit_scope AS
        WITH e AS (
            SELECT ts, day, visitor, type, project, action, referrer, device, duration
            FROM visit_events WHERE day IN (SELECT day FROM visit_days)
        ), ordered AS (
            SELECT *,
                   lag(ts) OVER w AS prev_ts,
                   lead(ts) OVER w AS next_ts,
                   lead(type) OVER w AS next_type
            FROM e
            -- ties (same millisecond) give the same visits and dwell in any order
            WINDOW w AS (PARTITION BY day, visitor ORDER BY ts)
        )
        SELECT ts, day, visitor, type, project, action, referrer, device,
               prev_ts IS NULL OR ts - prev_ts > ? AS visit_start,
               CASE
                   WHEN type = 'leave' THEN duration
                   -- a view followed by another view (a move) lasted until it
                   WHEN type = 'view' AND next_type = 'view' AND next_ts - ts <= ?
                       THEN epoch(next_ts - ts)
                   ELSE 0
               END AS dwell
        FROM ordered
        """,
        [VISIT_GAP, VISIT_GAP],
    )
    for table in (
        "visit_daily",
        "visit_projects",
        "visit_actions",
        "visit_referrers",
        "visit_devices",
        "visit_hours",
    ):
        conn.execute(f"DELETE FROM {table} WHERE day IN (SELECT day FROM visit_days)")
    conn.execute(
        """
        INSERT INTO visit_daily
        SELECT day, count(DISTINCT visitor), count(*) FILTER (WHERE visit_start),
               count(*) FILTER (WHERE type = 'view'), count(*) FILTER (WHERE type = 'interact'),
               coalesce(sum(dwell), 0)
        FROM visit_scope GROUP BY day
        """
    )
    conn.execute(
        """
        INSERT INTO visit_projects
        SELECT day, coalesce(project, ''), count(*) FILTER (WHERE type = 'view'),
               count(*) FILTER (WHERE type = 'interact'),
               count(DISTINCT visitor) FILTER (WHERE type IN ('view', 'interact')),
               coalesce(sum(dwell), 0)
        FROM visit_scope GROUP BY day, coalesce(project, '')
        """
    )
    conn.execute(
        """
        INSERT INTO visit_actions
        SELECT day, coalesce(project, ''), action, count(*), count(DISTINCT visitor)
        FROM visit_scope WHERE type = 'interact' GROUP BY ALL
        """
    )
    conn.execute(
        """
        INSERT INTO visit_referrers
        SELECT day, referrer, count(*), count(DISTINCT visitor)
        FROM visit_scope WHERE type = 'view' AND referrer IS NOT NULL GROUP BY ALL
        """
    )
    conn.execute(
        """
        INSERT INTO visit_devices
        SELECT day, device, count(DISTINCT visitor)
        FROM visit_scope WHERE device IS NOT NULL GROUP BY ALL
        """
    )
    conn.execute(
        """
        INSERT INTO visit_hours
        SELECT day, hour(ts), count(*) FILTER (WHERE type = 'view'), count(DISTINCT visitor)
        FROM visit_scope GROUP BY ALL
        """
    )
    # What the growth model reads: attention per plant per day.
    conn.execute(
        """
        INSERT INTO engagement (project, day, views, interactions, visitors, source)
        SELECT project, day, views, interactions, visitors, 'visitors'
        FROM visit_projects
        WHERE project <> '' AND day IN (SELECT day FROM visit_days)
        ON CONFLICT (project, day, source) DO UPDATE SET views = excluded.views,
            interactions = excluded.interactions, visitors = excluded.visitors
        """
    )
    conn.execute("DROP TABLE visit_scope")


def expire_events(conn: duckdb.DuckDBPyConnection, today: date, retention_days: int) -> int:
    """Delete raw events older than *retention_days*; their aggregates stay.

    The cut-off is remembered: a late event for an expired day is dropped at
    ingestion, since its day could no longer be recomputed whole.
    """
    cutoff = today - timedelta(days=retention_days)
    deleted = _count(conn, "SELECT count(*) FROM visit_events WHERE day < ?", [cutoff])
    conn.execute("DELETE FROM visit_events WHERE day < ?", [cutoff])
    previous = pruned_before(conn)
    if previous is None or cutoff > previous:
        conn.execute(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [META_PRUNED, cutoff.isoformat()],
        )
    return deleted


def _count(conn: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> int:
    row = conn.execute(sql, params or []).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


@dataclass(frozen=True)
class Realtime:
    """The sidecar's realtime figure: distinct visitors in the 5 minutes before ``at``."""

    visitors: int
    at: datetime  # naive UTC, the sidecar's clock


def save_realtime(conn: duckdb.DuckDBPyConnection, figure: Realtime, received_at: datetime) -> None:
    """Keep *figure* unless a newer observation is stored already."""
    conn.execute(
        "INSERT INTO visit_realtime VALUES ('sidecar', ?, ?, ?) ON CONFLICT (name) DO UPDATE "
        "SET visitors = excluded.visitors, observed_at = excluded.observed_at, "
        "received_at = excluded.received_at "
        "WHERE excluded.observed_at >= visit_realtime.observed_at",
        [figure.visitors, figure.at, received_at],
    )


def load_realtime(conn: duckdb.DuckDBPyConnection) -> Realtime | None:
    """The latest realtime figure received from the sidecar, if any."""
    row = conn.execute(
        "SELECT visitors, observed_at FROM visit_realtime WHERE name = 'sidecar'"
    ).fetchone()
    return Realtime(int(row[0]), row[1]) if row else None
