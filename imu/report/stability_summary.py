"""summary.json keys from the activity, gait and stability analysis.

`add_stability(summary, analysis, result)` adds the keys in place (and returns the summary):
- "activities": [{kind, start_s, end_s, cadence_spm?, step_count?, note?, not_graded?}]
  (automatic segments, carries and holds as the wearer labelled them written over; a run,
  carry or hold without a grade says why in "not_graded");
- "running": [{start_s, end_s, cadence_spm, trunk_lean_mean_deg, lean_reference,
  lean_drift_deg, stride_ranges_deg {sagittal, lateral, rotation}, regularity {step, stride,
  symmetry}, strides, grade, reasons}];
- "carries": [{start_s, end_s, kind, lateral_bend_mean_deg, lateral_bend_range_deg,
  rotation_range_deg, flexion_drift_deg, lateral_drift_deg, range_growth, breakdown,
  breakdown_at_s, breakdown_reason, vs_walking, grade, reasons}];
- "holds": {"tests": [{kind, label, start_s, end_s, failed, time_to_failure_s, endurance_s,
  failed_signal, max_deviation_deg}], "mcgill": ratios and checks or None};
- "sensor_issues": [{sensor, kind, start_s, end_s, size_deg}]; "stability_notes": [...];
- "gait": {"step_count", "bouts": [{kind, start_s, end_s, signal, step_count, cadence_spm,
  step_time_s {median, p10, p90, cv_pct}, step_times_s} or {..., step_count null, note}],
  "note"}: the steps of every walking and running segment;
- "context_s": seconds per activity label, from the same labels as "activities" (it replaces
  the pipeline's moving / still split, so the two can never disagree).
"""

from __future__ import annotations

import numpy as np

from imu.core.activity import ACTIVITY_LABELS
from imu.core.exposure import grid_step
from imu.report.summary import json_safe, rounded


def _run(r) -> dict:
    return {
        "start_s": rounded(r.start_s, 2), "end_s": rounded(r.end_s, 2),
        "cadence_spm": rounded(r.cadence_spm, 1), "strides": r.strides,
        "trunk_lean_mean_deg": rounded(r.trunk_lean_mean_deg, 2), "lean_reference": r.lean_reference,
        "lean_drift_deg": rounded(r.lean_drift_deg, 2),
        "stride_ranges_deg": {"sagittal": rounded(r.sagittal_range_deg, 2),
                              "lateral": rounded(r.lateral_range_deg, 2),
                              "rotation": rounded(r.rotation_range_deg, 2)},
        "regularity": {"step": rounded(r.step_regularity, 3), "stride": rounded(r.stride_regularity, 3),
                       "symmetry": rounded(r.symmetry, 3)},
        "grade": r.grade, "reasons": list(r.reasons),
    }


def _carry(c) -> dict:
    vs = None
    if c.vs_walking is not None:
        vs = {k: (v if isinstance(v, int) else rounded(v, 2)) for k, v in c.vs_walking.items()}
    return {
        "start_s": rounded(c.start_s, 2), "end_s": rounded(c.end_s, 2), "kind": c.kind,
        "strides": c.strides, "cadence_spm": rounded(c.cadence_spm, 1),
        "lateral_bend_mean_deg": rounded(c.lateral_bend_mean_deg, 2),
        "lateral_bend_range_deg": rounded(c.lateral_bend_range_deg, 2),
        "rotation_range_deg": rounded(c.rotation_range_deg, 2),
        "flexion_drift_deg": rounded(c.flexion_drift_deg, 2),
        "lateral_drift_deg": rounded(c.lateral_drift_deg, 2),
        "range_growth": rounded(c.range_growth, 3),
        "breakdown": bool(c.breakdown), "breakdown_at_s": rounded(c.breakdown_at_s, 2),
        "breakdown_reason": c.breakdown_reason, "vs_walking": vs,
        "grade": c.grade, "reasons": list(c.reasons),
    }


def _hold(h) -> dict:
    return {"kind": h.kind, "label": h.label, "start_s": rounded(h.start_s, 2), "end_s": rounded(h.end_s, 2),
            "failed": bool(h.failed), "time_to_failure_s": rounded(h.time_to_failure_s, 2),
            "endurance_s": rounded(h.endurance_s, 2), "failed_signal": h.failed_signal,
            "max_deviation_deg": rounded(h.max_deviation_deg, 2), "signals": list(h.signals)}


def _gait(result) -> dict:
    bouts = [b.as_dict() for b in result.gait]
    counted = [b["step_count"] for b in bouts if b["step_count"] is not None]
    return {"step_count": sum(counted) if counted else None, "bouts": bouts,
            "note": result.gait_note}


def context_seconds(result) -> dict:
    """Seconds per activity label (carries and holds written over), one source with "activities"."""
    t = result.activity.t
    if len(t) < 2:
        return {}
    step = grid_step(t)
    counts = np.bincount(result.codes, minlength=len(ACTIVITY_LABELS))
    return {ACTIVITY_LABELS[code]: rounded(int(counts[code]) * step, 2)
            for code in sorted(np.flatnonzero(counts), key=lambda code: ACTIVITY_LABELS[code])}


def _activity(segment, bouts, ungraded) -> dict:
    d = segment.as_dict()
    why = next((u.reason for u in ungraded if u.kind == segment.kind
                and abs(u.start_s - segment.start_s) < 0.5), None)
    if why is not None:
        d["not_graded"] = why
    bout = next((b for b in bouts if b.kind == segment.kind
                 and abs(b.start_s - segment.start_s) < 0.05), None)
    if bout is not None:
        d["step_count"] = None if bout.note is not None else bout.step_count
        if bout.note is not None:
            d["note"] = bout.note
    return d


def stability_dict(result) -> dict:
    """The activity, gait and stability keys of summary.json from a StabilityResult (JSON-safe)."""
    mcgill = None
    if result.endurance is not None:
        mcgill = {k: (rounded(v, 3) if isinstance(v, float) else v) for k, v in result.endurance.items()}
    return json_safe({
        "activities": [_activity(s, result.gait, result.ungraded) for s in result.activities],
        "context_s": context_seconds(result),
        "gait": _gait(result),
        "running": [_run(r) for r in result.runs],
        "carries": [_carry(c) for c in result.carries],
        "holds": {"tests": [_hold(h) for h in result.holds], "mcgill": mcgill},
        "sensor_issues": [i.as_dict() for i in result.sensor_issues],
        "stability_notes": list(result.notes),
    }, "stability")


def add_stability(summary: dict, analysis, stability_result) -> dict:
    """Add the activity, gait and stability keys to a summary built by
    imu.report.summary.build_summary (its "context_s" is replaced by the activity labels')."""
    summary.update(stability_dict(stability_result))
    return summary
