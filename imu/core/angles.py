"""Segment and relative angles under the names of docs/architecture.md section 3, streaming.

Sagittal and frontal angles come from gravity, so they must not follow any sensor's heading
reference. Each sensor's earth frame has its own, wandering heading; the relative heading
between two segments is therefore tracked with a slow exponential average (time constant
`heading_time_constant_s`) and removed before the Z-X-Y decomposition. What remains of
axial rotation is its short-window part: a quantity per stride or repetition, never for
alerts.
"""

from __future__ import annotations

import numpy as np

from imu import anatomy as A
from imu import quat as Q
from imu.core.calibrate import Calibration
from imu.core.grid import GridFrame
from imu.profile import Thresholds

# (name prefix, distal location, proximal location)
JOINTS = (("thoracic", "thoracic", "lumbar"), ("lumbar", "lumbar", "sacral"))
# (angle names, location) for inclination against gravity
INCLINATIONS = (
    (("trunk_inclination", "trunk_lateral_inclination"), "thoracic"),
    (("lumbar_inclination", "lumbar_lateral_inclination"), "lumbar"),
    (("sacral_inclination", "sacral_lateral_inclination"), "sacral"),  # pelvic tilt and list
)


class _HeadingTracker:
    """Slow average of a relative heading, as a unit vector so it wraps correctly."""

    def __init__(self, initial_deg: float, alpha: float):
        self.alpha = alpha
        rad = np.radians(initial_deg)
        self.state = np.array([np.cos(rad), np.sin(rad)])

    def update(self, heading_deg: np.ndarray) -> np.ndarray:
        from scipy.signal import lfilter  # slow to import: not needed until angles are computed

        out = np.full(len(heading_deg), np.nan)
        valid = np.isfinite(heading_deg)
        rad = np.radians(heading_deg)
        b, a = [self.alpha], [1.0, self.alpha - 1.0]
        padded = np.concatenate([[False], valid, [False]])
        edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
        for s, e in zip(edges[::2], edges[1::2]):  # runs of valid samples; gaps hold the state
            cos, zc = lfilter(b, a, np.cos(rad[s:e]), zi=[(1 - self.alpha) * self.state[0]])
            sin, zs = lfilter(b, a, np.sin(rad[s:e]), zi=[(1 - self.alpha) * self.state[1]])
            out[s:e] = np.degrees(np.arctan2(sin, cos))
            self.state = np.array([cos[-1], sin[-1]])
        return out


class AngleComputer:
    def __init__(self, calibration: Calibration, thresholds: Thresholds):
        self.calibration = calibration
        alpha = 1.0 / (thresholds.heading_time_constant_s * thresholds.analysis_rate_hz)
        head = calibration.neutral_heading_deg
        self._trackers = {
            name: _HeadingTracker(head[distal] - head[proximal], alpha)
            for name, distal, proximal in JOINTS
            if distal in head and proximal in head
        }

    def segments(self, frame: GridFrame) -> dict[str, np.ndarray]:
        """Segment orientations in the anatomical earth frame (segment -> E), stored component
        by component (imu.quat.from_parts), as `compute` reads them."""
        out = {}
        for loc, mounting in self.calibration.mounting.items():
            if loc in frame.quat:
                # imu.core.calibrate.to_anatomical_earth, then the mounting removed: its products
                earth = Q.multiply_parts(Q.parts(A.SENSOR_EARTH_TO_E), Q.parts(frame.quat[loc]))
                out[loc] = Q.from_parts(Q.multiply_parts(earth, Q.parts(Q.conjugate(mounting))))
        return out

    def compute(self, frame: GridFrame, seg: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """Angles of a grid frame; seg: its `segments`, when the caller has them already.
        The products run on quaternion components (imu.quat.parts), which is what they cost
        least as; the values are those of the (n, 4) forms bit for bit."""
        seg = self.segments(frame) if seg is None else seg
        headings: dict[str, np.ndarray] = {}  # each segment's heading, computed once

        def heading(loc: str) -> np.ndarray:
            if loc not in headings:
                headings[loc] = A.heading_deg(seg[loc])
            return headings[loc]

        angles: dict[str, np.ndarray] = {}
        for names, loc in INCLINATIONS:
            if loc in seg:
                angles[names[0]], angles[names[1]] = A.inclination_parts(Q.parts(seg[loc]), heading(loc))
        for name, distal, proximal in JOINTS:
            if name not in self._trackers or distal not in seg or proximal not in seg:
                continue
            relative_heading = heading(distal) - heading(proximal)
            relative_heading = (relative_heading + 180.0) % 360.0 - 180.0
            slow = self._trackers[name].update(relative_heading)
            proximal_aligned = Q.multiply_parts(A.heading_parts(np.nan_to_num(slow)), Q.parts(seg[proximal]))
            rel = Q.multiply_parts(Q.conjugate_parts(proximal_aligned), Q.parts(seg[distal]))
            unknown = np.isnan(slow)
            for part, values in zip(("flexion", "lateral_bend", "axial_rotation"), A.zxy_parts(rel, axial=True)):
                values[unknown] = np.nan
                angles[f"{name}_{part}"] = values
        return angles
