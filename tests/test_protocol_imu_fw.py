"""imu-fw profile: committed golden vectors, property tests of the codec and stream decoder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imu import quat as Q
from imu.protocols import imu_fw as fw
from imu.protocols.describe import describe

GOLDEN = json.loads((Path(__file__).parents[1] / "firmware_notes" / "golden_vectors.json").read_text())
VECTORS = GOLDEN["vectors"]
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _approx(expected):
    if isinstance(expected, float):
        return pytest.approx(expected, rel=1e-12, abs=1e-12)
    if isinstance(expected, list):
        return [_approx(v) for v in expected]
    if isinstance(expected, dict):
        return {k: _approx(v) for k, v in expected.items()}
    return expected


# --- golden vectors -------------------------------------------------------------------

def test_golden_vectors_cover_every_frame_type_flag_and_command():
    kinds = {v["kind"] for v in VECTORS}
    assert kinds == {"frame", "bad_frame", "stream", "command", "info"}
    frames = [v["decoded"] for v in VECTORS if v["kind"] == "frame"]
    assert {f["frame"] for f in frames} == {"samples", "time_sync", "event"}
    flags = set().union(*(f["flags"] for f in frames))
    assert {"acc", "gyro", "quat", "clock_synced", "low_battery", "fusion_calibrated",
            "fifo_overflow", "motor_running"} <= flags
    contents = {tuple(sorted({"acc", "gyro", "quat"} & set(f["flags"]))) for f in frames if f["frame"] == "samples"}
    assert {("quat",), ("acc", "gyro", "quat"), ("acc", "gyro")} <= contents
    commands = {v["decoded"]["command"] for v in VECTORS if v["kind"] == "command"}
    assert commands == set(fw.COMMAND_NAMES.values())


@pytest.mark.parametrize("vector", [v for v in VECTORS if v["kind"] == "frame"], ids=lambda v: v["name"])
def test_golden_frame_decodes_to_committed_values(vector):
    decoded = describe("imu-fw", bytes.fromhex(vector["hex"]))
    del decoded["device"]
    assert decoded == _approx(vector["decoded"])


@pytest.mark.parametrize("vector", [v for v in VECTORS if v["kind"] == "bad_frame"], ids=lambda v: v["name"])
def test_golden_bad_frame_is_rejected_for_the_committed_reason(vector):
    with pytest.raises(fw.FrameError) as err:
        fw.decode_frame(bytes.fromhex(vector["hex"]))
    assert err.value.reason == vector["decoded"]["error"]
    with pytest.raises(ValueError, match="imu-fw"):
        describe("imu-fw", bytes.fromhex(vector["hex"]))


@pytest.mark.parametrize("vector", [v for v in VECTORS if v["kind"] == "command"], ids=lambda v: v["name"])
def test_golden_command_decodes_and_reencodes(vector):
    data = bytes.fromhex(vector["hex"])
    op, args = fw.decode_command(data)
    assert op == vector["decoded"]["op"]
    assert dict(zip(fw.COMMAND_ARGS[op], args)) == vector["decoded"]["args"]
    assert fw.COMMAND_NAMES[op] == vector["decoded"]["command"]
    assert fw.encode_command(op, *args) == data


def test_golden_stream_across_wrap_counts_the_lost_frame():
    vector = next(v for v in VECTORS if v["kind"] == "stream")
    frames = [bytes.fromhex(h) for h in vector["hex"]]
    decoder = fw.StreamDecoder()
    block = decoder.decode(frames, np.arange(len(frames)) * 0.01)
    expected = vector["decoded"]
    assert [int(round(t * 1e6)) for t in block.device_time_s] == expected["device_time_us"]
    assert block.seq.tolist() == expected["seq"]
    assert decoder.stats.lost_samples == expected["lost_samples"] == 2
    # device time runs on across the u32 wrap instead of jumping back
    assert np.all(np.diff(block.device_time_s) > 0)
    assert block.seq.tolist() == [65534, 65534, 65535, 65535, 65538, 65538]
    assert decoder.time_sync == [(0.02, pytest.approx(2**32 / 1e6), 42)]


def test_golden_info_characteristic():
    vector = next(v for v in VECTORS if v["kind"] == "info")
    info = fw.decode_info(bytes.fromhex(vector["hex"]))
    d = vector["decoded"]
    assert info == fw.DeviceInfo(d["protocol_version"], tuple(d["firmware"]), d["capabilities"],
                                 d["max_rate_hz"], d["rate_hz"], d["content_mask"], d["streaming"], d["has_motor"])


def test_command_exact_bytes_and_errors():
    assert fw.encode_command(fw.OP_START, 200, fw.CONTENT_QUAT) == bytes.fromhex("01 c8 00 04")
    assert fw.encode_command(fw.OP_BUZZ, 500, 100) == bytes.fromhex("06 f4 01 64")
    with pytest.raises(fw.CommandError, match="strength 101"):
        fw.encode_command(fw.OP_BUZZ, 500, 101)
    with pytest.raises(fw.CommandError, match="content mask"):
        fw.encode_command(fw.OP_START, 100, 0x08)
    with pytest.raises(fw.CommandError, match="unknown control opcode 0x99") as err:
        fw.decode_command(b"\x99")
    assert err.value.att_error == fw.ATT_ERROR_UNKNOWN_OPCODE
    with pytest.raises(fw.CommandError, match="SET_RATE needs 3 bytes, got 2") as err:
        fw.decode_command(b"\x03\x64")
    assert err.value.att_error == fw.ATT_ERROR_BAD_LENGTH
    with pytest.raises(fw.CommandError, match="rate 0 Hz"):
        fw.decode_command(b"\x03\x00\x00")


# --- codec properties -----------------------------------------------------------------

unit_quats = st.lists(st.floats(-1, 1), min_size=4, max_size=4).filter(
    lambda v: np.linalg.norm(v) > 0.1).map(lambda v: Q.normalize(np.array(v)))
vec3 = lambda lim: st.lists(st.floats(-lim, lim), min_size=3, max_size=3)  # noqa: E731


@st.composite
def sample_frames(draw):
    n = draw(st.integers(1, 12))
    content = draw(st.sampled_from(["q", "qag", "ag", "qa", "g"]))
    quat = np.array(draw(st.lists(unit_quats, min_size=n, max_size=n))) if "q" in content else None
    acc = np.array(draw(st.lists(vec3(15.9), min_size=n, max_size=n))) if "a" in content else None
    gyro = np.array(draw(st.lists(vec3(1990.0), min_size=n, max_size=n))) if "g" in content else None
    seq = draw(st.integers(0, 65535))
    t0 = draw(st.integers(0, 2**32 - 1))
    dt = draw(st.integers(1, 65535))
    return dict(seq=seq, t0_us=t0, dt_us=dt, quat=quat, acc=acc, gyro=gyro,
                flags=draw(st.integers(0, 255)))


@FAST
@given(sample_frames())
def test_encode_decode_round_trip_within_quantisation(frame):
    data = fw.encode_samples(**frame)
    out = fw.decode_frame(data)
    assert (out.seq, out.t0_us, out.dt_us) == (frame["seq"], frame["t0_us"], frame["dt_us"])
    assert out.flags & ~fw.CONTENT_FLAGS == frame["flags"] & ~fw.CONTENT_FLAGS
    for name, lsb in (("quat", 1 / fw.Q14), ("acc", 1 / fw.ACC_LSB_PER_G), ("gyro", 1 / fw.GYRO_LSB_PER_DPS)):
        if frame[name] is None:
            assert getattr(out, name) is None
        else:
            np.testing.assert_allclose(getattr(out, name), frame[name], atol=lsb / 2 + 1e-12)


@FAST
@given(sample_frames(), st.data())
def test_truncation_and_corruption_give_frame_error_or_a_valid_frame(frame, data):
    payload = fw.encode_samples(**frame)
    for cut in range(len(payload)):
        with pytest.raises(fw.FrameError):
            fw.decode_frame(payload[:cut])
    corrupt = bytearray(payload)
    for _ in range(data.draw(st.integers(1, 4))):
        corrupt[data.draw(st.integers(0, len(payload) - 1))] = data.draw(st.integers(0, 255))
    try:
        out = fw.decode_frame(bytes(corrupt))
    except fw.FrameError:
        return
    assert isinstance(out, (fw.SamplesFrame, fw.TimeSyncFrame, fw.EventFrame))


@FAST
@given(st.binary(max_size=80))
def test_random_bytes_never_raise_anything_but_frame_error(blob):
    try:
        fw.decode_frame(blob)
    except fw.FrameError:
        pass
    decoder = fw.StreamDecoder()
    decoder.decode([blob], [0.0])  # dropped and counted, never raised
    assert decoder.stats.notifications == 1


# --- stream decoder -------------------------------------------------------------------

def _stream(n_frames: int, per_frame: int, seq0: int, t0: int, dt: int, rng, lose=(), extras=True):
    """Frames of a steady stream, some lost; returns payloads, host times and the truth."""
    payloads, hosts, truth_t, truth_q = [], [], [], []
    seq, t = seq0, t0
    for k in range(n_frames):
        q = Q.normalize(rng.normal(size=(per_frame, 4)))
        if k not in lose:
            payloads.append(fw.encode_samples(seq, t, dt, q, rng.normal(size=(per_frame, 3)),
                                              rng.normal(size=(per_frame, 3)) * 100))
            hosts.append(k * 0.02)
            truth_t += [t + i * dt for i in range(per_frame)]
            truth_q.append(q)
        seq, t = seq + 1, t + per_frame * dt
        if extras and k % 7 == 3:  # a time-sync echo now and then consumes a sequence number
            if k not in lose:
                payloads.append(fw.encode_time_sync(seq, t, k))
                hosts.append(k * 0.02 + 0.001)
            seq += 1
    return payloads, np.array(hosts), np.array(truth_t), np.concatenate(truth_q)


def test_stream_unwraps_sequence_and_time_and_counts_lost_samples():
    rng = np.random.default_rng(1)
    lost_frames = {5, 40, 41}
    payloads, hosts, truth_t, truth_q = _stream(60, 4, 65500, 2**32 - 500_000, 5000, rng, lose=lost_frames)
    decoder = fw.StreamDecoder()
    block = decoder.decode(payloads, hosts)
    assert decoder.stats.lost_samples == 4 * len(lost_frames)
    assert len(decoder.stats.gaps) == 2  # frame 5, and frames 40-41 together
    assert decoder.stats.bad_notifications == 0
    np.testing.assert_array_equal(np.round(block.device_time_s * 1e6).astype(np.int64), truth_t)
    assert np.all(np.diff(block.seq) >= 0) and block.seq[-1] > 65535
    assert np.max(Q.angle_between(block.quat, truth_q)) < 0.02


@FAST
@given(st.lists(st.integers(1, 30), min_size=1, max_size=8), st.integers(0, 2**32 - 1), st.integers(0, 65535))
def test_decoding_in_chunks_equals_decoding_whole(cuts, t0, seq0):
    rng = np.random.default_rng(seq0)
    payloads, hosts, _, _ = _stream(50, 3, seq0, t0, 10000, rng, lose={7, 20})
    payloads.insert(10, fw.encode_event(0, 0, fw.EVENT_MOTOR_ON))  # out-of-band frame mid-stream
    payloads.insert(11, b"\x11\x05garbage")
    hosts = np.insert(hosts, 10, [hosts[9], hosts[9]])
    whole = fw.StreamDecoder()
    ref = whole.decode(payloads, hosts)
    chunked = fw.StreamDecoder()
    parts, start = [], 0
    for c in cuts + [len(payloads)]:
        parts.append(chunked.decode(payloads[start:start + c], hosts[start:start + c]))
        start += c
        if start >= len(payloads):
            break
    from imu.samples import SampleBlock
    got = SampleBlock.concat(parts)
    for name in ("device_time_s", "host_time_s", "seq", "quat", "acc", "gyro", "vibrating"):
        np.testing.assert_array_equal(getattr(got, name), getattr(ref, name), err_msg=name)
    assert chunked.stats == whole.stats
    assert chunked.events == whole.events and chunked.time_sync == whole.time_sync


def test_damaged_notifications_and_non_unit_quaternions_are_dropped_and_counted():
    rng = np.random.default_rng(3)
    payloads, hosts, truth_t, _ = _stream(10, 2, 0, 0, 5000, rng, extras=False)
    bad_quat = bytearray(payloads[4])
    bad_quat[fw.HEADER_SIZE:fw.HEADER_SIZE + 8] = bytes(8)  # first sample's quaternion all zero
    payloads[4] = bytes(bad_quat)
    payloads[6] = payloads[6][:-3]  # truncated
    payloads.append(b"")
    payloads.append(b"\x37\x00")
    hosts = np.append(hosts, [1.0, 1.1])
    decoder = fw.StreamDecoder()
    block = decoder.decode(payloads, hosts)
    assert decoder.stats.bad_notifications == 3
    assert decoder.stats.bad_samples == 1
    assert decoder.stats.errors["samples frame length does not match its sample count"] == 1
    assert decoder.stats.errors["empty notification"] == 1
    assert decoder.stats.errors["unsupported frame version"] == 1
    assert decoder.stats.errors["non-unit quaternion or non-finite value"] == 1
    assert len(block) == 20 - 2 - 1
    assert decoder.stats.lost_samples == 2  # the truncated frame's samples are missing from the stream
    assert decoder.stats.samples == len(block)
    assert np.allclose(np.linalg.norm(block.quat, axis=1), 1.0)


def test_motor_event_marks_samples_vibrating_in_arrival_order():
    q = np.tile(Q.IDENTITY, (2, 1))
    payloads = [
        fw.encode_samples(0, 0, 5000, q),
        fw.encode_event(1, 10000, fw.EVENT_MOTOR_ON, 80),
        fw.encode_samples(2, 10000, 5000, q),
        fw.encode_event(3, 20000, fw.EVENT_MOTOR_OFF),
        fw.encode_samples(4, 20000, 5000, q),
        fw.encode_samples(5, 30000, 5000, q, flags=fw.FLAG_MOTOR),
    ]
    decoder = fw.StreamDecoder()
    block = decoder.decode(payloads, np.arange(6) * 0.01)
    assert block.vibrating.tolist() == [False, False, True, True, False, False, True, True]
    assert decoder.stats.lost_samples == 0 and decoder.stats.gaps == []
    assert [e[2] for e in decoder.events] == [fw.EVENT_MOTOR_ON, fw.EVENT_MOTOR_OFF]


def test_acc_gyro_only_frames_give_nan_quaternions_and_keep_samples():
    acc = np.array([[0, 0, 1.0], [0.1, 0, 0.99]])
    payload = fw.encode_samples(0, 0, 5000, None, acc, np.zeros((2, 3)))
    decoder = fw.StreamDecoder()
    block = decoder.decode([payload], [0.0])
    assert len(block) == 2 and np.all(np.isnan(block.quat))
    np.testing.assert_allclose(block.acc, acc, atol=1 / 4096)
    assert decoder.stats.bad_samples == 0


def test_encoder_rejects_bad_input_with_a_clear_message():
    with pytest.raises(ValueError, match="same number of samples"):
        fw.encode_samples(0, 0, 5000, np.tile(Q.IDENTITY, (2, 1)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        fw.encode_samples(0, 0, 5000, np.full((1, 4), np.nan))
    with pytest.raises(ValueError, match="payloads but"):
        fw.StreamDecoder().decode([b""], [0.0, 1.0])


def test_loss_before_a_short_frame_is_still_counted():
    """Samples 10, [11 lost], time sync 12, samples 13: the samples frame sizes the loss that
    the time-sync frame revealed (review finding: it used to vanish)."""
    q = np.tile([1.0, 0.0, 0.0, 0.0], (4, 1))
    frames = [fw.encode_samples(10, 0, 10_000, q), fw.encode_time_sync(12, 80_000, 7),
              fw.encode_samples(13, 80_000, 10_000, q)]
    decoder = fw.StreamDecoder()
    decoder.decode(frames, np.array([0.04, 0.09, 0.12]))
    assert decoder.stats.lost_samples == 4
    assert decoder.stats.gaps == [(0.04, 0.12)]
