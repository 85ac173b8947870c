"""Calibration: each sensor's vertical, flexion axis (with its sign) and neutral.

1. Neutral (`neutral`): the stillest stretch of a labelled span, or the first short still
   stretch (about 1 s) of the data; gravity there is each segment's superior (y) axis and
   the window is every angle's zero.
2. Flexion axis (`bends`, optional): the principal axis of angular velocity during the
   sagittal bends, made orthogonal to the vertical, is the segment's medio-lateral (z) axis;
   this also lines up the sensors' headings. Without bends, the face of each housing (out
   of the back) gives the axis.
3. Which way is forward (`direction`): from the declared mounting, checked against the
   movements and the other sensors; never "good" when that cannot be established.
4. Grade (`build`): per sensor; a sensor that disagrees is dropped with the reason while
   the others are kept; refused, with reasons, when nothing trustworthy remains.

Input is the analysis grid: times and per-sensor quaternions (sensor -> sensor earth, z up).
"""

from imu.core.calibrate.bends import find_bends
from imu.core.calibrate.build import calibrate
from imu.core.calibrate.model import (Calibration, CalibrationError, CalibrationStretch,
                                      faces_out_of_the_back, mean_quat, tilt_between,
                                      to_anatomical_earth)
from imu.core.calibrate.neutral import angular_speed_dps, find_neutral

__all__ = ["Calibration", "CalibrationError", "CalibrationStretch", "angular_speed_dps", "calibrate",
           "faces_out_of_the_back", "find_bends", "find_neutral", "mean_quat", "tilt_between",
           "to_anatomical_earth"]
