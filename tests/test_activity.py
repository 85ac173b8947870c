"""Activity context: still / walking / running segmentation, streaming labels, sensor issues."""

import numpy as np
import pytest

from imu.core.activity import (RUNNING, STILL, WALKING, ActivityTracker, detect_sensor_issues,
                               segment_activities)
from imu.core.stability import analyze_stability

RATE = 100.0


def _synthetic(seed=0):
    """60 s still, 60 s walking (1.9 Hz), 60 s running (2.8 Hz), 40 s still."""
    rng = np.random.default_rng(seed)
    t = np.arange(0, 220, 1 / RATE)
    step_hz = np.where(t < 120, 1.9, 2.8)
    amp = np.select([t < 60, t < 120, t < 180], [0.0, 2.0, 4.0], 0.0)
    phase = 2 * np.pi * np.cumsum(step_hz) / RATE
    sway = 0.2 * np.sin(2 * np.pi * 0.1 * t)
    lean = np.where((t >= 120) & (t < 180), 8.0, 0.0)
    angles = {
        "lumbar_inclination": amp * np.sin(phase) + sway + rng.normal(0, 0.1, len(t)),
        "trunk_inclination": amp * np.sin(phase + 0.5) + sway + lean + rng.normal(0, 0.1, len(t)),
        "trunk_lateral_inclination": amp * np.sin(phase / 2) + rng.normal(0, 0.1, len(t)),
        "thoracic_flexion": 0.5 * amp * np.sin(phase) + rng.normal(0, 0.1, len(t)),
        "thoracic_lateral_bend": 0.5 * amp * np.sin(phase / 2) + rng.normal(0, 0.1, len(t)),
    }
    return t, angles


def test_synthetic_segments_within_two_seconds():
    t, angles = _synthetic()
    res = segment_activities(t, angles, neutral_posture="standing")
    kinds = [s.kind for s in res.segments]
    assert kinds == ["standing", WALKING, RUNNING, "standing"]
    walk, run = res.segments[1], res.segments[2]
    assert walk.start_s == pytest.approx(60, abs=2) and walk.end_s == pytest.approx(120, abs=2)
    assert run.end_s == pytest.approx(180, abs=2)
    assert walk.cadence_spm == pytest.approx(114, rel=0.03) and run.cadence_spm == pytest.approx(168, rel=0.03)


def test_streaming_labels_are_causal_and_chunk_independent():
    t, angles = _synthetic()
    whole = ActivityTracker(RATE).update(angles)
    tracker = ActivityTracker(RATE)
    parts, start = [], 0
    for size in np.random.default_rng(3).integers(1, 700, 200):
        stop = min(len(t), start + int(size))
        parts.append(tracker.update({k: v[start:stop] for k, v in angles.items()}))
        start = stop
        if start >= len(t):
            break
    chunked = np.concatenate(parts)
    assert (chunked == whole).all()
    # walking is recognised within a window after it starts, running likewise
    assert whole[int(66 * RATE)] == WALKING and whole[int(100 * RATE)] == WALKING
    assert whole[int(130 * RATE)] == RUNNING and whole[int(30 * RATE)] == STILL


def test_a_slipped_sensor_is_found_and_its_span_is_invalid():
    t, angles = _synthetic()
    slip = t >= 150.0  # the thoracic sensor slides 12 deg on the skin at 150 s
    angles["thoracic_flexion"] = angles["thoracic_flexion"] + np.where(slip, 12.0, 0.0)
    angles["trunk_inclination"] = angles["trunk_inclination"] + np.where(slip, 12.0, 0.0)
    issues, invalid = detect_sensor_issues(t, angles)
    assert len(issues) == 1
    assert issues[0].sensor == "thoracic" and issues[0].kind == "slipped"
    assert issues[0].start_s == pytest.approx(150.0, abs=0.5)
    assert invalid[t > 151].all() and not invalid[t < 149].any()
    result = analyze_stability(t, angles)
    assert result.invalid[t > 151].all()
    assert any("slipped" in n for n in result.notes)


def test_a_sensor_that_stops_moving_with_the_others_is_found():
    t, angles = _synthetic()
    off = (t >= 80) & (t < 110)  # the lumbar sensor lies still while the wearer walks on
    for name in ("lumbar_inclination",):
        angles[name] = np.where(off, 3.0, angles[name])
    angles["lumbar_lateral_inclination"] = np.where(off, 1.0, angles["trunk_lateral_inclination"])
    issues, invalid = detect_sensor_issues(t, angles)
    stopped = [i for i in issues if i.kind == "stopped"]
    assert stopped and stopped[0].sensor == "lumbar"
    assert stopped[0].start_s == pytest.approx(80, abs=3) and stopped[0].end_s == pytest.approx(110, abs=3)
    assert invalid[(t > 83) & (t < 107)].all()


def test_walking_and_running_boundaries_on_the_pipeline(run_session):
    result, truth, _ = run_session
    found = [s for s in result.activity.segments if s.kind in (WALKING, RUNNING)]
    assert [s.kind for s in found] == [a["kind"] for a in truth["activities"]]
    for seg, true in zip(found, truth["activities"]):
        assert seg.start_s == pytest.approx(true["start_s"], abs=5.0)
        assert seg.end_s == pytest.approx(true["end_s"], abs=5.0)


@pytest.fixture(scope="module")
def run_session(tmp_path_factory):
    from imu.validate import Case
    from imu.validate_stability import simulate_and_analyze

    return simulate_and_analyze(Case("run", "run_drift", 2), tmp_path_factory.mktemp("run"))
