"""Movella (Xsens) DOT: sans-I/O decoder and encoder for the measurement payloads.

Facts from the Movella DOT BLE Service Specification (XD0506P), summarised in
docs/sensor-protocols.md section 1. Every notification carries one sample: a u32
microsecond timestamp followed by float32 fields in the order the payload mode defines,
zero-padded to the characteristic length (20, 40 or 63 bytes).

Conversions at this edge: acceleration m/s^2 -> g; angular rate is already deg/s; the
quaternion (w, x, y, z) maps the sensor frame to the DOT's ENU earth frame (z up), which is
our "sensor earth" convention as it is. Free acceleration (earth frame, gravity removed) is
not specific force, so it never goes into `acc`; `decode_payload` exposes it separately.
There is no sequence number: loss is estimated from timestamp gaps.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from imu import quat as Q
from imu.protocols.common import check_host_times, drop_bad_samples
from imu.samples import DecodeStats, SampleBlock

STANDARD_GRAVITY = 9.80665  # m/s^2 per g


def _uuid(short: int) -> str:
    return f"1517{short:04x}-4947-11e9-8646-d663bd873d93"


CONFIGURATION_SERVICE_UUID = _uuid(0x1000)
DEVICE_INFO_UUID = _uuid(0x1001)
DEVICE_CONTROL_UUID = _uuid(0x1002)
DEVICE_REPORT_UUID = _uuid(0x1004)
MEASUREMENT_SERVICE_UUID = _uuid(0x2000)
CONTROL_UUID = _uuid(0x2001)
LONG_PAYLOAD_UUID = _uuid(0x2002)
MEDIUM_PAYLOAD_UUID = _uuid(0x2003)
SHORT_PAYLOAD_UUID = _uuid(0x2004)
ORIENTATION_RESET_CONTROL_UUID = _uuid(0x2006)
ORIENTATION_RESET_STATUS_UUID = _uuid(0x2007)
BATTERY_SERVICE_UUID = _uuid(0x3000)
BATTERY_UUID = _uuid(0x3001)

PAYLOAD_CHARACTERISTICS = {  # characteristic -> notification length
    SHORT_PAYLOAD_UUID: 20, MEDIUM_PAYLOAD_UUID: 40, LONG_PAYLOAD_UUID: 63,
}

MODE_EXTENDED_QUATERNION = 2
MODE_COMPLETE_QUATERNION = 3
MODE_ORIENTATION_QUATERNION = 5
MODE_RATE_QUANTITIES = 21
MODE_CUSTOM_5 = 26
DEFAULT_MODE = MODE_CUSTOM_5  # quaternion plus acc and gyro: everything the core can use
OUTPUT_RATES_HZ = (1, 4, 10, 12, 15, 20, 30, 60)  # streaming; 120 Hz is recording only
DEFAULT_RATE_HZ = 60


@dataclass(frozen=True)
class PayloadMode:
    mode: int
    name: str
    fields: tuple[str, ...]  # after the timestamp, in wire order

    @cached_property
    def dtype(self) -> np.dtype:
        parts = [("t_us", "<u4")]
        for f in self.fields:
            parts += _FIELD_DTYPES[f]
        return np.dtype(parts)

    @cached_property
    def size(self) -> int:
        return self.dtype.itemsize

    @property
    def characteristic(self) -> str:
        if self.size <= 20:
            return SHORT_PAYLOAD_UUID
        return MEDIUM_PAYLOAD_UUID if self.size <= 40 else LONG_PAYLOAD_UUID

    @cached_property
    def notification_length(self) -> int:
        return PAYLOAD_CHARACTERISTICS[self.characteristic]


_FIELD_DTYPES = {
    "quat": [("quat", "<f4", (4,))],
    "free_acc": [("free_acc", "<f4", (3,))],
    "acc": [("acc", "<f4", (3,))],
    "gyro": [("gyro", "<f4", (3,))],
    "status": [("status", "<u2"), ("clip_acc", "u1"), ("clip_gyro", "u1")],
}

MODES = {
    m.mode: m for m in (
        PayloadMode(MODE_EXTENDED_QUATERNION, "Extended (Quaternion)", ("quat", "free_acc", "status")),
        PayloadMode(MODE_COMPLETE_QUATERNION, "Complete (Quaternion)", ("quat", "free_acc")),
        PayloadMode(MODE_ORIENTATION_QUATERNION, "Orientation (Quaternion)", ("quat",)),
        PayloadMode(MODE_RATE_QUANTITIES, "Rate quantities", ("acc", "gyro")),
        PayloadMode(MODE_CUSTOM_5, "Custom mode 5", ("quat", "acc", "gyro")),
    )
}


class DotPayloadError(ValueError):
    """A notification that does not fit the configured payload mode."""


def payload_mode(mode: int | str | None) -> PayloadMode:
    if mode is None:
        return MODES[DEFAULT_MODE]
    try:
        number = int(mode)
    except (TypeError, ValueError):
        raise ValueError(f"Movella DOT payload mode must be a number, got {mode!r}") from None
    if number not in MODES:
        known = ", ".join(f"{m} {p.name}" for m, p in MODES.items())
        raise ValueError(f"unsupported Movella DOT payload mode {number}; supported: {known}")
    return MODES[number]


# --- control writes -------------------------------------------------------------------

def start_command(mode: int) -> bytes:
    """Write to CONTROL_UUID after enabling notifications on the mode's characteristic."""
    return bytes([0x01, 0x01, payload_mode(mode).mode])


