"""Report of an 8-hour, two-sensor, 100 Hz session: wall time and peak memory.

Issue 2's target: under 10 s on a 2-core machine, memory bounded. The session is
simulated once (desk scenario stretched to 8 h, both sensors at 100 Hz) and cached; the
report then runs in a fresh process exactly as `imu report` does, and its wall time and
peak resident memory are printed. Usage: python benchmarks/bench_report_8h.py [--hours H]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def build_session(path: Path, hours: float) -> None:
    from imu.sim import simulate
    from imu.sim.write import write_simulated_session

    t0 = time.perf_counter()
    sim = simulate("desk", hours * 3600, seed=1, rates_hz={"thoracic": 100.0, "lumbar": 100.0})
    write_simulated_session(sim, path, "desk", 1)
    print(f"built {path.name}: {len(sim.notifications)} notifications, "
          f"{path.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - t0:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "imu-bench"))
    args = parser.parse_args()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    session = cache / f"desk-{args.hours:g}h.imu"
    if not session.exists():
        build_session(session, args.hours)
    out = Path(tempfile.mkdtemp(prefix="imu-bench-report-"))
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "imu.cli", "report", str(session), "-o", str(out)],
                   check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"imu report, {args.hours:g} h, 2 sensors at 100 Hz: {wall:.1f} s wall, "
          f"peak memory {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
