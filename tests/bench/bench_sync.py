"""Benchmark of ``greenhouse sync`` against the fake upstream with added latency.

    python tests/bench/bench_sync.py --repos 300 --latency 0.05

For each of "no token" and "token": a cold sync into a new DuckDB file, then a
warm sync with nothing changed. Prints requests sent, 304s, GitHub primary
rate limit spent (REST requests that were not 304 + GraphQL queries), wall
time, the lower bound requests / concurrency × latency, and the ratio of the
wall time to that bound (or to one round trip, when there are fewer requests
than slots: no sync beats a single round trip).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from greenhouse.config import Secrets, Site, validate_config  # noqa: E402
from greenhouse.sources.http import HttpOptions  # noqa: E402
from greenhouse.sources.sync import sync_sources  # noqa: E402
from greenhouse.store import Store  # noqa: E402
from tests.sources.fake_upstream import FakeRepo, FakeUpstream, GitHubModel  # noqa: E402

TOKEN = "ghp_benchmarkTOKEN000000000000000000"


def account(n: int) -> list[FakeRepo]:
    """A plausible account: a third of the repos quiet for over a year, a few forks."""
    repos = []
    for i in range(n):
        quiet = i % 3 == 2
        repos.append(
            FakeRepo(
                name=f"project-{i:04d}",
                stars=i % 40,
                fork=i % 25 == 24,
                archived=i % 30 == 29,
                commits={400 + i % 30: 2} if quiet else {i % 50: 1 + i % 4, 7 + i % 90: 2},
                languages={"Python": 1000 + i, "HTML": 10 * i},
            )
        )
    return repos


def run(site: Site, path: Path, secrets: Secrets, fake: FakeUpstream) -> dict[str, float]:
    before_log = len(fake.log)
    before_limit = fake.github.remaining
    with Store.open(path) as store:
        started = time.perf_counter()
        report = sync_sources(site, store, secrets, ["github"], options=HttpOptions(timeout=30))
        wall = time.perf_counter() - started
    assert report["github"].status == "ok", report
    sent = fake.log[before_log:]
    graphql = sum(1 for r in sent if r.path.endswith("/graphql"))
    return {
        "requests": len(sent),
        "not_modified": sum(1 for r in sent if r.status == 304),
        "graphql": graphql,
        "primary": before_limit - fake.github.remaining + graphql,
        "wall": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=300)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added per request")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    print(
        f"{args.repos} repos, {args.latency * 1000:.0f} ms latency, concurrency {args.concurrency}"
    )
    print(
        f"{'':18} {'requests':>8} {'304s':>6} {'graphql':>7} {'primary':>7} {'wall s':>7} "
        f"{'bound s':>7} {'ratio':>6}"
    )
    for label, secrets in (("no token", Secrets()), ("token", Secrets(github_token=TOKEN))):
        model = GitHubModel(user="bench", token=TOKEN)
        model.repos = account(args.repos)
        model.limit = model.remaining = 100_000
        with (
            FakeUpstream(model, latency=args.latency) as fake,
            tempfile.TemporaryDirectory() as tmp,
        ):
            raw = {
                "github": {
                    "user": "bench",
                    "api_url": f"{fake.url}/gh",
                    "concurrency": args.concurrency,
                }
            }
            site = Site(root=Path(tmp), config=validate_config(raw, "greenhouse.toml"))
            db = Path(tmp) / "greenhouse.duckdb"
            for phase in ("cold", "warm"):
                figures = run(site, db, secrets, fake)
                bound = figures["requests"] / args.concurrency * args.latency
                # Fewer requests than slots still take one round trip.
                floor = max(bound, args.latency)
                print(
                    f"{label + ' ' + phase:18} {figures['requests']:>8.0f} "
                    f"{figures['not_modified']:>6.0f} {figures['graphql']:>7.0f} "
                    f"{figures['primary']:>7.0f} {figures['wall']:>7.2f} {bound:>7.2f} "
                    f"{figures['wall'] / floor:>6.2f}"
                )


if __name__ == "__main__":
    main()
