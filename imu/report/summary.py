"""summary.json: the versioned, machine-readable contract "imu.summary/1".

Field by field in docs/summary-schema.md. Adding fields keeps "/1"; renaming or removing
one, or changing a unit or meaning, bumps the number.
"""

from __future__ import annotations

import math

import numpy as np

import imu
from imu.core.context import COUNT_BLOCK, context_counts
from imu.jsonvalues import plain
from imu.core.exposure import (
    LONG_BOUT_S, AngleExposure, angle_kind, angle_summary, episode_end, grid_step,
    slouches_per_hour,
)
from imu.core.layout import LESS_SPECIFIC_NOTE, SPECIFIC_SLOUCH, UPPER_BACK_SLOUCH, layout_of
from imu.core.result import ANGLE_NAMES, Analysis
from imu.profile import thresholds_to_dict

SCHEMA = "imu.summary/1"

# sensors each angle needs (docs/architecture.md section 3), to say why an angle is missing
ANGLE_SENSORS = {
    "thoracic_flexion": ("thoracic", "lumbar"),
    "thoracic_lateral_bend": ("thoracic", "lumbar"),
    "thoracic_axial_rotation": ("thoracic", "lumbar"),
    "lumbar_flexion": ("lumbar", "sacral"),
    "lumbar_lateral_bend": ("lumbar", "sacral"),
    "lumbar_axial_rotation": ("lumbar", "sacral"),
    "lumbar_inclination": ("lumbar",),
    "lumbar_lateral_inclination": ("lumbar",),
    "trunk_inclination": ("thoracic",),
    "trunk_lateral_inclination": ("thoracic",),
}

CONVENTIONS = {
    "angles": "degrees from the calibrated neutral posture",
    "body_frame": "ISB: x anterior, y superior, z right; relative angles in Z-X-Y Cardan order",
    "sagittal": "flexion positive, extension negative",
    "lateral": "bend to the right positive",
    "axial_rotation": ("turn to the right positive; without a magnetometer it is a "
                       "short-window quantity and never alerts"),
    "lumbar_inclination": "the lumbar sensor against gravity; not lumbar flexion",
    "time": "seconds from the session start",
    "quaternions": "scalar first (w, x, y, z)",
}

DEFINITIONS = {
    "zones": ("percent of valid time per class; sagittal: extension below -zone_neutral_band_deg, "
              "then neutral, intermediate and awkward, with edges by angle (inclinations: "
              "sagittal_zones_deg, ISO 11226; thoracic_flexion: curvature_zones_deg; lumbar_flexion: "
              "none); a value on an edge falls in the lower class; lateral classes use the absolute "
              "angle (lateral_zones_deg)"),
    "percentiles": "P10, P50, P90 with linear interpolation over valid samples, from a 0.01-degree "
                   "histogram gathered during the pass (within 0.005 deg)",
    "static_bout": ("consecutive valid samples all within +-static_band_deg of the bout's "
                    "first sample for at least static_min_s; found greedily from the start"),
    "slouch_per_hour": "counted episodes divided by the session duration in hours",
}


def rounded(value, digits: int):
    """A float rounded for output, or None for missing / NaN / infinite values."""
    if value is None:
        return None
    value = float(value)
    return round(value, digits) if math.isfinite(value) else None


def json_safe(value, where: str = "value"):
    """Plain JSON types for the summary: floats to 6 decimals, NaN as None (imu.jsonvalues)."""
    return plain(value, digits=6, where=where)


def build_summary(analysis: Analysis, source: dict,
                  exposures: dict[str, AngleExposure] | None = None) -> dict:
    """The "imu.summary/1" dictionary of a session (JSON-serialisable, never NaN).

    source: {"kind": "recording" | "csv" | "live" | ..., "file": path or None, ...}.
    exposures: `angle_summary(analysis)` when the caller already has it.
    """
    if exposures is None:
        exposures = angle_summary(analysis)
    return {
        "schema": SCHEMA,
        "generated_by": {"software": "imu", "version": imu.__version__},
        "source": _source(source),
        "duration_s": rounded(analysis.duration_s, 3),
        "sensors": {loc: _sensor(q) for loc, q in analysis.sensors.items()},
        "layout": _layout(analysis),
        "calibration": _calibration(analysis),
        "context_s": _context_time(analysis),
        "angles": {name: _angle(e) for name, e in exposures.items()},
        "slouch": _slouch(analysis),
        "lumbar_slump": _lumbar_slump(analysis),
        "alerts": _alerts(analysis),
        "not_measured": not_measured(analysis, exposures),
        "method": {
            "software_version": imu.__version__,
            "thresholds": thresholds_to_dict(analysis.thresholds),
            "conventions": dict(CONVENTIONS),
            "definitions": dict(DEFINITIONS),
        },
    }


def _layout(analysis: Analysis) -> dict:
    layout = layout_of(analysis.sensors)
    return {"name": layout.name, "sensors": sorted(layout.worn),
            "measures": {m: {"measured": why is None, "reason": why}
                         for m, why in layout.measures().items()}}


