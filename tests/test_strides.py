"""Steps, cadence and autocorrelation regularity on synthetic gait signals."""

import numpy as np
import pytest

from imu.core.strides import detect_steps, per_stride, step_period, unbiased_autocorrelation

RATE = 100.0


def _gait(step_hz, seconds=30.0, asym=0.0, seed=0):
    t = np.arange(0, seconds, 1 / RATE)
    phase = 2 * np.pi * step_hz * t
    rng = np.random.default_rng(seed)
    x = 2.0 * np.sin(phase) + asym * np.sin(phase / 2) + rng.normal(0, 0.1, len(t))
    return t, x


@pytest.mark.parametrize("step_hz", [1.6, 1.9, 2.7, 3.1])
def test_cadence_within_one_percent(step_hz):
    t, x = _gait(step_hz)
    steps = detect_steps(t, x, RATE)
    assert steps.cadence_spm == pytest.approx(60 * step_hz, rel=0.01)
    assert len(steps.t) == pytest.approx(30 * step_hz, abs=2)
    assert len(steps.strides()) == pytest.approx(15 * step_hz, abs=2)


def test_symmetric_gait_is_regular_and_asymmetry_lowers_step_regularity():
    t, x = _gait(1.9)
    sym = detect_steps(t, x, RATE)
    assert sym.step_regularity > 0.9 and sym.symmetry == pytest.approx(1.0, abs=0.05)
    t, x = _gait(1.9, asym=1.5)
    asym = detect_steps(t, x, RATE)
    assert asym.step_regularity < sym.step_regularity - 0.2
    assert asym.symmetry < 0.8


def test_noise_has_no_rhythm():
    x = np.random.default_rng(1).normal(0, 1, 3000)
    period, ad1, _ = step_period(x, RATE)
    assert not np.isfinite(period) or ad1 < 0.3


def test_autocorrelation_starts_at_one_and_per_stride_ranges():
    x = np.sin(np.arange(500) / 10)
    ac = unbiased_autocorrelation(x, 100)
    assert ac[0] == pytest.approx(1.0)
    t = np.arange(0, 10, 0.01)
    y = 3 * np.sin(2 * np.pi * t) + 5
    s = per_stride(t, y, np.array([[1.0, 2.0], [2.0, 3.0]]))
    assert s["range"] == pytest.approx([6.0, 6.0], abs=0.05)
    assert s["mean"] == pytest.approx([5.0, 5.0], abs=0.05)
