"""Time to write the post-session report of an 8-hour, 2-sensor, 100 Hz session.

Run: /work/venv/bin/python benchmarks/bench_report_render.py [hours] [rate_hz]
Builds a synthetic Analysis (seven angles of a thoracic + lumbar set-up: posture changes
every few tens of seconds, sensor noise, ~10 slouch episodes an hour, a few data gaps) and
times the exposure metrics, the summary and the whole write_report (JSON, CSV, HTML with
figures). Prints seconds; asserts nothing about speed.
"""

from __future__ import annotations

import sys
import tempfile
import time

import numpy as np

from imu.core.exposure import angle_summary
from imu.core.result import Alert, Analysis, CalibrationReport, SensorQuality, SlouchEpisode
from imu.profile import Thresholds
from imu.report import build_summary, write_report
from imu.samples import DecodeStats

ANGLES = ("thoracic_flexion", "thoracic_lateral_bend", "thoracic_axial_rotation",
          "lumbar_inclination", "lumbar_lateral_inclination", "trunk_inclination",
          "trunk_lateral_inclination")


def synthetic_session(hours: float = 8.0, rate_hz: float = 100.0, seed: int = 1) -> Analysis:
    rng = np.random.default_rng(seed)
    duration = hours * 3600.0
    n = int(duration * rate_hz)
    t = np.arange(n) / rate_hz
    # postures held for 5 to 60 s each, plus sensor noise
    holds = rng.uniform(5.0, 60.0, size=int(duration / 5.0) + 1)
    change_at = np.searchsorted(t, np.cumsum(holds))
    posture = np.zeros(n, dtype=np.int64)
    posture[change_at[change_at < n]] = 1
    posture = np.cumsum(posture)
    angles = {}
    for name in ANGLES:
        sagittal = name in ("thoracic_flexion", "lumbar_inclination", "trunk_inclination")
        spread = 12.0 if sagittal else 5.0
        levels = rng.normal(5.0 if sagittal else 0.0, spread, size=posture[-1] + 1)
        angles[name] = levels[posture] + rng.normal(0.0, 0.3, n)
    episodes, alerts = [], []
    for start in np.sort(rng.uniform(0, duration - 300, size=int(10 * hours))):
        length = float(rng.uniform(5.0, 120.0))
        span = (t >= start) & (t < start + length)
        angles["thoracic_flexion"][span] = 22.0 + rng.normal(0, 1.0, span.sum())
        episodes.append(SlouchEpisode(float(start), float(start + length), 25.0, float(start + 5)))
        for k, at in enumerate(np.arange(start + 30.0, start + length, 60.0), 1):
            alerts.append(Alert(float(at), float(start), "thoracic_flexion", 22.0,
                                float(at - start), k))
    valid = np.ones(n, dtype=bool)
    gaps = [(float(s), float(s) + 20.0) for s in rng.uniform(0, duration - 20, size=4)]
    for start, end in gaps:
        valid[(t >= start) & (t < end)] = False
    sensors = {
        loc: SensorQuality(loc, f"imu-fw {loc}", rate_hz, n, DecodeStats(
            notifications=n // 5, samples=n, lost_samples=2000 if loc == "thoracic" else 0,
            gaps=gaps if loc == "thoracic" else [], errors={"truncated": 3}),
            clock_residual_ms=1.5, clock_drift_ppm=20.0, battery_pct=60.0)
        for loc in ("thoracic", "lumbar")
    }
    return Analysis(t=t, angles=angles, valid=valid, context=np.full(n, "still"),
                    episodes=episodes, alerts=alerts,
                    calibration=CalibrationReport(True, "good", [], (5.0, 9.0),
                                                  [(12.0, 16.0), (20.0, 24.0)]),
                    sensors=sensors, thresholds=Thresholds(), duration_s=duration)


def _timed(label: str, fn):
    start = time.perf_counter()
    result = fn()
    print(f"{label:<34} {time.perf_counter() - start:7.2f} s")
    return result


def main() -> None:
    hours = float(sys.argv[1]) if len(sys.argv) > 1 else 8.0
    rate = float(sys.argv[2]) if len(sys.argv) > 2 else 100.0
    analysis = _timed(f"build synthetic {hours:g} h @ {rate:g} Hz",
                      lambda: synthetic_session(hours, rate))
    print(f"{analysis.t.size} samples x {len(analysis.angles)} angles, "
          f"{len(analysis.episodes)} episodes, {len(analysis.alerts)} alerts")
    _timed("angle_summary (exposure metrics)", lambda: angle_summary(analysis))
    _timed("build_summary", lambda: build_summary(analysis, {"kind": "benchmark"}))
    with tempfile.TemporaryDirectory() as out:
        paths = _timed("write_report (json + csv + html)",
                       lambda: write_report(analysis, out, {"kind": "benchmark", "file": None}))
        size = paths["report.html"].stat().st_size
        print(f"report.html {size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
