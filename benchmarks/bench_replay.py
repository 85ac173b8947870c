"""Replay throughput at speed 0 (times real time) on a 20-minute simulated desk session.

    python benchmarks/bench_replay.py [--minutes 20]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from imu.analysis import analyze, open_source
from imu.replay import replay
from imu.sim import simulate
from imu.sim.write import write_simulated_session


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "desk.imu"
        sim = simulate("desk", args.minutes * 60.0, seed=0)
        write_simulated_session(sim, path, "desk", 0)
        began = time.perf_counter()
        analysis = analyze(open_source(path))
        analyze_s = time.perf_counter() - began
        began = time.perf_counter()
        result = replay(path)
        replay_s = time.perf_counter() - began
        assert result.pipeline_events == analysis.events
        duration = analysis.duration_s
        print(f"session {duration / 60:.1f} min, {len(sim.notifications)} notifications, "
              f"{len(analysis.episodes)} slouch episodes")
        print(f"analyze (20k-notification batches): {analyze_s:.2f} s = {duration / analyze_s:.0f}x real time")
        print(f"replay speed 0 (1 s steps, sinks fed): {replay_s:.2f} s = {duration / replay_s:.0f}x real time")


if __name__ == "__main__":
    main()
