"""WitMotion decoder: captured frames, orientation convention, byte-stream parsing, timing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imu import quat as Q
from imu.protocols import make_decoder
from imu.protocols import witmotion as wit
from imu.samples import SampleBlock

# docs/sensor-protocols.md section 2
CAPTURED = bytes.fromhex("55 61 fc ff ef ff 11 08 00 00 00 00 00 00 98 ff 0d 00 f8 31")
MAG_REPLY = bytes.fromhex("55 71 3A 00 68 01 69 00 7A 00") + bytes(10)


def test_captured_frame_decodes_to_published_values():
    d = wit.decode_data_frames(np.frombuffer(CAPTURED, np.uint8)[None, :])
    np.testing.assert_allclose(d["acc"][0], [-0.00195, -0.00830, 1.00830], atol=5e-6)
    np.testing.assert_allclose(d["gyro"][0], [0, 0, 0])
    np.testing.assert_allclose(d["euler"][0], [-0.5713, 0.0714, 70.2686], atol=5e-5)


def test_captured_frame_angles_agree_with_its_accelerometer():
    """Pitch/roll signs: the quaternion must turn the measured specific force to earth +z."""
    d = wit.decode_data_frames(np.frombuffer(CAPTURED, np.uint8)[None, :])
    ax, ay, az = d["acc"][0]
    roll, pitch, _ = d["euler"][0]
    assert np.sign(roll) == np.sign(np.degrees(np.arctan2(ay, az))) == -1
    assert np.sign(pitch) == np.sign(np.degrees(-np.arcsin(ax))) == 1
    up = Q.rotate(d["quat"][0], d["acc"][0] / np.linalg.norm(d["acc"][0]))
    assert up[2] > 0.9999


def test_register_read_example():
    assert wit.read_register_command(wit.REG_MAG) == bytes.fromhex("FF AA 27 3A 00")
    start, values = wit.decode_register_frame(MAG_REPLY)
    assert start == 0x3A and values[:3] == [360, 105, 122]


def test_commands_exact_bytes():
    assert wit.UNLOCK == bytes.fromhex("FF AA 69 88 B5")
    assert wit.SAVE == bytes.fromhex("FF AA 00 00 00")
    assert wit.rate_command(200) == bytes.fromhex("FF AA 03 0B 00")
    assert wit.rate_command(100) == bytes.fromhex("FF AA 03 09 00")
    assert wit.rate_command(50) == bytes.fromhex("FF AA 03 08 00")
    assert wit.decode_command(wit.UNLOCK) == (0x69, 0xB588)
    assert wit.rate_from_code(wit.decode_command(wit.rate_command(200))[1]) == 200
    with pytest.raises(ValueError, match="not 150"):
        wit.rate_command(150)
    with pytest.raises(ValueError, match="not a WitMotion command"):
        wit.decode_command(b"\x01\x02")


def test_flat_and_level_sensor_is_identity_and_upright():
    q = wit.euler_to_quat(0.0, 0.0, 0.0)
    np.testing.assert_allclose(q, Q.IDENTITY)
    np.testing.assert_allclose(Q.rotate(q, [0, 0, 1.0]), [0, 0, 1.0])


@settings(max_examples=60, deadline=None)
@given(st.floats(-179, 179), st.floats(-85, 85), st.floats(-179, 179))
def test_euler_quat_conversion_is_consistent_with_gravity(roll, pitch, yaw):
    q = wit.euler_to_quat(roll, pitch, yaw)
    # a still sensor measures 1 g "up" expressed in its own frame
    a = Q.rotate(Q.conjugate(q), [0, 0, 1.0])
    assert np.degrees(np.arctan2(a[1], a[2])) == pytest.approx(roll, abs=1e-6)
    assert np.degrees(-np.arcsin(a[0])) == pytest.approx(pitch, abs=1e-6)
    np.testing.assert_allclose(wit.quat_to_euler(q), [roll, pitch, yaw], atol=1e-6)


def test_positive_pitch_tips_the_sensor_nose_down():
    # Z-Y-X with z up: +pitch about y turns x (forward) toward -z
    q = wit.euler_to_quat(0.0, 30.0, 0.0)
    nose = Q.rotate(q, [1.0, 0, 0])
    assert nose[2] == pytest.approx(-0.5)
    # +roll about x turns y (left) toward +z
    assert Q.rotate(wit.euler_to_quat(30.0, 0.0, 0.0), [0, 1.0, 0])[2] == pytest.approx(0.5)
    # yaw is right-handed about z up, like the gyroscope's z rate
    assert Q.rotate(wit.euler_to_quat(0.0, 0.0, 90.0), [1.0, 0, 0]) == pytest.approx([0, 1.0, 0])


def _frames(n, rng):
    q = Q.normalize(rng.normal(size=(n, 4)))
    euler = wit.quat_to_euler(q)
    euler[:, 1] = np.clip(euler[:, 1], -89, 89)
    acc = rng.uniform(-2, 2, size=(n, 3))
    gyro = rng.uniform(-500, 500, size=(n, 3))
    return wit.encode_data_frames(acc, gyro, euler), acc, gyro, wit.euler_to_quat(*euler.T)


def test_encode_decode_round_trip():
    data, acc, gyro, q = _frames(50, np.random.default_rng(2))
    block = wit.WitStreamDecoder(rate_hz=100).decode([data], [1.0])
    assert len(block) == 50 and np.all(np.isnan(block.device_time_s)) and np.all(block.seq == -1)
    np.testing.assert_allclose(block.acc, acc, atol=16 / 32768)
    np.testing.assert_allclose(block.gyro, gyro, atol=2000 / 32768)
    assert np.max(Q.angle_between(block.quat, q)) < 0.02  # angle LSB is 0.0055 deg


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 47), min_size=1, max_size=30), st.integers(0, 3))
def test_notifications_split_and_batch_frames_anywhere(cuts, garbage_at):
    rng = np.random.default_rng(len(cuts))
    data, _, _, _ = _frames(30, rng)
    stream = bytearray(data)
    stream[60:60] = wit.encode_register_reply(wit.REG_BATTERY, [370])
    if garbage_at:
        stream[200:200] = b"\x01\x55\x02" * garbage_at  # junk between frames, even a stray 0x55
    payloads, pos = [], 0
    for c in cuts:
        if pos >= len(stream):
            break
        payloads.append(bytes(stream[pos:pos + c]))
        pos += c
    if pos < len(stream):
        payloads.append(bytes(stream[pos:]))
    hosts = np.arange(len(payloads)) * 0.05
    chunked = wit.WitStreamDecoder(rate_hz=50)
    parts = [chunked.decode(payloads[i:i + 3], hosts[i:i + 3]) for i in range(0, len(payloads), 3)]
    got = SampleBlock.concat(parts)
    whole = wit.WitStreamDecoder(rate_hz=50)
    ref = whole.decode([bytes(stream)], [hosts[-1]])
    assert len(got) == len(ref) == 30
    np.testing.assert_array_equal(got.quat, ref.quat)
    np.testing.assert_array_equal(got.acc, ref.acc)
    assert np.all(np.diff(got.host_time_s) >= 0)
    assert chunked.registers[wit.REG_BATTERY] == 370
    assert chunked.stats.bad_notifications == whole.stats.bad_notifications == (1 if garbage_at else 0)
    assert chunked._remainder == b""


def test_register_replies_surface_battery_and_quaternion():
    decoder = make_decoder("witmotion", 10)
    quat_regs = [int(v * 32767) for v in Q.normalize(np.array([0.9, 0.1, 0.2, 0.3]))]
    data, _, _, _ = _frames(2, np.random.default_rng(0))
    payloads = [wit.encode_register_reply(wit.REG_BATTERY, [396]), wit.encode_register_reply(wit.REG_QUAT, quat_regs), data]
    block = decoder.decode(payloads, [0.0, 0.1, 0.2])
    assert block.battery_pct == 100.0
    assert [decoder.registers[wit.REG_QUAT + i] for i in range(4)] == quat_regs
    assert [r[1] for r in decoder.register_replies] == [wit.REG_BATTERY, wit.REG_QUAT]


def test_host_times_spread_at_the_configured_rate_and_silence_counts_as_loss():
    rate = 100.0
    data, _, _, _ = _frames(400, np.random.default_rng(5))
    frames = [data[i:i + 20] for i in range(0, len(data), 20)]
    payloads, hosts = [], []
    for k in range(0, 400, 4):  # 4 frames per notification every 40 ms
        if 200 <= k < 300:
            continue  # one second of silence: 100 samples never arrive
        payloads.append(b"".join(frames[k:k + 4]))
        hosts.append(0.5 + (k + 3) / rate + 0.004)
    decoder = wit.WitStreamDecoder(rate_hz=rate)
    block = decoder.decode(payloads, np.array(hosts))
    assert len(block) == 300
    steps = np.diff(block.host_time_s)
    assert np.allclose(steps[steps < 0.5], 1 / rate)
    assert decoder.stats.lost_samples == 100
    assert len(decoder.stats.gaps) == 1
    # no sample is stamped later than the notification that carried it
    carried = np.repeat(hosts, 4)
    assert np.all(block.host_time_s <= carried + 1e-12)


def test_damaged_frame_with_impossible_pitch_is_dropped():
    frame = bytearray(CAPTURED)
    frame[16:18] = (20000).to_bytes(2, "little", signed=True)  # pitch 110 deg
    decoder = wit.WitStreamDecoder()
    block = decoder.decode([bytes(frame) + CAPTURED], [0.0])
    assert len(block) == 1 and decoder.stats.bad_samples == 1
