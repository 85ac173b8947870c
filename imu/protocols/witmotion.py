"""WitMotion BLE 5.0 sensors (WT901BLECL, WT9011DCL): sans-I/O decoder and encoder.

Facts in docs/sensor-protocols.md section 2. The sensor streams 20-byte `55 61` frames
(acc, gyro, Euler angles as int16) with no checksum, no sequence number and no timestamp;
register reads come back as 20-byte `55 71` frames. A notification may carry several
frames and a frame may be split across notifications, so the notifications are parsed as
one byte stream that resyncs on the two headers and carries a remainder between calls.

Orientation. The datasheet (WT901BLECL v20-0707, section 6) defines the angles in a
"north-east-sky" frame: sensor x forward, y left, z up, earth z up, Z-Y-X order. (The
reference calls it NED; that cannot be, since a sensor lying flat reads az = +1 g with zero
roll and pitch.) So the sensor->earth rotation is R = Rz(yaw) Ry(pitch) Rx(roll), which is
already our "sensor earth, z up" convention: flat and level gives the identity, and the
accelerometer of a still sensor satisfies roll = atan2(ay, az), pitch = -asin(ax) (checked
against the captured frame in the reference and in tests). Yaw is taken right-handed about
z up, like the gyroscope's z rate.

Timing. Without device time, `device_time_s` is NaN and `host_time_s` is estimated: samples
advance at the configured rate from the previous one, never later than the notification
that completed them and never more than MAX_LAG_S before it. A silence longer than
SILENCE_S whose length the received frames cannot explain counts as loss (an estimate;
shorter losses cannot be seen without sequence numbers).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from imu import quat as Q
from imu.protocols.common import check_host_times, drop_bad_samples
from imu.samples import DecodeStats, SampleBlock

SERVICE_UUID = "0000ffe5-0000-1000-8000-00805f9a34fb"
NOTIFY_UUID = "0000ffe4-0000-1000-8000-00805f9a34fb"
WRITE_UUID = "0000ffe9-0000-1000-8000-00805f9a34fb"  # write without response

FRAME_SIZE = 20
HEADER_DATA, HEADER_REGISTER = 0x61, 0x71
ACC_G_PER_LSB = 16 / 32768
GYRO_DPS_PER_LSB = 2000 / 32768
ANGLE_DEG_PER_LSB = 180 / 32768
QUAT_PER_LSB = 1 / 32768

REG_SAVE, REG_RATE, REG_READ, REG_UNLOCK = 0x00, 0x03, 0x27, 0x69
REG_MAG, REG_TEMPERATURE, REG_QUAT, REG_BATTERY = 0x3A, 0x40, 0x51, 0x64
UNLOCK = bytes.fromhex("FFAA6988B5")
SAVE = bytes.fromhex("FFAA000000")
RATE_CODES = {1: 0x03, 2: 0x04, 5: 0x05, 10: 0x06, 20: 0x07, 50: 0x08, 100: 0x09, 200: 0x0B}
DEFAULT_RATE_HZ = 10  # factory setting
BATTERY_EMPTY_CV, BATTERY_FULL_CV = 340, 396  # register 0x64 is volts x 100

MAX_LAG_S = 0.1
SILENCE_S = 0.25


# --- commands -------------------------------------------------------------------------

def write_register_command(register: int, value: int) -> bytes:
    if not 0 <= register <= 0xFF or not -32768 <= value <= 0xFFFF:
        raise ValueError(f"register 0x{register:x} value {value} out of range")
    return bytes([0xFF, 0xAA, register]) + struct.pack("<H", value & 0xFFFF)


def read_register_command(register: int) -> bytes:
    return write_register_command(REG_READ, register)


def rate_command(rate_hz: int) -> bytes:
    """Set the output rate (send UNLOCK first and SAVE after, ~100 ms apart)."""
    if rate_hz not in RATE_CODES:
        raise ValueError(f"WitMotion rates are {sorted(RATE_CODES)} Hz, not {rate_hz}")
    return write_register_command(REG_RATE, RATE_CODES[rate_hz])


def decode_command(data: bytes) -> tuple[int, int]:
    """(register, u16 value) of a `FF AA reg lo hi` write; the peripheral side."""
    data = bytes(data)
    if len(data) != 5 or data[:2] != b"\xff\xaa":
        raise ValueError(f"not a WitMotion command (FF AA reg lo hi): {data.hex(' ')}")
    return data[2], struct.unpack_from("<H", data, 3)[0]


def rate_from_code(code: int) -> int:
    for rate, c in RATE_CODES.items():
        if c == code:
            return rate
    raise ValueError(f"unknown WitMotion rate code 0x{code:02x}")


def battery_percent(raw_centivolts: int) -> float:
    """Approximate charge from register 0x64, linear between the doc's 0 % and 100 % points."""
    frac = (raw_centivolts - BATTERY_EMPTY_CV) / (BATTERY_FULL_CV - BATTERY_EMPTY_CV)
    return float(np.clip(frac, 0.0, 1.0) * 100.0)


