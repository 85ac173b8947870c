"""Carries on the real pipeline output: breakdowns flagged with their moment, steady
carries never; comparison with the wearer's unloaded walking."""

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