def _lumbar_slump(analysis: Analysis) -> dict | None:
    """Time with the lumbar angle above a fraction of the wearer's calibrated maximum."""
    maxima = analysis.calibration.details.get("lumbar_max_deg") if analysis.calibration.details else None
    if not maxima:
        return None
    signal = "lumbar_flexion" if "lumbar_flexion" in analysis.angles and "lumbar_flexion" in maxima \
        else "lumbar_inclination"
    if signal not in analysis.angles or not maxima.get(signal) or maxima[signal] <= 0:
        return None  # no forward bend to judge a slump against
    threshold = analysis.thresholds.lumbar_slump_fraction * maxima[signal]
    values = analysis.angles[signal]
    known = above = 0
    for lo in range(0, len(values), COUNT_BLOCK):  # a block at a time: no whole-session masks
        part = values[lo:lo + COUNT_BLOCK]
        measured = analysis.valid[lo:lo + COUNT_BLOCK] & np.isfinite(part)
        known += int(np.count_nonzero(measured))
        above += int(np.count_nonzero(measured & (part > threshold)))
    return {
        "signal": signal,
        "calibrated_max_deg": rounded(maxima[signal], 2),
        "threshold_deg": rounded(threshold, 2),
        "time_s": rounded(float(above) * grid_step(analysis.t), 1),
        "time_pct": rounded(100.0 * above / known, 2) if known else None,
    }


def _source(source: dict) -> dict:
    if not isinstance(source, dict) or not isinstance(source.get("kind"), str):
        raise ValueError("source must be a dict with a 'kind' string, e.g. "
                         "{'kind': 'recording', 'file': 'session.imu'}")
    file = source.get("file")
    out = {"file": None if file is None else str(file), "kind": source["kind"]}
    extra = {k: v for k, v in source.items() if k not in out}
    out.update(json_safe(extra, "source"))
    return out


def _sensor(q) -> dict:
    stats = q.stats
    expected = q.samples + stats.lost_samples
    return {
        "device": q.device,
        "rate_hz": rounded(q.rate_hz, 2),
        "samples": int(q.samples),
        "lost_samples": int(stats.lost_samples),
        "lost_pct": rounded(100.0 * stats.lost_samples / expected, 3) if expected else None,
        "bad_notifications": int(stats.bad_notifications),
        "bad_samples": int(stats.bad_samples),
        "errors": {str(k): int(v) for k, v in stats.errors.items()},
        "gaps": [{"start_s": rounded(a, 3), "end_s": rounded(b, 3)} for a, b in stats.gaps],
        "battery_pct": rounded(q.battery_pct, 1),
        "clock_residual_ms": rounded(q.clock_residual_ms, 3),
        "clock_drift_ppm": rounded(q.clock_drift_ppm, 2),
    }


def _calibration(analysis: Analysis) -> dict:
    cal = analysis.calibration
    return {
        "ok": bool(cal.ok),
        "quality": cal.quality,
        "reasons": [str(r) for r in cal.reasons],
        "neutral": None if cal.neutral is None else {
            "start_s": rounded(cal.neutral[0], 3), "end_s": rounded(cal.neutral[1], 3)},
        "bends": [{"start_s": rounded(a, 3), "end_s": rounded(b, 3)} for a, b in cal.bends],
        # which way is forward: "verified" (the sensors' declared mounting, not contradicted
        # by the movements), "probable" (the movements only) or "unverified"; sagittal angles
        # whose sign is not verified may have forward and backward swapped
        "sagittal_sign": cal.sagittal_sign,
        "sagittal_signs_verified": cal.ok and cal.sagittal_sign == "verified",
        "angle_trust": json_safe(cal.details.get("angles", {}), "calibration.angle_trust"),
        "dropped_sensors": dict(cal.dropped),
        "stretches": json_safe(cal.stretches, "calibration.stretches"),
        "details": json_safe(cal.details, "calibration.details"),
    }


def _context_time(analysis: Analysis) -> dict:
    context = analysis.context
    if context.size < 2:
        return {}
    dt = grid_step(analysis.t)
    return {k: rounded(c * dt, 2) for k, c in sorted(context_counts(context).items())}


def _angle(e: AngleExposure) -> dict:
    p = e.percentiles
    return {
        "kind": angle_kind(e.name),
        "valid_s": rounded(e.valid_s, 2),
        "coverage_pct": rounded(e.coverage_pct, 2),
        **{key: rounded(p[key], 2) for key in ("p10", "p50", "p90", "p90_p10", "min", "max")},
        "zones": None if e.zones_pct is None else {
            label: rounded(pct, 2) for label, pct in e.zones_pct.items()},
        "static": None if e.static is None else {
            "count": e.static.count,
            "total_s": rounded(e.static.total_s, 2),
            "longest_s": rounded(e.static.longest_s, 2),
            "over_1min": e.static.count_longer_than(LONG_BOUT_S),
        },
    }


