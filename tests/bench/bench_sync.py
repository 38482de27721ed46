"""Benchmark of ``greenhouse sync`` with every source configured, against the fake upstream.

    python tests/bench/bench_sync.py --repos 300 --latency 0.05 --runs 3

The fake upstream (``tests/sources/fake_upstream.py``) adds ``--latency`` to every
request. GitHub (the account of ``--repos`` repositories), Spotify, Last.fm and
Open-Meteo are all configured. For "no token" and "token", each run does:

- **cold**: ``greenhouse sync`` in a child process (the real CLI) into a new
  DuckDB file; its wall time, and its start-up: from launching the process to
  the first request reaching the fake;
- **warm**: the same again, with nothing changed upstream.

Printed beside each figure: the requests sent, the bound
``requests ÷ concurrency × latency`` (concurrency = ``[github] concurrency``,
4 by default: the shipped defaults), and wall ÷ bound. Targets (issue 12):
cold ≤ 1.5 × bound, start-up ≤ 0.3 s. The baseline is measured in the same
run: a child process that only imports greenhouse's CLI and exits (the part
of start-up that is Python and imports).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.sources.fake_upstream import (  # noqa: E402
    FakeRepo,
    FakeUpstream,
    GitHubModel,
    Scrobble,
)

TOKEN = "ghp_benchmarkTOKEN000000000000000000"
SPOTIFY_ENV = {
    "SPOTIFY_CLIENT_ID": "client-id-123",
    "SPOTIFY_CLIENT_SECRET": "client-SECRET-456",
    "SPOTIFY_REFRESH_TOKEN": "refresh-TOKEN-789",
    "LASTFM_API_KEY": "LASTFM-key-0123456789",
}


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


def config(fake: FakeUpstream, concurrency: int) -> str:
    return f"""
[github]
user = "bench"
api_url = "{fake.url}/gh"
concurrency = {concurrency}

[spotify]
api_url = "{fake.url}/spotify/v1"
accounts_url = "{fake.url}/accounts"

[lastfm]
user = "rj"
api_url = "{fake.url}/lastfm/2.0/"

[weather]
provider = "open-meteo"
latitude = 64.1
longitude = -21.9
api_url = "{fake.url}/meteo"
"""


def sync_once(site: Path, env: dict[str, str], fake: FakeUpstream) -> dict[str, float]:
    """One ``greenhouse sync`` in a child process: wall, start-up, requests."""
    before = len(fake.log)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "greenhouse", "sync", "--root", str(site)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    wall = time.monotonic() - started
    if done.returncode != 0:
        print(f"  (sync exited {done.returncode}: {done.stderr.strip().splitlines()[-1:]})")
    sent = fake.log[before:]
    first = min((r.at for r in sent), default=started) - started
    return {"wall": wall, "startup": first, "requests": len(sent)}


def import_only(env: dict[str, str]) -> float:
    """Baseline: a child process that imports the CLI module and exits."""
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "import greenhouse.cli"], env=env, check=True)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=300)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added per request")
    parser.add_argument("--concurrency", type=int, default=4, help="[github] concurrency")
    parser.add_argument("--runs", type=int, default=3, help="repetitions of each case")
    args = parser.parse_args()

    load = os.getloadavg()[0]
    print(
        f"{args.repos} repos, {args.latency * 1000:.0f} ms latency, github concurrency "
        f"{args.concurrency}, {args.runs} runs, load average {load:.2f}"
    )
    # PYTHONDONTWRITEBYTECODE (set in some development shells) would make every child
    # compile every module from source; an installed greenhouse has its bytecode.
    base_env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"GITHUB_TOKEN", "SOURCE_DATE_EPOCH", "PYTHONDONTWRITEBYTECODE"}
        and not k.startswith("SPOTIFY_")
    }
    base_env["PYTHONPATH"] = str(ROOT)
    subprocess.run(  # warm-up: bytecode written, files in the page cache
        [sys.executable, "-m", "greenhouse", "--help"],
        env=base_env,
        check=True,
        capture_output=True,
    )
    imports = [import_only(base_env) for _ in range(args.runs)]
    print(f"baseline: python + import greenhouse.cli {statistics.median(imports):.2f} s (median)")
    print(
        f"{'case':18} {'requests':>8} {'wall s':>7} {'bound s':>7} {'ratio':>6} "
        f"{'start-up s':>10}   (median of {args.runs}; min–max ratio)"
    )
    for label, token in (("no token", None), ("token", TOKEN)):
        rows: dict[str, list[dict[str, float]]] = {"cold": [], "warm": []}
        for _ in range(args.runs):
            model = GitHubModel(user="bench", token=TOKEN)
            model.repos = account(args.repos)
            model.limit = model.remaining = 100_000
            with (
                FakeUpstream(model, latency=args.latency) as fake,
                tempfile.TemporaryDirectory() as tmp,
            ):
                fake.lastfm.scrobbles = [
                    Scrobble(1764230000 - i * 300, f"t{i}") for i in range(150)
                ]
                fake.spotify.plays = []
                site = Path(tmp)
                (site / "greenhouse.toml").write_text(config(fake, args.concurrency))
                env = {**base_env, **SPOTIFY_ENV}
                if token:
                    env["GITHUB_TOKEN"] = token
                for phase in ("cold", "warm"):
                    rows[phase].append(sync_once(site, env, fake))
        for phase, runs in rows.items():
            requests = statistics.median(r["requests"] for r in runs)
            bound = requests / args.concurrency * args.latency
            floor = max(bound, args.latency)  # fewer requests than slots: one round trip
            ratios = [
                r["wall"] / max(r["requests"] / args.concurrency * args.latency, args.latency)
                for r in runs
            ]
            print(
                f"{label + ' ' + phase:18} {requests:>8.0f} "
                f"{statistics.median(r['wall'] for r in runs):>7.2f} {bound:>7.2f} "
                f"{statistics.median(r['wall'] for r in runs) / floor:>6.2f} "
                f"{statistics.median(r['startup'] for r in runs):>10.2f}   "
                f"({min(ratios):.2f}–{max(ratios):.2f})"
            )


if __name__ == "__main__":
    main()
