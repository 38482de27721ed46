"""The schema of ``greenhouse.toml``, and loading it with located errors.

Every section is a pydantic model whose every field has a default and a
description; unknown keys are refused (with a "did you mean"). Secrets never
live here: they come from the environment (:class:`Secrets`).
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    create_model,
    field_validator,
)

from greenhouse.errors import ConfigError, Problem
from greenhouse.locations import CONFIG_FILE as CONFIG_FILE  # callers name it config.CONFIG_FILE
from greenhouse.locations import DB, DEMO, OUTPUT
from greenhouse.tomltext import TomlSyntaxError, parse_toml


class Section(BaseModel):
    """Base of every config section: strict keys, documented fields, finite numbers."""

    # inf and nan are valid TOML floats but no setting means them (max_height = inf
    # passed every bound and crashed the build), so they are refused where they enter.
    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)


class SiteConfig(Section):
    """The public face of the site."""

    title: str = Field("My greenhouse", description="Site title, shown in every page header.")
    description: str = Field(
        "A living garden of my projects.",
        description="One-line description for meta tags and the feed.",
    )
    author: str = Field("", description="Owner's name, used in the Atom feed and page footers.")
    base_url: str = Field(
        "http://localhost:8000/",
        description="Absolute URL the bundle is served from; may carry a path (GitHub Pages project sites).",
    )
    language: str = Field("en", description="BCP 47 language tag of the pages.")

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s\x00-\x1f\x7f]+(/[^\s\x00-\x1f\x7f]*)?$", value):
            raise ValueError("must be an absolute http(s) URL, e.g. https://user.github.io/repo/")
        return value if value.endswith("/") else value + "/"


class BuildConfig(Section):
    """Where the build reads and writes."""

    output: str = Field(OUTPUT, description="Folder the static bundle is published to.")
    db: str = Field(DB, description="The DuckDB data store (keep it between runs).")
    strict: bool = Field(
        False, description="Fail the build when a source fails instead of using stale data."
    )
    per_page: int = Field(
        50,
        ge=1,
        le=1000,
        description="Projects per page of api/v1/projects/page/<n>.json and of the plant list (index.html, plants/<n>/).",
    )


class SourceSection(Section):
    """What every upstream source has: bounds on how long it may take.

    Each source overrides the defaults to suit its upstream; the descriptions
    are shared so the configuration reference reads the same for all.
    """

    time_budget: float = Field(
        300.0,
        gt=0,
        description="Total seconds this source may spend per sync, waits and retries included; "
        "when they run out it stops, keeps what it fetched and reports itself partial.",
    )
    max_rate_limit_wait: float = Field(
        60.0,
        ge=0,
        description="Longest wait, in seconds, for this source's rate limit to reset before it "
        "stops (partial) and leaves the rest to the next sync.",
    )


class GithubConfig(SourceSection):
    """GitHub: repositories become plants."""

    user: str | None = Field(
        None, description="GitHub login whose public repositories become plants."
    )
    api_url: str = Field(
        "https://api.github.com", description="REST root; GraphQL is {api_url}/graphql."
    )
    include: list[str] = Field(
        default_factory=list,
        description="Only repositories matching one of these (empty: all). A pattern is a name "
        "or owner/name, with shell wildcards (* ? [ ]), case-insensitive: tool, me/tool, to*.",
    )
    exclude: list[str] = Field(
        default_factory=list,
        description="Repositories never planted; patterns as for include. Excluded repositories "
        "keep their stored history (they are only hidden), so excluding one by mistake loses nothing.",
    )
    forks: bool = Field(False, description="Plant forks too.")
    archived: bool = Field(True, description="Plant archived repositories (they stay dormant).")
    concurrency: int = Field(4, ge=1, le=16, description="Requests in flight at once (be polite).")
    time_budget: float = Field(
        600.0, gt=0, description=SourceSection.model_fields["time_budget"].description
    )
    commit_retries: int = Field(
        4,
        ge=0,
        le=10,
        description="How often a 202 'still computing' statistics answer is retried.",
    )

    def wants(self, full_name: str) -> bool:
        """Whether ``include``/``exclude`` let the repository *full_name* (owner/name) in.

        The one matcher of repository names, used by sync and by the garden: a
        pattern containing ``/`` is matched against ``owner/name``, any other
        against the bare name; shell wildcards, case-insensitive.
        """
        return repo_wanted(full_name, self.include, self.exclude)


def repo_wanted(full_name: str, include: list[str], exclude: list[str]) -> bool:
    """The one matcher of repository names, on every forge: *include* then *exclude*.

    A pattern containing ``/`` is matched against the whole path
    (``owner/name``, or ``group/subgroup/name`` on GitLab), any other against
    the bare name; shell wildcards, case-insensitive.
    """
    if include and not _matches_any(full_name, include):
        return False
    return not _matches_any(full_name, exclude)


def _matches_any(full_name: str, patterns: list[str]) -> bool:
    full = full_name.lower()
    name = full.rsplit("/", 1)[-1]
    for pattern in patterns:
        wanted = pattern.strip().lower()
        if fnmatch.fnmatchcase(full if "/" in wanted else name, wanted):
            return True
    return False


class ForgeSection(SourceSection):
    """What every forge section shares: whose repositories, and which of them become plants."""

    user: str | None = Field(None, description="Account whose public repositories become plants.")
    api_url: str = Field("", description="Root of the forge's web address.")
    include: list[str] = Field(
        default_factory=list,
        description="Only repositories matching one of these (empty: all). A pattern is a name "
        "or a path (owner/name, group/subgroup/name), with shell wildcards (* ? [ ]), "
        "case-insensitive, as for [github].",
    )
    exclude: list[str] = Field(
        default_factory=list,
        description="Repositories never planted; patterns as for include.",
    )
    forks: bool = Field(False, description="Plant forks too.")
    archived: bool = Field(True, description="Plant archived repositories (they stay dormant).")

    def wants(self, path: str) -> bool:
        """Whether ``include``/``exclude`` let the repository at *path* in (GitHub's matcher)."""
        return repo_wanted(path, self.include, self.exclude)


class GitlabConfig(ForgeSection):
    """GitLab (gitlab.com or self-hosted): projects become plants (GITLAB_TOKEN optional)."""

    user: str | None = Field(
        None, description="GitLab username whose public projects become plants."
    )
    api_url: str = Field(
        "https://gitlab.com",
        description="Root of the GitLab instance (self-hosted too); the REST API is {api_url}/api/v4.",
    )
    concurrency: int = Field(4, ge=1, le=16, description="Requests in flight at once (be polite).")


class ForgejoConfig(ForgeSection):
    """Forgejo, Gitea or Codeberg: repositories become plants (FORGEJO_TOKEN optional)."""

    user: str | None = Field(None, description="Username whose public repositories become plants.")
    api_url: str = Field(
        "https://codeberg.org",
        description="Root of the Forgejo or Gitea instance; the REST API is {api_url}/api/v1.",
    )
    concurrency: int = Field(
        2, ge=1, le=16, description="Requests in flight at once (Codeberg is run by volunteers)."
    )


class SpotifyConfig(SourceSection):
    """Spotify (needs SPOTIFY_CLIENT_ID, SPOTIFY_CLIENT_SECRET, SPOTIFY_REFRESH_TOKEN)."""

    api_url: str = Field("https://api.spotify.com/v1", description="Web API root.")
    accounts_url: str = Field("https://accounts.spotify.com", description="Accounts service root.")
    time_budget: float = Field(
        120.0, gt=0, description=SourceSection.model_fields["time_budget"].description
    )


class LastfmConfig(SourceSection):
    """Last.fm (needs LASTFM_API_KEY)."""

    user: str | None = Field(None, description="Last.fm user whose scrobbles feed the music mood.")
    api_url: str = Field("https://ws.audioscrobbler.com/2.0/", description="API root.")


class ListenbrainzConfig(SourceSection):
    """ListenBrainz: public listens feed the music mood (no token needed)."""

    user: str | None = Field(
        None, description="ListenBrainz user whose public listens feed the music mood."
    )
    api_url: str = Field("https://api.listenbrainz.org", description="API root.")


class WeatherConfig(SourceSection):
    """Real local weather over the garden."""

    provider: Literal["open-meteo", "openweathermap", "none"] = Field(
        "open-meteo",
        description="open-meteo (no key) or openweathermap (WEATHER_API_KEY); none to skip.",
    )
    latitude: float | None = Field(None, ge=-90, le=90, description="Latitude of the owner's sky.")
    longitude: float | None = Field(
        None, ge=-180, le=180, description="Longitude of the owner's sky."
    )
    api_url: str | None = Field(
        None,
        description="API root; default https://api.open-meteo.com or https://api.openweathermap.org.",
    )
    time_budget: float = Field(
        60.0, gt=0, description=SourceSection.model_fields["time_budget"].description
    )


class LiveConfig(Section):
    """The optional live-presence sidecar and the site's connection to it."""

    url: str | None = Field(
        None, description="Public websocket URL of the sidecar (wss://…/ws/garden)."
    )
    export_url: str | None = Field(
        None, description="HTTP base URL of the sidecar, for syncing visits."
    )
    event_dir: str | None = Field(
        None,
        description="Local folder of the sidecar's event log, read instead of export_url when set.",
    )
    host: str = Field("127.0.0.1", description="Address the sidecar listens on.")
    port: int = Field(8765, ge=0, le=65535, description="Port the sidecar listens on.")
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Exact origins allowed to connect (e.g. https://user.github.io).",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list, description="Peer addresses whose X-Forwarded-For is believed."
    )
    max_message_bytes: int = Field(
        4096, ge=256, le=1 << 20, description="Largest accepted client frame."
    )
    messages_per_second: float = Field(
        5.0, gt=0, description="Token-bucket refill rate per connection."
    )
    message_burst: int = Field(20, ge=1, description="Token-bucket size per connection.")
    max_connections_per_visitor: int = Field(
        8, ge=1, description="Open connections allowed per visitor key."
    )
    max_connections_per_ip: int = Field(
        32,
        ge=1,
        description="Connections, open or still in their handshake, allowed per client address "
        "(an IPv6 /64 counts as one address; behind trusted_proxies, the forwarded address).",
    )
    max_connections: int | None = Field(
        None,
        ge=1,
        description="Websocket connections held at most; by default what the open-files limit "
        "allows, keeping some for /healthz and the event log.",
    )
    idle_timeout: float = Field(
        300.0, gt=0, description="Seconds without a message before a connection is closed."
    )
    presence_interval: float = Field(
        0.02,
        ge=0,
        description="Least seconds between two presence updates; they are spread out further "
        "when sending one is expensive (many connections) or connections are opening.",
    )
    retention_days: int = Field(
        30, ge=1, description="Days raw visit events are kept by the sidecar."
    )
    redis_url: str | None = Field(
        None, description="Redis URL shared by several sidecars (redis://…)."
    )
    log_format: Literal["text", "json"] = Field(
        "text", description="text for people, json for log shippers."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Log level."
    )
    heartbeat_interval: float = Field(
        10.0,
        gt=0,
        description="Seconds between the presence heartbeats each instance publishes to Redis.",
    )
    presence_expiry: float = Field(
        30.0,
        gt=0,
        description="Seconds after its last heartbeat before an instance's visitors are dropped.",
    )
    instance_id: str = Field(
        "main",
        pattern=r"^[a-z0-9-]{1,32}$",
        description="Stable name of this sidecar: its event-log folder and the suffix of its event ids "
        "(give each of several instances its own).",
    )


class AnalyticsConfig(Section):
    """What the owner learns about visits, and what is published."""

    publish: bool = Field(
        False, description="Publish api/v1/analytics/dashboard.json and an analytics page."
    )
    min_count: int = Field(
        5,
        ge=0,
        description="Counts below this are hidden in published analytics (no single visitor stands out).",
    )
    retention_days: int = Field(
        90, ge=1, description="Days raw visit events stay in the DuckDB file."
    )


#: Largest growth units per event: far beyond any sensible model, far below a float overflow
#: (1.7e308 per commit turned heights into inf, and the JSON API into invalid JSON).
MAX_WEIGHT = 1e6


class SharingConfig(Section):
    """Link previews, README cards and the badge."""

    preview_images: bool = Field(
        True,
        description="Draw the PNG link-preview images (1200×630) and touch icons at build time; cached in the store.",
    )
    badge_label: str = Field(
        "garden", description="Left text of the shields.io badge at api/v1/badge.json."
    )


class GrowthConfig(Section):
    """Rates and thresholds of the growth model (see docs/model.md)."""

    dormant_after_days: int = Field(
        120, ge=1, description="Days without activity before a plant goes dormant."
    )
    commit_weight: float = Field(1.0, ge=0, le=MAX_WEIGHT, description="Growth units per commit.")
    star_weight: float = Field(
        3.0, ge=0, le=MAX_WEIGHT, description="Growth units per star gained."
    )
    release_weight: float = Field(
        10.0, ge=0, le=MAX_WEIGHT, description="Growth units per release."
    )
    issue_weight: float = Field(
        0.5, ge=0, le=MAX_WEIGHT, description="Growth units per issue or pull request."
    )
    view_weight: float = Field(
        0.05, ge=0, le=MAX_WEIGHT, description="Growth units per visitor view."
    )
    interaction_weight: float = Field(
        0.5, ge=0, le=MAX_WEIGHT, description="Growth units per visitor interaction."
    )
    half_size: float = Field(
        150.0,
        gt=0,
        le=1e12,
        description="Accumulated growth units at which a plant reaches half its full size.",
    )
    health_window_days: int = Field(
        30, ge=1, description="Days of recent activity that make a plant healthy."
    )
    health_half_activity: float = Field(
        40.0,
        gt=0,
        le=1e12,
        description="Growth units in the health window that give a plant half health.",
    )
    sprout_at: float = Field(0.05, ge=0, le=1, description="Growth from which a seed is a sprout.")
    sapling_at: float = Field(
        0.2, ge=0, le=1, description="Growth from which a sprout is a sapling."
    )
    mature_at: float = Field(0.6, ge=0, le=1, description="Growth from which a plant is mature.")
    bloom_health: float = Field(
        0.6, ge=0, le=1, description="Health from which a sapling or mature plant blooms."
    )
    max_height: float = Field(
        3.0, gt=0, le=1000, description="Height, in garden units, of a fully grown plant."
    )


class HistoryConfig(Section):
    """Snapshots of the garden for the time-lapse."""

    interval_days: int = Field(7, ge=1, le=365, description="Days between history snapshots.")
    max_snapshots: int = Field(160, ge=1, description="Most recent snapshots published.")


class DemoConfig(Section):
    """Deterministic demo activity, so a garden looks alive with no tokens and no network."""

    enabled: bool = Field(
        DEMO, description="Fill the store with generated demo activity (labelled demo)."
    )
    seed: int = Field(7, description="Seed of the demo generator.")
    days: int = Field(
        730, ge=1, le=3650, description="Days of generated history, ending at the build date."
    )
    projects: int = Field(
        0, ge=0, le=100000, description="Synthetic projects generated beside the content projects."
    )


class Config(Section):
    """The whole of greenhouse.toml."""

    site: SiteConfig = Field(default_factory=SiteConfig, description="The public face of the site.")
    build: BuildConfig = Field(
        default_factory=BuildConfig, description="Where the build reads and writes."
    )
    github: GithubConfig = Field(default_factory=GithubConfig, description="GitHub repositories.")
    gitlab: GitlabConfig = Field(default_factory=GitlabConfig, description="GitLab projects.")
    forgejo: ForgejoConfig = Field(
        default_factory=ForgejoConfig, description="Forgejo, Gitea or Codeberg repositories."
    )
    spotify: SpotifyConfig = Field(default_factory=SpotifyConfig, description="Spotify listening.")
    lastfm: LastfmConfig = Field(default_factory=LastfmConfig, description="Last.fm scrobbles.")
    listenbrainz: ListenbrainzConfig = Field(
        default_factory=ListenbrainzConfig, description="ListenBrainz listens."
    )
    weather: WeatherConfig = Field(default_factory=WeatherConfig, description="Local weather.")
    live: LiveConfig = Field(default_factory=LiveConfig, description="Live presence sidecar.")
    analytics: AnalyticsConfig = Field(
        default_factory=AnalyticsConfig, description="Visitor analytics."
    )
    sharing: SharingConfig = Field(
        default_factory=SharingConfig, description="Link previews, README cards, badge."
    )
    growth: GrowthConfig = Field(default_factory=GrowthConfig, description="Growth model.")
    history: HistoryConfig = Field(default_factory=HistoryConfig, description="History snapshots.")
    demo: DemoConfig = Field(default_factory=DemoConfig, description="Demo data.")

    #: Sections of installed source plugins that could not be loaded: kept out of
    #: validation (that source alone fails), each with its located problem, and
    #: the names of those among them that set any key.
    _unloaded: dict[str, Problem] = PrivateAttr(default_factory=dict)
    _unloaded_set: set[str] = PrivateAttr(default_factory=set)

    def source_section(self, name: str) -> BaseModel | None:
        """The validated ``[name]`` section of a source (built-in or plugin), if it has one."""
        if name not in type(self).model_fields:
            return None
        value = getattr(self, name)
        return value if isinstance(value, BaseModel) else None

    def unloaded_sections(self) -> list[Problem]:
        """A located problem per section whose source plugin could not be loaded."""
        return list(self._unloaded.values())

    def sets_unloaded(self, name: str) -> bool:
        """Whether the section of the unloadable plugin *name* sets any key (it is meant to run)."""
        return name in self._unloaded_set


@functools.cache
def config_model() -> type[Config]:
    """:class:`Config` with a section for every installed source plugin that declares one.

    greenhouse's own source sections are written out above (typed for the
    code that reads them); a plugin's section is added here from its
    declaration, so it validates, documents and scaffolds like a built-in one.
    """
    from greenhouse.sources.registry import registry

    extra: dict[str, Any] = {}
    for name, source in registry().sources.items():
        if source.config is None or name in Config.model_fields:
            continue
        description = source.summary or f"The {name} source."
        extra[name] = (source.config, Field(default_factory=source.config, description=description))
    if not extra:
        return Config
    model: type[Config] = create_model("Config", __base__=Config, __doc__=Config.__doc__, **extra)
    return model


#: The environment variables behind :class:`Secrets`' named fields.
_NAMED_SECRETS = {
    "GITHUB_TOKEN": "github_token",
    "SPOTIFY_CLIENT_ID": "spotify_client_id",
    "SPOTIFY_CLIENT_SECRET": "spotify_client_secret",
    "SPOTIFY_REFRESH_TOKEN": "spotify_refresh_token",
    "WEATHER_API_KEY": "weather_api_key",
    "LASTFM_API_KEY": "lastfm_api_key",
    "GREENHOUSE_LIVE_TOKEN": "live_token",
}


@dataclass(frozen=True)
class Secrets:
    """Tokens from the environment; never written anywhere."""

    github_token: str | None = None
    spotify_client_id: str | None = None
    spotify_client_secret: str | None = None
    spotify_refresh_token: str | None = None
    weather_api_key: str | None = None
    lastfm_api_key: str | None = None
    live_token: str | None = None
    #: Every other secret a source declares (``GITLAB_TOKEN``, a plugin's own): name → value.
    env: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, names: Iterable[str] | None = None
    ) -> Secrets:
        """Read every secret from the environment (empty strings count as unset).

        *names* are the variables the sources declare; by default those of
        every installed source (see docs/plugins.md).
        """
        env = dict(os.environ) if env is None else env
        if names is None:
            from greenhouse.sources.registry import registry

            names = registry().secret_names()

        def get(name: str) -> str | None:
            return env.get(name) or None

        declared = {name: env[name] for name in names if get(name) and name not in _NAMED_SECRETS}
        named = {attribute: get(variable) for variable, attribute in _NAMED_SECRETS.items()}
        return cls(**named, env=declared)

    def __repr__(self) -> str:
        # A repr reaches tracebacks and logs: name what is set, never the value.
        return f"Secrets(set={sorted(n for n in [*_NAMED_SECRETS, *self.env] if self.get(n))})"

    def get(self, name: str) -> str | None:
        """The value of the secret environment variable *name*, if set."""
        attribute = _NAMED_SECRETS.get(name)
        if attribute is not None:
            value: str | None = getattr(self, attribute)
            return value
        return self.env.get(name) or None

    def values(self) -> list[str]:
        """Every secret that is set, for scrubbing them out of messages."""
        named = [getattr(self, attribute) for attribute in _NAMED_SECRETS.values()]
        return [v for v in [*named, *self.env.values()] if v]


