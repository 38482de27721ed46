"""The garden's sky: a daily mood from coding rhythm, music and the real weather.

Pure: the inputs are passed in, nothing is fetched or read from a clock.

* **Coding rhythm** — the last 7 days of activity against the owner's own
  baseline (the mean week of the 12 weeks before): silence is foggy, a crunch
  (more than ``CRUNCH`` times the baseline) is stormy, steady work is sunny,
  a slow week is cloudy.
* **Music** — valence and energy from audio features when the plays carry
  them, otherwise from the listening rhythm (how much was played, and how
  late at night).
* **Real weather** — a recent observation of rain, snow, fog or a storm
  outside brings it into the garden.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

CONDITIONS = ("sunny", "cloudy", "rainy", "stormy", "foggy", "snowy")
CRUNCH = 2.0
SLOW = 0.5
WET = {"rainy", "stormy", "snowy", "foggy"}


@dataclass(frozen=True)
class Play:
    """One played track (features are None when the upstream withholds them)."""

    played_at: datetime
    valence: float | None = None
    energy: float | None = None


@dataclass(frozen=True)
class Observation:
    """One real-weather observation."""

    observed_at: datetime
    condition: str
    temperature: float | None = None
    wind_speed: float | None = None
    cloud_cover: float | None = None


def rhythm(daily_activity: np.ndarray) -> tuple[float, float]:
    """This week's activity and the baseline week (mean of the 12 weeks before)."""
    week = float(daily_activity[-7:].sum()) if daily_activity.size else 0.0
    before = daily_activity[-91:-7]
    baseline = float(before.sum()) / max(len(before) / 7.0, 1.0) if before.size else 0.0
    return week, baseline


def music_mood(plays: list[Play], now: datetime) -> dict[str, float | str]:
    """Valence and energy (0..1) of the last week's listening."""
    recent = [p for p in plays if now - timedelta(days=7) <= p.played_at <= now]
    featured = [p for p in recent if p.valence is not None and p.energy is not None]
    if featured:
        valence = sum(p.valence for p in featured) / len(featured)  # type: ignore[misc]
        energy = sum(p.energy for p in featured) / len(featured)  # type: ignore[misc]
        return {"valence": round(valence, 3), "energy": round(energy, 3), "basis": "audio features"}
    if not recent:
        return {"valence": 0.5, "energy": 0.3, "basis": "no music"}
    # No features (Spotify withholds them from new apps): rhythm stands in.
    per_day = len(recent) / 7.0
    late = sum(1 for p in recent if p.played_at.hour >= 23 or p.played_at.hour < 5) / len(recent)
    energy = 1.0 - math.exp(-per_day / 20.0)
    valence = max(0.0, min(1.0, 0.65 - 0.4 * late))
    return {"valence": round(valence, 3), "energy": round(energy, 3), "basis": "listening rhythm"}


def compute_weather(
    now: datetime,
    daily_activity: np.ndarray,
    plays: list[Play],
    observation: Observation | None,
) -> dict[str, object]:
    """The weather document's core: ``condition``, ``intensity``, ``mood`` and the inputs."""
    week, baseline = rhythm(daily_activity)
    ratio = week / baseline if baseline > 0 else (CRUNCH + 1.0 if week > 0 else 0.0)
    if week == 0:
        condition, intensity = "foggy", 0.6 if baseline > 0 else 0.3
    elif ratio > CRUNCH:
        condition, intensity = "stormy", min(1.0, 0.4 + (ratio - CRUNCH) / 4.0)
    elif ratio >= SLOW:
        condition, intensity = "sunny", min(1.0, 0.5 + 0.25 * min(ratio, 2.0))
    else:
        condition, intensity = "cloudy", min(1.0, 0.3 + (SLOW - ratio))
    basis = "coding rhythm"
    recent_obs = observation is not None and now - observation.observed_at <= timedelta(days=1)
    if recent_obs and observation is not None and observation.condition in WET:
        condition, basis = observation.condition, "real weather"
        intensity = max(intensity, 0.5)
    mood = music_mood(plays, now)
    return {
        "condition": condition,
        "intensity": round(float(intensity), 3),
        "mood": {"valence": mood["valence"], "energy": mood["energy"]},
        "inputs": {
            "basis": basis,
            "commits_7d": round(week, 2),
            "baseline_7d": round(baseline, 2),
            "music": mood["basis"],
            "outside": None
            if observation is None
            else {
                "condition": observation.condition,
                "temperature": observation.temperature,
                "wind_speed": observation.wind_speed,
                "observed_at": observation.observed_at.isoformat() + "Z",
            },
        },
    }
