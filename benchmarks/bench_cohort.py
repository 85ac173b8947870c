"""Indexing a simulated cohort on 1 and 2 Dask workers, and re-indexing it unchanged.

    python benchmarks/bench_cohort.py [--sessions 200] [--minutes 5] [--workers 1 2]

The cohort (20 people, one session per working day) is simulated once on the largest worker
count; each index run starts its own LocalCluster (its start-up is included, as a user
pays it) and writes a fresh index. The unchanged re-index needs no cluster at all.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from imu.cohort.aggregate import person_summary, usable
from imu.cohort.index import build_index
from imu.cohort.simulated import simulate_cohort
from imu.sim.cohort import load_truth


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    logging.getLogger("distributed").setLevel(logging.ERROR)
    print(f"{os.cpu_count()} cores; load average before: {os.getloadavg()[0]:.1f}")
    people = 20
    days = -(-args.sessions // people) + 2  # a few days are missed: simulate a little more
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "cohort"
        began = time.perf_counter()
        simulate_cohort(folder, people, days, minutes=args.minutes, workers=max(args.workers))
        files = sorted(folder.glob("*.imu"))
        for extra in files[args.sessions:]:  # exactly the asked number of sessions
            extra.unlink()
        files = files[:args.sessions]
        size_mb = sum(f.stat().st_size for f in files) / 1e6
        print(f"simulated {len(files)} sessions of {args.minutes:g} min ({size_mb:.0f} MB) "
              f"in {time.perf_counter() - began:.1f} s")
        times = {}
        for workers in args.workers:
            index = Path(tmp) / f"index-{workers}.parquet"
            began = time.perf_counter()
            result = build_index([folder], index, workers=workers)
            times[workers] = time.perf_counter() - began
            failed = len(result.failed)
            busy = result.table["analysis_s"].sum()  # seconds the workers spent on files
            print(f"index on {workers} worker(s): {times[workers]:.1f} s "
                  f"({times[workers] / len(files) * 1000:.0f} ms per session, {failed} failed); "
                  f"worker time {busy:.0f} s, {busy / len(files) * 1000:.0f} ms per session, "
                  f"{busy / times[workers]:.2f} sessions in flight on average")
        if len(times) > 1:
            low, high = min(times), max(times)
            print(f"speed-up {low} -> {high} workers: {times[low] / times[high]:.2f}x")
        _accuracy(folder, result.table)
        index = Path(tmp) / f"index-{args.workers[0]}.parquet"
        runs = []
        for _ in range(5):
            began = time.perf_counter()
            result = build_index([folder], index)
            runs.append(time.perf_counter() - began)
            assert result.analysed == 0 and not result.written
        print(f"re-index of the unchanged folder ({len(files)} files): best {min(runs) * 1000:.0f} ms, "
              f"worst {max(runs) * 1000:.0f} ms of {len(runs)} (target: under 1 s)")


def _accuracy(folder: Path, table) -> None:
    """Detected slouches against the simulated truth, and each person's trend word."""
    truth = load_truth(folder)
    rows = table.set_index("file")
    pairs = [(rows.loc[s["file"], "slouch_count"], s["true_slouches"]) for s in truth["sessions"]
             if s["file"] in rows.index]
    found, true = np.array(pairs, float).T
    print(f"slouches per session vs truth: {np.mean(found == true) * 100:.0f} % exact, mean abs "
          f"error {np.mean(np.abs(found - true)):.2f} (true mean {true.mean():.1f}), "
          f"total {found.sum():.0f} found / {true.sum():.0f} true")
    rows = usable(table)
    expected = {"improving": "falling", "worsening": "rising", "stable": "no clear change"}
    hits = {}
    for p in truth["people"]:
        mine = rows[rows["person"] == p["name"]]
        if mine.empty:  # all of this person's sessions were beyond the asked number
            continue
        word = person_summary(mine)["trend"]
        ok, total = hits.get(p["trend"], (0, 0))
        hits[p["trend"]] = (ok + (word == expected[p["trend"]]), total + 1)
    print("trend words vs truth: " + ", ".join(
        f"{trend} -> {expected[trend]} {ok}/{total}" for trend, (ok, total) in hits.items()))


if __name__ == "__main__":
    main()
