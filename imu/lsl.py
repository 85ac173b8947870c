"""Lab Streaming Layer outlets: trunk angles and raw sensor orientation, live or replayed.

One "Angles" outlet carries every angle the worn sensors give (one channel per angle name of docs/architecture.md section 3
name, degrees, at the analysis grid rate). One "Orientation" outlet per sensor carries its
quaternion (w, x, y, z) at the sensor's own rate. Timestamps are a fixed LSL-clock origin
plus session time, so a recorder (LabRecorder) lines them up with other lab streams and
sample spacing is exactly the session's.
"""

from __future__ import annotations

import uuid

import numpy as np

from imu.core.angles import INCLINATIONS, JOINTS
from imu.core.result import ANGLE_NAMES

ORIENTATION_CHANNELS = ("w", "x", "y", "z")


def angle_channels(locations) -> list[str]:
    """The angle names a session with these sensor locations produces, in the order of docs/architecture.md section 3."""
    locations = set(locations)
    names = {n for pair, loc in INCLINATIONS if loc in locations for n in pair}
    for prefix, distal, proximal in JOINTS:
        if distal in locations and proximal in locations:
            names |= {f"{prefix}_flexion", f"{prefix}_lateral_bend", f"{prefix}_axial_rotation"}
    return [n for n in ANGLE_NAMES if n in names]


def _pylsl():
    try:
        import pylsl
    except ImportError as err:  # an optional extra: say how to get it
        raise ValueError("LSL output needs pylsl: pip install 'imu[lsl]'") from err
    return pylsl


class LslSink:
    """Publishes each step's angles and sensor orientations (a replay / live sink).

    sensors: location -> {"rate_hz": nominal rate, ...} (Source.sensors or the live config).
    name: stream name prefix; outlets are "<name>-angles" and "<name>-<location>".
    origin: LSL time of session time 0 (default: the LSL clock when the sink is made).
    """

    def __init__(self, sensors: dict[str, dict], *, grid_rate_hz: float = 100.0,
                 name: str = "imu", origin: float | None = None):
        pylsl = _pylsl()
        if not sensors:
            raise ValueError("LSL output needs at least one sensor")
        self.name = name
        self.origin = pylsl.local_clock() if origin is None else float(origin)
        self.channels = angle_channels(sensors)
        session = uuid.uuid4().hex[:8]
        self.angles_outlet = pylsl.StreamOutlet(self._info(
            f"{name}-angles", "Angles", self.channels, "deg", grid_rate_hz,
            f"{name}-angles-{session}"), chunk_size=0, max_buffered=360)
        self.orientation_outlets = {}
        for loc, spec in sensors.items():
            rate = float(spec.get("rate_hz") or 0.0)  # 0: irregular, when the rate is unknown
            self.orientation_outlets[loc] = pylsl.StreamOutlet(self._info(
                f"{name}-{loc}", "Orientation", [f"{loc}_q{c}" for c in ORIENTATION_CHANNELS],
                "quaternion", rate, f"{name}-{loc}-{session}"), chunk_size=0, max_buffered=360)

    @staticmethod
    def _info(name, kind, channels, unit, rate, source_id):
        pylsl = _pylsl()
        info = pylsl.StreamInfo(name, kind, len(channels), rate, pylsl.cf_float32, source_id)
        info.set_channel_labels(list(channels))
        info.set_channel_units([unit] * len(channels))
        info.set_channel_types([kind] * len(channels))
        info.desc().append_child_value("manufacturer", "imu (open wearable spine-motion pipeline)")
        return info

    def step(self, update) -> None:
        out = update.out
        n = len(out.t)
        if n:
            data = np.full((n, len(self.channels)), np.nan, dtype=np.float32)
            for j, name in enumerate(self.channels):
                values = out.angles.get(name)
                if values is not None:
                    data[:, j] = values
            self.angles_outlet.push_chunk(data, (self.origin + out.t).tolist())
        for loc, samples in update.samples.items():
            outlet = self.orientation_outlets.get(loc)
            if outlet is not None and len(samples):
                outlet.push_chunk(np.asarray(samples.quat, dtype=np.float32),
                                  (self.origin + samples.t).tolist())

    # No finish(): the outlets live as long as this object, so inlets can still fetch
    # the last chunks after a fast replay ends; dropping the sink unregisters the streams.


def lsl_sink_for(path, *, name: str = "imu", thresholds=None) -> LslSink:
    """An LSL sink shaped for the session file or CSV at `path` (what `imu replay --lsl` needs)."""
    from imu.analysis import open_source

    source = open_source(path, thresholds)
    return LslSink(source.sensors, grid_rate_hz=source.thresholds.analysis_rate_hz, name=name)