# --- orientation ----------------------------------------------------------------------

def euler_to_quat(roll_deg, pitch_deg, yaw_deg) -> np.ndarray:
    """Sensor->earth (z up) quaternion(s), scalar first, of Z-Y-X angles in degrees."""
    from scipy.spatial.transform import Rotation  # slow to import: only when a WitMotion decodes

    angles = np.stack(np.broadcast_arrays(yaw_deg, pitch_deg, roll_deg), axis=-1).astype(float)
    return Q.from_rotation(Rotation.from_euler("ZYX", angles, degrees=True))


def quat_to_euler(q: np.ndarray) -> np.ndarray:
    """(..., 3) roll, pitch, yaw in degrees of sensor->earth quaternion(s)."""
    yaw_pitch_roll = Q.to_rotation(q).as_euler("ZYX", degrees=True)
    return yaw_pitch_roll[..., ::-1]


# --- frames ---------------------------------------------------------------------------

def _wrap_angle_lsb(deg: np.ndarray) -> np.ndarray:
    lsb = np.round(np.asarray(deg, float) / ANGLE_DEG_PER_LSB).astype(np.int64)
    return (lsb + 32768) % 65536 - 32768


def _saturate(values, per_lsb: float) -> np.ndarray:
    return np.clip(np.round(np.asarray(values, float) / per_lsb), -32768, 32767).astype(np.int64)


def encode_data_frames(acc_g: np.ndarray, gyro_dps: np.ndarray, euler_deg: np.ndarray) -> bytes:
    """`55 61` frames for (n, 3) acc, gyro and roll/pitch/yaw; concatenated."""
    acc, gyro, euler = (np.atleast_2d(np.asarray(a, float)) for a in (acc_g, gyro_dps, euler_deg))
    if not acc.shape == gyro.shape == euler.shape or acc.shape[1] != 3:
        raise ValueError(f"acc, gyro and euler must all be (n, 3): {acc.shape}, {gyro.shape}, {euler.shape}")
    body = np.concatenate(
        [_saturate(acc, ACC_G_PER_LSB), _saturate(gyro, GYRO_DPS_PER_LSB), _wrap_angle_lsb(euler)], axis=1
    ).astype("<i2")
    head = np.tile(np.array([0x55, HEADER_DATA], dtype=np.uint8), (len(body), 1))
    return np.concatenate([head, body.view(np.uint8)], axis=1).tobytes()


def encode_samples(quat: np.ndarray, acc_g: np.ndarray, gyro_dps: np.ndarray) -> bytes:
    """What the sensor would stream for these samples (for simulated peripherals)."""
    return encode_data_frames(acc_g, gyro_dps, quat_to_euler(np.atleast_2d(quat)))


def encode_register_reply(start_register: int, values) -> bytes:
    """`55 71` reply carrying 8 consecutive int16 registers from start_register."""
    values = list(values) + [0] * (8 - len(values))
    if len(values) != 8:
        raise ValueError("a register reply carries at most 8 registers")
    return bytes([0x55, HEADER_REGISTER]) + struct.pack("<H8h", start_register, *values)


def scan_frames(buf: bytes, skipping: bool = False) -> tuple[list[int], int, int, bool]:
    """Find frames in a byte stream: (frame starts, bytes consumed, resyncs, still skipping).

    Bytes that do not start a frame are skipped; each run of skipped bytes counts as one
    resync, also when the run continues from the previous call (`skipping`). A trailing
    partial frame is left unconsumed for the next call.
    """
    n = len(buf)
    # fast path: a clean stream of whole frames
    if n and n % FRAME_SIZE == 0:
        arr = np.frombuffer(buf, dtype=np.uint8).reshape(-1, FRAME_SIZE)
        if np.all(arr[:, 0] == 0x55) and np.all((arr[:, 1] == HEADER_DATA) | (arr[:, 1] == HEADER_REGISTER)):
            return list(range(0, n, FRAME_SIZE)), n, 0, False
    starts, pos, resyncs = [], 0, 0
    while pos < n:
        if buf[pos] == 0x55 and (pos + 1 == n or buf[pos + 1] in (HEADER_DATA, HEADER_REGISTER)):
            if pos + FRAME_SIZE > n:
                break  # partial frame: wait for the rest
            starts.append(pos)
            pos += FRAME_SIZE
            skipping = False
            continue
        if not skipping:
            resyncs += 1
            skipping = True
        nxt = buf.find(b"\x55", pos + 1)
        pos = n if nxt < 0 else nxt
    return starts, pos, resyncs, skipping


