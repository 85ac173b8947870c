"""A whole simulated recording: notifications as the radio delivers them, and the truth.

`simulate()` is the public entry point (the CLI and the core tests call it). The truth lives
on a fixed 100 Hz grid of session time: segment orientations in E, the named angles of
docs/architecture.md section 3, the scenario's phases and the true slouch episodes by the rule of docs/architecture.md section 5.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from imu.profile import Thresholds
from imu.samples import LOCATIONS, Notification
from imu.sim import sensors as S
from imu.sim.scenarios import SCENARIOS, build_script
from imu.sim.script import Script, script_rng
from imu.sim.wearer import SEGMENTS, Wearer, slouch_episodes, truth_angles

TRUTH_RATE_HZ = 100.0
_CSV_VALUES = ["qw", "qx", "qy", "qz", "ax", "ay", "az", "gx", "gy", "gz"]
_TRUTH_CHUNK = 200_000
# independent random streams, so that e.g. a new loss rate leaves the mounting alone
_STREAM_SWAY, _STREAM_PARAMS, _STREAM_SIGNALS, _STREAM_JITTER = 2, 3, 4, 5  # script: 1 (imu.sim.script)

__all__ = ["SCENARIOS", "SimulatedSession", "Truth", "simulate", "simulate_truth", "to_interchange_csv"]


@dataclass
class Truth:
    t: np.ndarray  # (N,) session seconds, fixed 100 Hz grid
    angles: dict[str, np.ndarray]  # name -> (N,) degrees
    quats: dict[str, np.ndarray]  # segment -> (N, 4) segment -> E
    phases: list[tuple[float, float, str]]
    episodes: list[dict]  # {start_s, end_s, peak_deg}
    metadata: dict = field(default_factory=dict)

    def phase_labels(self, t: np.ndarray) -> np.ndarray:
        """The phase label at each time (object array; '' outside every phase)."""
        starts = np.array([p[0] for p in self.phases])
        labels = np.array([p[2] for p in self.phases] + [""], dtype=object)
        idx = np.searchsorted(starts, np.asarray(t, float), side="right") - 1
        ends = np.array([p[1] for p in self.phases])
        inside = (idx >= 0) & (np.asarray(t) <= ends[np.clip(idx, 0, None)])
        return np.where(inside, labels[np.clip(idx, 0, None)], "")

    def save(self, path: str | Path) -> None:
        """A sidecar .npz: arrays, and JSON for phases, episodes and metadata."""
        arrays = {"t": self.t}
        arrays.update({f"angle/{k}": v for k, v in self.angles.items()})
        arrays.update({f"quat/{k}": v for k, v in self.quats.items()})
        meta = {"phases": self.phases, "episodes": self.episodes, "metadata": self.metadata}
        with open(path, "wb") as f:  # a file object keeps numpy from appending ".npz"
            np.savez_compressed(f, **arrays, json=np.array(json.dumps(meta)))

    @staticmethod
    def load(path: str | Path) -> "Truth":
        with np.load(path, allow_pickle=False) as data:
            if "t" not in data or "json" not in data:
                raise ValueError(f"{path} is not a simulated-wearer truth file (no t / json arrays)")
            meta = json.loads(str(data["json"]))
            angles = {k.split("/", 1)[1]: data[k] for k in data.files if k.startswith("angle/")}
            quats = {k.split("/", 1)[1]: data[k] for k in data.files if k.startswith("quat/")}
            return Truth(data["t"], angles, quats, [tuple(p) for p in meta["phases"]],
                         meta["episodes"], meta["metadata"])


@dataclass
class SimulatedSession:
    notifications: list[Notification]  # sorted by host_time_s; sensor = location name
    sensors: dict[str, dict]  # location -> SensorParams.describe() + frames_sent/lost
    duration_s: float
    truth: Truth
    scenario: str = ""
    seed: int = 0
    _params: dict[str, S.SensorParams] = field(default_factory=dict, repr=False)
    _wearer: Wearer | None = field(default=None, repr=False)

    def sensor_samples(self, location: str, delivered_only: bool = True) -> dict[str, np.ndarray]:
        """Every sample a sensor took (regenerated, identical to what the frames carry):
        t (true session s), device_time_s (unwrapped), quat (sent, NaN if raw-only), acc,
        gyro; only the samples of delivered frames unless `delivered_only` is False."""
        params = self._sensor(location)
        parts: dict[str, list] = {k: [] for k in ("t", "device_time_s", "quat", "acc", "gyro")}
        for chunk in self.frame_chunks(location, with_payloads=False):
            keep = np.repeat(~chunk.lost if delivered_only else np.ones(len(chunk.lost), bool),
                             params.samples_per_frame)
            quat = chunk.quat if chunk.quat is not None else np.full((len(chunk.t), 4), np.nan)
            for key, value in (("t", chunk.t), ("device_time_s", chunk.device_us * 1e-6),
                               ("quat", quat), ("acc", chunk.acc), ("gyro", chunk.gyro)):
                parts[key].append(value[keep])
        return {k: np.concatenate(v) if v else np.empty((0,)) for k, v in parts.items()}


    def frame_chunks(self, location: str, with_payloads: bool = True):
        """The sensor's stream again, chunk by chunk (`sensors.FrameChunk`: samples, frame
        sequence numbers, loss, arrival times and payloads), identical to the notifications."""
        return S.frame_chunks(self._sensor(location), self._wearer, self.duration_s,
                              _signal_rng(self.seed, location), with_payloads=with_payloads)

    def true_sensor_orientation(self, location: str, t: np.ndarray) -> np.ndarray:
        """Noise-free sensor -> E orientation (n, 4) of a worn sensor at session times t."""
        return self._wearer.sensor_kinematics(location, self._sensor(location).mounting, t)[0]

    def _sensor(self, location: str) -> S.SensorParams:
        if location not in self._params:
            raise ValueError(f"no sensor at {location!r}; this session has {', '.join(self._params)}")
        return self._params[location]


def _signal_rng(seed: int, location: str) -> np.random.Generator:
    return np.random.default_rng([seed, _STREAM_SIGNALS, LOCATIONS.index(location)])


def simulate(scenario: str = "desk", duration_s: float | None = None, seed: int = 0, *,
             sacral: bool | None = None, rates_hz: dict[str, float] | None = None,
             loss_rate: float | None = None, raw_only: set[str] | tuple = (), mounting_error: bool = True,
             heading_drift: bool = True) -> SimulatedSession:
    """Simulate a wearer following `scenario`; same arguments and seed, same output.

    rates_hz overrides the default per-location rates (thoracic 100, lumbar 60, sacral 60 Hz);
    loss_rate is the expected fraction of notifications lost (default 0.005, part of it in
    bursts); raw_only names sensors that send acc + gyro without a quaternion.
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    loss_rate = S.DEFAULT_LOSS_RATE if loss_rate is None else float(loss_rate)
    if not 0.0 <= loss_rate < 0.5:
        raise ValueError(f"loss_rate must be within 0..0.5, got {loss_rate!r}")
    script = build_script(scenario, duration_s, script_rng(seed), sacral)
    wearer = Wearer(script, np.random.default_rng([seed, _STREAM_SWAY]))
    locations = [loc for loc in LOCATIONS if loc != "sacral" or script.sacral]
    rates = dict(S.DEFAULT_RATES_HZ)
    for loc, rate in (rates_hz or {}).items():
        if loc not in LOCATIONS:
            raise ValueError(f"rates_hz names unknown location {loc!r}; known: {', '.join(LOCATIONS)}")
        rates[loc] = float(rate)
    raw_only = set(raw_only or ())
    if not raw_only <= set(locations):
        raise ValueError(f"raw_only names sensors not worn in this session: "
                         f"{', '.join(sorted(raw_only - set(locations)))} (worn: {', '.join(locations)})")

    params, described, hosts, payloads, owners = {}, {}, [], [], []
    for i, loc in enumerate(locations):
        p = S.make_params(loc, np.random.default_rng([seed, _STREAM_PARAMS, LOCATIONS.index(loc)]),
                          rate_hz=rates[loc], raw_only=loc in raw_only, loss_rate=loss_rate,
                          mounting_error=mounting_error, heading_drift=heading_drift,
                          roll_deg=script.mounting_roll_deg.get(loc, 0.0))
        params[loc] = p
        sent = lost = 0
        for chunk in S.frame_chunks(p, wearer, script.duration_s, _signal_rng(seed, loc)):
            delivered = np.flatnonzero(~chunk.lost)
            hosts.append(chunk.host_time_s[delivered])
            payloads.extend(chunk.payloads[j] for j in delivered)
            owners.append(np.full(len(delivered), i, dtype=np.int8))
            sent += len(chunk.lost)
            lost += int(chunk.lost.sum())
        described[loc] = p.describe() | {"frames_sent": sent, "frames_lost": lost}

    host = np.concatenate(hosts) if hosts else np.empty(0)
    owner = np.concatenate(owners) if owners else np.empty(0, np.int8)
    order = np.lexsort((owner, host))
    host_list = host.tolist()
    notifications = [Notification(locations[owner[j]], host_list[j], payloads[j]) for j in order]

    truth = _truth(script, wearer)
    truth.metadata = {"scenario": scenario, "seed": int(seed), "duration_s": script.duration_s,
                      "sensors": described}
    return SimulatedSession(notifications, described, script.duration_s, truth, scenario, int(seed),
                            params, wearer)


