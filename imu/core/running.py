"""Per-run trunk stability: lean, lean drift, per-stride ranges, regularity, a grade.

Pure: arrays in, a RunMetrics out. Definitions (docs/trunk-science.md section 7):
- trunk lean: mean over strides of trunk_inclination, relative to the standing neutral
  (the median trunk_inclination while standing still when the session has some standing,
  else the calibration neutral);
- lean drift: mean per-stride lean over the last fifth of the run minus the first fifth
  (per-stride means, so the oscillation within a stride cancels);
- per-stride sagittal, lateral and rotation range: max - min of trunk_inclination,
  trunk_lateral_inclination and thoracic_axial_rotation within each stride (median);
- step and stride regularity: unbiased autocorrelation at one step and one stride (Ad1,
  Ad2), symmetry Ad1/Ad2 (Moe-Nilssen & Helbostad 2004).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from imu.core.activity import span_rows
from imu.core.columns import time_axis
from imu.core.strides import Steps, detect_steps, gait_signal, per_stride
from imu.profile import Thresholds

SAGITTAL, LATERAL, ROTATION = "trunk_inclination", "trunk_lateral_inclination", "thoracic_axial_rotation"


@dataclass
class RunMetrics:
    start_s: float
    end_s: float
    cadence_spm: float
    strides: int
    trunk_lean_mean_deg: float
    lean_reference: str  # "standing" or "calibration"
    lean_drift_deg: float
    sagittal_range_deg: float
    lateral_range_deg: float
    rotation_range_deg: float | None
    step_regularity: float
    stride_regularity: float
    symmetry: float
    grade: str
    reasons: list[str]
    per_stride: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # t, lean, ranges


def grade_from(reasons: list[str], serious: bool = False) -> str:
    if serious or len(reasons) >= 2:
        return "poor"
    return "fair" if reasons else "good"


def run_metrics(t: np.ndarray, angles: dict[str, np.ndarray], start_s: float, end_s: float,
                acc: dict[str, np.ndarray] | None = None, lean_reference_deg: float | None = None,
                thresholds=None) -> RunMetrics | None:
    """Metrics of the run between start_s and end_s; None when no strides are found."""
    thr = thresholds or Thresholds()
    t = time_axis(t)
    sl = span_rows(t, start_s, end_s)  # the samples in [start_s, end_s] (the axis increases)
    if sl.stop - sl.start < 200 or SAGITTAL not in angles:
        return None
    rate = 1.0 / np.median(np.diff(t[sl]))
    signal, name = gait_signal(angles, acc, sl)
    steps: Steps = detect_steps(t[sl], signal, rate, name)
    strides = steps.strides()
    if len(strides) < 4:
        return None
    tt = t[sl]
    sag = per_stride(tt, angles[SAGITTAL][sl], strides)
    lat = per_stride(tt, angles[LATERAL][sl], strides) if LATERAL in angles else None
    rot = per_stride(tt, angles[ROTATION][sl], strides) if ROTATION in angles else None
    ref = 0.0 if lean_reference_deg is None else lean_reference_deg
    lean = sag["mean"] - ref
    mid = sag["t"]
    fifth = (end_s - start_s) / 5.0
    first = np.isfinite(lean) & (mid < start_s + fifth)
    last = np.isfinite(lean) & (mid >= end_s - fifth)
    drift = float(np.mean(lean[last]) - np.mean(lean[first])) if first.any() and last.any() else float("nan")
    lean_mean = float(np.nanmean(lean))

    def med(d):
        return float(np.nanmedian(d["range"])) if d is not None and np.isfinite(d["range"]).any() else None

    sag_range, lat_range, rot_range = med(sag), med(lat), med(rot)
    reasons = []
    if lean_mean > thr.run_lean_max_deg:
        reasons.append(f"trunk lean {lean_mean:.1f} deg forward is over {thr.run_lean_max_deg:g} deg")
    if np.isfinite(drift) and abs(drift) > thr.run_lean_drift_max_deg:
        reasons.append(f"lean drifted {drift:+.1f} deg over the run (limit {thr.run_lean_drift_max_deg:g} deg)")
    if lat_range is not None and lat_range > thr.run_lateral_range_max_deg:
        reasons.append(f"lateral sway {lat_range:.1f} deg per stride is over {thr.run_lateral_range_max_deg:g} deg")
    if rot_range is not None and rot_range > thr.run_rotation_range_max_deg:
        reasons.append(f"trunk rotation {rot_range:.1f} deg per stride is over {thr.run_rotation_range_max_deg:g} deg")
    if steps.step_regularity < thr.run_step_regularity_min:
        reasons.append(f"step regularity {steps.step_regularity:.2f} is below {thr.run_step_regularity_min:g}")
    sym = steps.symmetry
    if np.isfinite(sym) and abs(1.0 - sym) > thr.run_symmetry_tolerance:
        reasons.append(f"step symmetry {sym:.2f} is more than {thr.run_symmetry_tolerance:g} from 1")
    grade = grade_from(reasons)
    if not reasons:
        reasons = ["lean, drift, sway and regularity within the profile's limits"]
    return RunMetrics(
        float(start_s), float(end_s), float(steps.cadence_spm), len(strides), lean_mean,
        "standing" if lean_reference_deg is not None else "calibration", drift,
        sag_range if sag_range is not None else float("nan"),
        lat_range if lat_range is not None else float("nan"), rot_range,
        steps.step_regularity, steps.stride_regularity, sym, grade, reasons,
        per_stride={"t": mid, "lean": lean, "sagittal_range": sag["range"],
                    "lateral_range": lat["range"] if lat is not None else np.full(len(mid), np.nan),
                    "rotation_range": rot["range"] if rot is not None else np.full(len(mid), np.nan)},
    )
