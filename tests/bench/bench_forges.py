"""Benchmark of the GitLab and Forgejo sources against their fakes, with added latency.

    python tests/bench/bench_forges.py --repos 230 --latency 0.05
    python tests/bench/bench_forges.py --repos 1000 --latency 0.05

For each forge, a cold sync into a new DuckDB file, then a warm sync with
nothing changed, then one after a push to 5 % of the repositories. Prints the
requests sent, the wall time, the lower bound (requests / concurrency ×
latency) and their ratio. The baseline, measured in the same run against the
same number of repositories: the GitHub source without a token
(tests/sources/fake_upstream.py), whose warm sync is all 304s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from greenhouse.config import Secrets, Site, validate_config  # noqa: E402
from greenhouse.sources.http import HttpOptions  # noqa: E402
from greenhouse.sources.sync import sync_sources  # noqa: E402
from greenhouse.store import Store  # noqa: E402
from tests.bench.bench_sync import account  # noqa: E402
from tests.forges.fakes import (  # noqa: E402
    FakeForgejo,
    FakeGitLab,
    ForgejoRepo,
    GitLabProject,
    history,
    now,
)
from tests.sources.fake_upstream import FakeUpstream, GitHubModel  # noqa: E402


def sync(site: Site, path: Path, name: str, log: Any) -> tuple[int, float]:
    before = len(log())
    with Store.open(path) as store:
        started = time.perf_counter()
        report = sync_sources(site, store, Secrets(), [name], options=HttpOptions(timeout=30))
        wall = time.perf_counter() - started
    assert report[name].status == "ok", report
    return len(log()) - before, wall


def row(label: str, requests: int, wall: float, concurrency: int, latency: float) -> None:
    bound = max(requests / concurrency * latency, latency)
    print(f"{label:28} {requests:>8} {wall:>8.2f} {bound:>8.2f} {wall / bound:>6.2f}")


def push(repos: list[Any], field: str) -> None:
    for repo in repos[::20]:  # 5 %
        repo.commits = history(f"push-{repo.name}", {0: 2}) + (repo.commits or [])
        setattr(repo, field, now())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=230)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added per request")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    n, latency, slots = args.repos, args.latency, args.concurrency
    print(
        f"{n} repos, {latency * 1000:.0f} ms latency, concurrency {slots} (shipped defaults: "
        "github 4, gitlab 4, forgejo 2; the forgejo rows below use --concurrency)"
    )
    print(f"{'':28} {'requests':>8} {'wall s':>8} {'bound s':>8} {'ratio':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        model = GitHubModel(user="bench")
        model.repos = account(n)
        model.limit = model.remaining = 100_000
        with FakeUpstream(model, latency=latency) as github:
            raw = {"github": {"user": "bench", "api_url": f"{github.url}/gh", "concurrency": slots}}
            site = Site(root=Path(tmp), config=validate_config(raw, "t"))
            for phase in ("cold", "warm"):
                requests, wall = sync(site, Path(tmp) / "gh.duckdb", "github", lambda: github.log)
                row(f"baseline github {phase}", requests, wall, slots, latency)

        with FakeGitLab(rate_limit=100_000) as gitlab:
            gitlab.latency = latency
            for i in range(n):
                gitlab.add(GitLabProject(f"project-{i:04d}", stars=i % 40))
            raw = {"gitlab": {"user": "ada", "api_url": gitlab.url, "concurrency": slots}}
            site = Site(root=Path(tmp), config=validate_config(raw, "t"))
            for phase in ("cold", "warm", "after a push to 5 %"):
                if phase.startswith("after"):
                    push(gitlab.projects, "last_activity_at")
                requests, wall = sync(site, Path(tmp) / "gl.duckdb", "gitlab", lambda: gitlab.log)
                row(f"gitlab {phase}", requests, wall, slots, latency)

        with FakeForgejo() as forgejo:
            forgejo.latency = latency
            for i in range(n):
                forgejo.add(ForgejoRepo(f"project-{i:04d}", stars=i % 40))
            raw = {"forgejo": {"user": "ada", "api_url": forgejo.url, "concurrency": slots}}
            site = Site(root=Path(tmp), config=validate_config(raw, "t"))
            for phase in ("cold", "warm", "after a push to 5 %"):
                if phase.startswith("after"):
                    push(forgejo.repos, "updated_at")
                requests, wall = sync(site, Path(tmp) / "fj.duckdb", "forgejo", lambda: forgejo.log)
                row(f"forgejo {phase}", requests, wall, slots, latency)


if __name__ == "__main__":
    main()
