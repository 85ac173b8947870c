"""Loaded carries: per-stride lateral bend and rotation, drift, breakdown, a grade.

Pure: arrays in, CarryMetrics out. The carry spans come from the wearer's labels
(carry_farmer, carry_suitcase_left, carry_suitcase_right, carry_front). Per stride:
- lateral bend: trunk_lateral_inclination (the whole trunk's frontal lean against gravity;
  it does not drift with heading), its mean and range;
- rotation: thoracic_axial_rotation range (a short-window quantity);
- sagittal: trunk_inclination mean (flexion drift; for front carries the watched signal; in
  the other carries a flexion drift over carry_lean_max_deg costs the grade too).
Breakdown (reference section 4.2, profile carry_*): against the first fifth of the carry,
the smoothed per-stride mean drifts more than carry_lateral_drift_deg (sagittal for front
carries), or the per-stride lateral range grows more than carry_range_growth, for at least
BREAKDOWN_STRIDES strides in a row. The moment it began is the last stride before that
where the deviation was still under a quarter of its limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import median_filter

from imu.core.activity import span_rows
from imu.core.columns import time_axis
from imu.core.running import grade_from
from imu.core.strides import detect_steps, gait_signal, per_stride
from imu.profile import Thresholds

LATERAL, SAGITTAL, ROTATION = "trunk_lateral_inclination", "trunk_inclination", "thoracic_axial_rotation"
BREAKDOWN_STRIDES = 4
SMOOTH_STRIDES = 5
MIN_RANGE_GROWTH_DEG = 1.0  # a range growth must also be this large to count
EDGE_TRIM_S = 2.0  # the first and last seconds of a label are picking up / putting down


@dataclass
class WalkingBaseline:
    strides: int
    lateral_bend_mean_deg: float
    lateral_range_deg: float
    lateral_range_sd_deg: float
    rotation_range_deg: float | None
    sagittal_mean_deg: float


@dataclass
class CarryMetrics:
    kind: str
    start_s: float
    end_s: float
    strides: int
    cadence_spm: float
    lateral_bend_mean_deg: float
    lateral_bend_range_deg: float
    rotation_range_deg: float | None
    flexion_drift_deg: float
    lateral_drift_deg: float
    range_growth: float  # late / baseline per-stride lateral range - 1
    breakdown: bool
    breakdown_at_s: float | None
    breakdown_reason: str | None
    vs_walking: dict | None
    grade: str
    reasons: list[str]
    per_stride: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    baseline: dict = field(default_factory=dict)


def stride_series(t, angles, start_s, end_s, acc=None):
    """(steps, per-stride dict) of a gait stretch, or (None, None)."""
    t = time_axis(t)
    sl = span_rows(t, start_s, end_s)  # the samples in [start_s, end_s] (the axis increases)
    if sl.stop - sl.start < 300 or LATERAL not in angles:
        return None, None
    rate = 1.0 / np.median(np.diff(t[sl]))
    signal, name = gait_signal(angles, acc, sl)
    if signal is None:
        return None, None
    steps = detect_steps(t[sl], signal, rate, name)
    strides = steps.strides()
    if len(strides) < 5:
        return None, None
    tt = t[sl]
    lat = per_stride(tt, angles[LATERAL][sl], strides)
    sag = per_stride(tt, angles[SAGITTAL][sl], strides) if SAGITTAL in angles else None
    rot = per_stride(tt, angles[ROTATION][sl], strides) if ROTATION in angles else None
    nan = np.full(len(strides), np.nan)
    return steps, {"t": lat["t"], "lateral_mean": lat["mean"], "lateral_range": lat["range"],
                   "sagittal_mean": sag["mean"] if sag else nan,
                   "rotation_range": rot["range"] if rot else nan}


def walking_baseline(t, angles, spans: list[tuple[float, float]], acc=None) -> WalkingBaseline | None:
    """The wearer's own unloaded walking: per-stride statistics over the given spans."""
    parts = []
    for a, b in spans:
        _, s = stride_series(t, angles, a + EDGE_TRIM_S, b - EDGE_TRIM_S, acc)
        if s is not None:
            parts.append(s)
    if not parts:
        return None
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    if np.isfinite(cat["lateral_range"]).sum() < 10:
        return None
    rot = cat["rotation_range"]
    return WalkingBaseline(
        int(np.isfinite(cat["lateral_range"]).sum()), float(np.nanmedian(cat["lateral_mean"])),
        float(np.nanmedian(cat["lateral_range"])), float(np.nanstd(cat["lateral_range"])),
        float(np.nanmedian(rot)) if np.isfinite(rot).any() else None,
        float(np.nanmedian(cat["sagittal_mean"])))


def _smooth(x: np.ndarray) -> np.ndarray:
    filled = np.where(np.isfinite(x), x, np.nanmedian(x) if np.isfinite(x).any() else 0.0)
    return median_filter(filled, size=SMOOTH_STRIDES, mode="nearest")


def _onset(dev: np.ndarray, limit: float, times: np.ndarray, starts: np.ndarray):
    """(index of the first stride of a persistent exceedance, onset time) or None."""
    over = dev > limit
    run = 0
    for i, o in enumerate(over):
        run = run + 1 if o else 0
        if run >= BREAKDOWN_STRIDES:
            first = i - run + 1
            quiet = np.flatnonzero(dev[:first] <= 0.25 * limit)
            k = quiet[-1] + 1 if len(quiet) else 0
            return first, float(starts[min(k, len(starts) - 1)])
    return None


