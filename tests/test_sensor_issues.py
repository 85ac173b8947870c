"""Slip and stop detection that a posture change cannot trigger (issue 8 item 8).

A slouch, a side bend or a rotation that comes back is not a slip; a sensor whose
acceleration still shows the body's gait has not stopped. A real slip (the sensor's mounting
on the skin jumps and stays) is still found, through the whole pipeline.
"""

from pathlib import Path

import numpy as np
import pytest

from imu import quat as Q
from imu.analysis import analyze, open_source
from imu.core.activity import detect_sensor_issues
from imu.core.stability import AccCollector, stability_from_analysis
from imu.sim import simulate
from imu.sim.wearer import Wearer
from imu.sim.write import write_simulated_session

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings"


def _analyse(sim, path):
    write_simulated_session(sim, path, sim.scenario, sim.seed)
    collector = AccCollector()
    analysis = analyze(open_source(path), on_step=collector)
    return analysis, stability_from_analysis(analysis, collector.acc)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The README demo: the 20-min desk scenario, seed 0, as `imu demo` streams it."""
    sim = simulate("desk", None, 0, loss_rate=0.0)
    return sim, _analyse(sim, tmp_path_factory.mktemp("demo") / "demo.imu")


def test_the_demo_session_has_no_slip_or_stop(demo):
    sim, (analysis, result) = demo
    assert result.sensor_issues == []
    assert not result.invalid.any()
    assert not any("slipped" in n or "stopped" in n for n in result.notes)
    # the slouches that used to be hidden behind the false slip are all there
    assert len(analysis.episodes) == len(sim.truth.episodes) == 6


def test_a_real_slip_through_the_pipeline_is_found(tmp_path, monkeypatch):
    """The thoracic sensor's mounting tips 20 deg about its medio-lateral axis at 400 s and stays."""
    slip_at, slip_deg = 400.0, 20.0
    original = Wearer.sensor_kinematics
    tip = Q.from_axis_angle(np.array([1.0, 0.0, 0.0]), np.array(slip_deg))

    def slipping(self, location, mounting, t):
        if location != "thoracic":
            return original(self, location, mounting, t)
        t = np.asarray(t, float)
        before = original(self, location, mounting, t)
        after = original(self, location, Q.multiply(mounting, tip), t)
        late = (t >= slip_at)[:, None]
        return tuple(np.where(late, b, a) for a, b in zip(before, after))

    monkeypatch.setattr(Wearer, "sensor_kinematics", slipping)
    sim = simulate("desk", 600.0, 0, loss_rate=0.0)
    analysis, result = _analyse(sim, tmp_path / "slip.imu")
    slips = [i for i in result.sensor_issues if i.kind == "slipped"]
    assert len(slips) == 1
    assert slips[0].sensor == "thoracic"
    assert slips[0].start_s == pytest.approx(slip_at, abs=1.0)
    assert 12.0 < slips[0].size_deg < slip_deg + 4.0  # part of the tip shows as lateral bend
    t = analysis.t
    assert result.invalid[t > slip_at + 1].all() and not result.invalid[t < slip_at - 1].any()


def test_the_shipped_desk_recording_has_no_sensor_issue():
    collector = AccCollector()
    analysis = analyze(open_source(RECORDINGS / "desk-sacral-5min.imu"), on_step=collector)
    result = stability_from_analysis(analysis, collector.acc)
    assert result.sensor_issues == []


def _seated(seconds=300.0, rate=50.0, seed=1):
    rng = np.random.default_rng(seed)
    t = np.arange(0, seconds, 1 / rate)
    noise = lambda: rng.normal(0, 0.1, len(t))  # noqa: E731
    return t, {name: noise() for name in (
        "thoracic_flexion", "thoracic_lateral_bend", "lumbar_flexion", "lumbar_lateral_bend",
        "trunk_inclination", "trunk_lateral_inclination", "lumbar_inclination",
        "lumbar_lateral_inclination")}


def _hold(t, start, end, size, ramp=0.15):
    """A posture reached within `ramp` s, held, and left within `ramp` s."""
    up = np.clip((t - start) / ramp, 0, 1)
    down = np.clip((end - t) / ramp, 0, 1)
    return size * np.minimum(up, down)


