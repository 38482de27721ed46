"""The static JSON API: pydantic models of every document, and their JSON Schemas.

The same models build the documents and generate ``api/v1/schema/*.schema.json``,
so the published schema can never drift from what is published.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1

Stage = Literal["seed", "sprout", "sapling", "blooming", "mature", "dormant"]
Condition = Literal["sunny", "cloudy", "rainy", "stormy", "foggy", "snowy"]


class Doc(BaseModel):
    """Fields every document carries."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = Field(SCHEMA_VERSION, description="Version of this document's schema.")
    generated_at: str = Field(description="When the garden was computed (ISO 8601, UTC).")


class Position(BaseModel):
    """A point in the garden: x and z on the ground, y up."""

    x: float
    y: float
    z: float


class Metrics(BaseModel):
    """The numbers behind a plant."""

    model_config = ConfigDict(extra="allow")

    stars: int = Field(description="Stars of the repository.")
    commits_30d: int = Field(description="Commits in the last 30 days.")
    views_30d: int = Field(description="Visitor views in the last 30 days.")


class Plant(BaseModel):
    """One plant of the garden."""

    id: str = Field(pattern=r"^[a-z0-9-]+$", description="Slug, also the page path.")
    name: str
    description: str
    url: str = Field(description="Absolute URL of the plant's page.")
    api_url: str = Field(description="Absolute URL of the plant's JSON document.")
    repo_url: str | None
    homepage: str | None = None
    species: str
    stage: Stage
    growth: float = Field(ge=0, le=1)
    health: float = Field(ge=0, le=1)
    height: float = Field(ge=0)
    position: Position
    planted_at: str
    last_activity_at: str | None
    skills: list[str]
    pinned: bool = False
    why: str = Field(description="Why the plant looks as it does, in words.")
    metrics: Metrics


class Mood(BaseModel):
    """Music mood, 0..1."""

    valence: float = Field(ge=0, le=1)
    energy: float = Field(ge=0, le=1)


class Weather(BaseModel):
    """The garden's sky."""

    model_config = ConfigDict(extra="allow")

    condition: Condition
    intensity: float = Field(ge=0, le=1)
    mood: Mood
    inputs: dict[str, object] = Field(
        default_factory=dict, description="What produced this weather."
    )


class WeatherDoc(Doc, Weather):
    """api/v1/garden/weather.json."""


class GardenDoc(Doc):
    """api/v1/garden/index.json: the complete garden state."""

    demo: bool = Field(description="True when the garden grows from generated demo data.")
    title: str
    base_url: str
    date: str = Field(description="The day the garden shows.")
    weather: Weather
    stages: dict[str, int] = Field(description="How many plants are at each stage.")
    plants: list[Plant]


class SourceHealth(BaseModel):
    """Freshness of one data source."""

    status: str | None
    last_success: str | None
    age_hours: float | None
    stale: bool
    message: str | None = None


class HealthDoc(Doc):
    """api/v1/garden/health.json."""

    demo: bool
    ecosystem: float = Field(ge=0, le=1, description="Mean health of the living plants.")
    plants: int
    stages: dict[str, int]
    sources: dict[str, SourceHealth]


class SnapshotEntry(BaseModel):
    """A plant in a history snapshot."""

    id: str
    stage: Stage
    growth: float
    health: float
    height: float


class SnapshotDoc(Doc):
    """api/v1/garden/history/<date>.json."""

    date: str
    plants: list[SnapshotEntry]


class HistoryItem(BaseModel):
    """One entry of the history index."""

    date: str
    url: str
    plants: int


class HistoryIndexDoc(Doc):
    """api/v1/garden/history/index.json."""

    interval_days: int
    snapshots: list[HistoryItem]


class ProjectsPageDoc(Doc):
    """api/v1/projects/index.json and page/<n>.json."""

    page: int
    per_page: int
    total: int
    pages: int
    next: str | None
    prev: str | None
    items: list[Plant]


class HistoryPoint(BaseModel):
    """A plant's state on one snapshot day."""

    date: str
    stage: Stage
    growth: float
    health: float


