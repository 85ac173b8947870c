"""What a calibration is, how it is stored, and the geometry every calibration step shares."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from imu import anatomy as A
from imu import quat as Q
from imu.core.result import CalibrationReport
from imu.errors import UserError

SIGN_ORDER = ("verified", "probable", "unverified")  # best first


@dataclass
class Calibration:
    mounting: dict[str, np.ndarray]  # location -> quaternion: sensor axes in segment coordinates
    neutral_heading_deg: dict[str, float]  # heading of each calibrated segment at neutral
    applies_from_s: float  # live: angles are measured from this session time on
    report: CalibrationReport = field(default_factory=lambda: CalibrationReport(False, "failed", []))
    # the calibration's own activity (neutral, bends; for a live one the guided attempts):
    # slouch events are not counted there, the wearer was following instructions
    span_s: tuple[float, float] | None = None

    def to_dict(self) -> dict:
        r = self.report
        return {
            "mounting": {k: [float(x) for x in v] for k, v in self.mounting.items()},
            "neutral_heading_deg": {k: float(v) for k, v in self.neutral_heading_deg.items()},
            "applies_from_s": float(self.applies_from_s),
            "ok": r.ok, "quality": r.quality, "reasons": list(r.reasons),
            "neutral": list(r.neutral) if r.neutral else None,
            "bends": [list(b) for b in r.bends], "details": r.details,
            "sagittal_sign": r.sagittal_sign, "dropped": dict(r.dropped),
            "span_s": list(self.span_s) if self.span_s else None,
        }

    @staticmethod
    def from_dict(data: dict) -> "Calibration":
        """Also reads calibrations stored before the sign was checked: their sign is judged
        from the stored mounting (does each sensor face out of the back?)."""
        mounting = {k: np.asarray(v, float) for k, v in data["mounting"].items()}
        sign = data.get("sagittal_sign")
        reasons = list(data["reasons"])
        quality = data["quality"]
        if sign is None:
            outward = {loc: faces_out_of_the_back(m) for loc, m in mounting.items()}
            sign = "verified" if all(outward.values()) else "unverified"
            if sign == "unverified" and data["ok"]:
                quality = "unverified"
                reasons.append("stored before flexion signs were checked, and the "
                               + " and ".join(k for k, v in outward.items() if not v)
                               + " sensor would face into the body: sagittal signs unverified")
        report = CalibrationReport(
            bool(data["ok"]), quality, reasons,
            tuple(data["neutral"]) if data.get("neutral") else None,
            [tuple(b) for b in data.get("bends", [])], data.get("details", {}),
            sign, dict(data.get("dropped") or {}),
        )
        span = data.get("span_s")
        return Calibration(mounting, {k: float(v) for k, v in data["neutral_heading_deg"].items()},
                           float(data["applies_from_s"]), report, tuple(span) if span else None)


@dataclass
class CalibrationStretch:
    """One calibration and the stretch of the session it applies to (report and replay)."""

    calibration: Calibration
    from_s: float = -np.inf
    to_s: float = np.inf


class CalibrationError(UserError, ValueError):
    """Calibration refused; the message gives the reasons."""


# --- shared geometry ----------------------------------------------------------------------------

def to_anatomical_earth(q_sensor: np.ndarray) -> np.ndarray:
    return Q.multiply(A.SENSOR_EARTH_TO_E, q_sensor)


def up_in_sensor(q_e: np.ndarray) -> np.ndarray:
    """Earth's up in sensor coordinates (the direction opposite to gravity)."""
    return Q.rotate(Q.conjugate(q_e), A.UP)


def tilt_between(q: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Angle between the vertical seen by a sensor and a reference (heading ignored), deg.

    Only the vertical matters for the neutral; heading wanders with each sensor's fusion.
    """
    up, ref_up = up_in_sensor(q), up_in_sensor(ref)
    return np.degrees(np.arccos(np.clip(np.sum(up * ref_up, axis=-1), -1.0, 1.0)))


def mean_quat(q: np.ndarray) -> np.ndarray:
    """Average of nearby quaternions (sign-aligned mean, renormalised); identity if none."""
    q = q[np.isfinite(q).all(axis=1)]
    if not len(q):
        return np.array([1.0, 0.0, 0.0, 0.0])
    signs = np.where(q @ q[0] < 0, -1.0, 1.0)
    return Q.normalize((q * signs[:, None]).mean(axis=0))


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) index pairs of True runs, end exclusive."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def horizontal(v: np.ndarray, up: np.ndarray) -> np.ndarray:
    """v with its component along `up` removed (not normalised)."""
    return v - np.dot(v, up) * up


# sensor +z (the face of the housing, away from the skin) in segment coordinates, nominally
FACE_IN_SENSOR = np.array([0.0, 0.0, 1.0])


def faces_out_of_the_back(mounting: np.ndarray, min_cos: float = 0.5) -> bool:
    """Whether a mounting (sensor in segment) has the housing's face pointing posterior
    (segment -x), as every sensor stuck on the back must, whatever its turn in that plane."""
    face = Q.rotate(mounting, FACE_IN_SENSOR)
    return bool(-face[0] >= min_cos)
