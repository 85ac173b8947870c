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

Decoding a stream is vectorised: notifications of the same length share one layout, so a
group of them becomes one numpy structured array.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from imu.samples import DecodeStats, SampleBlock

VERSION = 1
TYPE_SAMPLES, TYPE_TIME_SYNC, TYPE_EVENT = 1, 2, 3

FLAG_ACC, FLAG_GYRO, FLAG_QUAT = 0x01, 0x02, 0x04
FLAG_SYNCED, FLAG_LOW_BATTERY, FLAG_FUSION_OK = 0x08, 0x10, 0x20
FLAG_OVERFLOW, FLAG_MOTOR = 0x40, 0x80

EVENT_BUTTON, EVENT_MOTOR_ON, EVENT_MOTOR_OFF, EVENT_STREAM_START = 1, 2, 3, 4

Q14 = 16384.0
ACC_LSB_PER_G = 2048.0
GYRO_LSB_PER_DPS = 16.4
HEADER = struct.Struct("<BBHIHBB")
HEADER_SIZE = HEADER.size  # 12
SHORT_FRAME = struct.Struct("<BBHI")  # common prefix of types 2 and 3

# GATT profile (firmware_notes/gatt-profile.md)
SERVICE_UUID = "b5e90001-5a51-4c1b-9f6e-2d0c8e1a7f3b"
DATA_CHAR_UUID = "b5e90002-5a51-4c1b-9f6e-2d0c8e1a7f3b"
CONTROL_CHAR_UUID = "b5e90003-5a51-4c1b-9f6e-2d0c8e1a7f3b"
INFO_CHAR_UUID = "b5e90004-5a51-4c1b-9f6e-2d0c8e1a7f3b"

# control opcodes, written to CONTROL_CHAR_UUID with response
OP_START, OP_STOP, OP_SET_RATE, OP_TIME_SYNC = 0x01, 0x02, 0x03, 0x04
OP_IDENTIFY, OP_BUZZ, OP_TARE, OP_GET_INFO = 0x05, 0x06, 0x07, 0x08


class FrameError(ValueError):
    """A notification that is not a valid imu-fw frame; the message names the problem."""


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


@dataclass
class EventFrame:
    seq: int
    device_time_us: int
    code: int
    argument: int


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
    """Build one samples frame. Values are rounded and saturated to the wire ranges."""
    parts, width = [], 0
    if quat is not None:
        flags |= FLAG_QUAT
        parts.append(np.clip(np.round(np.asarray(quat) * Q14), -32768, 32767))
        width = len(quat)
    if acc is not None:
        flags |= FLAG_ACC
        parts.append(np.clip(np.round(np.asarray(acc) * ACC_LSB_PER_G), -32768, 32767))
        width = len(acc)
    if gyro is not None:
        flags |= FLAG_GYRO
        parts.append(np.clip(np.round(np.asarray(gyro) * GYRO_LSB_PER_DPS), -32768, 32767))
        width = len(gyro)
    if not parts:
        raise ValueError("a samples frame needs at least one of quat, acc, gyro")
    if not 1 <= width <= 255:
        raise ValueError(f"sample count {width} outside 1..255")
    body = np.concatenate(parts, axis=1).astype("<i2").tobytes()
    battery = 255 if battery_pct is None else int(battery_pct)
    header = HEADER.pack(
        VERSION << 4 | TYPE_SAMPLES, flags & 0xFF, seq & 0xFFFF, t0_us & 0xFFFFFFFF,
        dt_us, width, battery,
    )
    return header + body


def encode_time_sync(seq: int, device_time_us: int, token: int, flags: int = 0) -> bytes:
    return SHORT_FRAME.pack(
        VERSION << 4 | TYPE_TIME_SYNC, flags, seq & 0xFFFF, device_time_us & 0xFFFFFFFF
    ) + struct.pack("<I", token & 0xFFFFFFFF)


def encode_event(seq: int, device_time_us: int, code: int, argument: int = 0) -> bytes:
    return SHORT_FRAME.pack(
        VERSION << 4 | TYPE_EVENT, 0, seq & 0xFFFF, device_time_us & 0xFFFFFFFF
    ) + bytes([code & 0xFF, argument & 0xFF])


