"""api/v1/badge.json in shields.io's endpoint format, checked the way shields.io checks it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from greenhouse.build import build
from greenhouse.site import api
from greenhouse.site.sharing import badge
from tests.sharing.conftest import copy_demo

# shields.io's endpoint schema (services/endpoint-common.js), transcribed: unknown keys are refused.
STRINGS = {"label", "message", "color", "labelColor", "namedLogo", "logoSvg", "logoColor", "style"}
NAMED_COLOURS = {
    "brightgreen", "green", "yellowgreen", "yellow", "orange", "red", "blue", "lightgrey",
    "success", "important", "critical", "informational", "inactive",
}  # fmt: skip


def shields_problems(doc: Any) -> list[str]:
    """Why shields.io would refuse *doc* as an endpoint badge (empty: it accepts it)."""
    if not isinstance(doc, dict):
        return ["not a JSON object"]
    found = []
    allowed = STRINGS | {"schemaVersion", "isError", "logoWidth", "logoPosition", "cacheSeconds"}
    found += [f"unknown key {key!r}" for key in doc if key not in allowed]
    if doc.get("schemaVersion") != 1 or type(doc.get("schemaVersion")) is not int:
        found.append("schemaVersion must be the number 1")
    if not isinstance(doc.get("label"), str):
        found.append("label is required (a string, may be empty)")
    if not isinstance(doc.get("message"), str) or not doc["message"]:
        found.append("message is required and may not be empty")
    found += [f"{k} must be a string" for k in STRINGS & doc.keys() if not isinstance(doc[k], str)]
    if "isError" in doc and not isinstance(doc["isError"], bool):
        found.append("isError must be a boolean")
    if "cacheSeconds" in doc and (type(doc["cacheSeconds"]) is not int or doc["cacheSeconds"] < 0):
        found.append("cacheSeconds must be a non-negative integer")
    if "namedLogo" in doc and "logoSvg" in doc:
        found.append("namedLogo and logoSvg are exclusive")
    if "logoColor" in doc and "namedLogo" not in doc:
        found.append("logoColor needs namedLogo")
    return found


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = copy_demo(tmp_path_factory.mktemp("badge") / "site")
    (site / "greenhouse.toml").write_text(
        (site / "greenhouse.toml").read_text() + '\n[sharing]\nbadge_label = "my garden"\n'
    )
    return build(site, offline=True).output


def test_the_published_badge_is_a_valid_shields_endpoint(bundle: Path) -> None:
    doc = json.loads((bundle / "api/v1/badge.json").read_text())
    assert shields_problems(doc) == []
    garden = json.loads((bundle / "api/v1/garden/index.json").read_text())
    assert doc["label"] == "my garden"
    assert doc["message"] == f"{garden['stages']['blooming']} blooming"
    assert doc["color"] in NAMED_COLOURS
    assert doc["cacheSeconds"] >= 300  # shields.io's floor


def test_the_badge_has_a_published_json_schema_that_refuses_more(bundle: Path) -> None:
    schema = json.loads((bundle / "api/v1/schema/badge.schema.json").read_text())
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) >= {"label", "message", "color"}
    doc = json.loads((bundle / "api/v1/badge.json").read_text())
    api.BadgeDoc.model_validate(doc)
    with pytest.raises(ValueError):
        api.BadgeDoc.model_validate({**doc, "schema_version": 1})  # shields.io would refuse it


@pytest.mark.parametrize(
    ("plants", "stages", "health", "message", "colour"),
    [
        (12, {"blooming": 4, "mature": 8}, 0.9, "4 blooming", "brightgreen"),
        (12, {"blooming": 1}, 0.6, "1 blooming", "green"),
        (12, {"mature": 12}, 0.4, "12 plants", "yellowgreen"),
        (3, {"dormant": 3}, 0.0, "3 plants", "orange"),
        (0, {}, 0.0, "0 plants", "lightgrey"),
    ],
)
def test_badge_message_and_colour(
    plants: int, stages: dict[str, int], health: float, message: str, colour: str
) -> None:
    doc = badge("garden", plants, stages, health)
    assert shields_problems(doc) == []
    assert (doc["message"], doc["color"]) == (message, colour)


def test_the_validator_refuses_what_shields_refuses() -> None:
    good = {"schemaVersion": 1, "label": "garden", "message": "12 blooming", "color": "green"}
    assert shields_problems(good) == []
    assert shields_problems({**good, "schema_version": 1})
    assert shields_problems({**good, "message": ""})
    assert shields_problems({**good, "schemaVersion": "1"})
    assert shields_problems({k: v for k, v in good.items() if k != "label"})
    assert shields_problems({**good, "cacheSeconds": -5})
