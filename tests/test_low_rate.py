"""Sensors from 5 Hz up: bridged between their own samples, never across a real gap."""

from __future__ import annotations

import numpy as np
import pytest

from imu import anatomy
from imu import quat as Q
from imu.analysis import _new_pipeline, _steps, open_source
from imu.core.gait import too_slow_notes
from imu.core.grid import GridResampler
from imu.samples import TimedSamples
from imu.sim import simulate, to_interchange_csv


def _timed(t, angle_deg):
    t = np.asarray(t, float)
    return TimedSamples(t, Q.from_axis_angle([0, 0, 1], np.broadcast_to(angle_deg, t.shape)))


@pytest.mark.parametrize("rate", [5.0, 10.0])
def test_low_rate_sensor_is_interpolated_between_its_samples_but_not_across_a_gap(rate):
    rng = np.random.default_rng(0)
    t = np.arange(0, 60, 1 / rate) + rng.normal(0, 0.1 / rate, int(60 * rate))  # 10 % jitter
    lost = (t > 20) & (t < 22)  # two seconds lost: 10-20 samples
    one = np.argmin(np.abs(t - 40))  # a single lost sample is bridged
    keep = ~lost
    keep[one] = False
    grid = GridResampler(["thoracic"], 100.0, max_gap_s=0.1, gap_periods=3.0)
    grid.push("thoracic", _timed(t[keep], t[keep] * 2))
    frame = grid.pull(final=True)
    missing = np.isnan(frame.quat["thoracic"][:, 0])
    inside = (frame.t > t[keep][0]) & (frame.t < t[keep][-1])
    gap = (frame.t > t[~lost & (t < 20)][-1]) & (frame.t < t[~lost & (t > 22)][0])
    assert missing[gap].all()
    assert not missing[inside & ~gap].any()
    angle = np.degrees(2 * np.arctan2(frame.quat["thoracic"][~missing, 3], frame.quat["thoracic"][~missing, 0]))
    np.testing.assert_allclose(angle, frame.t[~missing] * 2, atol=1e-6)
    assert grid.sample_rate_hz("thoracic") == pytest.approx(rate, rel=0.05)


def test_without_periods_the_old_fixed_limit_holds():
    t = np.arange(0, 10, 0.2)
    grid = GridResampler(["thoracic"], 100.0, max_gap_s=0.1)
    grid.push("thoracic", _timed(t, 0))
    frame = grid.pull(final=True)
    assert np.isnan(frame.quat["thoracic"][:, 0]).mean() > 0.9


def test_low_rate_chunked_equals_whole():
    rng = np.random.default_rng(2)
    t1 = np.cumsum(rng.uniform(0.15, 0.25, 300))  # about 5 Hz, irregular
    t1 = np.delete(t1, np.arange(100, 110))  # and a real gap
    t2 = np.arange(0, t1[-1], 0.1)
    whole = GridResampler(["a", "b"], 100.0, 0.1, 3.0)
    whole.push("a", _timed(t1, t1))
    whole.push("b", _timed(t2, -t2))
    ref = whole.pull(final=True)
    parts = GridResampler(["a", "b"], 100.0, 0.1, 3.0)
    frames = []
    for lo in np.arange(0, t1[-1] + 1, 0.3):
        m1, m2 = (t1 >= lo) & (t1 < lo + 0.3), (t2 >= lo) & (t2 < lo + 0.3)
        parts.push("a", _timed(t1[m1], t1[m1]))
        parts.push("b", _timed(t2[m2], -t2[m2]))
        frames.append(parts.pull())
    frames.append(parts.pull(final=True))
    np.testing.assert_array_equal(np.concatenate([f.t for f in frames]), ref.t)
    np.testing.assert_allclose(np.concatenate([f.quat["a"] for f in frames]), ref.quat["a"], atol=1e-12)
    assert np.isnan(ref.quat["a"][:, 0]).sum() > 100  # the gap stayed a gap


def test_too_slow_for_gait_is_said_plainly():
    notes = too_slow_notes({"lumbar": 5.0, "thoracic": 100.0, "sacral": None})
    assert len(notes) == 1 and "lumbar" in notes[0] and "5 samples/s" in notes[0] and "cadence" in notes[0]


@pytest.fixture(scope="module")
def desk():
    return simulate("desk", 420, seed=3, rates_hz={"thoracic": 100, "lumbar": 100})


@pytest.mark.parametrize("rate, jitter", [(5, 0.0), (10, 0.0), (10, 0.01)])
def test_simulated_low_rate_session_keeps_its_orientation_on_the_grid(desk, tmp_path, rate, jitter):
    """Reproduces issue 8: with the fixed 0.1 s limit a 5 Hz session had no grid orientation
    at all, a 10 Hz one stamped with host receive times (+-10 ms) lost about half of it."""
    path = tmp_path / f"desk{rate}.csv"
    to_interchange_csv(desk, path, rates_hz={"thoracic": rate, "lumbar": rate}, time_jitter_s=jitter)
    source = open_source(path)
    assert source.sensors["lumbar"]["rate_hz"] == pytest.approx(rate, rel=0.02)
    pipeline = _new_pipeline(source, None)
    t, quat = [], []
    for out in _steps(source, pipeline):
        t.append(out.t)
        quat.append(out.grid.quat["thoracic"])
    t, quat = np.concatenate(t), np.concatenate(quat)
    valid = np.isfinite(quat).all(axis=1)
    assert valid.mean() >= 0.98
    # what was bridged follows the truth: the sensor's tilt (gravity in its frame) vs truth
    truth = desk.true_sensor_orientation("thoracic", t[valid])
    up = [0.0, 0.0, 1.0]
    measured_up = Q.rotate(Q.conjugate(quat[valid]), up)
    true_up = Q.rotate(Q.conjugate(truth), anatomy.UP)  # E is y up
    error = np.degrees(np.arccos(np.clip((measured_up * true_up).sum(axis=1), -1, 1)))
    assert np.percentile(error, 95) < 1.5  # desk motions are slow next to 0.1-0.2 s
    assert sum("cadence" in n for n in source.notes) == (2 if rate < 15 else 0)


def test_raw_only_sensor_at_5_hz_is_oriented_by_the_ahrs(desk, tmp_path):
    """A slow raw-only sensor: the AHRS integrates 0.2 s steps of the period-averaged rate."""
    path = tmp_path / "raw5.csv"
    to_interchange_csv(desk, path, rates_hz={"lumbar": 5}, raw_only={"lumbar"})
    source = open_source(path)
    pipeline = _new_pipeline(source, None)
    t, quat = [], []
    for out in _steps(source, pipeline):
        t.append(out.t)
        quat.append(out.grid.quat["lumbar"])
    t, quat = np.concatenate(t), np.concatenate(quat)
    valid = np.isfinite(quat).all(axis=1)
    assert valid.mean() >= 0.98
    truth = desk.true_sensor_orientation("lumbar", t[valid])
    measured_up = Q.rotate(Q.conjugate(quat[valid]), [0.0, 0.0, 1.0])
    true_up = Q.rotate(Q.conjugate(truth), anatomy.UP)
    error = np.degrees(np.arccos(np.clip((measured_up * true_up).sum(axis=1), -1, 1)))
    assert np.percentile(error, 95) < 2.0 and np.percentile(error[t[valid] < 3], 95) < 1.5
