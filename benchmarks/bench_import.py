"""Data in: angle coverage at low sample rates, raw-only orientation against the truth, and
the speed of reading a large CSV.

1. A simulated desk session written at 5, 10 and 25 Hz (both sensors; with and without
   host-time jitter on the time stamps, as a logger that stamps on receipt): the share of the
   session with every sensor's orientation on the grid, and with angles, with the gap limit
   in sample periods (now) and with the fixed 0.1 s limit alone (before).
2. A raw-only CSV (no quaternion columns) of the same session at 100, 10 and 5 Hz: tilt
   error of the AHRS orientation against the simulated truth, in the first 3 s and overall.
3. Reading a one-hour, 100 Hz, three-sensor interchange CSV (1.08 M rows), with and without
   quaternions; and the AHRS cost per raw sample.

    python benchmarks/bench_import.py [--minutes 60] [--session-s 600]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from imu import anatomy
from imu import quat as Q
from imu.analysis import _new_pipeline, _steps, analyze, open_source
from imu.core.orient import RawOrientation
from imu.profile import Thresholds
from imu.recording.csv_import import read_interchange_csv
from imu.samples import TimedSamples
from imu.sim import simulate, to_interchange_csv


def coverage(path: Path, thresholds: Thresholds) -> tuple[float, float, str]:
    source = open_source(path, thresholds)
    pipeline = _new_pipeline(source, None)
    valid = []
    for out in _steps(source, pipeline):
        valid.append(np.all([np.isfinite(q).all(axis=1) for q in out.grid.quat.values()], axis=0))
    grid = float(np.concatenate(valid).mean())
    try:
        analysis = analyze(source)
        angle = analysis.angles.get("thoracic_flexion")
        share = 0.0 if angle is None else float(np.isfinite(angle).mean())
        why = analysis.calibration.quality
    except Exception as err:  # the old limit broke calibration outright at 5 Hz
        share, why = 0.0, f"{type(err).__name__}"
    return grid, share, why


def tilt_error(sim, source, location: str) -> tuple[np.ndarray, np.ndarray]:
    pipeline = _new_pipeline(source, None)
    t, quat = [], []
    for out in _steps(source, pipeline):
        t.append(out.t)
        quat.append(out.grid.quat[location])
    t, quat = np.concatenate(t), np.concatenate(quat)
    ok = np.isfinite(quat).all(axis=1)
    truth = sim.true_sensor_orientation(location, t[ok])
    measured = Q.rotate(Q.conjugate(quat[ok]), [0.0, 0.0, 1.0])
    true = Q.rotate(Q.conjugate(truth), anatomy.UP)
    return t[ok], np.degrees(np.arccos(np.clip((measured * true).sum(axis=1), -1, 1)))


def large_csv(path: Path, minutes: float, with_quat: bool) -> int:
    rate, rng = 100.0, np.random.default_rng(0)
    n = int(minutes * 60 * rate)
    parts = []
    for i, location in enumerate(("thoracic", "lumbar", "sacral")):
        t = np.arange(n) / rate + i * 0.003
        angle = 20 * np.sin(2 * np.pi * t / 30.0) + rng.normal(0, 0.2, n)
        q = Q.from_axis_angle([1.0, 0, 0], angle)
        a = Q.rotate(Q.conjugate(q), [0.0, 0.0, 1.0]) + rng.normal(0, 0.004, (n, 3))
        g = np.column_stack([np.gradient(angle, t), rng.normal(0, 0.1, n), rng.normal(0, 0.1, n)])
        cols = {"time_s": t, "sensor": location}
        if with_quat:
            cols.update(zip(("qw", "qx", "qy", "qz"), q.T))
        cols.update(zip(("ax", "ay", "az"), a.T))
        cols.update(zip(("gx", "gy", "gz"), g.T))
        parts.append(pd.DataFrame(cols))
    frame = pd.concat(parts).sort_values("time_s", kind="stable")
    frame.to_csv(path, index=False, float_format="%.7g")
    return len(frame)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="length of the large CSV")
    parser.add_argument("--session-s", type=float, default=600.0, help="length of the simulated session")
    args = parser.parse_args()
    before = Thresholds(max_interpolation_gap_periods=0.0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sim = simulate("desk", args.session_s, seed=3, rates_hz={"thoracic": 100, "lumbar": 100})
        print(f"1. coverage, desk {args.session_s:.0f} s, both sensors at the rate "
              "(grid = every sensor's orientation; angles = thoracic_flexion)")
        print(f"   {'rate, time jitter':17s}  {'grid before':>11} {'grid now':>9}  {'angles before':>13} {'angles now':>10}  calibration now")
        for rate, jitter in ((5, 0.0), (10, 0.0), (10, 0.01), (25, 0.0), (25, 0.005)):
            path = tmp / f"desk{rate}.csv"
            to_interchange_csv(sim, path, rates_hz={"thoracic": rate, "lumbar": rate}, time_jitter_s=jitter)
            g0, a0, why0 = coverage(path, before)
            g1, a1, why1 = coverage(path, Thresholds())
            label = f"{rate:>3} Hz" + (f" +-{jitter * 1e3:.0f} ms" if jitter else "")
            print(f"   {label:13s} {g0:>10.1%} {g1:>9.1%}  {a0:>13.1%} {a1:>10.1%}  {why1} (before: {why0})")

        print("2. raw-only CSV (no quaternion), AHRS tilt error vs truth (deg): p50 / p95 / max")
        for rate in (100, 10, 5):
            path = tmp / f"raw{rate}.csv"
            to_interchange_csv(sim, path, quaternion_columns=False,
                               rates_hz=None if rate == 100 else {"thoracic": rate, "lumbar": rate})
            source = open_source(path)
            for location in ("thoracic", "lumbar"):
                t, err = tilt_error(sim, source, location)
                for label, m in (("first 3 s", t < 3.0), ("whole", np.ones(len(t), bool))):
                    print(f"   {rate:>3} Hz {location:9s} {label:9s} {np.percentile(err[m], 50):5.2f} / "
                          f"{np.percentile(err[m], 95):5.2f} / {err[m].max():5.2f}")

        print(f"3. reading a {args.minutes:.0f} min, 100 Hz, 3-sensor interchange CSV")
        for with_quat in (True, False):
            big = tmp / f"big{with_quat}.csv"
            rows = large_csv(big, args.minutes, with_quat)
            size = big.stat().st_size / 1e6
            start = time.perf_counter()
            data = read_interchange_csv(big)
            took = time.perf_counter() - start
            kind = "with quaternions" if with_quat else "raw-only        "
            print(f"   {kind} {rows:>9,} rows {size:6.0f} MB: {took:5.1f} s ({rows / took / 1e6:.2f} M rows/s)")
        s = data.samples["lumbar"]
        n = min(len(s), 60_000)
        ahrs = RawOrientation()
        start = time.perf_counter()
        ahrs.fill(TimedSamples(s.t[:n], s.quat[:n], s.acc[:n], s.gyro[:n]))
        per = (time.perf_counter() - start) / n
        print(f"   AHRS for raw samples: {per * 1e6:.1f} us per sample "
              f"({per * 3 * 100 * 3600:.0f} s per hour of three 100 Hz raw-only sensors)")


if __name__ == "__main__":
    main()
