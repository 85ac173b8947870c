"""Torso endurance holds: time until form fails, and McGill's endurance ratios.

Pure: arrays in, HoldMetrics out. Holds come from the wearer's labels (plank,
side_bridge_left / right, bird_dog, extensor = Biering-Sorensen, flexor = McGill's 60-deg
flexor test; with or without a hold_ prefix). Baseline = mean of each watched signal over
the first hold_baseline_s of the hold; form fails at the first moment a watched signal
leaves its baseline by more than hold_deviation_deg and stays out for hold_deviation_s
(reference section 5, product default). Watched signals per hold:
- plank, extensor, flexor: sagittal inclination of the trunk and lumbar sensors;
- side bridges: frontal (lateral) inclination of the lumbar and trunk sensors (hip drop);
- bird dog: lumbar lateral bend and axial rotation (needs the sacral sensor), else the
  thoracic ones.
McGill targets: flexor/extensor < 1.0, side bridge/extensor < 0.75, right/left within 0.05 of 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from imu.core.activity import HOLD_ALIASES, span_rows
from imu.core.columns import time_axis
from imu.profile import Thresholds

WATCHED = {
    "plank": ("trunk_inclination", "lumbar_inclination"),
    "extensor": ("trunk_inclination", "lumbar_inclination"),
    "flexor": ("trunk_inclination", "lumbar_inclination"),
    "side_bridge_left": ("lumbar_lateral_inclination", "trunk_lateral_inclination"),
    "side_bridge_right": ("lumbar_lateral_inclination", "trunk_lateral_inclination"),
    "bird_dog": ("lumbar_lateral_bend", "lumbar_axial_rotation"),
}
BIRD_DOG_FALLBACK = ("thoracic_lateral_bend", "thoracic_axial_rotation")
FLEX_EXT_MAX, SIDE_EXT_MAX, RIGHT_LEFT_TOL = 1.0, 0.75, 0.05


@dataclass
class HoldMetrics:
    kind: str  # plank, side_bridge_left, side_bridge_right, bird_dog, extensor, flexor
    label: str  # as the wearer wrote it
    start_s: float
    end_s: float
    failed: bool
    time_to_failure_s: float | None
    failure_at_s: float | None
    endurance_s: float  # time to failure, or the whole hold when form held
    failed_signal: str | None
    max_deviation_deg: float
    signals: list[str]
    trace: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # t, deviation per signal


def hold_metrics(t, angles, label: str, start_s: float, end_s: float, thresholds=None) -> HoldMetrics | None:
    thr = thresholds or Thresholds()
    kind = HOLD_ALIASES.get(label)
    if kind is None:
        return None
    names = [n for n in WATCHED[kind] if n in angles]
    if kind == "bird_dog" and not names:
        names = [n for n in BIRD_DOG_FALLBACK if n in angles]
    t = time_axis(t)
    rows = span_rows(t, start_s, end_s)  # the time axis increases: the samples in [start_s, end_s]
    if not names or rows.stop - rows.start < 10:
        return None
    tt = t[rows]
    rate = 1.0 / np.median(np.diff(tt))
    need = max(1, int(round(thr.hold_deviation_s * rate)))
    base_rows = tt < start_s + thr.hold_baseline_s
    first_fail, failed_name, trace, max_dev = None, None, {"t": tt}, 0.0
    for name in names:
        x = np.asarray(angles[name][rows], float)
        base = np.nanmean(x[base_rows]) if np.isfinite(x[base_rows]).any() else np.nan
        dev = x - base
        trace[name] = dev
        if not np.isfinite(dev).any():
            continue
        max_dev = max(max_dev, float(np.nanmax(np.abs(dev))))
        out = np.abs(np.nan_to_num(dev)) > thr.hold_deviation_deg
        out[base_rows] = False
        padded = np.concatenate([[False], out, [False]])
        edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
        for a, b in zip(edges[::2], edges[1::2]):
            # a crossing cut off by the end of the hold (the wearer gave up) needs half
            if b - a >= need or (b == len(out) and b - a >= need // 2):
                if first_fail is None or tt[a] < first_fail:
                    first_fail, failed_name = float(tt[a]), name
                break
    failed = first_fail is not None
    ttf = first_fail - start_s if failed else None
    return HoldMetrics(kind, label, float(start_s), float(end_s), failed, ttf, first_fail,
                       ttf if failed else float(end_s - start_s), failed_name, max_dev, names, trace)


def endurance_ratios(holds: list[HoldMetrics]) -> dict:
    """McGill's ratios from the best (longest) time of each test in the session."""
    best: dict[str, float] = {}
    for h in holds:
        best[h.kind] = max(best.get(h.kind, 0.0), h.endurance_s)
    out: dict = {"times_s": {k: round(v, 1) for k, v in best.items()}}
    ext = best.get("extensor")
    checks = []
    if ext and "flexor" in best:
        r = best["flexor"] / ext
        out["flexor_extensor"] = r
        checks.append(("flexor/extensor", r, r < FLEX_EXT_MAX, f"below {FLEX_EXT_MAX:g}"))
    for side in ("right", "left"):
        key = f"side_bridge_{side}"
        if ext and key in best:
            r = best[key] / ext
            out[f"side_{side}_extensor"] = r
            checks.append((f"{side} side bridge/extensor", r, r < SIDE_EXT_MAX, f"below {SIDE_EXT_MAX:g}"))
    if best.get("side_bridge_left") and "side_bridge_right" in best:
        r = best["side_bridge_right"] / best["side_bridge_left"]
        out["right_left"] = r
        checks.append(("right/left side bridge", r, abs(r - 1.0) <= RIGHT_LEFT_TOL + 1e-9,
                       f"within {RIGHT_LEFT_TOL:g} of 1"))
    out["checks"] = [{"ratio": name, "value": round(v, 2), "ok": bool(ok), "target": target}
                     for name, v, ok, target in checks]
    out["complete_set"] = all(k in best for k in ("flexor", "extensor", "side_bridge_left", "side_bridge_right"))
    return out