def decode_frame(payload: bytes) -> SamplesFrame | TimeSyncFrame | EventFrame:
    """Decode one notification; raises FrameError naming the problem."""
    payload = bytes(payload)
    if len(payload) < 1:
        raise FrameError("empty notification")
    version, frame_type = payload[0] >> 4, payload[0] & 0x0F
    if version != VERSION:
        raise FrameError(f"unsupported frame version {version}")
    if frame_type == TYPE_SAMPLES:
        if len(payload) < HEADER_SIZE:
            raise FrameError(f"samples frame truncated: {len(payload)} of {HEADER_SIZE} header bytes")
        _, flags, seq, t0, dt, n, battery = HEADER.unpack_from(payload)
        size = sample_size(flags)
        if size == 0:
            raise FrameError("samples frame announces no content (flags carry no quat/acc/gyro)")
        if n == 0:
            raise FrameError("samples frame with zero samples")
        if dt == 0:
            raise FrameError("samples frame with zero sample period")
        expected = HEADER_SIZE + n * size
        if len(payload) != expected:
            raise FrameError(f"samples frame length {len(payload)}, expected {expected} for {n} samples")
        raw = np.frombuffer(payload, dtype="<i2", offset=HEADER_SIZE).reshape(n, size // 2)
        quat, acc, gyro = _split_samples(raw.astype(float), flags)
        if quat is not None:
            norms = np.linalg.norm(quat, axis=1)
            if np.any(np.abs(norms - 1.0) > 0.05):
                raise FrameError("samples frame with a non-unit quaternion")
        return SamplesFrame(seq, t0, dt, flags, None if battery == 255 else battery, quat, acc, gyro)
    if frame_type in (TYPE_TIME_SYNC, TYPE_EVENT):
        size = SHORT_FRAME.size + (4 if frame_type == TYPE_TIME_SYNC else 2)
        if len(payload) != size:
            raise FrameError(f"frame type {frame_type} length {len(payload)}, expected {size}")
        _, _, seq, t = SHORT_FRAME.unpack_from(payload)
        if frame_type == TYPE_TIME_SYNC:
            return TimeSyncFrame(seq, t, struct.unpack_from("<I", payload, 8)[0])
        return EventFrame(seq, t, payload[8], payload[9])
    raise FrameError(f"unknown frame type {frame_type}")


def _split_samples(raw: np.ndarray, flags: int):
    """Columns of raw int16 samples -> (quat, acc, gyro) in physical units (None if absent)."""
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
    notifications are dropped and counted; missing ones are counted from sequence numbers.
    """

    stats: DecodeStats = field(default_factory=DecodeStats)
    _last_seq: int | None = None  # unwrapped
    _last_t_end_us: int | None = None  # unwrapped device time just after the last sample
    _last_host_s: float | None = None
    _last_dt_us: int = 0
    _motor_on: bool = False
    time_sync: list[tuple[float, float, int]] = field(default_factory=list)  # (host s, device s, token)
    events: list[tuple[float, float, int, int]] = field(default_factory=list)  # (host s, device s, code, arg)

    def decode(self, payloads: list[bytes], host_times: np.ndarray) -> SampleBlock:
        host_times = np.asarray(host_times, dtype=float)
        self.stats.notifications += len(payloads)
        frames: list[tuple[int, bytes, float]] = []  # (index, payload, host time) of sample frames
        for i, p in enumerate(payloads):
            p = bytes(p)
            if len(p) >= HEADER_SIZE and p[0] == (VERSION << 4 | TYPE_SAMPLES):
                frames.append((i, p, host_times[i]))
                continue
            try:
                frame = decode_frame(p)
            except FrameError as err:
                self._drop(str(err))
                continue
            # short frames still carry sequence numbers; keep the counter honest
            self._advance_seq(frame.seq, host_times[i], None, None)
            if isinstance(frame, TimeSyncFrame):
                self.time_sync.append((host_times[i], self._unwrap_time(frame.device_time_us) / 1e6, frame.token))
            else:
                self.events.append((host_times[i], self._unwrap_time(frame.device_time_us) / 1e6, frame.code, frame.argument))
                if frame.code in (EVENT_MOTOR_ON, EVENT_MOTOR_OFF):
                    self._motor_on = frame.code == EVENT_MOTOR_ON
        if not frames:
            return SampleBlock.empty()
        # Sample frames are decoded in runs of identical layout (same length and flags), which
        # is nearly always the whole chunk; runs keep arrival order.
        blocks: list[SampleBlock] = []
        start = 0
        keys = [(len(p), p[1] & (FLAG_QUAT | FLAG_ACC | FLAG_GYRO)) for _, p, _ in frames]
        for end in range(1, len(frames) + 1):
            if end == len(frames) or keys[end] != keys[start]:
                blocks.append(self._decode_run(frames[start:end]))
                start = end
        block = SampleBlock.concat(blocks)
        return block

    def _drop(self, reason: str) -> None:
        self.stats.bad_notifications += 1
        self.stats.count_error(reason.split(":")[0])

    def _unwrap_time(self, t_us: int) -> int:
        if self._last_t_end_us is None:
            return t_us
        base = self._last_t_end_us
        return base + ((t_us - base + 2**31) % 2**32) - 2**31

    def _advance_seq(self, seq: int, host_s: float, t0_us: int | None, dt_us: int | None) -> None:
        if self._last_seq is not None:
            step = (seq - self._last_seq) % 65536
            if step > 1:
                self._record_loss(step - 1, host_s, t0_us)
            self._last_seq += step
        else:
            self._last_seq = seq
        self._last_host_s = host_s

    def _record_loss(self, missing_frames: int, host_s: float, t0_us: int | None) -> None:
        if t0_us is not None and self._last_t_end_us is not None and self._last_dt_us:
            lost = max(0, round((t0_us - self._last_t_end_us) / self._last_dt_us))
        else:
            lost = missing_frames  # no timing to tell: at least one sample per frame
        self.stats.lost_samples += lost
        self.stats.gaps.append((self._last_host_s if self._last_host_s is not None else host_s, host_s))

    def _decode_run(self, run: list[tuple[int, bytes, float]]) -> SampleBlock:
        length = len(run[0][1])
        buf = b"".join(p for _, p, _ in run)
        head = np.frombuffer(buf, dtype=np.dtype([
            ("hdr", "u1"), ("flags", "u1"), ("seq", "<u2"), ("t0", "<u4"),
            ("dt", "<u2"), ("n", "u1"), ("battery", "u1"), ("body", "V%d" % (length - HEADER_SIZE)),
        ]))
        flags = int(head["flags"][0])
        size = sample_size(flags)
        n = head["n"].astype(np.int64)
        ok = (size > 0) & (n > 0) & (head["dt"] > 0) & (HEADER_SIZE + n * max(size, 1) == length)
        hosts = np.array([h for _, _, h in run])
        good_idx = np.flatnonzero(ok)
        for _ in range(len(run) - len(good_idx)):
            self._drop("samples frame length does not match its sample count")
        if len(good_idx) == 0:
            return SampleBlock.empty()
        n0 = int(n[good_idx[0]])
        raw = np.frombuffer(buf, dtype="<i2").reshape(len(run), length // 2)[good_idx, HEADER_SIZE // 2:]
        raw = raw.reshape(len(good_idx), n0, size // 2).astype(float)
        quat, acc, gyro = _split_samples(raw, flags)

        # unwrap sequence numbers and device times frame by frame (cheap: one per notification)
        seqs = head["seq"][good_idx].astype(np.int64)
        t0s = head["t0"][good_idx].astype(np.int64)
        dts = head["dt"][good_idx].astype(np.int64)
        seq_unwrapped = np.empty(len(good_idx), dtype=np.int64)
        t0_unwrapped = np.empty(len(good_idx), dtype=np.int64)
        for k in range(len(good_idx)):
            t0 = self._unwrap_time(int(t0s[k]))
            self._advance_seq(int(seqs[k]), float(hosts[good_idx[k]]), t0, int(dts[k]))
            seq_unwrapped[k] = self._last_seq
            t0_unwrapped[k] = t0
            self._last_t_end_us = t0 + n0 * int(dts[k])
            self._last_dt_us = int(dts[k])

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
        return _drop_bad_samples(block, self.stats)


def _drop_bad_samples(block: SampleBlock, stats: DecodeStats) -> SampleBlock:
    """Remove samples whose quaternion is not (close to) unit length; count them."""
    bad = np.zeros(len(block), dtype=bool)
    if not np.all(np.isnan(block.quat)):
        norms = np.linalg.norm(block.quat, axis=1)
        bad |= ~(np.abs(norms - 1.0) <= 0.05)
    stats.samples += int((~bad).sum())
    if bad.any():
        stats.bad_samples += int(bad.sum())
        stats.count_error("non-unit quaternion")
        block = block.take(~bad)
    if not np.all(np.isnan(block.quat)):
        block.quat = block.quat / np.linalg.norm(block.quat, axis=1, keepdims=True)
    return block