def carry_metrics(t, angles, kind: str, start_s: float, end_s: float, acc=None,
                  walking: WalkingBaseline | None = None, thresholds=None) -> CarryMetrics | None:
    thr = thresholds or Thresholds()
    steps, s = stride_series(t, angles, start_s + EDGE_TRIM_S, end_s - EDGE_TRIM_S, acc)
    if s is None:
        return None
    strides = steps.strides()
    mid = s["t"]
    n = len(mid)
    base = mid < (start_s + EDGE_TRIM_S) + thr.carry_baseline_fraction * (end_s - start_s - 2 * EDGE_TRIM_S)
    if base.sum() < 3:
        base[:3] = True
    b_lat = float(np.nanmedian(s["lateral_mean"][base]))
    b_range = float(np.nanmedian(s["lateral_range"][base]))
    b_sag = float(np.nanmedian(s["sagittal_mean"][base])) if np.isfinite(s["sagittal_mean"][base]).any() else np.nan
    lat_s, range_s, sag_s = _smooth(s["lateral_mean"]), _smooth(s["lateral_range"]), _smooth(s["sagittal_mean"])
    front = kind == "carry_front"
    drift_signal = np.abs(sag_s - b_sag) if front else np.abs(lat_s - b_lat)
    growth = np.where(range_s - b_range >= MIN_RANGE_GROWTH_DEG, range_s / max(b_range, 1e-6) - 1.0, 0.0)
    late = mid >= mid[-1] - thr.carry_baseline_fraction * (mid[-1] - mid[0])
    found = []
    hit = _onset(drift_signal, thr.carry_lateral_drift_deg, mid, strides[:, 0])
    plane = "sagittal" if front else "lateral"
    if hit:
        found.append((hit[1], f"{plane} lean drifted {np.max(drift_signal):.1f} deg from the first "
                               f"fifth (limit {thr.carry_lateral_drift_deg:g} deg)"))
    hit = _onset(growth, thr.carry_range_growth, mid, strides[:, 0])
    if hit:
        found.append((hit[1], f"lateral range per stride grew {100 * np.max(growth):.0f} % over the "
                               f"first fifth (limit {100 * thr.carry_range_growth:.0f} %)"))
    found.sort()
    breakdown = bool(found)
    lat_mean = float(np.nanmedian(s["lateral_mean"]))
    lat_range = float(np.nanmedian(s["lateral_range"]))
    rot_range = float(np.nanmedian(s["rotation_range"])) if np.isfinite(s["rotation_range"]).any() else None
    flex_drift = float(np.nanmedian(s["sagittal_mean"][late]) - b_sag)
    lat_drift = float(np.nanmedian(s["lateral_mean"][late]) - b_lat)
    range_growth = float(np.nanmedian(s["lateral_range"][late]) / max(b_range, 1e-6) - 1.0)
    reasons = [f"breakdown at {found[0][0]:.0f} s: {found[0][1]}"] if breakdown else []
    vs = None
    if walking is not None:
        ratio = lat_range / max(walking.lateral_range_deg, 1e-6)
        rot_ratio = (rot_range / walking.rotation_range_deg
                     if rot_range is not None and walking.rotation_range_deg else None)
        vs = {"lateral_bend_shift_deg": lat_mean - walking.lateral_bend_mean_deg,
              "lateral_range_ratio": ratio, "rotation_range_ratio": rot_ratio,
              "lateral_range_z": (lat_range - walking.lateral_range_deg) / max(walking.lateral_range_sd_deg, 0.1),
              "sagittal_shift_deg": float(np.nanmedian(s["sagittal_mean"])) - walking.sagittal_mean_deg,
              "walking_strides": walking.strides}
        if ratio > thr.carry_range_ratio_max:
            reasons.append(f"lateral sway {ratio:.1f} x the unloaded walking's (limit {thr.carry_range_ratio_max:g})")
        if rot_ratio is not None and rot_ratio > thr.carry_range_ratio_max:
            reasons.append(f"rotation {rot_ratio:.1f} x the unloaded walking's (limit {thr.carry_range_ratio_max:g})")
    lean = (float(np.nanmedian(s["sagittal_mean"])) if front else lat_mean)
    if abs(lean) > thr.carry_lean_max_deg:
        reasons.append(f"mean {'sagittal' if front else 'lateral'} lean {lean:+.1f} deg is over "
                       f"{thr.carry_lean_max_deg:g} deg")
    if not front and np.isfinite(flex_drift) and abs(flex_drift) > thr.carry_lean_max_deg:
        # a side or farmer carry watches the frontal plane, but folding forward is no steady carry
        reasons.append(f"trunk flexion drifted {flex_drift:+.1f} deg over the carry "
                       f"(limit {thr.carry_lean_max_deg:g} deg)")
    grade = grade_from(reasons, serious=breakdown)
    if not reasons:
        reasons = ["steady: no drift or growing sway against the first fifth"]
    return CarryMetrics(
        kind, float(start_s), float(end_s), n, float(steps.cadence_spm), lat_mean, lat_range, rot_range,
        flex_drift, lat_drift, range_growth, breakdown, found[0][0] if breakdown else None,
        found[0][1] if breakdown else None, vs, grade, reasons,
        per_stride={"t": mid, "lateral_mean": s["lateral_mean"], "lateral_range": s["lateral_range"],
                    "sagittal_mean": s["sagittal_mean"], "rotation_range": s["rotation_range"]},
        baseline={"lateral_mean": b_lat, "lateral_range": b_range, "sagittal_mean": b_sag},
    )