class ProjectDoc(Doc):
    """api/v1/projects/<id>.json: one project with its history and analytics."""

    plant: Plant
    body_html: str = Field(description="The sanitised HTML of the project's description.")
    history: list[HistoryPoint]
    analytics: dict[str, int] = Field(description="Public attention figures (views, interactions).")


class SkillNode(BaseModel):
    """A star of the constellation."""

    id: str
    name: str
    category: str
    level: int | None
    declared: bool
    uses: int
    projects: list[str]
    position: Position


class SkillEdge(BaseModel):
    """Two skills used by the same projects."""

    source: str
    target: str
    weight: float = Field(ge=0, le=1)
    shared: int


class SkillsDoc(Doc):
    """api/v1/skills/index.json: the constellation."""

    nodes: list[SkillNode]
    edges: list[SkillEdge]


class DashboardDoc(Doc):
    """api/v1/analytics/dashboard.json (only with [analytics] publish = true)."""

    model_config = ConfigDict(extra="allow")

    days: int = Field(description="Days covered, ending on the garden's date.")
    min_count: int = Field(description="Counts from 1 to min_count - 1 are published as null.")
    totals: dict[str, int | None] = Field(
        description="visitors (daily unique, summed), visits, views, interactions; null when hidden."
    )
    daily: list[dict[str, object]]
    projects: list[dict[str, object]]


class RenderPlants(BaseModel):
    """The plants of the render feed, one array per field, all in the same order."""

    model_config = ConfigDict(extra="forbid")

    id: list[str]
    name: list[str]
    x: list[float]
    z: list[float]
    species: list[int] = Field(description="Index into the feed's species list.")
    stage: list[int] = Field(description="Index into the feed's stages list.")
    growth: list[int] = Field(description="Growth in whole percents (0..100).")
    health: list[int] = Field(description="Health in whole percents (0..100).")
    pinned: list[int] = Field(description="Indexes of the pinned plants.")


class RenderWeather(BaseModel):
    """The weather the canvas draws."""

    condition: Condition
    intensity: float = Field(ge=0, le=1)
    mood: Mood


class RenderDoc(Doc):
    """api/v1/garden/render.json: what a garden canvas draws, compact (plant pages are projects/<id>/)."""

    date: str = Field(description="The day the garden shows.")
    title: str
    weather: RenderWeather
    live: str | None = Field(description="The live-presence websocket URL, if any.")
    species: list[str]
    stages: list[Stage]
    plants: RenderPlants
    timelapse: str = Field(description="Relative URL of the time-lapse index.")


class TimelapseChunkItem(BaseModel):
    """One chunk file of the time-lapse."""

    first: int = Field(description="Index of the chunk's first snapshot.")
    count: int
    url: str = Field(description="URL relative to the time-lapse index.")


class TimelapseIndexDoc(Doc):
    """api/v1/garden/timelapse/index.json: snapshot dates and the chunks holding them."""

    snapshots: list[str]
    fields: list[str] = Field(description="What each group of numbers in a frame means.")
    chunks: list[TimelapseChunkItem]


class TimelapseFrame(BaseModel):
    """One snapshot: a keyframe (first of a chunk: every planted plant) or a delta (changes only)."""

    date: str
    plants: list[int] = Field(
        description="Flattened groups of (plant index in the render feed, stage index, growth %, health %), percents in steps of 5."
    )


class TimelapseChunkDoc(Doc):
    """api/v1/garden/timelapse/<n>.json."""

    first: int
    frames: list[TimelapseFrame]


SCHEMAS: dict[str, type[BaseModel]] = {
    "garden": GardenDoc,
    "weather": WeatherDoc,
    "health": HealthDoc,
    "history-index": HistoryIndexDoc,
    "snapshot": SnapshotDoc,
    "projects-page": ProjectsPageDoc,
    "project": ProjectDoc,
    "skills": SkillsDoc,
    "dashboard": DashboardDoc,
    "render": RenderDoc,
    "timelapse-index": TimelapseIndexDoc,
    "timelapse-chunk": TimelapseChunkDoc,
}
