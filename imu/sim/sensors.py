"""Simulated sensors: what a device on the skin measures and sends, frame by frame.

Each sensor has its own random make-up (`SensorParams`): mounting error on the skin, its own
earth heading reference drifting about the vertical, gyro and accelerometer biases, a device
clock with offset and drift, a radio latency and a loss rate. `frame_chunks` samples the
wearer on the device's clock and yields real imu-fw samples frames in chunks of a fixed
number of frames, so an eight-hour session streams in bounded memory and the same seed gives
the same bytes whatever is done with them.

Clock: t_device = (t_session - clock_offset_s) * (1 + clock_drift_ppm * 1e-6).
Reported quaternion: sensor -> the sensor's own earth frame (z up), whose heading in E is
heading_offset_deg + heading_drift_deg_per_min * t / 60.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.signal import lfilter

from imu import anatomy
from imu import quat as Q
from imu.protocols import imu_fw
from imu.sim.wearer import Wearer

DEVICE = "imu-fw"
DEFAULT_RATES_HZ = {"thoracic": 100.0, "lumbar": 60.0, "sacral": 60.0}
FRAME_S = 0.04  # samples per notification: about 40 ms worth (4 at 100 Hz)
CHUNK_FRAMES = 4096
DEFAULT_LOSS_RATE = 0.005
BURST_LOSS_SHARE = 0.4  # part of the losses that come in bursts of consecutive frames
QUAT_NOISE_DEG = 0.2  # per axis; correlated over QUAT_NOISE_TAU_S like a fusion output
QUAT_NOISE_TAU_S = 0.5
GYRO_NOISE_DPS = 0.08
ACC_NOISE_G = 0.004
LATENCY_BURST_EVERY_S = 120.0  # mean time between radio stalls that deliver late in a burst


@dataclass(frozen=True)
class SensorParams:
    location: str
    rate_hz: float
    dt_us: int
    samples_per_frame: int
    raw_only: bool
    mounting: np.ndarray  # sensor in segment quaternion (w, x, y, z)
    mounting_yaw_deg: float  # about the skin normal (sensor z)
    mounting_tilt_deg: float  # surface tilt
    heading_offset_deg: float  # heading of the sensor's earth frame in E at t = 0
    heading_drift_deg_per_min: float
    clock_offset_s: float
    clock_drift_ppm: float
    start_s: float  # session time of the first sample
    gyro_bias_dps: np.ndarray
    acc_bias_g: np.ndarray
    latency_ms: float  # base radio latency; jitter and stalls come on top
    loss_rate: float  # expected fraction of frames lost
    battery_start_pct: float
    first_seq: int

    def describe(self) -> dict:
        """JSON-friendly description (what SimulatedSession.sensors holds)."""
        d = asdict(self)
        for key, value in d.items():
            if isinstance(value, np.ndarray):
                d[key] = value.tolist()
        d["device"] = DEVICE
        return d

    def device_to_session(self, device_s: np.ndarray) -> np.ndarray:
        return np.asarray(device_s) / (1.0 + self.clock_drift_ppm * 1e-6) + self.clock_offset_s

    def sensor_earth_heading_deg(self, t: np.ndarray) -> np.ndarray:
        return self.heading_offset_deg + self.heading_drift_deg_per_min * np.asarray(t) / 60.0


def check_rate(location: str, rate_hz: float) -> int:
    """The sample period in whole microseconds; ValueError for rates the frame cannot carry."""
    if not (np.isfinite(rate_hz) and 15.3 <= rate_hz <= 1000.0):
        raise ValueError(f"sample rate for {location} must be 15.3..1000 Hz (e.g. 60, 100, 200), got {rate_hz!r}; "
                         "the frame's 16-bit microsecond period cannot carry slower rates: for 5-10 Hz, "
                         "write a CSV at a lower rate (imu simulate --csv-rate, to_interchange_csv(rates_hz=...))")
    return int(round(1e6 / rate_hz))


def make_params(location: str, rng: np.random.Generator, *, rate_hz: float, raw_only: bool,
                loss_rate: float, mounting_error: bool, heading_drift: bool,
                roll_deg: float = 0.0) -> SensorParams:
    """roll_deg turns the housing about its own z (the skin normal) on top of any mounting
    error: 180 is a sensor stuck on with its arrow pointing down the spine."""
    dt_us = check_rate(location, rate_hz)
    yaw = rng.choice([-1.0, 1.0]) * rng.uniform(10.0, 40.0)
    tilt = rng.uniform(5.0, 15.0)
    tilt_dir = rng.uniform(0.0, 2 * np.pi)
    if mounting_error:
        error = Q.multiply(Q.from_axis_angle([0.0, 0.0, 1.0], yaw),
                           Q.from_axis_angle([np.cos(tilt_dir), np.sin(tilt_dir), 0.0], tilt))
        mounting = Q.normalize(Q.multiply(anatomy.NOMINAL_SENSOR_IN_SEGMENT, error))
    else:
        mounting, yaw, tilt = anatomy.NOMINAL_SENSOR_IN_SEGMENT.copy(), 0.0, 0.0
    if roll_deg:
        mounting = Q.normalize(Q.multiply(mounting, Q.from_axis_angle([0.0, 0.0, 1.0], roll_deg)))
        yaw = (yaw + roll_deg + 180.0) % 360.0 - 180.0
    drift = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 3.0)
    return SensorParams(
        location=location, rate_hz=float(rate_hz), dt_us=dt_us,
        samples_per_frame=max(1, int(round(FRAME_S * rate_hz))), raw_only=raw_only,
        mounting=mounting, mounting_yaw_deg=float(yaw), mounting_tilt_deg=float(tilt),
        heading_offset_deg=float(rng.uniform(-180.0, 180.0)),
        heading_drift_deg_per_min=float(drift if heading_drift else 0.0),
        # the device booted before the session; its u32 microsecond clock wraps every 71.6 min
        clock_offset_s=float(-rng.uniform(30.0, 4290.0)),
        clock_drift_ppm=float(rng.choice([-1.0, 1.0]) * rng.uniform(20.0, 80.0)),
        start_s=float(rng.uniform(0.05, 0.5)),
        gyro_bias_dps=np.clip(rng.normal(0.0, 0.3, 3), -1.0, 1.0),
        acc_bias_g=np.clip(rng.normal(0.0, 0.005, 3), -0.015, 0.015),
        latency_ms=float(rng.uniform(4.0, 10.0)), loss_rate=float(loss_rate),
        battery_start_pct=float(rng.uniform(60.0, 100.0)), first_seq=int(rng.integers(0, 65536)),
    )


@dataclass
class FrameChunk:
    """One chunk of a sensor's stream: its samples (truth and as sent) and its frames."""

    t: np.ndarray  # (n,) true session time of each sample
    device_us: np.ndarray  # (n,) unwrapped device time, int64
    quat: np.ndarray | None  # (n, 4) as sent: sensor -> own earth, with noise; None if raw-only
    acc: np.ndarray  # (n, 3) g, as sent
    gyro: np.ndarray  # (n, 3) deg/s, as sent
    frame_seq: np.ndarray  # (f,) unwrapped sequence number
    lost: np.ndarray  # (f,) bool: frame never arrived
    host_time_s: np.ndarray  # (f,) arrival time on the session timeline (NaN if lost)
    payloads: list[bytes] = field(default_factory=list)  # (f,) every frame as sent


