"""Real local weather: one observation per sync, from Open-Meteo or OpenWeatherMap.

Both providers' codes map onto the garden's six skies (``condition``):
sunny, cloudy, rainy, stormy, foggy, snowy. Open-Meteo needs no key;
OpenWeatherMap needs ``WEATHER_API_KEY`` (a new key takes a while to
activate, and answers 401 until then).
"""

from __future__ import annotations

from typing import Any

from greenhouse.errors import AuthError, SourceError
from greenhouse.sources.http import Reply
from greenhouse.sources.run import Outcome, SourceRun

OPEN_METEO = "https://api.open-meteo.com"
OPENWEATHERMAP = "https://api.openweathermap.org"
CONDITIONS = ("sunny", "cloudy", "rainy", "stormy", "foggy", "snowy")


def wmo_condition(code: int) -> str:
    """The garden sky of a WMO weather code (Open-Meteo's ``weather_code``)."""
    if code in (0, 1):
        return "sunny"
    if code in (2, 3):
        return "cloudy"
    if code in (45, 48):
        return "foggy"
    if 71 <= code <= 77 or code in (85, 86):
        return "snowy"
    if 95 <= code <= 99:
        return "stormy"
    if 51 <= code <= 67 or 80 <= code <= 82:
        return "rainy"
    return "cloudy"


def owm_condition(code: int) -> str:
    """The garden sky of an OpenWeatherMap condition id (``weather[0].id``)."""
    if 200 <= code < 300 or code in (771, 781):  # thunderstorm, squalls, tornado
        return "stormy"
    if 300 <= code < 600:  # drizzle and rain
        return "rainy"
    if 600 <= code < 700:
        return "snowy"
    if 700 <= code < 800:  # mist, smoke, haze, dust, fog
        return "foggy"
    if code in (800, 801):  # clear, few clouds
        return "sunny"
    return "cloudy"


def sync_weather(run: SourceRun) -> Outcome:
    """Store the current weather at ``[weather] latitude/longitude``."""
    cfg = run.config.weather
    if cfg.provider == "none" or cfg.latitude is None or cfg.longitude is None:
        raise SourceError("weather", "set [weather] latitude and longitude in greenhouse.toml")
    if cfg.provider == "openweathermap":
        source, observation = _openweathermap(run, cfg.latitude, cfg.longitude)
    else:
        source, observation = _open_meteo(run, cfg.latitude, cfg.longitude)
    code, condition, temperature, wind, clouds = observation
    with run.store.transaction() as conn:
        conn.execute(
            "INSERT INTO weather_obs VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
            "condition = excluded.condition, code = excluded.code, "
            "temperature = excluded.temperature, wind_speed = excluded.wind_speed, "
            "cloud_cover = excluded.cloud_cover",
            [source, run.now(), condition, code, temperature, wind, clouds],
        )
    temp = f", {temperature:.1f} °C" if temperature is not None else ""
    return Outcome("ok", f"weather: {condition}{temp} ({source}), {run.requests} requests")


Observation = tuple[int | None, str, float | None, float | None, float | None]


def _open_meteo(run: SourceRun, latitude: float, longitude: float) -> tuple[str, Observation]:
    base = (run.config.weather.api_url or OPEN_METEO).rstrip("/")
    client = run.client(base + "/")
    reply = client.get(
        f"{base}/v1/forecast",
        params={
            "latitude": latitude,
            "longitude": longitude,
            "timezone": "auto",
            "current": "temperature_2m,weather_code,wind_speed_10m,cloud_cover",
        },  # fmt: skip
        conditional=False,
    )
    body = _object(reply)
    if reply.status != 200:
        reason = str(body.get("reason") or f"HTTP {reply.status}")[:200]
        raise SourceError("weather", f"Open-Meteo refused the request: {reason}")
    current = body.get("current") or {}
    code = _int(current.get("weather_code"))
    if code is None:
        raise SourceError("weather", "Open-Meteo answered without a current weather_code")
    return "open-meteo", (
        code,
        wmo_condition(code),
        _float(current.get("temperature_2m")),
        _float(current.get("wind_speed_10m")),
        _float(current.get("cloud_cover")),
    )


def _openweathermap(run: SourceRun, latitude: float, longitude: float) -> tuple[str, Observation]:
    key = run.secrets.weather_api_key
    if not key:
        raise SourceError(
            "weather", 'OpenWeatherMap needs WEATHER_API_KEY (or use provider = "open-meteo")'
        )
    base = (run.config.weather.api_url or OPENWEATHERMAP).rstrip("/")
    client = run.client(base + "/")
    reply = client.get(
        f"{base}/data/2.5/weather",
        params={"lat": latitude, "lon": longitude, "appid": key, "units": "metric"},
        conditional=False,
    )
    body = _object(reply)
    cod = _int(body.get("cod")) or reply.status  # an int or a string, depending on the answer
    if reply.status == 401 or cod == 401:
        raise AuthError(
            "weather",
            "OpenWeatherMap rejected WEATHER_API_KEY (401); a new key can take a few hours to "
            "activate: wait and retry, or check the key at home.openweathermap.org/api_keys",
        )
    if reply.status != 200 or cod != 200:
        message = str(body.get("message") or f"HTTP {reply.status}")[:200]
        raise SourceError("weather", f"OpenWeatherMap refused the request: {message}")
    weather = (body.get("weather") or [{}])[0] or {}
    code = _int(weather.get("id"))
    if code is None:
        raise SourceError("weather", "OpenWeatherMap answered without weather[0].id")
    return "openweathermap", (
        code,
        owm_condition(code),
        _float((body.get("main") or {}).get("temp")),
        _float((body.get("wind") or {}).get("speed")),
        _float((body.get("clouds") or {}).get("all")),
    )


def _object(reply: Reply) -> dict[str, Any]:
    try:
        body = reply.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