def decode_data_frames(frames: np.ndarray) -> dict[str, np.ndarray]:
    """(k, 20) uint8 `55 61` frames -> acc g, gyro deg/s, euler deg (roll, pitch, yaw), quat."""
    raw = np.ascontiguousarray(frames[:, 2:]).view("<i2").astype(float)
    euler = raw[:, 6:9] * ANGLE_DEG_PER_LSB
    return {
        "acc": raw[:, 0:3] * ACC_G_PER_LSB,
        "gyro": raw[:, 3:6] * GYRO_DPS_PER_LSB,
        "euler": euler,
        "quat": euler_to_quat(euler[:, 0], euler[:, 1], euler[:, 2]).reshape(-1, 4),
    }


def decode_register_frame(frame: bytes) -> tuple[int, list[int]]:
    start, *values = struct.unpack_from("<H8h", frame, 2)
    return start, values


@dataclass
class WitStreamDecoder:
    """Decodes one WitMotion sensor's notifications, chunk after chunk (imu_fw face)."""

    rate_hz: float = DEFAULT_RATE_HZ
    stats: DecodeStats = field(default_factory=DecodeStats)
    registers: dict[int, int] = field(default_factory=dict)  # latest value of every register read
    register_replies: list[tuple[float, int, list[int]]] = field(default_factory=list)
    _remainder: bytes = b""
    _skipping: bool = False  # inside a run of bytes that are not frames
    _last_t: float | None = None  # estimated host time of the last sample
    _battery: float | None = None

    def __post_init__(self) -> None:
        if not self.rate_hz > 0:
            raise ValueError(f"sample rate must be positive, got {self.rate_hz}")

    def decode(self, payloads: list[bytes], host_times: np.ndarray) -> SampleBlock:
        host_times = check_host_times(payloads, host_times)
        self.stats.notifications += len(payloads)
        payloads = [bytes(p) for p in payloads]
        buf = self._remainder + b"".join(payloads)
        # the notification that completes a byte is the first whose end lies beyond it
        ends = len(self._remainder) + np.cumsum([len(p) for p in payloads], dtype=np.int64)
        starts, consumed, resyncs, self._skipping = scan_frames(buf, self._skipping)
        if resyncs:
            self.stats.bad_notifications += resyncs
            self.stats.count_error("bytes skipped to resync on a 55 61 / 55 71 header")
        self._remainder = buf[consumed:]
        if not starts:
            return SampleBlock.empty(with_acc=True, with_gyro=True)
        frames = np.frombuffer(buf, dtype=np.uint8)[np.add.outer(np.array(starts), np.arange(FRAME_SIZE))]
        completing = np.searchsorted(ends, np.array(starts) + FRAME_SIZE, side="left")
        is_data = frames[:, 1] == HEADER_DATA
        for k in np.flatnonzero(~is_data):
            self._register_reply(float(host_times[completing[k]]), frames[k].tobytes())
        data = frames[is_data]
        if not len(data):
            return SampleBlock.empty(with_acc=True, with_gyro=True)
        decoded = decode_data_frames(data)
        pitch_ok = np.abs(decoded["euler"][:, 1]) <= 90.5  # Z-Y-X pitch never exceeds 90 deg
        if not pitch_ok.all():
            self.stats.bad_samples += int((~pitch_ok).sum())
            self.stats.count_error("pitch outside +-90 deg (damaged frame)")
        hosts = self._sample_times(host_times[completing[is_data]])
        n = len(data)
        block = SampleBlock(
            device_time_s=np.full(n, np.nan),
            host_time_s=hosts,
            seq=np.full(n, -1, dtype=np.int64),
            quat=decoded["quat"],
            acc=decoded["acc"],
            gyro=decoded["gyro"],
            vibrating=np.zeros(n, dtype=bool),
            battery_pct=self._battery,
        ).take(pitch_ok)
        return drop_bad_samples(block, self.stats)

    def _register_reply(self, host_s: float, frame: bytes) -> None:
        start, values = decode_register_frame(frame)
        self.register_replies.append((host_s, start, values))
        for i, v in enumerate(values):
            self.registers[start + i] = v
        if start == REG_BATTERY:
            self._battery = battery_percent(values[0])

    def _sample_times(self, arrival: np.ndarray) -> np.ndarray:
        """Estimated sample times from the arrival times of the notifications completing them.

        A scalar loop: each time depends on the previous one through two clamps, and plain
        floats beat numpy on one-element steps.
        """
        period = 1.0 / self.rate_hz
        arrival = arrival.tolist()
        out: list[float] = []
        last, i, n = self._last_t, 0, len(arrival)
        while i < n:
            h, j = arrival[i], i
            while j < n and arrival[j] == h:  # frames completed by one notification
                j += 1
            k = j - i
            if last is not None:
                silence = (h - (k - 1) * period) - (last + period)
                if silence > SILENCE_S:
                    self.stats.lost_samples += int(round(silence / period))
                    self.stats.gaps.append((float(last), float(h)))
            for m in range(k):
                anchored = h - (k - 1 - m) * period
                if last is None:
                    t = anchored
                else:
                    t = min(max(last + period, anchored - MAX_LAG_S), h)
                out.append(t)
                last = t
            i = j
        self._last_t = last
        return np.array(out)
