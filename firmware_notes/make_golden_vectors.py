"""Generate golden_vectors.json for the imu-fw profile. Run ONCE; the output is committed.

    python firmware_notes/make_golden_vectors.py

Tests decode the committed hex and compare with the committed decoded values, so a later
decoder change that alters what the bytes mean fails the tests. Do not regenerate to make a
failing test pass: a change of meaning needs a new protocol version.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from imu.protocols import imu_fw as fw
from imu.protocols.describe import describe

OUT = Path(__file__).with_name("golden_vectors.json")

# two orientations: identity, and 30 deg about x followed by a small twist (not unit after Q14
# rounding by more than 1e-4, which the decoder tolerates)
Q_A = np.array([1.0, 0.0, 0.0, 0.0])
Q_B = np.array([0.9659258, 0.2588190, 0.0, 0.0])
Q_C = np.array([0.7071068, 0.0, 0.0, 0.7071068])


def frame_vector(name: str, data: bytes, note: str) -> dict:
    decoded = describe("imu-fw", data)
    del decoded["device"]
    return {"name": name, "kind": "frame", "note": note, "hex": data.hex(" "), "decoded": decoded}


def bad_frame_vector(name: str, data: bytes, note: str) -> dict:
    try:
        fw.decode_frame(data)
    except fw.FrameError as err:
        return {"name": name, "kind": "bad_frame", "note": note, "hex": data.hex(" "),
                "decoded": {"error": err.reason}}
    raise AssertionError(f"{name} decoded although it should not")


def command_vector(op: int, *args: int) -> dict:
    data = fw.encode_command(op, *args)
    name = fw.COMMAND_NAMES[op]
    return {"name": f"command_{name.lower()}", "kind": "command", "hex": data.hex(" "),
            "decoded": {"command": name, "op": op, "args": dict(zip(fw.COMMAND_ARGS[op], args))}}


def stream_vector(name: str, frames: list[bytes], note: str) -> dict:
    decoder = fw.StreamDecoder()
    block = decoder.decode(frames, np.arange(len(frames)) * 0.01)
    return {
        "name": name, "kind": "stream", "note": note, "hex": [f.hex(" ") for f in frames],
        "decoded": {
            "device_time_us": [int(round(t * 1e6)) for t in block.device_time_s],
            "seq": [int(s) for s in block.seq],
            "lost_samples": decoder.stats.lost_samples,
            "bad_notifications": decoder.stats.bad_notifications,
        },
    }


def main() -> None:
    acc = np.array([[0.0, -0.02, 1.0], [0.5, -1.25, 0.98]])
    gyro = np.array([[0.0, 0.0, 0.0], [-12.5, 250.0, 1999.0]])
    vectors = [
        frame_vector(
            "samples_quat_only", fw.encode_samples(
                1, 1_000_000, 5000, np.stack([Q_A, Q_B]), battery_pct=87,
                flags=fw.FLAG_SYNCED | fw.FLAG_FUSION_OK),
            "two quaternion-only samples at 200 Hz, clock synced, fusion calibrated, battery 87 %"),
        frame_vector(
            "samples_mtu23_single_quat", fw.encode_samples(2, 1_010_000, 5000, Q_C[None, :]),
            "one quaternion-only sample: exactly 20 bytes, fits the default ATT MTU of 23"),
        frame_vector(
            "samples_quat_acc_gyro", fw.encode_samples(
                3, 1_020_000, 10000, np.stack([Q_A, Q_C]), acc, gyro, battery_pct=64),
            "two full samples at 100 Hz: quat + acc + gyro"),
        frame_vector(
            "samples_acc_gyro_no_quat", fw.encode_samples(
                4, 1_040_000, 10000, None, np.vstack([acc, [[0, 0, -16.0]]]),
                np.vstack([gyro, [[2000.0, -2000.0, 0]]])),
            "raw-only sensor: acc + gyro, no quaternion (host fuses); includes saturated values"),
        frame_vector(
            "samples_motor_running", fw.encode_samples(
                5, 1_070_000, 10000, Q_B[None, :], acc[:1], gyro[:1], battery_pct=12,
                flags=fw.FLAG_MOTOR | fw.FLAG_LOW_BATTERY),
            "motor running during this frame, low battery"),
        frame_vector(
            "samples_fifo_overflow", fw.encode_samples(
                6, 1_200_000, 5000, Q_A[None, :], flags=fw.FLAG_OVERFLOW),
            "FIFO overflowed since the previous frame"),
        frame_vector(
            "samples_at_wrap", fw.encode_samples(65535, 0xFFFFEC78, 5000, np.stack([Q_A, Q_B])),
            "sequence 65535 and device time 5000 us before the u32 wrap"),
        frame_vector(
            "time_sync_echo", fw.encode_time_sync(7, 1_234_567, 0xDEADBEEF, flags=fw.FLAG_SYNCED),
            "answer to TIME_SYNC with token 0xDEADBEEF"),
        frame_vector("event_motor_on", fw.encode_event(8, 1_300_000, fw.EVENT_MOTOR_ON, 80),
                     "motor started at strength 80"),
        frame_vector("event_button", fw.encode_event(9, 1_400_000, fw.EVENT_BUTTON, 1),
                     "button pressed once"),
        bad_frame_vector("bad_truncated_header", bytes.fromhex("11 07 01 00 40 42"),
                         "a samples frame cut inside its header"),
        bad_frame_vector(
            "bad_length_mismatch",
            fw.encode_samples(1, 0, 5000, np.stack([Q_A, Q_B]))[:-2],
            "a samples frame missing the last two bytes"),
        bad_frame_vector("bad_frame_type", bytes.fromhex("15 00 01 00 00 00 00 00 00 00"),
                         "frame type 5 does not exist in version 1"),
        bad_frame_vector("bad_version", bytes.fromhex("21 04 01 00 00 00 00 00 88 13 01 ff")
                         + bytes(8), "version 2 header"),
        bad_frame_vector(
            "bad_non_unit_quaternion",
            fw.HEADER.pack(0x11, fw.FLAG_QUAT, 1, 0, 5000, 1, 255) + bytes(8),
            "an all-zero quaternion"),
        stream_vector(
            "stream_across_wrap_with_loss", [
                fw.encode_samples(65534, 0xFFFFB1E0, 5000, np.stack([Q_A, Q_A])),  # 2^32 - 20000
                fw.encode_samples(65535, 0xFFFFD8F0, 5000, np.stack([Q_A, Q_A])),  # 2^32 - 10000
                fw.encode_time_sync(0, 0x00000000, 42),
                # seq 1 (samples at 0 and 5000 us) is lost, then the stream goes on
                fw.encode_samples(2, 0x00002710, 5000, np.stack([Q_A, Q_A])),
            ],
            "sequence and device time both wrap; one samples frame (2 samples) is lost"),
    ]
    vectors += [
        command_vector(fw.OP_START, 100, fw.CONTENT_ALL),
        command_vector(fw.OP_STOP),
        command_vector(fw.OP_SET_RATE, 200),
        command_vector(fw.OP_TIME_SYNC, 0x12345678),
        command_vector(fw.OP_IDENTIFY),
        command_vector(fw.OP_BUZZ, 300, 80),
        command_vector(fw.OP_TARE),
        command_vector(fw.OP_GET_INFO),
    ]
    info = fw.DeviceInfo(firmware=(1, 2, 3), rate_hz=100, streaming=True)
    vectors.append({
        "name": "info_characteristic", "kind": "info", "hex": fw.encode_info(info).hex(" "),
        "decoded": {"protocol_version": 1, "firmware": [1, 2, 3], "capabilities": 7,
                    "max_rate_hz": 200, "rate_hz": 100, "content_mask": 7, "streaming": True,
                    "has_motor": True},
    })
    OUT.write_text(json.dumps({"profile": "imu-fw", "version": fw.VERSION, "vectors": vectors}, indent=1) + "\n")
    print(f"wrote {len(vectors)} vectors to {OUT}")


if __name__ == "__main__":
    main()