def stop_command(mode: int) -> bytes:
    return bytes([0x01, 0x00, payload_mode(mode).mode])


def output_rate_command(rate_hz: int = DEFAULT_RATE_HZ) -> bytes:
    """32-byte device-control write (DEVICE_CONTROL_UUID) setting the output rate."""
    if rate_hz not in OUTPUT_RATES_HZ:
        raise ValueError(f"Movella DOT streams at {OUTPUT_RATES_HZ} Hz, not {rate_hz}")
    data = bytearray(32)
    data[0] = 0x10  # visit-index bit 4: output rate
    data[24:26] = struct.pack("<H", rate_hz)
    return bytes(data)


def parse_output_rate_command(data: bytes) -> int | None:
    """The rate a device-control write sets, or None when it does not touch the rate."""
    data = bytes(data)
    if len(data) != 32:
        raise ValueError(f"device-control write is {len(data)} bytes, expected 32")
    return struct.unpack_from("<H", data, 24)[0] if data[0] & 0x10 else None


HEADING_RESET = struct.pack("<H", 0x0001)  # to ORIENTATION_RESET_CONTROL_UUID
HEADING_REVERT = struct.pack("<H", 0x0007)


def decode_battery(data: bytes) -> tuple[int, bool]:
    """(level %, charging) from the battery characteristic."""
    data = bytes(data)
    if len(data) != 2:
        raise ValueError(f"battery characteristic is {len(data)} bytes, expected 2")
    return data[0], bool(data[1])


# --- payloads -------------------------------------------------------------------------

def encode_payload(
    mode: int,
    t_us: int,
    quat: np.ndarray | None = None,
    acc_g: np.ndarray | None = None,
    gyro_dps: np.ndarray | None = None,
    free_acc_g: np.ndarray | None = None,
    status: int = 0,
) -> bytes:
    """One notification of `mode`, zero-padded to its characteristic length.

    Free acceleration, when not given, is derived from quat and acc: the specific force
    turned into the earth frame minus 1 g up (what the DOT computes on board).
    """
    spec = payload_mode(mode)
    if free_acc_g is None and quat is not None and acc_g is not None:
        free_acc_g = Q.rotate(np.asarray(quat, float), np.asarray(acc_g, float)) - np.array([0, 0, 1.0])
    given = {"quat": quat, "acc": acc_g, "gyro": gyro_dps, "free_acc": free_acc_g}
    record = np.zeros(1, dtype=spec.dtype)
    record["t_us"] = int(t_us) & 0xFFFFFFFF
    for name in spec.fields:
        if name == "status":
            record["status"] = status
            continue
        if given[name] is None:
            raise ValueError(f"Movella DOT mode {spec.mode} ({spec.name}) needs {name}")
        value = np.asarray(given[name], dtype=float)
        if name in ("acc", "free_acc"):
            value = value * STANDARD_GRAVITY
        record[name] = value
    data = record.tobytes()
    return data + bytes(spec.notification_length - len(data))


def _check_length(spec: PayloadMode, length: int) -> None:
    if not spec.size <= length <= spec.notification_length:
        raise DotPayloadError(
            f"notification of {length} bytes does not fit mode {spec.mode} ({spec.name}): "
            f"expected {spec.size} to {spec.notification_length} bytes"
        )


