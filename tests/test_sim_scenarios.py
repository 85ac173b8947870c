"""Scenarios: phases as promised, and true slouch episodes that agree with them."""

import numpy as np
import pytest

from imu.profile import Thresholds
from imu.sim import simulate_truth
from imu.sim.scenarios import PHASE_LABELS

TH = Thresholds()


def _overlap(a_start, a_end, b_start, b_end) -> float:
    return max(0.0, min(a_end, b_end) - max(a_start, b_start))


def _phases(truth, label):
    return [(s, e) for s, e, name in truth.phases if name == label]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_desk_episodes_agree_with_the_slouch_phases(seed):
    truth = simulate_truth("desk", seed=seed)
    flex = truth.angles["thoracic_flexion"]
    assert truth.t[-1] == pytest.approx(20 * 60.0, abs=0.01)
    assert {name for _, _, name in truth.phases} <= set(PHASE_LABELS)
    slouches = _phases(truth, "slouch")
    # every slouch phase held above the entry threshold for 5 s or more is an episode
    for start, end in slouches:
        held = (truth.t >= start) & (truth.t < end) & (flex >= TH.slouch_enter_deg)
        if held.sum() / 100.0 >= TH.slouch_min_duration_s:
            assert any(_overlap(start, end, e["start_s"], e["end_s"]) > 0.8 * (end - start)
                       for e in truth.episodes), (start, end)
    # and every episode is one of them: leans, reaches and short slouches never count
    for episode in truth.episodes:
        assert any(_overlap(s, e, episode["start_s"], episode["end_s"]) > 0 for s, e in slouches)
        for label in ("short_slouch", "lean", "reach", "calibrate_bend", "walk"):
            for s, e in _phases(truth, label):
                assert _overlap(s, e, episode["start_s"], episode["end_s"]) == 0, label
        assert episode["end_s"] - episode["start_s"] >= TH.slouch_min_duration_s
        assert episode["peak_deg"] >= 20.0
    durations = [e["end_s"] - e["start_s"] for e in truth.episodes]
    assert len(durations) >= 5
    assert sum(d > TH.alert_after_s for d in durations) >= 2
    assert max(durations) > TH.alert_after_s + TH.alert_repeat_s  # long enough to alert twice
    counts = {label: len(_phases(truth, label)) for label in PHASE_LABELS}
    assert counts["short_slouch"] >= 3 and counts["lean"] >= 3 and counts["reach"] >= 2
    assert counts["walk"] >= 1 and counts["calibrate_bend"] == 1 and counts["calibrate_neutral"] == 2
    assert truth.phases[1][2] == "calibrate_neutral"


def test_short_slouches_cross_the_entry_threshold_but_stay_short():
    truth = simulate_truth("desk", seed=5)
    flex = truth.angles["thoracic_flexion"]
    for start, end in _phases(truth, "short_slouch"):
        inside = (truth.t >= start) & (truth.t <= end + 2.0)
        assert flex[inside].max() >= TH.slouch_enter_deg
        above_exit = inside & (flex >= TH.slouch_exit_deg)
        assert above_exit.sum() / 100.0 < TH.slouch_min_duration_s


def test_leans_tilt_the_trunk_with_a_neutral_spine():
    truth = simulate_truth("desk", seed=6)
    for start, end in _phases(truth, "lean"):
        hold = (truth.t > start + 2.5) & (truth.t < end)
        if not hold.any():
            continue
        assert truth.angles["trunk_inclination"][hold].mean() > 18.0
        assert np.abs(truth.angles["thoracic_flexion"][hold]).max() < 5.0
        assert np.abs(truth.angles["lumbar_flexion"][hold]).max() < 5.0


def test_calibration_is_still_then_bends_to_40_to_60_degrees():
    truth = simulate_truth("smoke", seed=4)
    for start, end in _phases(truth, "calibrate_neutral"):
        still = (truth.t >= start + 1.0) & (truth.t < end)
        for name in ("trunk_inclination", "thoracic_flexion", "lumbar_inclination"):
            assert np.ptp(truth.angles[name][still]) < 1.0
            assert np.abs(truth.angles[name][still]).max() < 1.0
    (start, end), = _phases(truth, "calibrate_bend")
    bend = truth.angles["trunk_inclination"][(truth.t >= start) & (truth.t < end)]
    assert 38.0 < bend.max() < 62.0
    # three separate bends back to neutral
    deep = bend > 25.0
    assert np.sum(np.diff(deep.astype(int)) == 1) == 3
    assert truth.angles["lumbar_inclination"][(truth.t >= start) & (truth.t < end)].max() > 25.0


def test_walking_and_running_in_the_activity_scenario():
    truth = simulate_truth("activity", seed=3)
    (run_start, run_end), = _phases(truth, "run")
    run = (truth.t > run_start + 5) & (truth.t < run_end - 5)
    assert truth.angles["trunk_inclination"][run].mean() == pytest.approx(8.0, abs=2.0)
    walk = _phases(truth, "walk")
    assert len(walk) == 2
    start, end = walk[0]
    w = (truth.t > start + 5) & (truth.t < end - 5)
    # lateral bend and axial rotation oscillate at the stride rate (half the step rate)
    lat = truth.angles["lumbar_lateral_bend"][w]
    freqs = np.fft.rfftfreq(len(lat), 0.01)
    peak = freqs[np.argmax(np.abs(np.fft.rfft(lat - lat.mean())))]
    assert 0.85 <= peak <= 1.05
    assert 2.0 < np.ptp(lat) < 15.0
    assert np.ptp(truth.angles["thoracic_axial_rotation"][w]) > 3.0


def test_same_seed_same_truth_and_seeds_change_the_timings():
    a, b, c = simulate_truth("desk", seed=9), simulate_truth("desk", seed=9), simulate_truth("desk", seed=10)
    assert a.phases == b.phases and a.episodes == b.episodes
    np.testing.assert_array_equal(a.quats["thoracic"], b.quats["thoracic"])
    assert a.phases != c.phases


def test_duration_scales_the_working_part():
    short = simulate_truth("desk", duration_s=300.0, seed=1)
    long = simulate_truth("desk", duration_s=3600.0, seed=1)
    assert short.t[-1] == pytest.approx(300.0, abs=0.01) and long.t[-1] == pytest.approx(3600.0, abs=0.01)
    assert [p[2] for p in short.phases[:4]] == [p[2] for p in long.phases[:4]]  # same calibration
    assert len(_phases(long, "slouch")) >= 3 * len(_phases(short, "slouch")) > 0