@dataclass(frozen=True)
class Site:
    """A loaded site folder: its root and its validated config."""

    root: Path
    config: Config

    def path(self, relative: str) -> Path:
        """A config path resolved against the site root."""
        p = Path(relative)
        return p if p.is_absolute() else self.root / p


def load_site(root: Path | str = ".") -> Site:
    """Load ``greenhouse.toml`` under *root*; a missing file means all defaults."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise ConfigError(Problem(root, "site folder does not exist"))
    return Site(root=root, config=load_config(root / CONFIG_FILE))


def load_config(path: Path) -> Config:
    """Parse and validate one config file, reporting every problem at once."""
    if not path.exists():
        return Config()
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(Problem(path, f"not valid UTF-8 (byte {exc.start})")) from None
    except OSError as exc:
        raise ConfigError(Problem(path, f"cannot read: {exc.strerror}")) from None
    try:
        raw = parse_toml(text)
    except TomlSyntaxError as exc:
        raise ConfigError(Problem(path, f"invalid TOML: {exc.message}", exc.line)) from None
    return validate_config(raw, path, text)


def validate_config(raw: dict[str, Any], path: Path | str, text: str = "") -> Config:
    """Validate parsed TOML against the config schema, locating each problem.

    Only a section that greenhouse itself does not define makes the installed
    source plugins be looked up (a plain config never reads the registry). A
    section whose plugin cannot be loaded is left out of validation: that
    source fails on its own, and ``greenhouse check`` reports the section.
    """
    model: type[Config] = Config
    unloaded: dict[str, Problem] = {}
    meant: set[str] = set()
    unknown = [key for key in raw if key not in Config.model_fields]
    if unknown:
        from greenhouse.sources.registry import registry

        model = config_model()
        broken = registry().broken
        raw = dict(raw)
        for key in unknown:
            if key in broken and key not in model.model_fields:
                if raw.pop(key):
                    meant.add(key)
                unloaded[key] = Problem(path, broken[key], locate_key(text, (key,)), key)
    try:
        config = model.model_validate(raw)
    except ValidationError as exc:
        problems = [_problem(err, path, text, model) for err in exc.errors()]
        raise ConfigError(problems) from None
    config._unloaded = unloaded
    config._unloaded_set = meant
    return config


def _problem(err: Any, path: Path | str, text: str, schema: type[BaseModel] = Config) -> Problem:
    loc = tuple(str(p) for p in err["loc"])
    field = ".".join(loc)
    line = locate_key(text, loc)
    if err["type"] == "extra_forbidden":
        message = f"unknown key '{loc[-1]}'"
        model = _model_at(schema, loc[:-1])
        if model is not None:
            close = difflib.get_close_matches(loc[-1], list(model.model_fields), n=1)
            if close:
                message += f" (did you mean '{close[0]}'?)"
    else:
        message = err["msg"]
        if err["type"] not in {"missing"} and "input" in err and not isinstance(err["input"], dict):
            message += f" (got {_short_repr(err['input'])})"
    return Problem(path, message, line, field)


def _short_repr(value: object) -> str:
    """A value as a message shows it: a huge or deeply nested one cut short."""
    import reprlib

    shorten = reprlib.Repr()
    shorten.maxstring = shorten.maxother = 80
    shorten.maxlevel = 3
    return shorten.repr(value)


def _model_at(model: type[BaseModel], loc: tuple[str, ...]) -> type[BaseModel] | None:
    for part in loc:
        field = model.model_fields.get(part)
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def locate_key(text: str, loc: tuple[str, ...]) -> int | None:
    """The 1-based line of ``loc`` (``section``, ``key``) in TOML *text*, if found."""
    if not text or not loc:
        return None
    lines = text.splitlines()
    section, key = (loc[0], loc[-1]) if len(loc) > 1 else (None, loc[0])
    current: str | None = None
    header = re.compile(r"^\s*\[+\s*([^\]]+?)\s*\]+")
    for number, line in enumerate(lines, start=1):
        m = header.match(line)
        if m:
            current = m.group(1).strip().strip('"')
            if section is None and current == key:
                return number
            if len(loc) == 1 and current == loc[0]:
                return number
            continue
        if re.match(rf"^\s*\"?{re.escape(key)}\"?\s*[=.]", line) and (
            section is None or current == section
        ):
            return number
    if section is not None:
        for number, line in enumerate(lines, start=1):
            m = header.match(line)
            if m and m.group(1).strip() == section:
                return number
    return None
