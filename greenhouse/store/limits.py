"""State a source must remember between runs: API budgets and rotated credentials.

- ``rate_limits``: each upstream budget's remaining count and reset time, so a
  run before the reset sends nothing to an API that would only refuse it.
- ``credentials``: the newest value of a credential the upstream rotates
  (Spotify's refresh token). The environment value *seeds* it; a value the
  upstream issued later, in a rotation, wins over the seed it descends from
  and over every value ever replaced. An environment value the store has not
  seen (a new sign-in) wins and starts a new chain. Only hashes of replaced
  values are kept.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from greenhouse.store import Store

#: Replaced values remembered per credential (hashes), to recognise an old one.
RETIRED_KEPT = 20


@dataclass
class BudgetState:
    """One rate-limit budget of one source (``budget`` '*' = a pause of the whole client)."""

    budget: str
    remaining: int | None = None
    limit: int | None = None
    #: Unix time of the reset (or the pause's end).
    reset: float | None = None


def load_budgets(store: Store, source: str) -> dict[str, BudgetState]:
    """The budgets *source* left behind (all of them; the caller judges what expired)."""
    rows = store.conn.execute(
        'SELECT budget, remaining, "limit", reset_at FROM rate_limits WHERE source = ?', [source]
    ).fetchall()
    return {
        r[0]: BudgetState(r[0], r[1], r[2], r[3].replace(tzinfo=UTC).timestamp() if r[3] else None)
        for r in rows
    }


def save_budgets(store: Store, source: str, budgets: list[BudgetState]) -> None:
    """Replace the stored budgets of *source* with *budgets*."""
    with store.transaction() as conn:
        conn.execute("DELETE FROM rate_limits WHERE source = ?", [source])
        for b in budgets:
            reset = (
                datetime.fromtimestamp(b.reset, UTC).replace(tzinfo=None)
                if b.reset is not None
                else None
            )
            conn.execute(
                'INSERT INTO rate_limits (source, budget, remaining, "limit", reset_at) '
                "VALUES (?, ?, ?, ?, ?)",
                [source, b.budget, b.remaining, b.limit, reset],
            )


def sha256(value: str) -> str:
    """The hash kept of a credential value that must not be stored itself."""
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class Credential:
    """The credential to use, and where it came from."""

    value: str
    #: True when it is a value the upstream issued in a rotation (kept in the store).
    rotated: bool
    rotated_at: datetime | None = None


def current_credential(store: Store, source: str, name: str, seed: str) -> Credential:
    """The newest value of credential *name*, given the environment's *seed* value."""
    row = store.one(
        "SELECT value, seed_sha256, retired_sha256, rotated_at FROM credentials "
        "WHERE source = ? AND name = ?",
        [source, name],
    )
    if row is not None:
        value, seed_hash, retired, rotated_at = row
        seen = sha256(seed)
        if seen == seed_hash or seen in (retired or []) or value == seed:
            return Credential(value, value != seed, rotated_at)
    return Credential(seed, False)


def save_rotation(
    store: Store, source: str, name: str, seed: str, old: str, new: str, now: datetime
) -> None:
    """Keep *new*, issued by the upstream in place of *old* (which descends from *seed*)."""
    with store.transaction() as conn:
        row = conn.execute(
            "SELECT seed_sha256, retired_sha256 FROM credentials WHERE source = ? AND name = ?",
            [source, name],
        ).fetchone()
        seed_hash = sha256(seed)
        # Every value ever replaced is older than the new one, whichever sign-in it came from.
        retired = list(row[1] or []) if row else []
        retired = [h for h in [*retired, sha256(old)] if h != sha256(new)][-RETIRED_KEPT:]
        conn.execute(
            "INSERT INTO credentials (source, name, value, seed_sha256, retired_sha256, rotated_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (source, name) DO UPDATE SET "
            "value = excluded.value, seed_sha256 = excluded.seed_sha256, "
            "retired_sha256 = excluded.retired_sha256, rotated_at = excluded.rotated_at",
            [source, name, new, seed_hash, retired, now],
        )
