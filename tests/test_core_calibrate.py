"""Calibration and its quality gate on constructed wearers with known mounting errors."""

import numpy as np
import pytest

from imu import anatomy as A
from imu import quat as Q
from imu.core.angles import AngleComputer
from imu.core.calibrate import CalibrationError, calibrate
from imu.core.grid import GridFrame
from imu.profile import Thresholds

RATE = 100.0


def bumps(t, starts, width, amp):
    out = np.zeros_like(t)
    for s in starts:
        m = (t >= s) & (t < s + width)
        out[m] += amp * np.sin(np.pi * (t[m] - s) / width) ** 2
    return out


def wearer(t, hip, lumbar, thoracic, lateral=None, yaw=(25.0, -40.0), tilt=(8.0, -6.0),
           heading=(40.0, -70.0), drift_dpm=(2.0, -1.5), noise_deg=0.0, seed=0):
    """Sensor quaternions (sensor -> own z-up earth) of a trunk driven by joint angles."""
    rng = np.random.default_rng(seed)
    lateral = np.zeros_like(t) if lateral is None else lateral
    lumbar_seg = Q.multiply(A.joint_rotation(hip, lateral, 0), A.joint_rotation(lumbar, 0, 0))
    thoracic_seg = Q.multiply(lumbar_seg, A.joint_rotation(thoracic, 0, 0))
    out = {}
    for i, (loc, seg) in enumerate((("thoracic", thoracic_seg), ("lumbar", lumbar_seg))):
        error = Q.multiply(A.joint_rotation(0, tilt[i], 0), A.heading_quat(yaw[i]))
        mount = Q.multiply(A.NOMINAL_SENSOR_IN_SEGMENT, error)  # sensor axes in segment coords
        q_e = Q.multiply(A.heading_quat(heading[i] + drift_dpm[i] * t / 60), Q.multiply(seg, mount))
        if noise_deg:
            q_e = Q.multiply(q_e, Q.from_axis_angle(rng.normal(size=(len(t), 3)), rng.normal(0, noise_deg, len(t))))
        out[loc] = Q.multiply(Q.conjugate(A.SENSOR_EARTH_TO_E), q_e)
    return out


def test_good_calibration_recovers_axes_despite_mounting_and_heading_errors():
    t = np.arange(0, 60, 1 / RATE)
    hip = bumps(t, [8, 14, 20], 5, 30)
    lumbar = bumps(t, [8, 14, 20], 5, 15)
    thoracic = bumps(t, [8, 14, 20], 5, 10) + bumps(t, [35], 20, 25)
    quats = wearer(t, hip, lumbar, thoracic, noise_deg=0.2)
    cal = calibrate(t, quats, Thresholds())
    assert cal.report.ok and cal.report.quality == "good"
    # the stillest window of the first still stretch (0-8 s), up to neutral_window_s long
    assert 0 <= cal.report.neutral[0] and cal.report.neutral[1] < 8
    assert cal.report.neutral[1] - cal.report.neutral[0] >= 2.9
    assert len(cal.report.bends) == 3
    angles = AngleComputer(cal, Thresholds()).compute(GridFrame(t, quats, {}))
    after = t > cal.applies_from_s
    assert np.sqrt(np.mean((angles["thoracic_flexion"] - thoracic)[after] ** 2)) < 0.5
    assert np.sqrt(np.mean((angles["lumbar_inclination"] - hip - lumbar)[after] ** 2)) < 0.5
    assert np.sqrt(np.mean((angles["trunk_inclination"] - hip - lumbar - thoracic)[after] ** 2)) < 0.5


def test_calibration_round_trips_through_a_dict():
    t = np.arange(0, 40, 1 / RATE)
    quats = wearer(t, bumps(t, [8, 14], 5, 35), bumps(t, [8, 14], 5, 10), np.zeros_like(t))
    cal = calibrate(t, quats, Thresholds())
    again = type(cal).from_dict(cal.to_dict())
    for loc in cal.mounting:
        assert Q.angle_between(again.mounting[loc], cal.mounting[loc]) < 1e-9
    assert again.report.quality == cal.report.quality


def test_refused_when_nobody_keeps_still():
    t = np.arange(0, 60, 1 / RATE)
    restless = 10 * np.sin(2 * np.pi * 0.5 * t)
    with pytest.raises(CalibrationError, match="no still neutral"):
        calibrate(t, wearer(t, restless, restless, restless), Thresholds())


def test_refused_when_bends_are_too_small():
    t = np.arange(0, 40, 1 / RATE)
    quats = wearer(t, bumps(t, [8, 14], 5, 8), bumps(t, [8, 14], 5, 5), bumps(t, [8, 14], 5, 3))
    cal = calibrate(t, quats, Thresholds(), neutral_window=(0, 6), bend_windows=[(8, 13), (14, 19)])
    assert not cal.report.ok
    assert any("reached only" in r for r in cal.report.reasons)


def test_refused_when_sensors_disagree():
    t = np.arange(0, 40, 1 / RATE)
    trunk = wearer(t, bumps(t, [8, 14], 5, 35), bumps(t, [8, 14], 5, 10), np.zeros_like(t))
    # a lumbar sensor that moved on its own (loose strap): bends out of step with the trunk
    loose = wearer(t, bumps(t, [10.5, 16.5], 5, 35), bumps(t, [10.5, 16.5], 5, 10), np.zeros_like(t))
    quats = {"thoracic": trunk["thoracic"], "lumbar": loose["lumbar"]}
    cal = calibrate(t, quats, Thresholds(), neutral_window=(0, 7), bend_windows=[(8, 13.5), (14, 21.5)])
    assert not cal.report.ok
    assert any("did not bend with" in r for r in cal.report.reasons)


def test_without_bends_falls_back_to_nominal_mounting():
    t = np.arange(0, 30, 1 / RATE)
    quats = wearer(t, np.zeros_like(t), np.zeros_like(t), bumps(t, [12], 10, 20), yaw=(0, 0), tilt=(0, 0))
    cal = calibrate(t, quats, Thresholds())
    assert cal.report.ok and cal.report.quality == "nominal"
    angles = AngleComputer(cal, Thresholds()).compute(GridFrame(t, quats, {}))
    assert np.nanmax(angles["thoracic_flexion"]) == pytest.approx(20, abs=0.5)