def simulate_truth(scenario: str = "desk", duration_s: float | None = None, seed: int = 0, *,
                   sacral: bool | None = None) -> Truth:
    """Only the truth of `simulate(scenario, duration_s, seed)`, without sensors (cheap)."""
    script = build_script(scenario, duration_s, script_rng(seed), sacral)
    truth = _truth(script, Wearer(script, np.random.default_rng([seed, _STREAM_SWAY])))
    truth.metadata = {"scenario": scenario, "seed": int(seed), "duration_s": script.duration_s}
    return truth


def _truth(script: Script, wearer: Wearer) -> Truth:
    n = int(np.floor(script.duration_s * TRUTH_RATE_HZ)) + 1
    t = np.arange(n) / TRUTH_RATE_HZ
    # filled in place, chunk by chunk: an eight-hour truth is large enough to matter
    quats = {seg: np.empty((n, 4)) for seg in SEGMENTS}
    angles: dict[str, np.ndarray] = {}
    for start in range(0, n, _TRUTH_CHUNK):
        rows = slice(start, min(n, start + _TRUTH_CHUNK))
        q = wearer.segment_quats(t[rows])
        for seg in SEGMENTS:
            quats[seg][rows] = q[seg]
        for name, values in truth_angles(q).items():
            angles.setdefault(name, np.empty(n))[rows] = values
    th = Thresholds()
    episodes = slouch_episodes(t, angles["thoracic_flexion"], th.slouch_enter_deg,
                               th.slouch_exit_deg, th.slouch_min_duration_s)
    return Truth(t, angles, quats, script.phases(), episodes)


