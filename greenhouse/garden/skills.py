"""The skills constellation: skills linked by the projects that use them.

Pure. Nodes are the declared skills (content/skills.toml) plus skills inferred
from the plants (languages, topics, content). An edge joins two skills used
by the same projects; its weight is their co-occurrence normalised by how
often each is used (cosine: shared / sqrt(uses_a · uses_b)), so a pair that
always travels together weighs 1.

Edges grow with the square of a project's skills (2,000 skills on one project
once meant two million edges, 87 s and 2.2 GB), so the graph is bounded: a
plant lends at most :data:`MAX_PLANT_SKILLS` skills to it (content files are
refused beyond that with a clear message; upstream topics are cut quietly),
edges join only the :data:`MAX_LINKED_SKILLS` most used skills (co-occurrence
is counted in one small square matrix, not in a dictionary of every pair),
and only the :data:`MAX_EDGES` strongest edges are kept. Every node is kept.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections import Counter
from collections.abc import Iterable, Mapping

import numpy as np

from greenhouse.content import MAX_PLANT_SKILLS

#: Most skills that edges may join: the most used ones (then by name).
MAX_LINKED_SKILLS = 500
#: Most edges drawn: the strongest pairs (most shared projects, then weight, then names).
MAX_EDGES = 1000


@functools.lru_cache(maxsize=4096)  # a thousand plants name the same few dozen skills
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
    plant_keys: list[list[str]] = []
    names: dict[str, str] = {}
    projects: dict[str, list[str]] = {}
    for plant_id in sorted(plant_skills):
        chosen: dict[str, str] = {}  # the plant's first MAX_PLANT_SKILLS skills, by key
        for name in plant_skills[plant_id]:
            if len(chosen) == MAX_PLANT_SKILLS:
                break
            chosen.setdefault(skill_key(name), name)
        keys = sorted(chosen)
        for key in keys:
            names.setdefault(key, chosen[key])
            uses[key] += 1
            projects.setdefault(key, []).append(plant_id)
        plant_keys.append(keys)

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
    edges = _edges(plant_keys, uses)
    return {"nodes": [nodes[k] for k in ordered], "edges": edges}


def _edges(plant_keys: list[list[str]], uses: Counter[str]) -> list[dict[str, object]]:
    """The strongest edges among the most used skills, sorted by (source, target)."""
    linked = sorted(sorted(uses, key=lambda k: (-uses[k], k))[:MAX_LINKED_SKILLS])
    index = {key: i for i, key in enumerate(linked)}
    # Every (skill, skill) pair of every plant, counted in one go.
    n = len(linked)
    pairs: list[int] = []
    for keys in plant_keys:
        cols = [index[k] for k in keys if k in index]
        if len(cols) > 1:
            pairs += [i * n + j for i in cols for j in cols]
    shared = np.bincount(np.asarray(pairs, dtype=np.int64), minlength=n * n).reshape(n, n)
    a, b = np.triu_indices(len(linked), k=1)
    counts = shared[a, b]
    together = counts > 0
    a, b, counts = a[together], b[together], counts[together]
    used = np.array([uses[k] for k in linked], dtype=np.float64)
    cosine = counts / np.sqrt(used[a] * used[b])
    strongest = np.lexsort((b, a, -cosine, -counts))[:MAX_EDGES]
    edges = []
    for i, j in sorted(zip(a[strongest].tolist(), b[strongest].tolist(), strict=True)):
        source, target = linked[i], linked[j]
        n = int(shared[i, j])
        weight = round(n / math.sqrt(uses[source] * uses[target]), 4)
        edges.append({"source": source, "target": target, "weight": weight, "shared": n})
    return edges


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
