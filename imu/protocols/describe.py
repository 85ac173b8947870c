"""Human- and machine-readable decoding of one notification (`imu decode ... HEX`).

`describe(device, payload, mode)` returns a JSON-ready dict with every field of every frame
in the notification, in our units. Bad hex or a bad frame raises ValueError naming the
problem, so the CLI can print one line and exit non-zero.
"""

from __future__ import annotations

import re

import numpy as np

from imu.protocols import DEVICES, imu_fw, movella_dot, witmotion

_SEPARATORS = re.compile(r"[\s:,_-]+")


def parse_hex(text: str) -> bytes:
    """Bytes from hex text: spaces, colons, commas and 0x prefixes are all accepted."""
    cleaned = re.sub(r"(?<![0-9a-fA-F])0[xX]", " ", text.strip())
    digits = _SEPARATORS.sub("", cleaned)
    if not digits:
        raise ValueError("no hex bytes given")
    bad = re.search(r"[^0-9a-fA-F]", digits)
    if bad:
        raise ValueError(f"not a hex digit: {bad.group()!r}")
    if len(digits) % 2:
        raise ValueError(f"odd number of hex digits ({len(digits)})")
    return bytes.fromhex(digits)


def _floats(values) -> list[float]:
    return [float(v) for v in np.asarray(values).ravel()]


def _describe_imu_fw(payload: bytes) -> dict:
    try:
        frame = imu_fw.decode_frame(payload)
    except imu_fw.FrameError as err:
        raise ValueError(f"imu-fw: {err}") from None
    if isinstance(frame, imu_fw.SamplesFrame):
        flags = frame.flags
        out = {
            "frame": "samples", "seq": frame.seq, "t0_us": frame.t0_us, "dt_us": frame.dt_us,
            "n": frame.n, "battery_pct": frame.battery_pct,
            "flags": _flag_names(flags),
            "samples": [],
        }
        for i in range(frame.n):
            sample: dict = {"t_us": frame.t0_us + i * frame.dt_us}
            if frame.quat is not None:
                sample["quat_wxyz"] = _floats(frame.quat[i])
            if frame.acc is not None:
                sample["acc_g"] = _floats(frame.acc[i])
            if frame.gyro is not None:
                sample["gyro_dps"] = _floats(frame.gyro[i])
            out["samples"].append(sample)
        return out
    if isinstance(frame, imu_fw.TimeSyncFrame):
        return {"frame": "time_sync", "seq": frame.seq, "device_time_us": frame.device_time_us,
                "token": frame.token, "flags": _flag_names(frame.flags)}
    return {"frame": "event", "seq": frame.seq, "device_time_us": frame.device_time_us,
            "code": frame.code, "event": imu_fw.EVENT_NAMES.get(frame.code, "unknown"),
            "argument": frame.argument, "flags": _flag_names(frame.flags)}


_FLAG_NAMES = (
    (imu_fw.FLAG_ACC, "acc"), (imu_fw.FLAG_GYRO, "gyro"), (imu_fw.FLAG_QUAT, "quat"),
    (imu_fw.FLAG_SYNCED, "clock_synced"), (imu_fw.FLAG_LOW_BATTERY, "low_battery"),
    (imu_fw.FLAG_FUSION_OK, "fusion_calibrated"), (imu_fw.FLAG_OVERFLOW, "fifo_overflow"),
    (imu_fw.FLAG_MOTOR, "motor_running"),
)


def _flag_names(flags: int) -> list[str]:
    return [name for bit, name in _FLAG_NAMES if flags & bit]


def _describe_witmotion(payload: bytes) -> dict:
    starts, consumed, resyncs, _ = witmotion.scan_frames(payload)
    if resyncs:
        if not starts or starts[0] != 0:
            raise ValueError("witmotion: no 55 61 / 55 71 frame at the start of the notification")
        raise ValueError("witmotion: bytes between frames are not a 55 61 / 55 71 header")
    if consumed != len(payload):
        raise ValueError(f"witmotion: {len(payload) - consumed} trailing bytes are an incomplete frame")
    frames = []
    for s in starts:
        raw = payload[s:s + witmotion.FRAME_SIZE]
        if raw[1] == witmotion.HEADER_DATA:
            d = witmotion.decode_data_frames(np.frombuffer(raw, dtype=np.uint8)[None, :])
            roll, pitch, yaw = _floats(d["euler"][0])
            frames.append({
                "frame": "data", "acc_g": _floats(d["acc"][0]), "gyro_dps": _floats(d["gyro"][0]),
                "euler_deg": {"roll": roll, "pitch": pitch, "yaw": yaw},
                "quat_wxyz": _floats(d["quat"][0]),
            })
        else:
            frames.append(_describe_register(*witmotion.decode_register_frame(raw)))
    return {"frames": frames}


def _describe_register(start: int, values: list[int]) -> dict:
    out: dict = {"frame": "register", "start_register": start, "values": values}
    regs = {start + i: v for i, v in enumerate(values)}
    if all(r in regs for r in range(witmotion.REG_QUAT, witmotion.REG_QUAT + 4)):
        out["quat_wxyz"] = [regs[witmotion.REG_QUAT + i] * witmotion.QUAT_PER_LSB for i in range(4)]
    if witmotion.REG_BATTERY in regs:
        raw = regs[witmotion.REG_BATTERY]
        out["battery_volts"] = raw / 100.0
        out["battery_pct"] = witmotion.battery_percent(raw)
    if all(r in regs for r in range(witmotion.REG_MAG, witmotion.REG_MAG + 3)):
        out["mag_raw"] = [regs[witmotion.REG_MAG + i] for i in range(3)]
    if witmotion.REG_TEMPERATURE in regs:
        out["temperature_c"] = regs[witmotion.REG_TEMPERATURE] / 100.0
    return out


def describe(device: str, payload: bytes, mode: int | None = None) -> dict:
    """Decoded fields of one notification of `device`; ValueError naming any problem."""
    if isinstance(payload, str):
        payload = parse_hex(payload)
    payload = bytes(payload)
    if device not in DEVICES:
        raise ValueError(f"unknown device profile {device!r}; known: {', '.join(DEVICES)}")
    head = {"device": device, "length": len(payload)}
    if device == "imu-fw":
        if mode is not None:
            raise ValueError("device imu-fw has no payload modes")
        return head | _describe_imu_fw(payload)
    if device == "movella-dot":
        try:
            return head | movella_dot.decode_payload(payload, mode)
        except movella_dot.DotPayloadError as err:
            raise ValueError(f"movella-dot: {err}") from None
    return head | _describe_witmotion(payload)
