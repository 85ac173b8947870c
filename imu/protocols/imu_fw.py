"""Own firmware profile ("imu-fw", version 1): sans-I/O encoder and decoder.

The wire format is specified in firmware_notes/frame-format.md. In short, every
notification is a little-endian frame:

    0  u8   version << 4 | frame type (1 samples, 2 time-sync echo, 3 device event)
    1  u8   flags: b0 acc, b1 gyro, b2 quaternion present, b3 clock synced,
                   b4 low battery, b5 fusion calibrated, b6 FIFO overflow, b7 motor running
    2  u16  sequence number, one counter over all frames (wraps)
    4  u32  device time of the first sample, microseconds (wraps every ~71.6 min)
    8  u16  sample period, microseconds
    10 u8   sample count n
    11 u8   battery percent (255 unknown)
    12 n x  [quat 4 x i16 Q14] [acc 3 x i16, 1/2048 g] [gyro 3 x i16, 1/16.4 deg/s]

Type 2 (time-sync echo): header, flags, sequence, device time, then the u32 token the host
wrote with the TIME_SYNC command. Type 3 (device event): header, flags, sequence, device
time, u8 event code, u8 argument.

Control commands and the info characteristic live in `imu_fw_control` (re-exported here).

Decoding a stream is vectorised: consecutive notifications of the same length and content
share one layout, so a run of them becomes one numpy structured array.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from imu.protocols.imu_fw_control import (  # noqa: F401  (public names of this profile)
    ATT_ERROR_BAD_LENGTH, ATT_ERROR_OUT_OF_RANGE, ATT_ERROR_UNKNOWN_OPCODE, COMMAND_ARGS,
    COMMAND_NAMES, CONTENT_ACC, CONTENT_ALL, CONTENT_GYRO, CONTENT_QUAT, CommandError, DeviceInfo,
    OP_BUZZ, OP_GET_INFO, OP_IDENTIFY, OP_SET_RATE, OP_START, OP_STOP, OP_TARE, OP_TIME_SYNC,
    decode_command, decode_info, encode_command, encode_info,
)
from imu.protocols.common import UNIT_TOLERANCE, check_host_times, drop_bad_samples
from imu.samples import DecodeStats, SampleBlock

VERSION = 1
TYPE_SAMPLES, TYPE_TIME_SYNC, TYPE_EVENT = 1, 2, 3

FLAG_ACC, FLAG_GYRO, FLAG_QUAT = 0x01, 0x02, 0x04
FLAG_SYNCED, FLAG_LOW_BATTERY, FLAG_FUSION_OK = 0x08, 0x10, 0x20
FLAG_OVERFLOW, FLAG_MOTOR = 0x40, 0x80
CONTENT_FLAGS = FLAG_QUAT | FLAG_ACC | FLAG_GYRO

EVENT_BUTTON, EVENT_MOTOR_ON, EVENT_MOTOR_OFF, EVENT_STREAM_START = 1, 2, 3, 4
EVENT_NAMES = {
    EVENT_BUTTON: "button", EVENT_MOTOR_ON: "motor_on",
    EVENT_MOTOR_OFF: "motor_off", EVENT_STREAM_START: "stream_start",
}

Q14 = 16384.0
ACC_LSB_PER_G = 2048.0
GYRO_LSB_PER_DPS = 16.4
HEADER = struct.Struct("<BBHIHBB")
HEADER_SIZE = HEADER.size  # 12
SHORT_FRAME = struct.Struct("<BBHI")  # common prefix of types 2 and 3
SAMPLES_HEAD_BYTE = VERSION << 4 | TYPE_SAMPLES

# GATT profile (firmware_notes/gatt-profile.md)
SERVICE_UUID = "b5e90001-5a51-4c1b-9f6e-2d0c8e1a7f3b"
DATA_CHAR_UUID = "b5e90002-5a51-4c1b-9f6e-2d0c8e1a7f3b"
CONTROL_CHAR_UUID = "b5e90003-5a51-4c1b-9f6e-2d0c8e1a7f3b"
INFO_CHAR_UUID = "b5e90004-5a51-4c1b-9f6e-2d0c8e1a7f3b"
BATTERY_SERVICE_UUID = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"
DEVICE_INFO_SERVICE_UUID = "0000180a-0000-1000-8000-00805f9b34fb"


class FrameError(ValueError):
    """A notification that is not a valid imu-fw frame; the message names the problem.

    `reason` is a short fixed phrase (no numbers) used to count errors by kind.
    """

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        self.reason = reason or message


def sample_size(flags: int) -> int:
    return 8 * bool(flags & FLAG_QUAT) + 6 * bool(flags & FLAG_ACC) + 6 * bool(flags & FLAG_GYRO)


@dataclass
class SamplesFrame:
    seq: int
    t0_us: int
    dt_us: int
    flags: int
    battery_pct: int | None
    quat: np.ndarray | None  # (n, 4)
    acc: np.ndarray | None  # (n, 3) g
    gyro: np.ndarray | None  # (n, 3) deg/s

    @property
    def n(self) -> int:
        for arr in (self.quat, self.acc, self.gyro):
            if arr is not None:
                return len(arr)
        return 0


@dataclass
class TimeSyncFrame:
    seq: int
    device_time_us: int
    token: int
    flags: int = 0


@dataclass
class EventFrame:
    seq: int
    device_time_us: int
    code: int
    argument: int
    flags: int = 0


def _quantise(values, scale: float, name: str, width: int | None) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 2 or (width is not None and arr.shape[1] != width):
        raise ValueError(f"{name} must have shape (n, {width}), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return np.clip(np.round(arr * scale), -32768, 32767)


def encode_samples(
    seq: int,
    t0_us: int,
    dt_us: int,
    quat: np.ndarray | None,
    acc: np.ndarray | None = None,
    gyro: np.ndarray | None = None,
    battery_pct: int | None = None,
    flags: int = 0,
) -> bytes:
    """Build one samples frame. Values are rounded and saturated to the wire ranges.

    The content bits of `flags` follow the arrays given; the other bits pass through.
    """
    flags &= ~CONTENT_FLAGS
    parts = []
    for values, flag, scale, name, width in (
        (quat, FLAG_QUAT, Q14, "quat", 4),
        (acc, FLAG_ACC, ACC_LSB_PER_G, "acc", 3),
        (gyro, FLAG_GYRO, GYRO_LSB_PER_DPS, "gyro", 3),
    ):
        if values is not None:
            flags |= flag
            parts.append(_quantise(values, scale, name, width))
    if not parts:
        raise ValueError("a samples frame needs at least one of quat, acc, gyro")
    counts = {len(p) for p in parts}
    if len(counts) != 1:
        raise ValueError(f"quat, acc and gyro must have the same number of samples, got {sorted(counts)}")
    width = counts.pop()
    if not 1 <= width <= 255:
        raise ValueError(f"sample count {width} outside 1..255")
    if not 1 <= dt_us <= 0xFFFF:
        raise ValueError(f"sample period {dt_us} us outside 1..65535")
    battery = 255 if battery_pct is None else int(battery_pct)
    if not 0 <= battery <= 255:
        raise ValueError(f"battery percent {battery} outside 0..100 (255 = unknown)")
    body = np.concatenate(parts, axis=1).astype("<i2").tobytes()
    header = HEADER.pack(
        SAMPLES_HEAD_BYTE, flags & 0xFF, seq & 0xFFFF, t0_us & 0xFFFFFFFF, dt_us, width, battery,
    )
    return header + body


def encode_samples_batch(seq: np.ndarray, t0_us: np.ndarray, dt_us: int, quat: np.ndarray | None,
                  acc: np.ndarray, gyro: np.ndarray, battery: np.ndarray, flags: int) -> list[bytes]:
    """Many samples frames at once (acc and gyro always, quaternion unless None), byte for
    byte what `encode_samples` makes frame by frame; arrays are (frames, samples per
    frame, width). The simulator streams hours of frames through this."""
    parts = [] if quat is None else [np.clip(np.round(quat * Q14), -32768, 32767)]
    parts += [np.clip(np.round(acc * ACC_LSB_PER_G), -32768, 32767),
              np.clip(np.round(gyro * GYRO_LSB_PER_DPS), -32768, 32767)]
    flags |= FLAG_ACC | FLAG_GYRO | (0 if quat is None else FLAG_QUAT)
    body = np.concatenate(parts, axis=2).astype("<i2")
    frames, per_frame = body.shape[:2]
    record = np.dtype([("head", "u1"), ("flags", "u1"), ("seq", "<u2"), ("t0", "<u4"),
                       ("dt", "<u2"), ("n", "u1"), ("battery", "u1"),
                       ("body", "<i2", (per_frame * body.shape[2],))])
    out = np.zeros(frames, dtype=record)
    out["head"] = VERSION << 4 | TYPE_SAMPLES
    out["flags"] = flags
    out["seq"] = seq & 0xFFFF
    out["t0"] = t0_us & 0xFFFFFFFF
    out["dt"] = dt_us
    out["n"] = per_frame
    out["battery"] = battery
    out["body"] = body.reshape(frames, -1)
    raw, size = out.tobytes(), record.itemsize
    return [raw[i:i + size] for i in range(0, len(raw), size)]


def encode_time_sync(seq: int, device_time_us: int, token: int, flags: int = 0) -> bytes:
    return SHORT_FRAME.pack(
        VERSION << 4 | TYPE_TIME_SYNC, flags & ~CONTENT_FLAGS & 0xFF, seq & 0xFFFF,
        device_time_us & 0xFFFFFFFF,
    ) + struct.pack("<I", token & 0xFFFFFFFF)


def encode_event(seq: int, device_time_us: int, code: int, argument: int = 0, flags: int = 0) -> bytes:
    return SHORT_FRAME.pack(
        VERSION << 4 | TYPE_EVENT, flags & ~CONTENT_FLAGS & 0xFF, seq & 0xFFFF,
        device_time_us & 0xFFFFFFFF,
    ) + bytes([code & 0xFF, argument & 0xFF])


def decode_frame(payload: bytes) -> SamplesFrame | TimeSyncFrame | EventFrame:
    """Decode one notification; raises FrameError naming the problem."""
    payload = bytes(payload)
    if len(payload) < 1:
        raise FrameError("empty notification")
    version, frame_type = payload[0] >> 4, payload[0] & 0x0F
    if version != VERSION:
        raise FrameError(f"unsupported frame version {version}", "unsupported frame version")
    if frame_type == TYPE_SAMPLES:
        if len(payload) < HEADER_SIZE:
            raise FrameError(
                f"samples frame truncated: {len(payload)} of {HEADER_SIZE} header bytes",
                "samples frame truncated",
            )
        _, flags, seq, t0, dt, n, battery = HEADER.unpack_from(payload)
        size = sample_size(flags)
        if size == 0:
            raise FrameError("samples frame announces no content (flags carry no quat/acc/gyro)",
                             "samples frame without content")
        if n == 0:
            raise FrameError("samples frame with zero samples")
        if dt == 0:
            raise FrameError("samples frame with zero sample period")
        expected = HEADER_SIZE + n * size
        if len(payload) != expected:
            raise FrameError(
                f"samples frame length {len(payload)}, expected {expected} for {n} samples",
                "samples frame length does not match its sample count",
            )
        raw = np.frombuffer(payload, dtype="<i2", offset=HEADER_SIZE).reshape(n, size // 2)
        quat, acc, gyro = _split_samples(raw.astype(float), flags)
        if quat is not None:
            norms = np.linalg.norm(quat, axis=1)
            if np.any(np.abs(norms - 1.0) > UNIT_TOLERANCE):
                raise FrameError("samples frame with a non-unit quaternion", "non-unit quaternion")
        return SamplesFrame(seq, t0, dt, flags, None if battery == 255 else battery, quat, acc, gyro)
    if frame_type in (TYPE_TIME_SYNC, TYPE_EVENT):
        size = SHORT_FRAME.size + (4 if frame_type == TYPE_TIME_SYNC else 2)
        if len(payload) != size:
            raise FrameError(f"frame type {frame_type} length {len(payload)}, expected {size}",
                             f"frame type {frame_type} wrong length")
        _, flags, seq, t = SHORT_FRAME.unpack_from(payload)
        if frame_type == TYPE_TIME_SYNC:
            return TimeSyncFrame(seq, t, struct.unpack_from("<I", payload, 8)[0], flags)
        return EventFrame(seq, t, payload[8], payload[9], flags)
    raise FrameError(f"unknown frame type {frame_type}", "unknown frame type")


def _split_samples(raw: np.ndarray, flags: int):
    """Columns of raw int16 samples (as int16 or float) -> (quat, acc, gyro) in physical
    units, float64 (None if absent)."""
    col, quat, acc, gyro = 0, None, None, None
    if flags & FLAG_QUAT:
        quat = raw[..., col:col + 4] / Q14
        col += 4
    if flags & FLAG_ACC:
        acc = raw[..., col:col + 3] / ACC_LSB_PER_G
        col += 3
    if flags & FLAG_GYRO:
        gyro = raw[..., col:col + 3] / GYRO_LSB_PER_DPS
    return quat, acc, gyro


@dataclass
class StreamDecoder:
    """Decodes the notifications of one sensor, in arrival order, chunk after chunk.

    It keeps the unwrap state of the sequence number and device clock between calls, so a
    stream decoded in 40 ms chunks gives exactly what it gives decoded whole. Damaged
    notifications are dropped and counted; missing samples are counted from sequence gaps
    (sized by the device-time gap) and each loss is recorded as a (host start, host end) gap.
    """

    stats: DecodeStats = field(default_factory=DecodeStats)
    _last_seq: int | None = None  # unwrapped
    _last_t_end_us: int | None = None  # unwrapped device time just after the last sample
    _last_host_s: float | None = None
    _last_dt_us: int = 0
    _motor_on: bool = False
    _pending_loss_since: float | None = None  # host time before frames a short frame showed lost
    time_sync: list[tuple[float, float, int]] = field(default_factory=list)  # (host s, device s, token)
    events: list[tuple[float, float, int, int]] = field(default_factory=list)  # (host s, device s, code, arg)

    def decode(self, payloads: list[bytes], host_times: np.ndarray) -> SampleBlock:
        host_times = check_host_times(payloads, host_times)
        self.stats.notifications += len(payloads)
        joined = self._one_layout(payloads)
        if joined is not None:  # the usual case: decode the whole chunk at once
            return self._decode_run(payloads, host_times, joined)
        blocks: list[SampleBlock] = []
        run: list[bytes] = []
        run_hosts: list[float] = []
        run_key = None
        # Runs of samples frames with one layout are decoded together; any other frame ends
        # the run so that sequence, clock and motor state advance in arrival order.
        for p, host in zip(payloads, host_times):
            p = bytes(p)
            if len(p) >= HEADER_SIZE and p[0] == SAMPLES_HEAD_BYTE:
                key = (len(p), p[1] & CONTENT_FLAGS)
                if run and key != run_key:
                    blocks.append(self._decode_run(run, np.asarray(run_hosts)))
                    run, run_hosts = [], []
                run_key = key
                run.append(p)
                run_hosts.append(float(host))
                continue
            if run:
                blocks.append(self._decode_run(run, np.asarray(run_hosts)))
                run, run_hosts = [], []
            self._decode_short(p, float(host))
        if run:
            blocks.append(self._decode_run(run, np.asarray(run_hosts)))
        return SampleBlock.concat(blocks)

    @staticmethod
    def _one_layout(payloads: list[bytes]) -> bytes | None:
        """All payloads joined, when every one is a samples frame of one length and content
        layout (the usual case); None otherwise."""
        if not payloads:
            return None
        length = len(payloads[0])
        lengths = np.fromiter(map(len, payloads), dtype=np.int64, count=len(payloads))
        if length < HEADER_SIZE or np.any(lengths != length):
            return None
        joined = b"".join(payloads)
        head = np.frombuffer(joined, dtype=np.uint8).reshape(len(payloads), length)
        same = (np.all(head[:, 0] == SAMPLES_HEAD_BYTE)
                and np.all((head[:, 1] & CONTENT_FLAGS) == (head[0, 1] & CONTENT_FLAGS)))
        return joined if same else None

    def _decode_short(self, payload: bytes, host_s: float) -> None:
        try:
            frame = decode_frame(payload)
        except FrameError as err:
            self._drop(err.reason)
            return
        # a samples frame reaches here only when damaged, so decode_frame raised above
        self._advance_seq(frame.seq, host_s)
        device_s = self._unwrap_time(frame.device_time_us) / 1e6
        if isinstance(frame, TimeSyncFrame):
            self.time_sync.append((host_s, device_s, frame.token))
        else:
            self.events.append((host_s, device_s, frame.code, frame.argument))
            if frame.code in (EVENT_MOTOR_ON, EVENT_MOTOR_OFF):
                self._motor_on = frame.code == EVENT_MOTOR_ON

    def _drop(self, reason: str) -> None:
        self.stats.bad_notifications += 1
        self.stats.count_error(reason)

    def _unwrap_time(self, t_us: int) -> int:
        if self._last_t_end_us is None:
            return t_us
        base = self._last_t_end_us
        return base + ((t_us - base + 2**31) % 2**32) - 2**31

    def _advance_seq(self, seq: int, host_s: float) -> None:
        """A short frame (time sync, event) moves the shared sequence counter. Frames it shows
        missing are sized by the next samples frame, from its device time."""
        if self._last_seq is not None:
            step = (seq - self._last_seq) % 65536
            if step > 1 and self._pending_loss_since is None:
                self._pending_loss_since = self._last_host_s
            self._last_seq += step
        else:
            self._last_seq = seq
        self._last_host_s = host_s

    def _unwrap_run(self, seqs, t0s, dts, hosts, n0):
        """Unwrapped sequence numbers and device times of a run of frames, vectorised.

        Equivalent to advancing frame by frame: each frame's step is taken from the one
        before it (the previous call's last frame for the first), losses are sized by the
        device-time gap and recorded as host-time gaps.
        """
        first_t0 = self._unwrap_time(int(t0s[0]))
        t0_steps = (np.diff(t0s) + 2**31) % 2**32 - 2**31
        t0_unwrapped = first_t0 + np.concatenate([[0], np.cumsum(t0_steps)])
        prev_seq = self._last_seq if self._last_seq is not None else int(seqs[0])
        seq_steps = np.diff(np.concatenate([[prev_seq], seqs])) % 65536
        seq_unwrapped = prev_seq + np.cumsum(seq_steps)
        prev_end = np.concatenate([[self._last_t_end_us if self._last_t_end_us is not None else first_t0],
                                   t0_unwrapped[:-1] + n0 * dts[:-1]])
        prev_dt = np.concatenate([[self._last_dt_us or dts[0]], dts[:-1]])
        prev_host = np.concatenate([[self._last_host_s if self._last_host_s is not None else hosts[0]],
                                    hosts[:-1]])
        lossy = seq_steps > 1
        if self._last_seq is None:
            lossy[0] = False
        if self._pending_loss_since is not None:  # a short frame showed the loss first
            lossy[0] = True
            prev_host[0] = self._pending_loss_since
            self._pending_loss_since = None
        for k in np.flatnonzero(lossy):
            lost = max(0, round((t0_unwrapped[k] - prev_end[k]) / prev_dt[k]))
            if lost:
                self.stats.lost_samples += lost
                self.stats.gaps.append((float(prev_host[k]), float(hosts[k])))
        self._last_seq = int(seq_unwrapped[-1])
        self._last_host_s = float(hosts[-1])
        self._last_t_end_us = int(t0_unwrapped[-1] + n0 * dts[-1])
        self._last_dt_us = int(dts[-1])
        return seq_unwrapped, t0_unwrapped, dts

    def _decode_run(self, payloads: list[bytes], hosts: np.ndarray, buf: bytes | None = None) -> SampleBlock:
        """A run of samples frames that share one length and content layout."""
        length = len(payloads[0])
        buf = b"".join(payloads) if buf is None else buf
        head = np.frombuffer(buf, dtype=np.dtype([
            ("hdr", "u1"), ("flags", "u1"), ("seq", "<u2"), ("t0", "<u4"),
            ("dt", "<u2"), ("n", "u1"), ("battery", "u1"), ("body", "V%d" % (length - HEADER_SIZE)),
        ]))
        flags = int(head["flags"][0])
        size = sample_size(flags)
        n = head["n"].astype(np.int64)
        if size == 0:
            ok = np.zeros(len(payloads), dtype=bool)
            reason = "samples frame without content"
        else:
            fits = HEADER_SIZE + n * size == length
            ok = fits & (n > 0) & (head["dt"] > 0)
            reason = "samples frame length does not match its sample count"
        for k in np.flatnonzero(~ok):
            self._drop(reason if size == 0 or not fits[k] else "samples frame with zero sample period")
        good_idx = np.flatnonzero(ok)
        if len(good_idx) == 0:
            return SampleBlock.empty()
        n0 = int(n[good_idx[0]])
        raw = np.frombuffer(buf, dtype="<i2").reshape(len(payloads), length // 2)[good_idx, HEADER_SIZE // 2:]
        # left as int16: each column group becomes float64 in its division, exactly as a
        # float copy of the whole would (int16 converts to float64 without rounding)
        raw = raw.reshape(len(good_idx), n0, size // 2)
        quat, acc, gyro = _split_samples(raw, flags)

        seq_unwrapped, t0_unwrapped, dts = self._unwrap_run(
            head["seq"][good_idx].astype(np.int64), head["t0"][good_idx].astype(np.int64),
            head["dt"][good_idx].astype(np.int64), hosts[good_idx], n0)

        offsets = np.arange(n0)
        device_us = t0_unwrapped[:, None] + offsets[None, :] * dts[:, None]
        motor = (head["flags"][good_idx] & FLAG_MOTOR) > 0
        if self._motor_on:
            motor = np.ones_like(motor)
        battery = head["battery"][good_idx]
        known_battery = battery[battery != 255]
        block = SampleBlock(
            device_time_s=(device_us / 1e6).ravel(),
            host_time_s=np.repeat(hosts[good_idx], n0),
            seq=np.repeat(seq_unwrapped, n0),
            quat=quat.reshape(-1, 4) if quat is not None else np.full((len(good_idx) * n0, 4), np.nan),
            acc=acc.reshape(-1, 3) if acc is not None else None,
            gyro=gyro.reshape(-1, 3) if gyro is not None else None,
            vibrating=np.repeat(motor, n0),
            battery_pct=float(known_battery[-1]) if len(known_battery) else None,
        )
        return drop_bad_samples(block, self.stats)
