"""simulate(): frames that decode to the sensors' signals, clocks, loss, mounting, outputs."""

import numpy as np
import pandas as pd
import pytest

from imu import anatomy
from imu import quat as Q
from imu.protocols import imu_fw
from imu.sim import SCENARIOS, Truth, simulate, to_interchange_csv

WRAP_SEED = 7  # a seed whose thoracic device clock wraps (u32 microseconds) within "smoke"


@pytest.fixture(scope="module")
def smoke():
    return simulate("smoke", seed=WRAP_SEED, sacral=True, rates_hz={"sacral": 200.0},
                    raw_only={"lumbar"}, loss_rate=0.03)


def _decode(session, location):
    notes = [n for n in session.notifications if n.sensor == location]
    decoder = imu_fw.StreamDecoder()
    block = decoder.decode([n.payload for n in notes], np.array([n.host_time_s for n in notes]))
    return block, decoder.stats, notes


def test_same_seed_same_session_and_another_seed_differs():
    a = simulate("smoke", seed=3)
    b = simulate("smoke", seed=3)
    c = simulate("smoke", seed=4)
    assert a.notifications == b.notifications
    assert a.sensors == b.sensors
    for name in a.truth.angles:
        np.testing.assert_array_equal(a.truth.angles[name], b.truth.angles[name])
    assert a.truth.episodes == b.truth.episodes and a.truth.phases == b.truth.phases
    assert a.notifications[:50] != c.notifications[:50]
    assert a.sensors["thoracic"]["mounting"] != c.sensors["thoracic"]["mounting"]


def test_frames_decode_to_the_sent_signals_within_quantisation(smoke):
    for location in ("thoracic", "sacral"):
        block, stats, notes = _decode(smoke, location)
        sent = smoke.sensor_samples(location)
        info = smoke.sensors[location]
        assert len(block) == len(sent["t"]) == (info["frames_sent"] - info["frames_lost"]) * info["samples_per_frame"]
        assert stats.bad_notifications == 0 and stats.bad_samples == 0
        # Q14 rounding, then the decoder's renormalisation
        np.testing.assert_allclose(block.quat, sent["quat"], atol=1.5 / imu_fw.Q14)
        np.testing.assert_allclose(block.acc, sent["acc"], atol=0.5 / imu_fw.ACC_LSB_PER_G + 1e-9)
        np.testing.assert_allclose(block.gyro, sent["gyro"], atol=0.5 / imu_fw.GYRO_LSB_PER_DPS + 1e-9)
        np.testing.assert_allclose(block.device_time_s, sent["device_time_s"], atol=1e-9)
    assert smoke.sensors["sacral"]["samples_per_frame"] == 8 and smoke.sensors["sacral"]["dt_us"] == 5000


def test_raw_only_sensor_sends_acc_and_gyro_without_quaternion(smoke):
    block, stats, notes = _decode(smoke, "lumbar")
    assert all(not (n.payload[1] & imu_fw.FLAG_QUAT) for n in notes)
    assert np.isnan(block.quat).all()
    sent = smoke.sensor_samples("lumbar")
    np.testing.assert_allclose(block.gyro, sent["gyro"], atol=0.5 / imu_fw.GYRO_LSB_PER_DPS + 1e-9)
    assert smoke.sensors["lumbar"]["raw_only"] is True


def test_decoder_counts_exactly_the_lost_frames(smoke):
    for location in smoke.sensors:
        block, stats, notes = _decode(smoke, location)
        info = smoke.sensors[location]
        assert 0.01 < info["frames_lost"] / info["frames_sent"] < 0.07  # asked for 3 %
        # losses after the last delivered frame cannot be seen by anyone
        all_seq = np.concatenate([c.frame_seq for c in smoke.frame_chunks(location, with_payloads=False)])
        last_delivered = block.seq.max()
        trailing = int(np.sum(all_seq > last_delivered))
        expected = (info["frames_lost"] - trailing) * info["samples_per_frame"]
        assert stats.lost_samples == expected


def test_no_loss_when_asked_and_sequence_numbers_are_consecutive():
    session = simulate("smoke", seed=2, loss_rate=0.0)
    for location, info in session.sensors.items():
        block, stats, _ = _decode(session, location)
        assert info["frames_lost"] == 0 and stats.lost_samples == 0 and not stats.gaps
        frames = np.unique(block.seq)
        np.testing.assert_array_equal(np.diff(frames), 1)