def decode_payload(payload: bytes, mode: int | None = None) -> dict:
    """All fields of one notification in our units (JSON-ready); raises DotPayloadError."""
    spec = payload_mode(mode)
    payload = bytes(payload)
    _check_length(spec, len(payload))
    rec = np.frombuffer(payload[:spec.size], dtype=spec.dtype)[0]
    out: dict = {"mode": spec.mode, "mode_name": spec.name, "timestamp_us": int(rec["t_us"])}
    if "quat" in spec.fields:
        out["quat_wxyz"] = [float(v) for v in rec["quat"]]
    if "acc" in spec.fields:
        out["acc_g"] = [float(v) / STANDARD_GRAVITY for v in rec["acc"]]
    if "gyro" in spec.fields:
        out["gyro_dps"] = [float(v) for v in rec["gyro"]]
    if "free_acc" in spec.fields:
        out["free_acc_g"] = [float(v) / STANDARD_GRAVITY for v in rec["free_acc"]]
    if "status" in spec.fields:
        out["status"] = int(rec["status"])
        out["clip_count_acc"] = int(rec["clip_acc"])
        out["clip_count_gyro"] = int(rec["clip_gyro"])
    return out


@dataclass
class DotStreamDecoder:
    """Decodes one DOT's notifications in arrival order, chunk after chunk.

    Same face as imu_fw.StreamDecoder. The u32 microsecond timestamp is unwrapped across
    calls; a timestamp step over 1.5 sample periods counts the missing samples as lost.
    """

    mode: int = DEFAULT_MODE
    rate_hz: float = DEFAULT_RATE_HZ
    stats: DecodeStats = field(default_factory=DecodeStats)
    _last_t_us: int | None = None  # unwrapped
    _last_host_s: float | None = None

    def __post_init__(self) -> None:
        self._spec = payload_mode(self.mode)
        self.mode = self._spec.mode
        if not self.rate_hz > 0:
            raise ValueError(f"sample rate must be positive, got {self.rate_hz}")

    def decode(self, payloads: list[bytes], host_times: np.ndarray) -> SampleBlock:
        host_times = check_host_times(payloads, host_times)
        self.stats.notifications += len(payloads)
        spec = self._spec
        good, hosts = [], []
        size, longest = spec.size, spec.notification_length
        for p, host in zip(payloads, host_times):
            p = bytes(p)
            if size <= len(p) <= longest:
                good.append(p[:size])
                hosts.append(float(host))
            else:
                self.stats.bad_notifications += 1
                self.stats.count_error(f"notification length does not fit mode {spec.mode}")
        if not good:
            return SampleBlock.empty()
        rec = np.frombuffer(b"".join(good), dtype=spec.dtype)
        hosts_arr = np.array(hosts)
        t_us = self._unwrap(rec["t_us"].astype(np.int64), hosts_arr)
        n = len(rec)
        quat = rec["quat"].astype(float) if "quat" in spec.fields else np.full((n, 4), np.nan)
        block = SampleBlock(
            device_time_s=t_us / 1e6,
            host_time_s=hosts_arr,
            seq=np.full(n, -1, dtype=np.int64),
            quat=quat,
            acc=rec["acc"].astype(float) / STANDARD_GRAVITY if "acc" in spec.fields else None,
            gyro=rec["gyro"].astype(float) if "gyro" in spec.fields else None,
            vibrating=np.zeros(n, dtype=bool),
        )
        return drop_bad_samples(block, self.stats, quat_expected="quat" in spec.fields)

    def _unwrap(self, raw_us: np.ndarray, hosts: np.ndarray) -> np.ndarray:
        """Unwrap u32 timestamps against the previous sample; count timestamp gaps as loss."""
        prev = np.empty(len(raw_us), dtype=np.int64)
        prev[1:] = raw_us[:-1]
        prev[0] = raw_us[0] if self._last_t_us is None else self._last_t_us % 2**32
        steps = (raw_us - prev + 2**31) % 2**32 - 2**31  # signed, wrap-aware
        start = raw_us[0] if self._last_t_us is None else self._last_t_us
        t_us = start + np.cumsum(steps)
        period_us = 1e6 / self.rate_hz
        gap_idx = np.flatnonzero(steps > 1.5 * period_us)
        prev_hosts = np.concatenate([[self._last_host_s if self._last_host_s is not None else hosts[0]], hosts[:-1]])
        for k in gap_idx:
            self.stats.lost_samples += int(round(steps[k] / period_us)) - 1
            self.stats.gaps.append((float(prev_hosts[k]), float(hosts[k])))
        self._last_t_us = int(t_us[-1])
        self._last_host_s = float(hosts[-1])
        return t_us
