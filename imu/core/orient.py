"""Orientation for sensors that send no quaternion: AHRS from raw acceleration and rate.

imufusion (the Fusion AHRS) runs per sensor with the north-west-up convention, so its
output has z up like every device quaternion here. It takes g and deg/s, the project's
units. The filter is stateful and runs sample by sample, so chunked input gives the same
orientations as whole input.

Fusion's own start-up ramps its gain from high to normal over three seconds while it
swings from the identity to gravity: that swing would reach the angles as a fake movement.
Instead the filter starts at the tilt that gravity shows in the first quiet sample (near
1 g, slow rotation), with the start-up ramp skipped; samples before it get no orientation.
"""

from __future__ import annotations

import imufusion
import numpy as np

from imu.samples import TimedSamples

QUIET_ACC_TOLERANCE_G = 0.05  # |acc| within this of 1 g: gravity is most of what is measured
QUIET_MAX_RATE_DPS = 20.0
SEED_WITHIN_SAMPLES = 50  # no quiet sample by then: start from what gravity shows anyway
DEFAULT_PERIOD_S = 0.01
LONGEST_PERIOD_S = 1.0  # a longer pause is not integrated over
GRAVITY_ONLY_GAIN = 3.0  # no rate to carry fast movements: follow gravity closely (~0.3 s)


def tilt_quaternion(acc: np.ndarray) -> np.ndarray:
    """Sensor -> earth (z up) quaternion, zero heading twist, that maps acc onto +z."""
    a = np.asarray(acc, float) / np.linalg.norm(acc)
    if a[2] < -0.999999:  # upside down: any half turn about a horizontal axis
        return np.array([0.0, 1.0, 0.0, 0.0])
    q = np.array([1.0 + a[2], a[1], -a[0], 0.0])  # shortest arc from a to z: [1 + a.z, a x z]
    return q / np.linalg.norm(q)


class RawOrientation:
    def __init__(self, gain: float = 0.5):
        self._ahrs = imufusion.Ahrs()
        settings = imufusion.AhrsSettings()
        settings.convention = imufusion.CONVENTION_NWU
        settings.gain = gain
        settings.gyroscope_range = 2000.0
        self._ahrs.set_settings(settings)
        self._settings = settings
        self._last_t: float | None = None
        self._seeded = False
        self._waited = 0  # raw samples seen before the seed

    def fill(self, samples: TimedSamples) -> TimedSamples:
        """Quaternions for the samples that have none but carry acc and gyro.

        A sensor that sends acceleration only (gyro None) is oriented from gravity alone: the
        same filter with zero rate and a higher gain, so its tilt follows the accelerometer
        with a third of a second's lag: inclination, not fast movements nor heading.
        """
        if samples.acc is None:
            return samples
        missing = np.isnan(samples.quat).any(axis=1)
        if samples.vibrating is not None:
            missing &= ~samples.vibrating  # blanked on purpose: the motor shakes the sensor
        if not missing.any():
            return samples
        quat = samples.quat.copy()
        acc = samples.acc
        gyro = samples.gyro
        if gyro is None:
            gyro = np.zeros_like(acc)
            if not self._seeded:
                self._settings.gain = GRAVITY_ONLY_GAIN
                self._ahrs.set_settings(self._settings)
        for i in np.flatnonzero(missing):
            if not (np.isfinite(acc[i]).all() and np.isfinite(gyro[i]).all()):
                continue
            if not self._seeded and not self._seed(acc[i], gyro[i]):
                continue
            dt = DEFAULT_PERIOD_S if self._last_t is None else samples.t[i] - self._last_t
            self._last_t = samples.t[i]
            if dt <= 0 or dt > LONGEST_PERIOD_S:
                dt = DEFAULT_PERIOD_S
            self._ahrs.set_sample_period(float(dt))
            self._ahrs.update_no_magnetometer(gyro[i], acc[i])
            quat[i] = self._ahrs.get_quaternion()
        return TimedSamples(samples.t, quat, samples.acc, samples.gyro, samples.vibrating)

    def _seed(self, acc: np.ndarray, gyro: np.ndarray) -> bool:
        norm = float(np.linalg.norm(acc))
        quiet = (abs(norm - 1.0) <= QUIET_ACC_TOLERANCE_G
                 and float(np.linalg.norm(gyro)) <= QUIET_MAX_RATE_DPS)
        self._waited += 1
        if norm < 1e-6 or not (quiet or self._waited >= SEED_WITHIN_SAMPLES):
            return False
        self._ahrs.set_quaternion(tilt_quaternion(acc))
        self._ahrs.skip_startup()
        self._seeded = True
        return True