def to_interchange_csv(session: SimulatedSession, path: str | Path, labels: bool = True, *,
                       rates_hz: dict[str, float] | None = None, raw_only: set[str] | tuple = (),
                       quaternion_columns: bool = True, time_jitter_s: float = 0.0) -> None:
    """Write the CSV interchange format (docs/data-formats.md): one row per delivered sensor
    sample, true session time, the sensor's noisy quaternion (sensor -> own earth, z up;
    empty for raw-only sensors), acc (g), gyro (deg/s) and, if asked, the phase label.

    rates_hz: location -> a lower output rate (down to 1 Hz), as a slow device or a logger
        that keeps every k-th sample would give: the sensor's rate must be a whole multiple.
        Acceleration and rate are averaged over each output period (what a device's
        decimation filter does, so the mean rotation is kept); the quaternion and the time
        are those of the period's last sample. The radio frame cannot carry rates below
        15.3 Hz (sensors.check_rate), so this is how a 5-10 Hz session is made.
    raw_only: locations whose quaternion cells are left empty (acc and gyro only).
    quaternion_columns: False leaves the qw..qz columns out altogether (a raw-only file).
    time_jitter_s: standard deviation of noise added to the written times, as when a logger
        stamps samples with the host's receive time (clipped to a third of the period, so
        the order stays); the sensor's values are still those of the true time.
    """
    rates_hz = dict(rates_hz or {})
    unknown = (set(rates_hz) | set(raw_only or ())) - set(session.sensors)
    if unknown:
        raise ValueError(f"no sensor at {', '.join(sorted(unknown))}; this session has {', '.join(session.sensors)}")
    tables = []
    for location in session.sensors:
        s = session.sensor_samples(location)
        if location in rates_hz:
            s = _decimate(s, float(session.sensors[location]["rate_hz"]), float(rates_hz[location]), location)
        if time_jitter_s > 0:
            period = 1.0 / float(rates_hz.get(location, session.sensors[location]["rate_hz"]))
            rng = np.random.default_rng([session.seed, _STREAM_JITTER, LOCATIONS.index(location)])
            s = dict(s, t=s["t"] + np.clip(rng.normal(0.0, time_jitter_s, len(s["t"])), -period / 3, period / 3))
        quat = np.full_like(s["quat"], np.nan) if location in set(raw_only or ()) else s["quat"]
        table = pd.DataFrame(np.hstack([quat, s["acc"], s["gyro"]]), columns=_CSV_VALUES)
        table.insert(0, "sensor", location)
        table.insert(0, "time_s", s["t"])
        tables.append(table)
    table = pd.concat(tables, ignore_index=True).sort_values("time_s", kind="stable")
    if not quaternion_columns:
        table = table.drop(columns=["qw", "qx", "qy", "qz"])
    if labels:
        table["label"] = session.truth.phase_labels(table["time_s"].to_numpy())
    # 10 significant digits keep microseconds in an eight-hour session
    table.to_csv(path, index=False, float_format="%.10g")