def test_device_clock_wraps_and_maps_to_session_time_by_offset_and_drift(smoke):
    block, _, notes = _decode(smoke, "thoracic")
    assert block.device_time_s.max() > 2**32 / 1e6 > block.device_time_s.min()  # it wrapped
    info = smoke.sensors["thoracic"]
    t = block.device_time_s / (1 + info["clock_drift_ppm"] * 1e-6) + info["clock_offset_s"]
    np.testing.assert_allclose(t, smoke.sensor_samples("thoracic")["t"], atol=1e-9)
    assert np.all(np.diff(block.device_time_s) > 0)
    assert 20 <= abs(info["clock_drift_ppm"]) <= 80


def test_host_times_follow_the_last_sample_with_latency(smoke):
    hosts = np.array([n.host_time_s for n in smoke.notifications])
    assert np.all(np.diff(hosts) >= 0)
    block, _, notes = _decode(smoke, "thoracic")
    sent = smoke.sensor_samples("thoracic")
    spf = smoke.sensors["thoracic"]["samples_per_frame"]
    latency = np.array([n.host_time_s for n in notes]) - sent["t"][spf - 1::spf]
    assert latency.min() > 0.0
    assert 0.004 < np.median(latency) < 0.02
    assert latency.max() < 0.5


def test_quaternions_carry_the_mounting_and_a_drifting_own_heading():
    session = simulate("smoke", seed=11, loss_rate=0.0)
    headings = {}
    for location in ("thoracic", "lumbar"):
        info = session.sensors[location]
        mounting = np.array(info["mounting"])
        # the mounting error is real: tens of degrees of yaw, a few of tilt
        assert 10.0 <= Q.angle_between(mounting, anatomy.NOMINAL_SENSOR_IN_SEGMENT) <= 45.0
        sent = session.sensor_samples(location)
        segment = _segment_in_e(session, location, sent["t"])
        # back to E with the sensor's own heading; the noise is a few tenths of a degree
        psi = info["heading_offset_deg"] + info["heading_drift_deg_per_min"] * sent["t"] / 60.0
        in_e = Q.multiply(anatomy.heading_quat(psi), Q.multiply(anatomy.SENSOR_EARTH_TO_E, sent["quat"]))
        error = Q.angle_between(in_e, Q.multiply(segment, mounting))
        assert np.sqrt(np.mean(error**2)) < 0.6 and error.max() < 2.0
        # without knowing it, the heading offset shows and drifts at the stated rate
        seen = anatomy.heading_deg(Q.multiply(
            Q.multiply(anatomy.SENSOR_EARTH_TO_E, sent["quat"]), Q.conjugate(mounting)))
        offset = (anatomy.heading_deg(segment) - seen + 180.0) % 360.0 - 180.0
        offset = np.degrees(np.unwrap(np.radians(offset)))
        slope = np.polyfit(sent["t"] / 60.0, offset, 1)[0]
        assert slope == pytest.approx(info["heading_drift_deg_per_min"], abs=0.3)
        assert 0.5 <= abs(info["heading_drift_deg_per_min"]) <= 3.0
        headings[location] = info["heading_offset_deg"]
    assert headings["thoracic"] != headings["lumbar"]


def _segment_in_e(session, location, t):
    """The truth's segment orientation (100 Hz grid) interpolated to the sample times."""
    grid, quats = session.truth.t, session.truth.quats[location]
    k = np.clip(np.searchsorted(grid, t) - 1, 0, len(grid) - 2)
    return Q.nlerp(quats[k], quats[k + 1], (t - grid[k]) / (grid[k + 1] - grid[k]))


def test_switches_turn_mounting_error_and_heading_drift_off():
    session = simulate("smoke", seed=11, mounting_error=False, heading_drift=False)
    for info in session.sensors.values():
        np.testing.assert_allclose(info["mounting"], anatomy.NOMINAL_SENSOR_IN_SEGMENT)
        assert info["heading_drift_deg_per_min"] == 0.0


