"""What a simulated sensor sends: timed payloads on the sensor's own clock.

A `FrameSource` is the script a virtual peripheral plays: (session time, payload) pairs in
time order, and the device clock (offset and drift) it answers time syncs with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from imu import quat as Q
from imu.protocols import imu_fw
from imu.samples import Notification


@dataclass(frozen=True)
class DeviceClock:
    """A sensor's own clock: device microseconds at a session time (offset and drift)."""

    offset_us: int = 0
    drift_ppm: float = 0.0

    def device_time_us(self, session_time_s: float) -> int:
        return int(round(self.offset_us + session_time_s * 1e6 * (1 + self.drift_ppm * 1e-6)))

    def session_time_s(self, device_time_us: float) -> float:
        return (device_time_us - self.offset_us) / 1e6 / (1 + self.drift_ppm * 1e-6)


@dataclass
class FrameSource:
    """What a sensor sends: (session time, payload) in time order, and its device clock."""

    frames: list[tuple[float, bytes]]
    clock: DeviceClock = field(default_factory=DeviceClock)

    def __post_init__(self) -> None:
        times = [t for t, _ in self.frames]
        if any(b < a for a, b in zip(times, times[1:])):
            raise ValueError("frame source times must not decrease")

    def __len__(self) -> int:
        return len(self.frames)

    def device_time_us(self, session_time_s: float) -> int:
        return self.clock.device_time_us(session_time_s)


def frame_sources_from_notifications(
    notifications: Iterable[Notification], clocks: dict[str, DeviceClock] | None = None,
) -> dict[str, FrameSource]:
    """Per-sensor frame sources from a time-sorted list of notifications (e.g. a
    SimulatedSession's), keeping each notification's time as its send time."""
    frames: dict[str, list[tuple[float, bytes]]] = {}
    for note in notifications:
        frames.setdefault(note.sensor, []).append((note.host_time_s, bytes(note.payload)))
    clocks = clocks or {}
    return {sensor: FrameSource(f, clocks.get(sensor, DeviceClock())) for sensor, f in frames.items()}


def synthetic_imu_fw_source(rate_hz: float, duration_s: float, samples_per_frame: int = 4,
                            clock: DeviceClock = DeviceClock(), start_s: float = 0.0) -> FrameSource:
    """imu-fw frames of a slow forward nod (quat + acc + gyro) on the device's own clock.

    A frame is sent when its last sample is taken; with drift the sensor's oscillator sets
    the pace, so session send times stretch or shrink against the nominal rate.
    """
    dt_us = int(round(1e6 / rate_hz))
    n_frames = int(duration_s * rate_hz) // samples_per_frame
    t0_device = clock.device_time_us(start_s)
    frames = []
    for k in range(n_frames):
        t_dev = t0_device + (k * samples_per_frame + np.arange(samples_per_frame)) * dt_us
        angle = 20.0 * np.sin(2 * np.pi * 0.2 * (t_dev - t0_device) / 1e6)
        quat = Q.from_axis_angle(np.array([0.0, 0.0, 1.0]), angle)
        acc = Q.rotate(Q.conjugate(quat), np.tile([0.0, 0.0, 1.0], (samples_per_frame, 1)))
        gyro = np.zeros((samples_per_frame, 3))
        gyro[:, 2] = np.gradient(angle) * rate_hz
        payload = imu_fw.encode_samples(k, int(t_dev[0]), dt_us, quat, acc, gyro, battery_pct=90)
        frames.append((clock.session_time_s(t_dev[-1]), payload))
    return FrameSource(frames, clock)
