"""The simulated wearer's kinematics against first principles (no sensors, no radio)."""

import numpy as np
import pytest

from imu import anatomy
from imu import quat as Q
from imu.sim.scenarios import CHANNELS, Script, build_script
from imu.sim.wearer import Wearer, slouch_episodes, truth_angles


def _still_script(**targets) -> Script:
    row = np.zeros(len(CHANNELS))
    for name, value in targets.items():
        row[CHANNELS.index(name)] = value
    return Script("still", 10.0, np.array([0.0]), np.array([0.0]), row[None, :], ["sit"], False)


def _random_mounting(rng):
    return Q.normalize(Q.multiply(anatomy.NOMINAL_SENSOR_IN_SEGMENT, Q.normalize(rng.normal(size=4))))


@pytest.mark.parametrize("location", ["sacral", "lumbar", "thoracic"])
def test_still_sensor_reads_one_g_along_its_up_direction(location):
    rng = np.random.default_rng(0)
    wearer = Wearer(_still_script(pelvic_tilt=25.0, lumbar_flex=10.0, thoracic_lat=7.0,
                                  heading=40.0, sway=0.0), rng)
    mounting = _random_mounting(rng)
    t = np.linspace(1.0, 9.0, 50)
    q, gyro, force = wearer.sensor_kinematics(location, mounting, t)
    up_in_sensor = Q.rotate(Q.conjugate(q), anatomy.UP)
    np.testing.assert_allclose(force, up_in_sensor, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(force, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(gyro, 0.0, atol=1e-6)


def test_gyro_integrates_to_the_orientation_change():
    script = build_script("smoke", None, np.random.default_rng(4))
    wearer = Wearer(script, np.random.default_rng(5))
    start, end, _ = next(p for p in script.phases() if p[2] == "calibrate_bend")
    dt = 0.005
    t = np.arange(start, end, dt)
    mounting = _random_mounting(np.random.default_rng(6))
    q, gyro, _ = wearer.sensor_kinematics("thoracic", mounting, t)
    # integrate body rates with the midpoint rule: q_{k+1} = q_k * exp(w dt)
    w_mid = np.radians(0.5 * (gyro[1:] + gyro[:-1]))
    est = q[0]
    max_error = 0.0
    for k, w in enumerate(w_mid):
        angle = np.linalg.norm(w) * dt
        axis = w / np.linalg.norm(w) if angle > 0 else np.array([1.0, 0, 0])
        est = Q.normalize(Q.multiply(est, Q.from_axis_angle(axis, np.degrees(angle))))
        max_error = max(max_error, float(Q.angle_between(est, q[k + 1])))
    assert Q.angle_between(q[0], q).max() > 30.0  # the bends really move the sensor
    assert max_error < 0.1


def test_walking_bounce_shows_in_the_vertical_specific_force():
    script = build_script("activity", None, np.random.default_rng(1))
    wearer = Wearer(script, np.random.default_rng(2))
    for label, low, high in (("walk", 1.8, 2.0), ("run", 2.7, 3.0)):
        start, end, _ = next(p for p in script.phases() if p[2] == label)
        t = np.arange(start + 5.0, start + 25.0, 0.01)
        q, _, force = wearer.sensor_kinematics("lumbar", anatomy.NOMINAL_SENSOR_IN_SEGMENT, t)
        vertical = np.sum(Q.rotate(q, force) * anatomy.UP, axis=1)  # back in E, y component
        spectrum = np.abs(np.fft.rfft(vertical - vertical.mean()))
        freqs = np.fft.rfftfreq(len(t), 0.01)
        peak = freqs[np.argmax(spectrum)]
        assert low - 0.1 <= peak <= high + 0.1, (label, peak)
        assert 0.1 < np.std(vertical) < 1.5  # bounce of some tenths of g (running more)
        assert abs(np.mean(vertical) - 1.0) < 0.02  # on average gravity only


def test_truth_angles_decompose_the_commanded_joint_angles():
    script = build_script("smoke", None, np.random.default_rng(8))
    wearer = Wearer(script, np.random.default_rng(9))
    t = np.arange(0.0, script.duration_s, 0.05)
    commanded = wearer.angles(t)
    angles = truth_angles(wearer.segment_quats(t))
    for ours, theirs in (("thoracic_flexion", "thoracic_flex"), ("thoracic_lateral_bend", "thoracic_lat"),
                         ("thoracic_axial_rotation", "thoracic_rot"), ("lumbar_flexion", "lumbar_flex"),
                         ("lumbar_lateral_bend", "lumbar_lat"), ("lumbar_axial_rotation", "lumbar_rot")):
        np.testing.assert_allclose(angles[ours], commanded[theirs], atol=1e-6, err_msg=ours)
    # inclination removes the heading as a swing-twist split, not as the Cardan heading:
    # equal up to a tiny cross term of tilt and list
    np.testing.assert_allclose(angles["sacral_inclination"], commanded["pelvic_tilt"], atol=0.3)
    np.testing.assert_allclose(angles["sacral_lateral_inclination"], commanded["pelvic_list"], atol=0.3)
    # in the sagittal plane, inclinations add up along the chain
    lean = next(p for p in script.phases() if p[2] == "lean")
    mid = (t > lean[0] + 2.5) & (t < lean[1] - 0.5)
    expected = commanded["pelvic_tilt"] + commanded["lumbar_flex"] + commanded["thoracic_flex"]
    np.testing.assert_allclose(angles["trunk_inclination"][mid], expected[mid], atol=1.5)
    assert angles["trunk_inclination"][mid].min() > 18.0
    assert np.abs(angles["thoracic_flexion"][mid]).max() < 8.0


def test_slouch_episode_rule_hysteresis_and_minimum_duration():
    t = np.arange(0.0, 60.0, 0.01)
    x = np.zeros_like(t)
    x[(t >= 10) & (t < 20)] = 20.0  # a 10 s episode
    x[(t >= 20) & (t < 22)] = 10.0  # between exit and enter: still in the episode
    x[(t >= 30) & (t < 33)] = 25.0  # too short
    x[(t >= 40) & (t < 50)] = 14.0  # never reaches the entry threshold
    x[t >= 54.5] = 16.0  # open at the end, 5.5 s long
    episodes = slouch_episodes(t, x, 15.0, 8.0, 5.0)
    assert len(episodes) == 2
    first, last = episodes
    assert first["start_s"] == pytest.approx(9.99 + 0.0075, abs=0.01)
    assert first["end_s"] == pytest.approx(22.0, abs=0.011)
    assert first["peak_deg"] == 20.0
    assert last["start_s"] == pytest.approx(54.5, abs=0.011)
    assert last["end_s"] == pytest.approx(t[-1])
