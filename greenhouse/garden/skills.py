"""The skills constellation: skills linked by the projects that use them.

Pure. Nodes are the declared skills (content/skills.toml) plus skills inferred
from the plants (languages, topics, content). An edge joins two skills used
by the same projects; its weight is their co-occurrence normalised by how
often each is used (cosine: shared / sqrt(uses_a · uses_b)), so a pair that
always travels together weighs 1.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from itertools import combinations


def skill_key(name: str) -> str:
    """The id of a skill: lower case, spaces and punctuation folded to '-'."""
    out = []
    for ch in name.strip().lower():
        out.append(ch if ch.isalnum() or ch in "+#" else "-")
    key = "".join(out).strip("-")
    while "--" in key:
        key = key.replace("--", "-")
    return key or "skill"


def constellation(
    declared: Iterable[Mapping[str, object]],
    plant_skills: Mapping[str, list[str]],
) -> dict[str, list[dict[str, object]]]:
    """Nodes (declared and inferred skills) and weighted co-occurrence edges."""
    uses: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    names: dict[str, str] = {}
    projects: dict[str, list[str]] = {}
    for plant_id in sorted(plant_skills):
        keys = sorted({skill_key(s) for s in plant_skills[plant_id]})
        for name in plant_skills[plant_id]:
            names.setdefault(skill_key(name), name)
        for key in keys:
            uses[key] += 1
            projects.setdefault(key, []).append(plant_id)
        pairs.update(combinations(keys, 2))

    nodes: dict[str, dict[str, object]] = {}
    for skill in declared:
        key = skill_key(str(skill["name"]))
        nodes[key] = {
            "id": key,
            "name": str(skill["name"]),
            "category": skill.get("category") or "other",
            "level": skill.get("level"),
            "declared": True,
        }
    for key in uses:
        nodes.setdefault(
            key,
            {
                "id": key,
                "name": names[key],
                "category": "inferred",
                "level": None,
                "declared": False,
            },
        )
    ordered = sorted(nodes)
    for key in ordered:
        node = nodes[key]
        node["projects"] = projects.get(key, [])
        node["uses"] = uses.get(key, 0)
        node["position"] = _sky_position(key, str(node["category"]))
    edges = [
        {
            "source": a,
            "target": b,
            "weight": round(n / math.sqrt(uses[a] * uses[b]), 4),
            "shared": n,
        }
        for (a, b), n in sorted(pairs.items())
    ]
    return {"nodes": [nodes[k] for k in ordered], "edges": edges}


def _sky_position(key: str, category: str) -> dict[str, float]:
    """A point on a dome: the category picks the longitude band, the name the spot in it."""
    band = int.from_bytes(hashlib.blake2b(category.encode(), digest_size=4).digest(), "big") % 360
    spot = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=4).digest(), "big")
    longitude = math.radians(band + (spot % 60) - 30)
    latitude = math.radians(15 + (spot >> 8) % 60)
    radius = 10.0
    return {
        "x": round(radius * math.cos(latitude) * math.cos(longitude), 3),
        "y": round(radius * math.sin(latitude), 3),
        "z": round(radius * math.cos(latitude) * math.sin(longitude), 3),
    }
