"""Endurance holds: time until form fails (pipeline output vs truth) and McGill's ratios."""

import numpy as np
import pytest

from imu.core.holds import endurance_ratios, hold_metrics
from imu.validate import Case
from imu.validate_stability import simulate_and_analyze


@pytest.fixture(scope="module")
def holds(tmp_path_factory):
    return simulate_and_analyze(Case("h", "holds", 2), tmp_path_factory.mktemp("h"))


def test_failure_times_within_two_seconds(holds):
    result, truth, _ = holds
    assert len(result.holds) == len(truth["holds"]) == 6
    for h, true in zip(result.holds, truth["holds"]):
        assert h.kind == true["kind"].removeprefix("hold_")
        assert h.failed
        assert h.time_to_failure_s == pytest.approx(true["time_to_failure_s"], abs=2.0), h.kind
    assert result.endurance["complete_set"]
    assert {c["ratio"] for c in result.endurance["checks"]} == {
        "flexor/extensor", "right side bridge/extensor", "left side bridge/extensor", "right/left side bridge"}


def _hold(fail_at=None, seconds=40.0):
    t = np.arange(0, seconds, 0.01)
    x = 80.0 + 0.3 * np.sin(t)
    if fail_at is not None:
        x = x + np.where(t > fail_at, 14.0, 0.0)
    return t, {"trunk_inclination": x, "lumbar_inclination": x - 5}


def test_failure_needs_a_second_beyond_ten_degrees():
    t, a = _hold(fail_at=25.0)
    m = hold_metrics(t, a, "plank", 0.0, 40.0)
    assert m.failed and m.time_to_failure_s == pytest.approx(25.0, abs=0.05)
    t, a = _hold()
    a["trunk_inclination"][(t > 20) & (t < 20.5)] += 15.0  # a half-second twitch is not a failure
    m = hold_metrics(t, a, "hold_plank", 0.0, 40.0)
    assert not m.failed and m.endurance_s == pytest.approx(40.0)
    assert hold_metrics(t, a, "not_a_hold", 0.0, 40.0) is None


def test_mcgill_ratios_and_targets():
    class H:
        def __init__(self, kind, s):
            self.kind, self.endurance_s = kind, s
    r = endurance_ratios([H("flexor", 140), H("extensor", 150), H("side_bridge_right", 95),
                          H("side_bridge_left", 100)])
    assert r["flexor_extensor"] == pytest.approx(140 / 150)
    assert r["right_left"] == pytest.approx(0.95)
    checks = {c["ratio"]: c["ok"] for c in r["checks"]}
    assert checks["flexor/extensor"] and checks["right side bridge/extensor"] is True
    assert checks["right/left side bridge"]  # 0.95 is within 0.05 of 1
    assert r["complete_set"]
