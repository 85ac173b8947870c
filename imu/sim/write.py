"""A simulated session written as a real session file, with its ground truth beside it."""

from __future__ import annotations

from pathlib import Path

from imu import __version__


def truth_path(session_path: str | Path) -> Path:
    """Where the truth of a simulated session (or CSV) is kept: beside it, `.truth.npz`."""
    return Path(str(session_path) + ".truth.npz")


def write_simulated_session(sim, out: Path, scenario: str, seed: int,
                            extra_metadata: dict | None = None) -> Path:
    """Write a simulated session as a real session file, with its truth beside it.
    extra_metadata: e.g. the person (`profile`), `group` and `started_local` of a cohort."""
    from imu.recording.session import SessionWriter

    sensors = [
        {"location": loc, "device": info.get("device", "imu-fw"), "name": f"IMU-{loc.upper()}-SIM",
         "address": f"SIM:{i:02d}", "firmware": "sim-1", "details": {"rate_hz": info["rate_hz"]}}
        for i, (loc, info) in enumerate(sim.sensors.items())
    ]
    metadata = {"software": f"imu {__version__}", "source": "simulated", "scenario": scenario,
                "seed": seed, "duration_s": sim.duration_s, **(extra_metadata or {})}
    with SessionWriter(out, metadata, sensors) as writer:
        writer.add_notifications(sim.notifications)
    sim.truth.save(truth_path(out))
    return out
