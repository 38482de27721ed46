"""Issue 16.4: the fuzz corpus through the real CLI, in-process and in real processes.

For every case: no traceback and no uncaught exception; exit status 0, 1 or
2 (usage); an exit 1 prints an ``error:`` line naming the file at fault; a
build that succeeds publishes a feed and sitemap that parse as XML and JSON
documents that parse as strict JSON (no NaN or Infinity); and, unless the
command writes content by design (``plant``, ``init``), not one byte of the
site's inputs changes.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import traceback
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from greenhouse.cli import app
from tests.fuzz.corpus import FOLDER, Case, cases, counts
from tests.safety.conftest import write_small_site

CORPUS = cases()
#: The file each kind of case breaks: an error must name it (or the data store it names).
BLAMED = {
    "config": ("greenhouse.toml", "the data store", "not a DuckDB database"),
    "front-matter": ("content/projects/",),
    "skills": ("skills.toml",),
    "template": ("site_templates/",),
}
#: Every 40th case, and each kind's first seed, also runs as a real `python -m greenhouse`.
IN_A_PROCESS = [case for n, case in enumerate(CORPUS) if n % 40 == 0] + [
    next(c for c in CORPUS if c.kind == kind and "mutant" not in c.id)
    for kind in ("front-matter", "skills", "template", "cli")
]


@pytest.fixture(scope="session")
def seasoned_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data store after one build of the small site: cases start from it (no migrations)."""
    site = write_small_site(tmp_path_factory.mktemp("seasoned") / "site")
    result = CliRunner().invoke(app, ["build", "--offline", "--root", str(site)])
    assert result.exit_code == 0, result.output
    return site / "build" / "greenhouse.duckdb"


def make_site(root: Path, case: Case, store: Path | None = None) -> Path:
    site = write_small_site(root / "site")
    if store is not None:
        (site / "build").mkdir()
        shutil.copyfile(store, site / "build" / store.name)
    for relative, data in case.files.items():
        path = site / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        if data is FOLDER:
            path.mkdir()
        else:
            path.write_bytes(data)
    return site


def inputs(site: Path) -> dict[str, str]:
    """The digest of every input file of the site (config, content, templates)."""
    found = {}
    for path in sorted(site.rglob("*")):
        relative = path.relative_to(site)
        if relative.parts[0] in {"greenhouse.toml", "content", "site_templates"} and path.is_file():
            found[str(relative)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def strict_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def check_bundle(bundle: Path) -> None:
    ET.parse(bundle / "feed.xml")
    ET.parse(bundle / "sitemap.xml")
    for document in bundle.rglob("*.json"):
        json.loads(document.read_bytes(), parse_constant=strict_constant)


def allowed_exits(case: Case) -> set[int]:
    return {0, 1, 2} if case.kind == "cli" else {0, 1}


def check_outcome(case: Case, args: tuple[str, ...], code: int, output: str, first: bool) -> None:
    assert "Traceback" not in output, output
    assert code in allowed_exits(case), (code, output)
    if code == 1:
        assert "error: " in output, output
        blamed = BLAMED.get(case.kind, ())
        assert not blamed or any(name in output for name in blamed), output
    if first and case.expect:
        assert case.expect in output, output


@pytest.mark.parametrize("case", CORPUS, ids=[c.id for c in CORPUS])
def test_fuzz_case(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seasoned_store: Path
) -> None:
    site = make_site(tmp_path, case, seasoned_store)
    before = inputs(site)
    monkeypatch.chdir(site)
    runner = CliRunner()
    for n, args in enumerate(case.runs):
        result = runner.invoke(app, list(args), catch_exceptions=True)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            assert result.exc_info is not None
            trace = "".join(traceback.format_exception(*result.exc_info))
            pytest.fail(f"uncaught {type(result.exception).__name__} for {args}:\n{trace}")
        check_outcome(case, args, result.exit_code, result.output, first=n == 0)
        if args[:1] == ("build",) and result.exit_code == 0 and "--output" not in args:
            check_bundle(site / "build" / "site")
    if not case.writes_inputs:
        assert inputs(site) == before, "the site's inputs changed"


@pytest.mark.parametrize("case", IN_A_PROCESS, ids=[c.id for c in IN_A_PROCESS])
def test_fuzz_case_in_a_real_process(case: Case, tmp_path: Path) -> None:
    site = make_site(tmp_path, case)
    before = inputs(site)
    for n, args in enumerate(case.runs):
        result = subprocess.run(
            [sys.executable, "-m", "greenhouse", *args],
            cwd=site,
            capture_output=True,
            text=True,
            timeout=120,
            errors="replace",
        )
        check_outcome(case, args, result.returncode, result.stdout + result.stderr, first=n == 0)
    if not case.writes_inputs:
        assert inputs(site) == before


def test_the_corpus_is_large_seeded_and_deterministic() -> None:
    assert len(CORPUS) >= 222  # the scale of the evaluation's run
    assert len({c.id for c in CORPUS}) == len(CORPUS)
    assert cases() == CORPUS  # the same cases, byte for byte, on every run
    assert cases(seed=17) != CORPUS
    per_kind = counts(CORPUS)
    for kind in ("config", "front-matter", "skills", "template", "cli"):
        assert per_kind[f"{kind} seed"] >= 15 and per_kind[f"{kind} mutant"] >= 25, kind