def test_still_sensor_acc_reads_one_g_up_in_the_decoded_frames(smoke):
    block, _, _ = _decode(smoke, "thoracic")
    sent = smoke.sensor_samples("thoracic")
    start, end, _ = next(p for p in smoke.truth.phases if p[2] == "calibrate_neutral")
    still = (sent["t"] > start + 1.0) & (sent["t"] < end)
    q_true = smoke.true_sensor_orientation("thoracic", sent["t"][still])
    up = Q.rotate(Q.conjugate(q_true), anatomy.UP)
    bias = np.array(smoke.sensors["thoracic"]["acc_bias_g"])
    np.testing.assert_allclose(block.acc[still].mean(axis=0) - bias, up.mean(axis=0), atol=0.003)
    np.testing.assert_allclose(np.linalg.norm(block.acc[still], axis=1), 1.0, atol=0.04)


def test_batch_encoder_matches_encode_samples_byte_for_byte(smoke):
    for location in ("thoracic", "lumbar"):
        info = smoke.sensors[location]
        chunk = next(smoke.frame_chunks(location))
        delivered = [n.payload for n in smoke.notifications if n.sensor == location]
        assert [p for p, lost in zip(chunk.payloads, chunk.lost) if not lost] == delivered[:int((~chunk.lost).sum())]
        spf = info["samples_per_frame"]
        for j in range(0, len(chunk.payloads), 7):
            rows = slice(j * spf, (j + 1) * spf)
            payload = chunk.payloads[j]
            expected = imu_fw.encode_samples(
                int(chunk.frame_seq[j]), int(chunk.device_us[j * spf]), info["dt_us"],
                None if chunk.quat is None else chunk.quat[rows], chunk.acc[rows], chunk.gyro[rows],
                battery_pct=payload[11], flags=payload[1])
            assert payload == expected


def test_truth_sidecar_round_trip(tmp_path, smoke):
    path = tmp_path / "session.truth.npz"
    smoke.truth.save(path)
    loaded = Truth.load(path)
    np.testing.assert_array_equal(loaded.t, smoke.truth.t)
    assert loaded.angles.keys() == smoke.truth.angles.keys()
    np.testing.assert_array_equal(loaded.quats["sacral"], smoke.truth.quats["sacral"])
    assert loaded.phases == smoke.truth.phases and loaded.episodes == smoke.truth.episodes
    assert loaded.metadata["sensors"]["thoracic"]["clock_offset_s"] == smoke.sensors["thoracic"]["clock_offset_s"]
    bad = tmp_path / "other.npz"
    np.savez(bad, x=np.zeros(3))
    with pytest.raises(ValueError, match="not a simulated-wearer truth file"):
        Truth.load(bad)


def test_interchange_csv_long_format(tmp_path, smoke):
    path = tmp_path / "session.csv"
    to_interchange_csv(smoke, path)
    table = pd.read_csv(path)
    assert list(table.columns) == ["time_s", "sensor", "qw", "qx", "qy", "qz", "ax", "ay", "az",
                                   "gx", "gy", "gz", "label"]
    assert np.all(np.diff(table["time_s"]) >= 0)
    for location, info in smoke.sensors.items():
        rows = table[table["sensor"] == location]
        assert len(rows) == (info["frames_sent"] - info["frames_lost"]) * info["samples_per_frame"]
        assert rows[["qw", "qx", "qy", "qz"]].isna().all().all() == info["raw_only"]
    assert set(table["label"]) >= {"calibrate_neutral", "calibrate_bend", "sit", "slouch", "walk"}
    thoracic = table[table["sensor"] == "thoracic"]
    np.testing.assert_allclose(thoracic["time_s"], smoke.sensor_samples("thoracic")["t"], atol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    ({"scenario": "office"}, "unknown scenario 'office'"),
    ({"duration_s": -5.0}, "duration must be a positive"),
    ({"scenario": "desk", "duration_s": 50.0}, "needs at least"),
    ({"rates_hz": {"neck": 100.0}}, "unknown location 'neck'"),
    ({"rates_hz": {"thoracic": 5.0}}, "sample rate for thoracic"),
    ({"raw_only": {"sacral"}}, "raw_only names sensors not worn"),
    ({"loss_rate": 0.7}, "loss_rate must be within"),
    ({"seed": -1}, "seed must be a non-negative integer"),
])
def test_bad_arguments_give_one_clear_error(kwargs, message):
    kwargs = {"scenario": "smoke", **kwargs}
    with pytest.raises(ValueError, match=message):
        simulate(**kwargs)


def test_scenarios_are_described():
    assert {"desk", "desk_sacral", "smoke"} <= set(SCENARIOS)
    assert all(isinstance(text, str) and text for text in SCENARIOS.values())
