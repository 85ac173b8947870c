"""Simulated session files for the replay, dashboard and LSL tests (no tests of its own)."""

from __future__ import annotations

from pathlib import Path

from imu.recording.session import SessionWriter
from imu.sim import simulate
from imu.sim.write import write_simulated_session


def session_file(directory: Path, scenario: str, duration_s: float, seed: int, **options):
    """A simulated session written as a real session file; returns (path, simulation)."""
    sim = simulate(scenario, duration_s, seed, **options)
    path = Path(directory) / f"{scenario}-{seed}.imu"
    write_simulated_session(sim, path, scenario, seed)
    return path, sim


def session_file_with_gap(directory: Path, sensor: str, gap: tuple[float, float],
                          scenario: str = "desk", duration_s: float = 300.0, seed: int = 5):
    """A session in which `sensor` disconnects for `gap` (start_s, end_s): its link events are
    recorded and its notifications in between never arrived, as the live recorder writes it."""
    sim = simulate(scenario, duration_s, seed)
    start, end = gap
    kept = [n for n in sim.notifications
            if not (n.sensor == sensor and start <= n.host_time_s < end)]
    sensors = [{"location": loc, "device": info.get("device", "imu-fw"),
                "details": {"rate_hz": info["rate_hz"]}} for loc, info in sim.sensors.items()]
    path = Path(directory) / f"{scenario}-{seed}-gap.imu"
    with SessionWriter(path, {"source": "simulated", "scenario": scenario, "seed": seed},
                       sensors) as writer:
        writer.add_notifications([n for n in kept if n.host_time_s < start])
        writer.add_link_event(sensor, start, "disconnected")
        writer.add_notifications([n for n in kept if start <= n.host_time_s < end])
        writer.add_link_event(sensor, end, "connected")
        writer.add_notifications([n for n in kept if n.host_time_s >= end])
    return path, sim