def _decimate(samples: dict[str, np.ndarray], rate_hz: float, out_hz: float, location: str) -> dict:
    """Every k-th sample of one sensor; acc and gyro averaged over the k samples up to it.

    The device sample index decides the period. A period whose closing sample was lost on
    the radio is lost at the low rate too; the others average the samples they have."""
    step = rate_hz / out_hz if out_hz > 0 else np.inf
    if not (1.0 <= out_hz <= rate_hz) or abs(step - round(step)) > 1e-6:
        raise ValueError(f"{location}: output rate {out_hz:g} Hz must divide the sensor's {rate_hz:g} Hz "
                         f"(1 Hz up; simulate at a multiple of it)")
    step = int(round(step))
    index = np.round((samples["device_time_s"] - samples["device_time_s"][0]) * rate_hz).astype(np.int64)
    period = index // step
    last = np.flatnonzero(np.r_[period[1:] != period[:-1], True])  # last present sample of each period
    first = np.r_[0, last[:-1] + 1]
    # an output sample exists when the period's closing sample arrived (else it was lost)
    sent = index[last] == (period[last] + 1) * step - 1
    out = {k: v[last[sent]] for k, v in samples.items()}
    for key in ("acc", "gyro"):
        sums = np.add.reduceat(samples[key], first, axis=0)[sent]
        out[key] = sums / (last - first + 1)[sent, None]
    return out
