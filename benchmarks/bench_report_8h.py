"""The report of a long two-sensor 100 Hz session against the plain-numpy floor, side by side.

For each session length (1, 2, 4 and 8 h by default) the desk scenario is simulated once
(both sensors at 100 Hz) and cached in /tmp/imu-bench; then, each in a fresh process,

- the floor: benchmarks/floor_8h.py (SQLite read, numpy decode, grid, Z-X-Y angles), and
- `imu report SESSION -o DIR`, exactly as a user runs it,

are timed (wall time of the whole process, start-up included) and their peak resident
memory is read from the kernel (ru_maxrss of the finished child). Targets (issue 9): the
report within 2x the floor and 5 s on 2 cores at 8 h; its peak memory at every length
within 10 % of the others and under 400 MB.

    python benchmarks/bench_report_8h.py [--hours 1 2 4 8] [--repeat 1] [--cache DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def build_session(path: Path, hours: float) -> None:
    from imu.sim import simulate
    from imu.sim.write import write_simulated_session

    t0 = time.perf_counter()
    sim = simulate("desk", hours * 3600, seed=1, rates_hz={"thoracic": 100.0, "lumbar": 100.0})
    try:
        write_simulated_session(sim, path, "desk", 1)
    except BaseException:  # a cut build must not be taken for a whole session next time
        path.unlink(missing_ok=True)
        raise
    print(f"built {path.name}: {len(sim.notifications)} notifications, "
          f"{path.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - t0:.0f} s", flush=True)


def measure(command: list[str]) -> tuple[float, float, float]:
    """(wall s, peak RSS MB, CPU s) of one child process run to completion. CPU time (user +
    system, all threads) is less moved by other load on a shared machine than wall time."""
    began = time.perf_counter()
    # from this checkout's root: `python -m imu.cli` imports the imu of its working folder
    # first, so run from another checkout it would measure that one
    pid = subprocess.Popen(command, stdout=subprocess.DEVNULL, cwd=HERE.parent).pid
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - began
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed ({os.waitstatus_to_exitcode(status)}): {' '.join(command)}")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def main() -> None:
    if sys.argv[1:2] == ["--build"]:
        build_session(Path(sys.argv[2]), float(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; best and worst shown")
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "imu-bench"))
    args = parser.parse_args()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    sessions = {}
    for hours in args.hours:
        sessions[hours] = cache / f"desk-{hours:g}h.imu"
        if not sessions[hours].exists():
            # in a child: a child's peak RSS starts from its parent's at fork (Linux keeps the
            # high-water mark across exec), so simulating eight hours here would inflate every
            # later measurement to this process's gigabyte
            subprocess.run([sys.executable, __file__, "--build", str(sessions[hours]), str(hours)],
                           check=True)
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; {args.repeat} run(s) each: "
          "best (worst) wall time, least CPU time, largest peak RSS")
    print(f"{'hours':>5} {'floor s':>14} {'CPU s':>6} {'floor MB':>9} {'report s':>14} {'CPU s':>6} "
          f"{'report MB':>10} {'ratio':>6}")
    peaks = {}
    for hours, session in sessions.items():
        floor, report = [], []
        for _ in range(args.repeat):
            floor.append(measure([sys.executable, str(HERE / "floor_8h.py"), str(session)]))
            out = Path(tempfile.mkdtemp(prefix="imu-bench-report-"))
            try:
                report.append(measure([sys.executable, "-m", "imu.cli", "report", str(session),
                                       "-o", str(out), "--quiet"]))
            finally:
                shutil.rmtree(out, ignore_errors=True)
        f_best, r_best = min(r[0] for r in floor), min(r[0] for r in report)
        peaks[hours] = max(r[1] for r in report)
        print(f"{hours:>5g} {f_best:>6.2f} ({max(r[0] for r in floor):>5.2f}) {min(r[2] for r in floor):>6.2f} "
              f"{max(r[1] for r in floor):>9.0f} {r_best:>6.2f} ({max(r[0] for r in report):>5.2f}) "
              f"{min(r[2] for r in report):>6.2f} {peaks[hours]:>10.0f} {r_best / f_best:>6.2f}", flush=True)
    if len(peaks) > 1:
        low, high = min(peaks.values()), max(peaks.values())
        per_hour = (peaks[max(peaks)] - peaks[min(peaks)]) / (max(peaks) - min(peaks))
        print(f"report peak memory: {low:.0f} to {high:.0f} MB ({100 * (high - low) / low:.0f} % apart), "
              f"{per_hour:.0f} MB more per recorded hour")


if __name__ == "__main__":
    main()
