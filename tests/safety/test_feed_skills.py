"""Issue 16.7: control characters never make feed.xml invalid; the constellation is bounded."""

from __future__ import annotations

import json
import random
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from greenhouse.garden.skills import MAX_EDGES, MAX_LINKED_SKILLS, MAX_PLANT_SKILLS, constellation

ATOM = "{http://www.w3.org/2005/Atom}"


def test_control_characters_in_titles_keep_feed_and_sitemap_valid(cli, small_site: Path) -> None:
    config = small_site / "greenhouse.toml"
    config.write_text(
        config.read_text()
        .replace('title = "Small garden"', 'title = "Small\\u0001 garden\\u001b[31m"')
        .replace('author = "me"', 'author = "me\\u0000\\uFFFE"')
    )
    fern = small_site / "content" / "projects" / "fern.md"
    fern.write_text(
        fern.read_text().replace('title = "Fern"', 'title = "F\\u0008ern\\u000b\\u001f"')
    )
    result = cli("build", "--offline", "--root", small_site)
    assert result.exit_code == 0, result.output
    site = small_site / "build" / "site"
    feed = ET.parse(site / "feed.xml").getroot()  # expat: any forbidden character fails here
    assert feed.findtext(f"{ATOM}title") == "Small garden[31m: garden milestones"
    titles = [entry.findtext(f"{ATOM}title") for entry in feed.iter(f"{ATOM}entry")]
    assert "Fern was planted" in titles
    assert feed.findtext(f"{ATOM}author/{ATOM}name") == "me"
    ET.parse(site / "sitemap.xml")
    # The JSON API keeps the name as given (JSON escapes control characters itself).
    garden = json.loads((site / "api/v1/garden/index.json").read_text())
    assert "F\bern\x0b\x1f" in [plant["name"] for plant in garden["plants"]]
    assert "\x08" not in (site / "projects" / "fern" / "index.html").read_text()


def test_a_base_url_with_control_characters_is_refused(cli, small_site: Path) -> None:
    config = small_site / "greenhouse.toml"
    config.write_text(
        config.read_text().replace(
            "https://me.example/garden/", "https://me.example/ga\\u0001rden/"
        )
    )
    result = cli("check", "--root", small_site)
    assert result.exit_code == 1
    assert "[site.base_url] Value error, must be an absolute http(s) URL" in result.output


def test_two_thousand_skills_on_one_project_are_refused(cli, small_site: Path) -> None:
    """The evaluation's case took 87 s and 2.2 GB; now it is a clear error before any work."""
    path = small_site / "content" / "projects" / "everything.md"
    skills = ", ".join(f'"skill {n}"' for n in range(2000))
    path.write_text(f'+++\ntitle = "Everything"\nskills = [{skills}]\n+++\n')
    for command in (["check"], ["build", "--offline"]):
        result = cli(*command, "--root", small_site)
        assert result.exit_code == 1
        assert (
            f"{path}:3: [skills] Value error, at most {MAX_PLANT_SKILLS} skills per project "
            "(got 2000)" in result.output
        )
    assert not (small_site / "build").exists()


def test_too_many_declared_skills_are_refused_with_the_line(cli, small_site: Path) -> None:
    skills = small_site / "content" / "skills.toml"
    skills.write_text("".join(f'[[skills]]\nname = "s{n}"\n\n' for n in range(600)))
    result = cli("check", "--root", small_site)
    assert result.exit_code == 1
    assert f"{skills}:1501: [skills] Value error, at most 500 declared skills (got 600)" in (
        result.output
    )


@pytest.mark.parametrize("name", ["", "x" * 101])
def test_a_skill_name_is_bounded(cli, small_site: Path, name: str) -> None:
    path = small_site / "content" / "projects" / "fern.md"
    path.write_text(f'+++\nskills = ["ok", "{name}"]\n+++\n')
    result = cli("check", "--root", small_site)
    assert result.exit_code == 1 and f"{path}:2: [skills]" in result.output


def test_the_most_skills_allowed_build_a_bounded_constellation(cli, small_site: Path) -> None:
    projects = small_site / "content" / "projects"
    for n in range(40):
        skills = ", ".join(f'"s{(n * 7 + k) % 120}"' for k in range(MAX_PLANT_SKILLS))
        (projects / f"p{n}.md").write_text(f'+++\ntitle = "P{n}"\nskills = [{skills}]\n+++\n')
    result = cli("build", "--offline", "--root", small_site)
    assert result.exit_code == 0, result.output
    doc = json.loads((small_site / "build/site/api/v1/skills/index.json").read_text())
    assert len(doc["nodes"]) == 123  # s0…s119 and Python, DuckDB, Rust: every node is kept
    assert len(doc["edges"]) == MAX_EDGES
    page = (small_site / "build/site/skills/index.html").read_text()
    assert page.count("<line ") == MAX_EDGES


def test_constellation_keeps_the_strongest_edges_and_caps_each_plant() -> None:
    rng = random.Random(16)
    pool = [f"skill-{n}" for n in range(300)]
    plants = {f"p{n}": rng.sample(pool, 40) for n in range(120)}
    plants["core-a"] = ["Python", "DuckDB"] + [f"solo-{n}" for n in range(3000)]
    for n in range(30):
        plants[f"pair-{n}"] = ["Python", "DuckDB"]
    sky = constellation([], plants)
    edges = {(e["source"], e["target"]): e for e in sky["edges"]}
    assert len(edges) == MAX_EDGES
    assert edges["duckdb", "python"]["shared"] == 31  # the strongest pair is never dropped
    weakest_kept = min(e["shared"] for e in sky["edges"])
    # no dropped pair is stronger than the weakest one kept
    counts: dict[tuple[str, str], int] = {}
    for skills in plants.values():
        keys = sorted({s.lower() for s in skills[:MAX_PLANT_SKILLS]})
        for i, a in enumerate(keys):
            for b in keys[i + 1 :]:
                counts[a, b] = counts.get((a, b), 0) + 1
    assert all(n <= weakest_kept for pair, n in counts.items() if pair not in edges)
    solos = [node for node in sky["nodes"] if node["id"].startswith("solo-")]
    assert len(solos) == MAX_PLANT_SKILLS - 2  # the rest of core-a's 3,002 skills are cut
    assert sky == constellation([], plants)  # deterministic


def test_edges_join_only_the_most_used_skills_at_a_thousand_plants() -> None:
    """1,000 plants of 50 skills each from 2,000: nodes all kept, edges bounded (was quadratic)."""
    rng = random.Random(1000)
    pool = [f"skill-{n:04d}" for n in range(2000)]
    plants = {f"p{n}": rng.sample(pool, MAX_PLANT_SKILLS) for n in range(1000)}
    sky = constellation([], plants)
    assert len(sky["nodes"]) == 2000 and len(sky["edges"]) == MAX_EDGES
    uses = {node["id"]: node["uses"] for node in sky["nodes"]}
    ranked = sorted(uses, key=lambda k: (-uses[k], k))
    linked = set(ranked[:MAX_LINKED_SKILLS])
    assert {e["source"] for e in sky["edges"]} | {e["target"] for e in sky["edges"]} <= linked
    assert sky["edges"] == sorted(sky["edges"], key=lambda e: (e["source"], e["target"]))
