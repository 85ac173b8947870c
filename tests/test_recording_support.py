"""Test sessions built from real imu-fw frames, with known ground truth (shared by test_recording_*)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imu.protocols.imu_fw import decode_frame, encode_samples
from imu.recording.session import SessionWriter
from imu.samples import Notification

RATE_HZ = 100.0
PER_FRAME = 4
SENSORS = [
    {"location": "thoracic", "device": "imu-fw", "address": "AA:00:00:00:00:01", "firmware": "1.2.0",
     "details": {"mounting": "nominal"}},
    {"location": "lumbar", "device": "imu-fw", "address": "AA:00:00:00:00:02"},
]


@dataclass
class Stream:
    location: str
    notifications: list[Notification]  # what reached the host (lost frame absent, damaged one present)
    device_time_s: np.ndarray  # per delivered good sample
    host_time_s: np.ndarray
    quat: np.ndarray
    acc: np.ndarray
    gyro: np.ndarray
    seq: np.ndarray


def make_stream(location: str, index: int, seconds: float = 3.0, lost_frame: int | None = 10,
                damaged_frame: int | None = 20, clock_offset_s: float = 5.0) -> Stream:
    """A sensor tilting forward and back; frame `lost_frame` never arrives, `damaged_frame` is cut."""
    frames = int(seconds * RATE_HZ / PER_FRAME)
    dt_us = int(1e6 / RATE_HZ)
    notes, keep = [], []
    t = np.arange(frames * PER_FRAME) / RATE_HZ
    angle = np.radians(30.0) * np.sin(2 * np.pi * 0.5 * t + index)
    quat = np.stack([np.cos(angle / 2), np.sin(angle / 2) * 0.6, np.sin(angle / 2) * 0.8, 0 * angle], -1)
    acc = np.stack([np.sin(angle), 0 * angle, np.cos(angle)], -1)
    gyro = np.stack([0 * angle, np.degrees(np.gradient(angle)) * RATE_HZ, 0 * angle], -1)
    for k in range(frames):
        rows = slice(k * PER_FRAME, (k + 1) * PER_FRAME)
        t0_us = int(round((clock_offset_s + t[rows][0]) * 1e6))
        payload = encode_samples(k, t0_us, dt_us, quat[rows], acc[rows], gyro[rows], battery_pct=90)
        host = float(t[rows][-1] + 0.012 + 0.001 * index)  # arrives after its last sample
        if k == lost_frame:
            continue
        if k == damaged_frame:
            notes.append(Notification(location, host, payload[:-5]))
            continue
        notes.append(Notification(location, host, payload))
        keep.extend([(k, host, i) for i in range(rows.start, rows.stop)])
    idx = np.array([i for _, _, i in keep])
    # ground truth as it crosses the wire (int16 rounding)
    wire = [decode_frame(n.payload) for n in notes if _is_whole(n.payload)]
    wq = np.concatenate([f.quat for f in wire])
    return Stream(location, notes, clock_offset_s + t[idx], np.array([h for _, h, _ in keep]),
                  wq / np.linalg.norm(wq, axis=1, keepdims=True),
                  np.concatenate([f.acc for f in wire]), np.concatenate([f.gyro for f in wire]),
                  np.array([k for k, _, _ in keep]))


def _is_whole(payload: bytes) -> bool:
    try:
        decode_frame(payload)
    except ValueError:
        return False
    return True


def interleave(streams: list[Stream]) -> list[Notification]:
    """All notifications in host-time (arrival) order."""
    return sorted((n for s in streams for n in s.notifications), key=lambda n: n.host_time_s)


def write_session(path, seconds: float = 3.0, **stream_args) -> dict[str, Stream]:
    """A closed session file with two sensors, calibrations, events, annotations, link events."""
    streams = {s["location"]: make_stream(s["location"], i, seconds, **stream_args)
               for i, s in enumerate(SENSORS)}
    with SessionWriter(path, {"subject": "S01", "thresholds": {"slouch_enter_deg": 15.0}}, SENSORS) as w:
        w.add_link_event("thoracic", 0.0, "connected")
        w.add_link_event("lumbar", 0.0, "connected")
        notes = interleave(list(streams.values()))
        for k in range(0, len(notes), 7):
            w.add_notifications(notes[k:k + 7])
        w.add_calibration({"ok": False, "reasons": ["not still"]}, 1.0)
        w.add_calibration({"ok": True, "quality": "good", "neutral": np.array([1.5, 2.5])}, 2.6)
        w.add_calibration({"ok": False, "reasons": ["bends too small"]}, 2.8)
        w.add_event("slouch", 0.5, 1.5, {"peak_deg": 21.0})
        w.add_event("gap", 0.4, None)
        w.add_annotation(0.2, 1.0, "sitting", "user")
        w.add_link_event("lumbar", seconds, "disconnected")
    return streams


def test_support_stream_matches_its_own_frames():
    stream = make_stream("thoracic", 0)
    frames = int(3.0 * RATE_HZ / PER_FRAME)
    assert len(stream.notifications) == frames - 1  # one lost
    assert len(stream.quat) == (frames - 2) * PER_FRAME  # lost and damaged carry no samples
    assert np.allclose(np.linalg.norm(stream.quat, axis=1), 1.0)
    assert 10 not in stream.seq and 20 not in stream.seq
