"""A virtual rig for `imu live --virtual`: simulated sensors on a VirtualRadio.

The sensors are `imu.sim.peripherals.ImuFwPeripheral`s with the real GATT profile. They
stream either a simulated scenario (the wearer of `imu.sim`, default "desk") or the samples
of a CSV interchange file re-encoded as imu-fw frames (its labels are not transmitted).
Everything runs on one `GatedClock`: the sensors hold their first frame until the app has
connected to all of them and released the clock, so session time 0 is the first sample.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np

from imu.ble.choice import SensorChoice
from imu.ble.clock import SessionClock
from imu.protocols import imu_fw
from imu.sim.frames import DeviceClock, FrameSource, frame_sources_from_notifications
from imu.sim.peripherals import Faults, ImuFwPeripheral

DEFAULT_SCENARIO = "desk"
VIRTUAL_RATES_HZ = {"thoracic": 100.0, "lumbar": 100.0, "sacral": 60.0}
FRAME_S = 0.04  # about 40 ms of samples per notification, like the firmware


class GatedClock(SessionClock):
    """A session clock whose sleepers wait until `release()`, which also makes now time 0."""

    def __init__(self, speed: float = 1.0) -> None:
        super().__init__(speed)
        self._open = asyncio.Event()

    @property
    def released(self) -> bool:
        return self._open.is_set()

    def release(self) -> None:
        self.reset()
        self._open.set()

    async def sleep_until(self, session_time_s: float) -> None:
        if not self._open.is_set():
            await self._open.wait()
        await super().sleep_until(session_time_s)


def is_csv(spec: str) -> bool:
    return spec.lower().endswith(".csv")


def scenario_sources(scenario: str, seed: int = 0, sacral: bool = False,
                     duration_s: float | None = None):
    """(frame sources, rates, scenario truth) of a simulated wearer, without radio loss
    (the virtual radio and the fault script decide what is lost)."""
    from imu.sim import SCENARIOS, simulate

    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(sorted(SCENARIOS))}")
    rates = {loc: r for loc, r in VIRTUAL_RATES_HZ.items() if sacral or loc != "sacral"}
    try:
        sim = simulate(scenario, duration_s, seed, sacral=sacral, rates_hz=rates, loss_rate=0.0)
    except ValueError:
        if duration_s is None:
            raise
        sim = simulate(scenario, None, seed, sacral=sacral, rates_hz=rates, loss_rate=0.0)
    sources = frame_sources_from_notifications(sim.notifications)
    return sources, {loc: rates[loc] for loc in sources}, sim


def csv_sources(path: str | Path) -> tuple[dict[str, FrameSource], dict[str, float]]:
    """The samples of a CSV interchange file as imu-fw frames (sent when the frame's last
    sample is taken); the device clock is the session clock. Labels are not sent."""
    from imu.recording.csv_import import read_interchange_csv

    data = read_interchange_csv(path)
    if not data.samples:
        raise ValueError(f"{path}: no usable sensor rows")
    sources, rates = {}, {}
    for loc, s in data.samples.items():
        if len(s.t) < 2:
            continue
        rate = float(np.round(1.0 / np.median(np.diff(s.t))))
        dt_us = int(round(1e6 / rate))
        per_frame = max(1, int(round(FRAME_S * rate)))
        frames = []
        for k, a in enumerate(range(0, len(s.t) - per_frame + 1, per_frame)):
            rows = slice(a, a + per_frame)
            quat = s.quat[rows]
            acc = None if s.acc is None else s.acc[rows]
            gyro = None if s.gyro is None else s.gyro[rows]
            if np.isnan(quat).any():
                quat = None  # raw-only sensor (or a damaged row): send what there is
            if acc is not None and np.isnan(acc).any():
                acc = None
            if gyro is not None and np.isnan(gyro).any():
                gyro = None
            if quat is None and acc is None and gyro is None:
                continue
            payload = imu_fw.encode_samples(k, int(round(s.t[a] * 1e6)), dt_us, quat, acc, gyro,
                                            battery_pct=100)
            frames.append((float(s.t[a + per_frame - 1]), payload))
        sources[loc] = FrameSource(frames, DeviceClock())
        rates[loc] = rate
    if not sources:
        raise ValueError(f"{path}: too few samples to stream")
    return sources, rates


class VirtualRig:
    """Simulated imu-fw sensors on a radio, one per body location."""

    def __init__(self, radio, clock: SessionClock, sources: dict[str, FrameSource],
                 rates_hz: dict[str, float], faults: dict[str, Faults] | None = None,
                 sim=None) -> None:
        faults = faults or {}
        self.radio, self.clock, self.rates_hz, self.sim = radio, clock, rates_hz, sim
        self.sensors = {
            loc: ImuFwPeripheral(radio, f"IMU-{loc.upper()}-V", source, clock, faults.get(loc),
                                 model="IMU-1 virtual", firmware="1.0.0", serial=f"V{i:03d}")
            for i, (loc, source) in enumerate(sources.items())}
        self.end_s = max((src.frames[-1][0] for src in sources.values() if src.frames), default=0.0)

    @staticmethod
    def from_spec(radio, clock, spec: str, seed: int = 0, sacral: bool = False,
                  duration_s: float | None = None, faults=None) -> "VirtualRig":
        """`spec`: a scenario name, "" for the default scenario, or a CSV interchange file."""
        if spec and is_csv(spec):
            sources, rates = csv_sources(spec)
            return VirtualRig(radio, clock, sources, rates, faults)
        sources, rates, sim = scenario_sources(spec or DEFAULT_SCENARIO, seed, sacral, duration_s)
        return VirtualRig(radio, clock, sources, rates, faults, sim)

    def choices(self) -> dict[str, SensorChoice]:
        return {loc: SensorChoice(loc, "imu-fw", address=p.address) for loc, p in self.sensors.items()}

    def describe(self) -> dict[str, dict]:
        return {loc: {"name": p.name, "address": p.address, "firmware": p.firmware,
                      "rate_hz": self.rates_hz[loc]} for loc, p in self.sensors.items()}

    def _next_frame(self, sensor) -> int:
        return len(sensor.sent) + sensor.missed + sensor.dropped

    def streams_done(self) -> bool:
        """Every sensor has gone through its whole frame source (sent, missed or dropped)."""
        return all(self._next_frame(s) >= len(s.source) for s in self.sensors.values())

    def lag_s(self) -> float:
        """How far (session seconds) the slowest sensor is behind its schedule: above a
        second or so the machine cannot keep up with the chosen speed."""
        now, lag = self.clock.now(), 0.0
        for s in self.sensors.values():
            i = self._next_frame(s)
            if i < len(s.source):
                lag = max(lag, now - s.source.frames[i][0])
        return lag

    async def start(self) -> None:
        for sensor in self.sensors.values():
            await sensor.start()

    async def stop(self) -> None:
        for sensor in self.sensors.values():
            await sensor.stop()
