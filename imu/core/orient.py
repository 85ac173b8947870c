"""Orientation for sensors that send no quaternion: AHRS from raw acceleration and rate.

imufusion (the Fusion AHRS) runs per sensor with the north-west-up convention, so its
output has z up like every device quaternion here. It takes g and deg/s, the project's
units. The filter is stateful and runs sample by sample, so chunked input gives the same
orientations as whole input.
"""

from __future__ import annotations

import imufusion
import numpy as np

from imu.samples import TimedSamples


class RawOrientation:
    def __init__(self, gain: float = 0.5):
        self._ahrs = imufusion.Ahrs()
        settings = imufusion.AhrsSettings()
        settings.convention = imufusion.CONVENTION_NWU
        settings.gain = gain
        settings.gyroscope_range = 2000.0
        self._ahrs.set_settings(settings)
        self._last_t: float | None = None

    def fill(self, samples: TimedSamples) -> TimedSamples:
        """Quaternions for the samples that have none but carry acc and gyro."""
        if samples.acc is None or samples.gyro is None:
            return samples
        missing = np.isnan(samples.quat).any(axis=1)
        if samples.vibrating is not None:
            missing &= ~samples.vibrating  # blanked on purpose: the motor shakes the sensor
        if not missing.any():
            return samples
        quat = samples.quat.copy()
        acc = samples.acc
        gyro = samples.gyro
        for i in np.flatnonzero(missing):
            if not (np.isfinite(acc[i]).all() and np.isfinite(gyro[i]).all()):
                continue
            dt = 0.01 if self._last_t is None else samples.t[i] - self._last_t
            self._last_t = samples.t[i]
            if dt <= 0 or dt > 1.0:
                dt = 0.01
            self._ahrs.set_sample_period(float(dt))
            self._ahrs.update_no_magnetometer(gyro[i], acc[i])
            quat[i] = self._ahrs.get_quaternion()
        return TimedSamples(samples.t, quat, samples.acc, samples.gyro, samples.vibrating)
