"""Slouch episodes and alert moments on signals whose right answer is known exactly."""

import numpy as np
import pytest

from imu.core.posture import SlouchTracker
from imu.profile import Thresholds

RATE = 100.0


def plateau(t, start, end, level, ramp=1.0):
    """A trapezoid: 0 -> level over `ramp` s from start, back to 0 ending at end."""
    up = np.clip((t - start) / ramp, 0, 1)
    down = np.clip((end - t) / ramp, 0, 1)
    return level * np.minimum(up, down)


def run(signal, still=None, chunk=None, thresholds=None):
    t = np.arange(len(signal)) / RATE
    still = np.ones(len(t), bool) if still is None else still
    tracker = SlouchTracker(thresholds or Thresholds())
    events = []
    step = chunk or len(t)
    for i in range(0, len(t), step):
        events += tracker.update(t[i:i + step], signal[i:i + step], still[i:i + step])
    events += tracker.finish()
    return tracker, events


def test_episode_counts_after_min_duration_with_hysteresis():
    t = np.arange(0, 200, 1 / RATE)
    signal = plateau(t, 10, 100, 25.0) + plateau(t, 120, 123, 25.0)  # long + short slouch
    tracker, events = run(signal)
    assert len(tracker.episodes) == 1, "a 3-s slouch never counts"
    ep = tracker.episodes[0]
    # enters at 15 deg: 0.6 of the 1-s ramp; exits below 8 deg on the way down
    assert ep.start_s == pytest.approx(10.6, abs=0.011)
    assert ep.end_s == pytest.approx(100 - 8 / 25, abs=0.011)
    assert ep.peak_deg == pytest.approx(25.0)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "slouch_start" and kinds[-1] == "slouch_end"
    assert events[0]["t"] == pytest.approx(ep.start_s + 5.0, abs=0.011)


def test_alerts_first_after_30_s_then_every_60_s():
    t = np.arange(0, 300, 1 / RATE)
    signal = plateau(t, 10, 200, 30.0)
    tracker, _ = run(signal)
    start = tracker.episodes[0].start_s
    moments = [a.t - start for a in tracker.alerts]
    assert moments == pytest.approx([30.0, 90.0, 150.0], abs=0.011)
    assert tracker.alerts[0].reason.startswith("thoracic flexion 30 deg")


def test_alert_waits_for_stillness_and_repeat_counts_from_firing():
    t = np.arange(0, 200, 1 / RATE)
    signal = plateau(t, 10, 190, 30.0)
    still = ~((t > 35) & (t < 50))  # walking about when the first alert falls due
    tracker, _ = run(signal, still)
    start = tracker.episodes[0].start_s
    assert tracker.alerts[0].t == pytest.approx(50.0, abs=0.011)
    assert tracker.alerts[1].t - tracker.alerts[0].t == pytest.approx(60.0, abs=0.011)
    assert tracker.alerts[0].held_s == pytest.approx(50.0 - start, abs=0.011)


def test_between_exit_and_enter_keeps_state():
    t = np.arange(0, 60, 1 / RATE)
    signal = plateau(t, 5, 50, 20.0)
    signal[(t > 20) & (t < 30)] = 10.0  # dips between 8 and 15: still the same episode
    tracker, _ = run(signal)
    assert len(tracker.episodes) == 1


def test_unknown_samples_hold_the_state():
    t = np.arange(0, 80, 1 / RATE)
    signal = plateau(t, 5, 70, 20.0)
    signal[(t > 20) & (t < 25)] = np.nan  # a sensor gap inside the episode
    tracker, _ = run(signal)
    assert len(tracker.episodes) == 1
    assert tracker.episodes[0].end_s == pytest.approx(70 - 8 / 20, abs=0.011)


@pytest.mark.parametrize("chunk", [1, 4, 37, 1000])
def test_chunked_equals_whole(chunk):
    rng = np.random.default_rng(3)
    t = np.arange(0, 400, 1 / RATE)
    signal = (plateau(t, 10, 120, 22) + plateau(t, 200, 204, 30) + plateau(t, 250, 390, 18)
              + rng.normal(0, 0.5, len(t)))
    still = rng.random(len(t)) > 0.001
    whole, events_whole = run(signal, still)
    parts, events_parts = run(signal, still, chunk=chunk)
    assert events_parts == events_whole
    assert [(e.start_s, e.end_s, e.peak_deg) for e in parts.episodes] == \
        [(e.start_s, e.end_s, e.peak_deg) for e in whole.episodes]


def test_episode_open_at_end_is_closed_and_marked():
    t = np.arange(0, 40, 1 / RATE)
    tracker, events = run(plateau(t, 10, 100, 25.0))
    assert tracker.episodes[0].end_s == pytest.approx(t[-1])
    assert tracker.episodes[0].open_at_end
    assert events[-1]["event"] == "slouch_end" and events[-1]["open_at_end"]


def test_thresholds_come_from_the_profile():
    t = np.arange(0, 60, 1 / RATE)
    signal = plateau(t, 5, 50, 12.0)
    assert not run(signal)[0].episodes
    custom = Thresholds(slouch_enter_deg=10.0, slouch_exit_deg=5.0)
    assert len(run(signal, thresholds=custom)[0].episodes) == 1
