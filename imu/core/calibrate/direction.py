"""Which way is forward: the sign of each segment's flexion axis, from evidence a backward
movement cannot fake.

A principal axis of angular velocity has no sign, and "the direction gravity moved during
the bend" is only as good as the bend: a wearer who leans back during the bend phase used
to flip every sagittal angle, and the calibration still said "good". Evidence, strongest
first:

1. The face of the housing. A sensor stuck on the back has its face (+z) pointing out of the
   back, posterior, whatever its turn in the plane of the back (firmware_notes/placement.md).
   Gravity at the neutral fixes the vertical; the face projected on the horizontal plane is
   then posterior, so anterior, and with the vertical the medio-lateral axis, sign included.
   This holds for a sensor mounted upside down. It is evidence only when the source declares
   its sensor axes (our own devices); for a file from elsewhere it is an assumption.
2. The movements: people bend forward further than they lean back. Along the chosen axis,
   the larger of the largest forward and backward excursions is taken as forward when it is
   clearly larger (`flexion_asymmetry_min` times).
3. Agreement between sensors: a sensor with no evidence of its own takes the sign under
   which its sagittal tilt moves with that of a sensor whose sign is known.

The declared face decides; movements that contradict it make the sign "unverified" (never
"good"), movements alone make it "probable", nothing at all leaves it "unverified".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imu.core.calibrate.model import FACE_IN_SENSOR, horizontal, unit, up_in_sensor
from imu.profile import Thresholds

AXIS_MATCH_MIN_COS = np.cos(np.radians(45.0))  # a face this far off the axis says nothing


@dataclass
class SignDecision:
    sign: int  # +1 keep the axis as found, -1 turn it round
    status: str  # "verified", "probable", "unverified"
    evidence: dict  # what each piece of evidence said, for the report
    reason: str | None = None  # why the sign is not verified, in words


def face_anterior(up: np.ndarray, thr: Thresholds) -> np.ndarray | None:
    """Anterior direction in sensor coordinates from the housing's face, or None when the
    face points too nearly up or down for its horizontal part to mean anything."""
    posterior = horizontal(FACE_IN_SENSOR, up)
    if np.linalg.norm(posterior) < np.cos(np.radians(thr.face_max_elevation_deg)):
        return None
    return -unit(posterior)


def sagittal_tilt_deg(up: np.ndarray, anterior: np.ndarray) -> np.ndarray:
    """Forward (+) tilt of a segment from earth up seen in its sensor: when the top of the
    segment tips forward, up tips toward the segment's posterior."""
    return np.degrees(np.arcsin(np.clip(-(up @ anterior), -1.0, 1.0)))


def motion_extent(ups_at_peaks: list[np.ndarray], anterior: np.ndarray) -> tuple[float, float]:
    """Largest forward and largest backward tilt (both >= 0, deg) among the excursion peaks."""
    if not ups_at_peaks:
        return 0.0, 0.0
    tilt = sagittal_tilt_deg(np.asarray(ups_at_peaks), anterior)
    return float(max(tilt.max(), 0.0)), float(max(-tilt.min(), 0.0))


def decide(loc: str, anterior: np.ndarray, face: np.ndarray | None, declared: bool,
           forward_deg: float, backward_deg: float, thr: Thresholds) -> SignDecision:
    """Combine the face and the movements for one sensor's axis (`anterior`, unsigned)."""
    evidence: dict = {"forward_deg": round(forward_deg, 1), "backward_deg": round(backward_deg, 1)}
    face_sign = None
    if face is not None:
        cos = float(anterior @ face)
        evidence["axis_vs_face_deg"] = round(float(np.degrees(np.arccos(min(abs(cos), 1.0)))), 1)
        if abs(cos) >= AXIS_MATCH_MIN_COS:
            face_sign = 1 if cos > 0 else -1
    evidence["face"] = None if face_sign is None else ("declared" if declared else "assumed")
    big, small = max(forward_deg, backward_deg), min(forward_deg, backward_deg)
    motion_sign = None
    if big >= thr.bend_min_deg / 4 and big >= thr.flexion_asymmetry_min * small:
        motion_sign = 1 if forward_deg >= backward_deg else -1
    if motion_sign is None:
        evidence["movement"] = None
    elif face_sign is None:
        evidence["movement"] = "decides"
    else:
        evidence["movement"] = "agrees" if motion_sign == face_sign else "disagrees"
    if face_sign is not None and declared:
        if motion_sign is None or motion_sign == face_sign:
            return SignDecision(face_sign, "verified", evidence)
        back, fwd = (forward_deg, backward_deg) if face_sign < 0 else (backward_deg, forward_deg)
        return SignDecision(face_sign, "unverified", evidence,
                            f"{loc} sensor: its mounting says forward is one way, but it moved "
                            f"{back:.0f} deg the other way and only {fwd:.0f} deg this way")
    if motion_sign is not None:
        if face_sign is not None and face_sign != motion_sign:
            return SignDecision(motion_sign, "unverified", evidence,
                                f"{loc} sensor: its larger movement and the usual sensor axes "
                                "disagree on which way is forward")
        return SignDecision(motion_sign, "probable", evidence,
                            None if face_sign is not None else
                            f"{loc} sensor: forward taken from its larger movement only")
    if face_sign is not None:
        return SignDecision(face_sign, "unverified", evidence,
                            f"{loc} sensor: forward assumed from the usual sensor axes "
                            "(this source does not declare them) and no movement confirms it")
    return SignDecision(1, "unverified", evidence,
                        f"{loc} sensor: nothing shows which way is forward")


def agreement_sign(course: np.ndarray, reference: np.ndarray) -> int | None:
    """+1 / -1 when a sensor's sagittal tilt course moves with / against a reference course
    (correlation beyond 0.5 either way), None when it does not tell."""
    ok = np.isfinite(course) & np.isfinite(reference)
    if ok.sum() < 10 or np.std(course[ok]) == 0 or np.std(reference[ok]) == 0:
        return None
    r = float(np.corrcoef(course[ok], reference[ok])[0, 1])
    return 1 if r > 0.5 else (-1 if r < -0.5 else None)


def sagittal_course(q_e: np.ndarray, windows, anterior: np.ndarray) -> np.ndarray:
    if not windows:
        return np.empty(0)
    up = np.concatenate([up_in_sensor(q_e[a:b]) for a, b in windows])
    return sagittal_tilt_deg(up, anterior)