def _slouch(analysis: Analysis) -> dict:
    end = analysis.duration_s
    events = []
    for ep in analysis.episodes:
        stop = episode_end(ep, end)
        events.append({
            "start_s": rounded(ep.start_s, 3), "end_s": rounded(stop, 3),
            "duration_s": rounded(stop - ep.start_s, 3), "peak_deg": rounded(ep.peak_deg, 2),
            "open": ep.end_s is None or ep.open_at_end,
        })
    durations = [e["duration_s"] for e in events]
    signal = analysis.thresholds.slouch_signal
    return {
        "signal": signal,
        "specificity": ("specific: the spine's own bend" if signal == SPECIFIC_SLOUCH else
                        LESS_SPECIFIC_NOTE if signal == UPPER_BACK_SLOUCH else "as configured"),
        "count": len(events),
        "total_s": rounded(sum(durations), 3),
        "longest_s": rounded(max(durations, default=0.0), 3),
        "per_hour": rounded(slouches_per_hour(len(events), analysis.duration_s), 2),
        "events": events,
    }


def _alerts(analysis: Analysis) -> dict:
    return {
        "count": len(analysis.alerts),
        "moments": [{
            "t": rounded(a.t, 3), "reason": a.reason, "angle": a.angle,
            "value_deg": rounded(a.value_deg, 2), "held_s": rounded(a.held_s, 2),
            "number": int(a.number), "episode_start_s": rounded(a.episode_start_s, 3),
        } for a in analysis.alerts],
    }


def not_measured(analysis: Analysis, exposures: dict[str, AngleExposure]) -> list[str]:
    """Plain sentences on what the report cannot tell, and why."""
    sentences = []
    worn = set(analysis.sensors)
    for name in ANGLE_NAMES:
        if name in exposures:
            continue
        missing = [s for s in ANGLE_SENSORS[name] if worn and s not in worn]
        if missing:
            why = f"no {' or '.join(missing)} sensor worn"
            if name == "lumbar_flexion":
                why += (" (lumbar_inclination, the lumbar sensor against gravity, "
                        "is reported instead)")
        elif name in analysis.angles:
            why = "no valid samples in this session"
        else:
            why = "not computed by this analysis"
        sentences.append(f"{name}: {why}.")
    signal = analysis.thresholds.slouch_signal
    layout = layout_of(worn)
    if signal == UPPER_BACK_SLOUCH and worn:
        sentences.append(f"Layout {layout.name}: {LESS_SPECIFIC_NOTE}.")
    if signal not in exposures:
        why = (f"{signal} was not measured" if layout.gives("slouch (thoracic_flexion)") or not worn
               else f"{layout.name} cannot see the upper back's bend (a slouch needs an upper-back sensor)")
        sentences.append(f"Slouch events: {why}, so none could be detected.")
    for measure, why in layout.measures().items():
        if measure in ANGLE_NAMES or (measure.startswith("slouch (thoracic") and signal == UPPER_BACK_SLOUCH):
            continue  # said above, angle by angle / by the slouch line
        if why is not None and not why.startswith("not needed") and worn:
            sentences.append(f"{measure}: not measured with {layout.name}: {why}.")
    valid = analysis.valid  # counted a block at a time: it may be a series read by stretches
    size = len(valid)
    unknown = size - sum(int(np.count_nonzero(valid[lo:lo + COUNT_BLOCK])) for lo in range(0, size, COUNT_BLOCK))
    if unknown:
        unknown_s = unknown * (grid_step(analysis.t) if size > 1 else 0.0)
        sentences.append(
            f"Angles are unknown for {unknown_s:.1f} s ({100.0 * (unknown / size):.1f} % of the "
            "session), where a sensor had no data or its vibration motor was running.")
    for location, q in analysis.sensors.items():
        gaps = q.stats.gaps
        if gaps:
            total = sum(b - a for a, b in gaps)
            sentences.append(
                f"{location} sensor: {len(gaps)} data gap{'s' if len(gaps) > 1 else ''} "
                f"totalling {total:.1f} s ({q.stats.lost_samples} samples lost); angles using "
                "this sensor are unknown there.")
    cal = analysis.calibration
    if not cal.ok:
        reasons = "; ".join(cal.reasons) or "no reason given"
        sentences.append(f"Calibration failed ({reasons}): angles are not referenced to a "
                         "checked neutral posture and may be offset.")
    elif cal.quality == "nominal":
        sentences.append("Flexion axis: no calibration bends were found, so each sensor's axes "
                         "come from its mounting (the face of the housing out of the back); "
                         "lateral angles may carry part of the flexion.")
    if cal.ok and cal.sagittal_sign != "verified":
        sentences.append(f"Sagittal signs {cal.sagittal_sign}: the calibration could not establish "
                         "from the sensors' mounting which way is forward, so forward and backward "
                         "may be swapped in every sagittal angle.")
    for note in analysis.notes:
        if note not in sentences:
            sentences.append(note)
    return sentences
