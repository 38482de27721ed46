"""Benchmark: ingest + aggregate a million visit events, next to DuckDB's bare bulk load.

    python tests/bench/bench_analytics.py --events 1000000

Generates synthetic events in the sidecar's log layout
(``<dir>/main/<YYYYMMDD>.jsonl``), then runs, each in a fresh subprocess (so
peak memory is measured per phase):

- ``bare``: ``CREATE TABLE t AS SELECT * FROM read_json(...)`` of the same
  files, with the store's DuckDB settings (2 threads, 256 MB);
- ``ours``: the visitors source's folder path into a fresh store (read_json,
  cleaning, dedup, every aggregate, engagement, retention).

Prints wall time and peak RSS of each, and the ratio.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def generate(folder: Path, count: int, days: int = 20, seed: int = 5) -> None:
    """*count* events over the last *days* days, one file per day."""
    rng = random.Random(seed)
    end = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=10)
    start = end - timedelta(days=days)
    per_day = count // days
    projects = [f"plant-{i}" for i in range(40)] + [None]
    actions = ["like", "water", "share", "open_repo"]
    devices = ["desktop", "mobile", "tablet"]
    referrers = [None, None, None, "news.example.com", "search.example.org", "blog.example.net"]
    (folder / "main").mkdir(parents=True, exist_ok=True)
    written = 0
    for d in range(days):
        n = per_day if d < days - 1 else count - written
        day_start = start + timedelta(days=d)
        stamps = sorted(rng.random() * 86400 for _ in range(n))
        name = day_start.strftime("%Y%m%d")
        lines = []
        for seq, offset in enumerate(stamps, 1):
            ts = day_start + timedelta(seconds=offset)
            kind = rng.choices(("view", "interact", "leave"), (6, 2, 2))[0]
            lines.append(
                json.dumps(
                    {
                        "id": f"{name}-{seq:010d}-main",
                        "ts": ts.isoformat(timespec="milliseconds") + "Z",
                        "visitor": f"{rng.getrandbits(128) % (n // 8 + 1):032x}",
                        "type": kind,
                        "project": rng.choice(projects),
                        "action": rng.choice(actions) if kind == "interact" else None,
                        "referrer": rng.choice(referrers) if kind == "view" else None,
                        "device": rng.choice(devices),
                        **({"duration": round(rng.random() * 300, 1)} if kind == "leave" else {}),
                    },
                    separators=(",", ":"),
                    sort_keys=True,
                )
            )
        (folder / "main" / f"{name}.jsonl").write_text("\n".join(lines) + "\n")
        written += n


def phase_bare(folder: Path, work: Path) -> None:
    import duckdb

    conn = duckdb.connect(str(work / "bare.duckdb"), config={"threads": 2, "memory_limit": "256MB"})
    conn.execute(
        "CREATE TABLE t AS SELECT * FROM read_json(?, format = 'newline_delimited')",
        [str(folder / "main" / "*.jsonl")],
    )


def phase_ours(folder: Path, work: Path) -> None:
    from greenhouse.config import Config, Secrets
    from greenhouse.sources.run import SourceRun
    from greenhouse.sources.visitors import sync_visitors
    from greenhouse.store import Store

    config = Config.model_validate({"live": {"event_dir": str(folder)}})
    with Store.open(work / "ours.duckdb") as store:
        run = SourceRun("visitors", store, config, Secrets(), root=work)
        outcome = sync_visitors(run)
        assert outcome.status == "ok", outcome
        print(f"    {outcome.summary}", file=sys.stderr)


def child(phase: str, folder: Path, work: Path) -> None:
    started = time.perf_counter()
    (phase_ours if phase == "ours" else phase_bare)(folder, work)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"phase": phase, "seconds": seconds, "peak_mb": peak_mb}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--phase", choices=("bare", "ours"))
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    if args.phase:
        child(args.phase, args.dir, args.work)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "events"
        started = time.perf_counter()
        generate(folder, args.events)
        size = sum(p.stat().st_size for p in folder.rglob("*.jsonl"))
        print(
            f"generated {args.events:,} events ({size / 1e6:.0f} MB) in "
            f"{time.perf_counter() - started:.1f}s"
        )
        results = {}
        for phase in ("bare", "ours"):
            out = subprocess.run(
                [sys.executable, __file__, "--phase", phase, "--dir", str(folder), "--work", tmp],
                check=True,
                capture_output=True,
                text=True,
            )
            sys.stderr.write(out.stderr)
            results[phase] = json.loads(out.stdout.strip().splitlines()[-1])
            r = results[phase]
            print(f"{phase:>5}: {r['seconds']:6.2f}s wall, peak RSS {r['peak_mb']:6.0f} MB")
        ratio = results["ours"]["seconds"] / results["bare"]["seconds"]
        print(f"ratio ours/bare: {ratio:.2f}x (target: within 2x)")


if __name__ == "__main__":
    main()
