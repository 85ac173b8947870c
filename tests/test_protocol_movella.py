"""Movella DOT decoder: the published Custom-mode-5 vector, round trips, timestamps and loss."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imu import quat as Q
from imu.protocols import make_decoder
from imu.protocols import movella_dot as dot
from imu.samples import SampleBlock

# docs/sensor-protocols.md section 1: Custom mode 5, 44 meaningful bytes of a 63-byte notification
CUSTOM5_HEX = (
    "86 c9 ee 03 49 1f 71 3f 64 56 bb bb f4 42 23 b9 da f9 ab 3e b6 af 2f bd 92 ef e1 bd"
    " 56 0f 1e 41 7b f7 8a 3f 4e a6 ef 3e f1 00 33 3f"
)
CUSTOM5 = bytes.fromhex(CUSTOM5_HEX) + bytes(19)
CUSTOM5_TS = 65980806
CUSTOM5_QUAT = [0.94188362, -0.00571709, -0.00015570, 0.33589059]
CUSTOM5_ACC_MS2 = [-0.04289218, -0.11032023, 9.87874413]
CUSTOM5_GYRO = [1.08567750, 0.46806568, 0.69923311]


def test_published_custom_mode_5_vector_decodes_exactly():
    out = dot.decode_payload(CUSTOM5, dot.MODE_CUSTOM_5)
    assert out["timestamp_us"] == CUSTOM5_TS
    np.testing.assert_allclose(out["quat_wxyz"], CUSTOM5_QUAT, rtol=0, atol=5e-9)
    np.testing.assert_allclose(np.array(out["acc_g"]) * 9.80665, CUSTOM5_ACC_MS2, rtol=0, atol=5e-8)
    np.testing.assert_allclose(out["gyro_dps"], CUSTOM5_GYRO, rtol=0, atol=5e-8)
    # lying almost flat: about 1 g along sensor z
    assert out["acc_g"][2] == pytest.approx(1.0073, abs=1e-4)


def test_published_vector_reencodes_to_the_same_bytes():
    decoded = dot.decode_payload(CUSTOM5, dot.MODE_CUSTOM_5)
    again = dot.encode_payload(dot.MODE_CUSTOM_5, decoded["timestamp_us"], decoded["quat_wxyz"],
                               decoded["acc_g"], decoded["gyro_dps"])
    assert again == CUSTOM5
    assert len(again) == 63


def test_stream_decoder_gives_sample_block_in_our_units():
    decoder = make_decoder("movella-dot", 26)
    block = decoder.decode([CUSTOM5], [12.5])
    assert len(block) == 1 and block.seq.tolist() == [-1]
    assert block.device_time_s[0] == pytest.approx(CUSTOM5_TS / 1e6)
    assert block.host_time_s[0] == 12.5
    np.testing.assert_allclose(block.quat[0], Q.normalize(np.array(CUSTOM5_QUAT)), atol=1e-7)
    np.testing.assert_allclose(block.acc[0], np.array(CUSTOM5_ACC_MS2) / 9.80665, atol=1e-7)
    np.testing.assert_allclose(block.gyro[0], CUSTOM5_GYRO, atol=1e-6)
    # the ENU quaternion already maps sensor -> earth z up: gravity seen by the sensor points up
    up = Q.rotate(block.quat[0], block.acc[0] / np.linalg.norm(block.acc[0]))
    assert up[2] > 0.999


def test_control_writes_exact_bytes():
    assert dot.start_command(dot.MODE_EXTENDED_QUATERNION) == bytes.fromhex("01 01 02")
    assert dot.start_command(dot.MODE_CUSTOM_5) == bytes.fromhex("01 01 1a")
    assert dot.stop_command(dot.MODE_CUSTOM_5) == bytes.fromhex("01 00 1a")
    assert dot.output_rate_command(60) == bytes.fromhex("10" + "00" * 23 + "3c00" + "00" * 6)
    assert dot.parse_output_rate_command(dot.output_rate_command(30)) == 30
    assert dot.CONTROL_UUID == "15172001-4947-11e9-8646-d663bd873d93"
    with pytest.raises(ValueError, match="not 120"):
        dot.output_rate_command(120)
    with pytest.raises(ValueError, match="unsupported Movella DOT payload mode 4"):
        dot.start_command(4)


@pytest.mark.parametrize("mode,size,length", [(2, 36, 40), (3, 32, 40), (5, 20, 20), (21, 28, 40), (26, 44, 63)])
def test_mode_sizes_match_the_spec(mode, size, length):
    spec = dot.payload_mode(mode)
    assert (spec.size, spec.notification_length) == (size, length)


unit_quat = st.lists(st.floats(-1, 1), min_size=4, max_size=4).filter(
    lambda v: np.linalg.norm(v) > 0.2).map(lambda v: Q.normalize(np.array(v)))
vec3 = st.lists(st.floats(-30, 30), min_size=3, max_size=3).map(np.array)


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(sorted(dot.MODES)), st.integers(0, 2**32 - 1), unit_quat, vec3, vec3)
def test_round_trip_every_mode(mode, t_us, q, acc, gyro):
    payload = dot.encode_payload(mode, t_us, q, acc, gyro * 10, status=0x0003)
    spec = dot.payload_mode(mode)
    assert len(payload) == spec.notification_length
    out = dot.decode_payload(payload, mode)
    assert out["timestamp_us"] == t_us
    f32 = lambda x: np.asarray(x, np.float32).astype(float)  # noqa: E731
    if "quat" in spec.fields:
        np.testing.assert_allclose(out["quat_wxyz"], f32(q), atol=1e-7)
    if "acc" in spec.fields:
        np.testing.assert_allclose(out["acc_g"], acc, rtol=1e-6, atol=1e-6)
    if "free_acc" in spec.fields:
        # free acceleration is earth-frame specific force minus 1 g up, never the sensor acc
        np.testing.assert_allclose(out["free_acc_g"], Q.rotate(q, acc) - [0, 0, 1], rtol=1e-5, atol=1e-5)
        assert "acc_g" not in out
    if "status" in spec.fields:
        assert out["status"] == 3
    block = dot.DotStreamDecoder(mode=mode).decode([payload], [0.0])
    assert len(block) == 1
    assert (block.acc is None) == ("acc" not in spec.fields)
    assert np.all(np.isnan(block.quat)) == ("quat" not in spec.fields)


def _stream(n, t0_us, rate_hz=60, lose=()):
    period = round(1e6 / rate_hz)
    rng = np.random.default_rng(0)
    payloads, hosts, times = [], [], []
    for k in range(n):
        if k in lose:
            continue
        q = Q.normalize(rng.normal(size=4))
        payloads.append(dot.encode_payload(26, t0_us + k * period, q, [0, 0, 1.0], [0, 0, 0]))
        hosts.append(k / rate_hz + 0.01)
        times.append(t0_us + k * period)
    return payloads, np.array(hosts), np.array(times, dtype=np.int64)


def test_timestamp_unwraps_across_calls_and_loss_is_counted_from_gaps():
    payloads, hosts, times = _stream(200, 2**32 - 1_000_000, lose={50, 120, 121, 122})
    decoder = dot.DotStreamDecoder()
    parts = [decoder.decode(payloads[i:i + 7], hosts[i:i + 7]) for i in range(0, len(payloads), 7)]
    block = SampleBlock.concat(parts)
    np.testing.assert_array_equal(np.round(block.device_time_s * 1e6).astype(np.int64), times)
    assert np.all(np.diff(block.device_time_s) > 0) and block.device_time_s[-1] > 2**32 / 1e6
    assert decoder.stats.lost_samples == 4
    assert len(decoder.stats.gaps) == 2
    whole = dot.DotStreamDecoder()
    ref = whole.decode(payloads, hosts)
    np.testing.assert_array_equal(ref.device_time_s, block.device_time_s)
    assert whole.stats == decoder.stats


def test_bad_lengths_and_non_unit_quaternions_are_dropped_and_counted():
    payloads, hosts, _ = _stream(6, 0)
    payloads[1] = payloads[1][:30]
    bad = bytearray(payloads[3])
    bad[4:20] = np.array([2.0, 0, 0, 0], "<f4").tobytes()
    payloads[3] = bytes(bad)
    payloads[4] = payloads[4] + b"\x00"
    nan = bytearray(payloads[5])
    nan[4:20] = np.full(4, np.nan, "<f4").tobytes()
    payloads[5] = bytes(nan)
    decoder = dot.DotStreamDecoder()
    block = decoder.decode(payloads, hosts)
    assert len(block) == 2
    assert decoder.stats.bad_notifications == 2
    assert decoder.stats.bad_samples == 2
    assert decoder.stats.errors["notification length does not fit mode 26"] == 2
    with pytest.raises(dot.DotPayloadError, match="30 bytes does not fit mode 26"):
        dot.decode_payload(payloads[1], 26)


def test_missing_field_and_bad_mode_give_clear_errors():
    with pytest.raises(ValueError, match="needs gyro"):
        dot.encode_payload(26, 0, Q.IDENTITY, [0, 0, 1.0], None)
    with pytest.raises(ValueError, match="must be a number"):
        make_decoder("movella-dot", "fast")