@pytest.mark.parametrize("names,size", [
    (("thoracic_flexion", "trunk_inclination"), 30.0),  # a quick slouch, slow return is not needed
    (("thoracic_lateral_bend", "trunk_lateral_inclination"), -25.0),  # a side bend
    (("lumbar_lateral_bend", "lumbar_lateral_inclination", "trunk_lateral_inclination"), 20.0),
])
def test_postures_that_come_back_are_not_slips(names, size):
    t, angles = _seated()
    for start, end in ((40, 95), (150, 260)):
        for name in names:
            angles[name] = angles[name] + _hold(t, start, end, size)
    issues, invalid = detect_sensor_issues(t, angles)
    assert issues == [] and not invalid.any()


def test_a_posture_that_comes_back_slowly_is_not_a_slip():
    t, angles = _seated()
    fast_in = _hold(t, 100, t[-1] + 1, 33.0, ramp=0.3)
    slow_out = np.where(t > 160, np.clip(33.0 * (1 - (t - 160) / 2.0), 0, None), fast_in)
    for name in ("thoracic_flexion", "trunk_inclination"):
        angles[name] = angles[name] + slow_out
    issues, _ = detect_sensor_issues(t, angles)
    assert issues == []


def test_a_step_that_stays_is_a_slip_of_the_sensor_whose_inclination_moved():
    t, angles = _seated()
    for name in ("thoracic_flexion", "lumbar_flexion"):  # the lumbar sensor tips: both joints see it
        sign = -1.0 if name == "thoracic_flexion" else 1.0
        angles[name] = angles[name] + sign * np.where(t >= 120, 15.0, 0.0)
    angles["lumbar_inclination"] = angles["lumbar_inclination"] + np.where(t >= 120, 15.0, 0.0)
    issues, invalid = detect_sensor_issues(t, angles)
    assert [(i.sensor, i.kind) for i in issues] == [("lumbar", "slipped")]
    assert issues[0].start_s == pytest.approx(120, abs=0.5)
    assert invalid[t > 121].all() and not invalid[t < 119].any()


def _walking_acc(t, hz=1.9):
    acc = np.zeros((len(t), 3))
    acc[:, 1] = 1.0 + 0.25 * np.sin(2 * np.pi * hz * t)
    acc[:, 0] = 0.1 * np.sin(np.pi * hz * t)
    return acc


def test_a_sensor_whose_acceleration_still_shows_gait_has_not_stopped():
    t = np.arange(0, 120, 0.01)
    walking = (t >= 30) & (t < 90)
    phase = 2 * np.pi * 1.9 * t
    rng = np.random.default_rng(2)
    angles = {
        "trunk_inclination": np.where(walking, 3 * np.sin(phase), 0) + rng.normal(0, 0.05, len(t)),
        "trunk_lateral_inclination": np.where(walking, 2 * np.sin(phase / 2), 0) + rng.normal(0, 0.05, len(t)),
        # a stiff lumbar belt: the inclination barely changes while walking
        "lumbar_inclination": rng.normal(0, 0.05, len(t)),
        "lumbar_lateral_inclination": rng.normal(0, 0.05, len(t)),
    }
    acc = {"lumbar": np.where(walking[:, None], _walking_acc(t), [0.0, 1.0, 0.0])}
    issues, _ = detect_sensor_issues(t, angles, acc=acc)
    assert issues == []
    # without the acceleration it is a sensor lying still while the wearer walks on
    issues, _ = detect_sensor_issues(t, angles)
    assert [(i.sensor, i.kind) for i in issues] == [("lumbar", "stopped")]


def test_a_still_pelvis_under_a_moving_trunk_has_not_stopped():
    """Seated side bends and reaches: the sacral / lumbar sensor rightly stays still."""
    t, angles = _seated()
    rng = np.random.default_rng(4)
    moving = (t > 50) & (t < 250)
    for name in ("trunk_inclination", "trunk_lateral_inclination", "thoracic_flexion"):
        angles[name] = angles[name] + np.where(moving, 15 * np.sin(2 * np.pi * 0.2 * t), 0) \
            + rng.normal(0, 0.5, len(t))
    issues, _ = detect_sensor_issues(t, angles)
    assert issues == []
