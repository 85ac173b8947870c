"""Session file throughput: write, size, read+decode, peak memory.

    python benchmarks/bench_session_file.py [--hours 8] [--rate 100] [--out DIR]

Default: 8 hours, 2 sensors, 100 Hz, 4 samples per notification (quaternion, acc, gyro):
720k notifications per sensor, 1.44M in all. Also times the CSV interchange format at the
same size (5.76M rows). Writing and reading each run in a fresh subprocess so that the
peak resident memory reported is that phase's own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SENSORS = ("thoracic", "lumbar")
SAMPLES_PER_FRAME = 4


def make_payloads(location_index: int, frames: int, rate_hz: float) -> list[bytes]:
    """imu-fw sample frames (quat + acc + gyro), built as one numpy structured array."""
    from imu.protocols import imu_fw

    n = SAMPLES_PER_FRAME
    dt_us = int(round(1e6 / rate_hz))
    dtype = np.dtype([("hdr", "u1"), ("flags", "u1"), ("seq", "<u2"), ("t0", "<u4"), ("dt", "<u2"),
                      ("n", "u1"), ("battery", "u1"), ("body", "<i2", (n, 10))])
    k = np.arange(frames)
    t = (k[:, None] * n + np.arange(n)[None, :]) / rate_hz
    angle = np.radians(20.0) * np.sin(2 * np.pi * 0.1 * t + location_index)
    quat = np.stack([np.cos(angle / 2), np.zeros_like(angle), np.sin(angle / 2), np.zeros_like(angle)], -1)
    acc = np.stack([np.sin(angle), np.zeros_like(angle), np.cos(angle)], -1)
    gyro = np.stack([np.zeros_like(angle), np.degrees(np.gradient(angle, axis=1)) * rate_hz,
                     np.zeros_like(angle)], -1)
    frame = np.zeros(frames, dtype)
    frame["hdr"] = imu_fw.VERSION << 4 | imu_fw.TYPE_SAMPLES
    frame["flags"] = imu_fw.FLAG_QUAT | imu_fw.FLAG_ACC | imu_fw.FLAG_GYRO
    frame["seq"] = k & 0xFFFF
    frame["t0"] = (k * n * dt_us) & 0xFFFFFFFF
    frame["dt"] = dt_us
    frame["n"] = n
    frame["battery"] = 80
    frame["body"] = np.concatenate([np.round(quat * imu_fw.Q14), np.round(acc * imu_fw.ACC_LSB_PER_G),
                                    np.round(gyro * imu_fw.GYRO_LSB_PER_DPS)], -1)
    raw = frame.tobytes()
    size = dtype.itemsize
    payloads = [raw[i * size:(i + 1) * size] for i in range(frames)]
    expected = imu_fw.encode_samples(1, n * dt_us, dt_us, quat[1], acc[1], gyro[1], battery_pct=80)
    assert payloads[1] == expected, "benchmark frame builder disagrees with imu_fw.encode_samples"
    return payloads


def write_phase(path: Path, hours: float, rate_hz: float) -> dict:
    from imu.recording.session import SessionWriter
    from imu.samples import Notification

    frames = int(hours * 3600 * rate_hz / SAMPLES_PER_FRAME)
    payloads = [make_payloads(i, frames, rate_hz) for i in range(len(SENSORS))]
    period = SAMPLES_PER_FRAME / rate_hz
    chunk = max(1, int(round(0.04 / period)))  # what the live loop hands over every 40 ms
    sensors = [{"location": loc, "device": "imu-fw"} for loc in SENSORS]
    start = time.perf_counter()
    enqueue = 0.0
    with SessionWriter(path, {"benchmark": True}, sensors) as writer:
        for k0 in range(0, frames, chunk):
            batch = [Notification(loc, k * period + 0.001 * i, payloads[i][k])
                     for k in range(k0, min(k0 + chunk, frames)) for i, loc in enumerate(SENSORS)]
            t = time.perf_counter()
            writer.add_notifications(batch)
            enqueue += time.perf_counter() - t
    total = time.perf_counter() - start
    return {"notifications": frames * len(SENSORS), "write_s": round(total, 2),
            "enqueue_s": round(enqueue, 2), "file_mb": round(path.stat().st_size / 1e6, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def read_phase(path: Path) -> dict:
    from imu.recording.session import read_session

    start = time.perf_counter()
    session = read_session(path)
    elapsed = time.perf_counter() - start
    return {"read_decode_s": round(elapsed, 2),
            "samples": {loc: len(b) for loc, b in session.blocks.items()},
            "lost_samples": {loc: s.lost_samples for loc, s in session.stats.items()},
            "integrity": session.integrity.summary(),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def cut_phase(path: Path, fraction: float) -> dict:
    from imu.recording.session import read_session

    cut = path.with_name(f"cut{int(fraction * 100)}.imu")
    with open(path, "rb") as src, open(cut, "wb") as dst:
        dst.write(src.read(int(path.stat().st_size * fraction)))
    start = time.perf_counter()
    session = read_session(cut)
    elapsed = time.perf_counter() - start
    cut.unlink()
    return {"cut_fraction": fraction, "read_decode_s": round(elapsed, 2),
            "integrity": session.integrity.summary()}


def csv_phase(path: Path, hours: float, rate_hz: float) -> dict:
    """Interchange CSV of the same size: write, then read (vectorised pandas import)."""
    from imu.recording.csv_import import read_interchange_csv, write_interchange_csv
    from imu.samples import TimedSamples

    n = int(hours * 3600 * rate_hz)
    t = np.arange(n) / rate_hz
    angle = np.radians(20.0) * np.sin(2 * np.pi * 0.1 * t)
    quat = np.stack([np.cos(angle / 2), np.sin(angle / 2), 0 * t, 0 * t], -1)
    acc = np.stack([np.sin(angle), 0 * t, np.cos(angle)], -1)
    samples = {loc: TimedSamples(t + 0.001 * i, quat, acc, acc * 10) for i, loc in enumerate(SENSORS)}
    csv = path.with_suffix(".csv")
    start = time.perf_counter()
    write_interchange_csv(csv, samples, [(60.0, 120.0, "sitting")])
    written = time.perf_counter() - start
    start = time.perf_counter()
    data = read_interchange_csv(csv)
    read = time.perf_counter() - start
    return {"rows": 2 * n, "csv_mb": round(csv.stat().st_size / 1e6, 1), "write_s": round(written, 1),
            "read_s": round(read, 1), "dropped": data.dropped_rows,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--out", type=Path, default=None, help="directory for the file (default: temp)")
    parser.add_argument("--phase", choices=("write", "read", "cut", "csv"), help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--fraction", type=float, default=0.5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "write":
        print(json.dumps(write_phase(args.path, args.hours, args.rate)))
        return
    if args.phase == "read":
        print(json.dumps(read_phase(args.path)))
        return
    if args.phase == "csv":
        print(json.dumps(csv_phase(args.path, args.hours, args.rate)))
        return
    if args.phase == "cut":
        print(json.dumps(cut_phase(args.path, args.fraction)))
        return
    with tempfile.TemporaryDirectory(dir=args.out) as tmp:
        path = Path(tmp) / "bench.imu"
        base = [sys.executable, __file__, "--path", str(path)]
        for extra in (["--phase", "write", "--hours", str(args.hours), "--rate", str(args.rate)],
                      ["--phase", "read"], ["--phase", "cut", "--fraction", "0.5"],
                      ["--phase", "cut", "--fraction", "0.9"],
                      ["--phase", "csv", "--hours", str(args.hours), "--rate", str(args.rate)]):
            result = subprocess.run(base + extra, capture_output=True, text=True, check=True)
            print(f"{extra[1]}: {result.stdout.strip()}")


if __name__ == "__main__":
    main()
