"""The plain-numpy floor of a session report: what reading and angles cost with nothing else.

One process, no imu imports beyond numpy and sqlite3: read every notification of an imu-fw
session file (SQLite, by column, in windows), decode the samples frames with numpy
(int16 quaternions), put both sensors on the 100 Hz analysis grid (linear interpolation of
each quaternion component, renormalised), and compute the Z-X-Y angles: each segment's
sagittal and lateral inclination against gravity and the thoracic segment relative to the
lumbar one (flexion, lateral bend, axial rotation), with the nominal mounting as the
calibration. Prints wall time, peak memory and a checksum of the angles, so the report's
cost can be set against what the same arithmetic costs done plainly.

    python benchmarks/floor_8h.py SESSION.imu
"""

from __future__ import annotations

import resource
import sqlite3
import sys
import time

import numpy as np

HEADER_SIZE = 12
FLAG_QUAT, FLAG_ACC, FLAG_GYRO = 0x04, 0x01, 0x02
WINDOW = 131_072
RATE_HZ = 100.0
# sensor earth (z up) -> anatomical earth (y up), and the nominal sensor-in-segment mounting
EARTH_TO_E = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])
SENSOR_IN_SEGMENT = np.array([[0, 0, -1.0], [0, 1.0, 0], [1.0, 0, 0]])


def read_and_decode(path: str) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """sensor id -> (device seconds since the first sample + first host time, (n, 4) quats)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    cursor = conn.execute("SELECT sensor_id, host_time, payload FROM notifications ORDER BY id")
    parts: dict[int, list] = {}
    while True:
        rows = cursor.fetchmany(WINDOW)
        if not rows:
            break
        sids, hosts, payloads = zip(*rows)
        sids = np.array(sids)
        hosts = np.array(hosts)
        for sid in np.unique(sids):
            idx = np.flatnonzero(sids == sid)
            blob = b"".join([payloads[i] for i in idx.tolist()])
            length = len(payloads[idx[0]])
            frames = np.frombuffer(blob, np.uint8).reshape(len(idx), length)
            t0 = frames[:, 4:8].copy().view("<u4").ravel().astype(np.int64)
            dt = frames[:, 8:10].copy().view("<u2").ravel().astype(np.int64)
            n, flags = int(frames[0, 10]), int(frames[0, 1])
            width = (8 * bool(flags & FLAG_QUAT) + 6 * bool(flags & FLAG_ACC) + 6 * bool(flags & FLAG_GYRO)) // 2
            body = frames[:, HEADER_SIZE:].copy().view("<i2").reshape(len(idx), n, width)
            quat = body[:, :, :4].reshape(-1, 4) / 16384.0
            parts.setdefault(int(sid), []).append((t0, dt, n, hosts[idx[0]], quat))
    conn.close()
    out = {}
    for sid, chunks in parts.items():
        t0 = np.concatenate([c[0] for c in chunks])
        dt = np.concatenate([c[1] for c in chunks])
        n = chunks[0][2]
        steps = (np.diff(t0) + 2**31) % 2**32 - 2**31  # the device clock wraps every 71.6 min
        frame_us = np.concatenate([[0], np.cumsum(steps)])
        t = (frame_us[:, None] + np.arange(n)[None, :] * dt[:, None]).ravel() / 1e6 + chunks[0][3]
        out[sid] = (t, np.concatenate([c[4] for c in chunks]))
    return out


def matrix_to_quat(m: np.ndarray) -> np.ndarray:
    w = np.sqrt(max(0.0, 1 + m[0, 0] + m[1, 1] + m[2, 2])) / 2
    return np.array([w, (m[2, 1] - m[1, 2]) / (4 * w), (m[0, 2] - m[2, 0]) / (4 * w), (m[1, 0] - m[0, 1]) / (4 * w)])


def multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack([aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw], axis=-1)


def conjugate(q: np.ndarray) -> np.ndarray:
    return q * np.array([1.0, -1, -1, -1])


def zxy(q: np.ndarray) -> np.ndarray:
    w, x, y, z = np.moveaxis(q, -1, 0)
    flexion = -np.degrees(np.arctan2(-2 * (x * y - w * z), 1 - 2 * (x * x + z * z)))
    lateral = np.degrees(np.arcsin(np.clip(2 * (y * z + w * x), -1, 1)))
    axial = -np.degrees(np.arctan2(-2 * (x * z - w * y), 1 - 2 * (x * x + y * y)))
    return np.stack([flexion, lateral, axial], axis=-1)


def on_grid(t: np.ndarray, quat: np.ndarray, grid: np.ndarray) -> np.ndarray:
    q = np.stack([np.interp(grid, t, quat[:, k]) for k in range(4)], axis=1)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def inclination(seg: np.ndarray) -> np.ndarray:
    heading = 2 * np.arctan2(seg[:, 2], seg[:, 0])
    unturn = np.zeros_like(seg)
    unturn[:, 0], unturn[:, 2] = np.cos(-heading / 2), np.sin(-heading / 2)
    return zxy(multiply(unturn, seg))[:, :2]


def main() -> None:
    path = sys.argv[1]
    began = time.perf_counter()
    sensors = read_and_decode(path)
    read_s = time.perf_counter() - began
    start = max(t[0] for t, _ in sensors.values())
    end = min(t[-1] for t, _ in sensors.values())
    grid = np.arange(np.ceil(start * RATE_HZ), np.floor(end * RATE_HZ) + 1) / RATE_HZ
    to_e, mounting = matrix_to_quat(EARTH_TO_E), conjugate(matrix_to_quat(SENSOR_IN_SEGMENT))
    angles = {}
    segments = []
    for sid in sorted(sensors):  # by id: the first is thoracic, the second lumbar (as written)
        t, quat = sensors.pop(sid)
        seg = multiply(multiply(to_e, on_grid(t, quat, grid)), mounting)
        angles[f"inclination_{sid}"] = inclination(seg)
        segments.append(seg)
    if len(segments) >= 2:
        angles["relative"] = zxy(multiply(conjugate(segments[1]), segments[0]))
    wall = time.perf_counter() - began
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    checksum = sum(float(np.nansum(a)) for a in angles.values())
    print(f"floor: {wall:.2f} s wall ({read_s:.2f} s read + decode), peak {peak_mb:.0f} MB, "
          f"{len(grid)} grid samples, checksum {checksum:.6g}")


if __name__ == "__main__":
    main()
