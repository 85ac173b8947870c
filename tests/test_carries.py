"""Carries on the real pipeline output: breakdowns flagged with their moment, steady
carries never; comparison with the wearer's unloaded walking."""

import numpy as np
import pytest

from imu.validate import Case
from imu.validate_stability import simulate_and_analyze

KINDS = ("carry_farmer", "carry_suitcase_left", "carry_suitcase_right", "carry_front")


@pytest.fixture(scope="module")
def breaking(tmp_path_factory):
    return simulate_and_analyze(Case("b", "carries_breakdown", 1), tmp_path_factory.mktemp("b"))


@pytest.fixture(scope="module")
def steady(tmp_path_factory):
    return simulate_and_analyze(Case("s", "carries", 1), tmp_path_factory.mktemp("s"))


def test_every_breaking_down_carry_is_flagged_within_ten_seconds(breaking):
    result, truth, _ = breaking
    assert [c.kind for c in result.carries] == list(KINDS)
    for carry, true in zip(result.carries, truth["carries"]):
        assert carry.breakdown, carry.kind
        assert carry.breakdown_at_s == pytest.approx(true["breakdown_at_s"], abs=10.0)
        assert carry.grade == "poor" and carry.reasons[0].startswith("breakdown")
    front = result.carries[3]
    assert "sagittal" in front.breakdown_reason and front.flexion_drift_deg < -5.0


def test_no_steady_carry_is_flagged_and_walking_is_the_baseline(steady):
    result, _, _ = steady
    assert [c.kind for c in result.carries] == list(KINDS)
    assert result.walking is not None and result.walking.strides >= 20
    for carry in result.carries:
        assert not carry.breakdown, (carry.kind, carry.breakdown_reason)
        assert carry.vs_walking is not None and carry.grade in ("good", "fair")
    left, right = result.carries[1], result.carries[2]
    # suitcase: the trunk leans away from the load
    assert left.lateral_bend_mean_deg > 2.0 and right.lateral_bend_mean_deg < -2.0
    assert left.vs_walking["lateral_bend_shift_deg"] > 2.0


def test_a_farmer_carry_that_folds_forward_is_not_good():
    """Steady side to side, but the trunk flexes 30 deg over the carry: never graded good."""
    from imu.core.carries import carry_metrics

    rate = 100.0
    t = np.arange(0, 120, 1 / rate)
    phase = 2 * np.pi * 1.9 * t
    rng = np.random.default_rng(5)
    fold = np.clip((t - 20) / 80, 0, 1) * 30.0
    angles = {
        "lumbar_inclination": 2 * np.sin(phase) + rng.normal(0, 0.1, len(t)),
        "trunk_inclination": 2 * np.sin(phase + 0.5) + fold + rng.normal(0, 0.1, len(t)),
        "trunk_lateral_inclination": 2 * np.sin(phase / 2) + rng.normal(0, 0.1, len(t)),
        "thoracic_axial_rotation": 3 * np.sin(phase / 2) + rng.normal(0, 0.1, len(t)),
    }
    m = carry_metrics(t, angles, "carry_farmer", 10.0, 110.0)
    assert m is not None and not m.breakdown
    assert m.flexion_drift_deg > 20
    assert m.grade != "good" and any("trunk flexion drifted" in r for r in m.reasons)