def _ar1(rng: np.random.Generator, n: int, dt: float, tau: float, std: float, state: np.ndarray):
    """Correlated noise (3 axes) continuing from `state` (the last value)."""
    a = np.exp(-dt / tau)
    drive = rng.standard_normal((n, 3)) * std * np.sqrt(1 - a * a)
    y, _ = lfilter([1.0], [1.0, -a], drive, axis=0, zi=(a * state)[None, :])
    return y


def _bursts(rng: np.random.Generator, duration_s: float, every_s: float, low: float, high: float):
    """Random (start, length) events, on average one per `every_s` seconds."""
    count = rng.poisson(duration_s / every_s) if every_s > 0 else 0
    starts = np.sort(rng.uniform(0.0, duration_s, count))
    return starts, rng.uniform(low, high, count)


def frame_chunks(params: SensorParams, wearer: Wearer, duration_s: float, rng: np.random.Generator,
                 with_payloads: bool = True):
    """Yield `FrameChunk`s covering the session; every sample taken before `duration_s`."""
    p = params
    scale = 1.0 + p.clock_drift_ppm * 1e-6
    dev0_us = int(round((p.start_s - p.clock_offset_s) * scale * 1e6))
    last_us = (duration_s - p.clock_offset_s) * scale * 1e6
    n_samples = max(0, int(np.floor((last_us - dev0_us) / p.dt_us)) + 1)
    spf = p.samples_per_frame
    n_frames = n_samples // spf
    dt_s = p.dt_us * 1e-6
    # stalls of the radio (late delivery in a burst) and bursts of lost frames, fixed up front
    stall_start, stall_len = _bursts(rng, duration_s, LATENCY_BURST_EVERY_S, 0.08, 0.35)
    frame_s = spf * dt_s
    burst_frames = 10.0
    burst_every = (burst_frames * frame_s / (BURST_LOSS_SHARE * p.loss_rate)) if p.loss_rate > 0 else 0.0
    loss_start, loss_len = _bursts(rng, duration_s, burst_every, 4, 16)
    single_loss = p.loss_rate * (1.0 - BURST_LOSS_SHARE)
    noise_state = rng.normal(0.0, QUAT_NOISE_DEG, 3)
    last_host = -np.inf
    flags = imu_fw.FLAG_FUSION_OK if not p.raw_only else 0
    for first in range(0, n_frames, CHUNK_FRAMES):
        frames = min(CHUNK_FRAMES, n_frames - first)
        k = np.arange(first * spf, (first + frames) * spf, dtype=np.int64)
        device_us = dev0_us + k * p.dt_us
        t = p.device_to_session(device_us * 1e-6)
        q_true, gyro_true, force = wearer.sensor_kinematics(p.location, p.mounting, t)
        n = len(t)
        gyro = gyro_true + p.gyro_bias_dps + rng.normal(0.0, GYRO_NOISE_DPS, (n, 3))
        acc = force + p.acc_bias_g + rng.normal(0.0, ACC_NOISE_G, (n, 3))
        noise = _ar1(rng, n, dt_s, QUAT_NOISE_TAU_S, QUAT_NOISE_DEG, noise_state)
        noise_state = noise[-1]
        quat = None
        if not p.raw_only:
            angle = np.linalg.norm(noise, axis=1)
            noise_q = Q.from_axis_angle(np.where(angle[:, None] > 0, noise, [1.0, 0, 0]), angle)
            earth = Q.multiply(Q.conjugate(anatomy.SENSOR_EARTH_TO_E),
                               anatomy.heading_quat(-p.sensor_earth_heading_deg(t)))
            quat = Q.multiply(Q.multiply(earth, q_true), noise_q)
            quat = np.where(quat[:, :1] < 0, -quat, quat)
        # frames: radio loss and arrival time of the frame's last sample plus latency
        t_last = t[spf - 1::spf]
        lost = rng.random(frames) < single_loss
        for start, length in zip(loss_start, loss_len):
            lost |= (t_last >= start) & (t_last < start + length * frame_s)
        host = t_last + p.latency_ms * 1e-3 + rng.exponential(0.002, frames)
        for start, length in zip(stall_start, stall_len):
            stalled = (host >= start) & (host < start + length)
            host[stalled] = start + length
        host[lost] = np.nan
        delivered = ~lost
        host[delivered] = np.maximum.accumulate(np.concatenate([[last_host], host[delivered]]))[1:]
        if delivered.any():
            last_host = host[delivered][-1]
        frame_seq = p.first_seq + np.arange(first, first + frames, dtype=np.int64)
        payloads = []
        if with_payloads:
            battery = np.clip(np.round(p.battery_start_pct - 6.0 * t_last / 3600.0), 1, 100).astype(int)
            shape = (frames, spf)
            payloads = imu_fw.encode_samples_batch(
                frame_seq, device_us[::spf], p.dt_us,
                None if quat is None else quat.reshape(shape + (4,)),
                acc.reshape(shape + (3,)), gyro.reshape(shape + (3,)), battery, flags)
        yield FrameChunk(t, device_us, quat, acc, gyro, frame_seq, lost, host, payloads)
