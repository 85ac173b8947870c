"""events.csv: one row per event of a session, in time order.

Kinds: slouch (counted episodes), alert, gap (lost data of one sensor), calibration (the
neutral window, each bend, or the failure); with the activity analysis also: walking and
running (each bout, its step count and cadence in the reason, or why it has none), step
(each step of a bout, from its moment to the next step's: the duration is the step time),
sensor (a sensor that slipped or came off), not_graded (a labelled carry or hold without
a grade, and why; a run's reason is on its running row); from the pipeline's training events
sitting (a bout), sitting_break, break_reminder, lift (peak = trunk inclination, grade and
lumbar share in the reason) and lift_cue. Columns are fixed (EVENT_COLUMNS); a value
that does not apply is left empty.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from imu.core.exposure import episode_end
from imu.core.layout import UPPER_BACK_SLOUCH
from imu.core.result import Analysis

EVENT_COLUMNS = ("kind", "start_s", "end_s", "duration_s", "peak_deg", "angle", "reason", "sensor")
_KIND_ORDER = {"calibration": 0, "sensor": 1, "gap": 2, "walking": 3, "running": 3, "not_graded": 3,
               "step": 4, "slouch": 5, "alert": 6,
               "sitting": 5, "sitting_break": 5, "break_reminder": 6, "lift": 5, "lift_cue": 6,
               "posture_reset": 7}


def _row(kind: str, start=None, end=None, peak=None, angle="", reason="", sensor="") -> dict:
    duration = None if start is None or end is None else end - start
    return {
        "kind": kind,
        "start_s": _fmt(start, 3), "end_s": _fmt(end, 3), "duration_s": _fmt(duration, 3),
        "peak_deg": _fmt(peak, 2), "angle": angle, "reason": reason, "sensor": sensor,
        "_sort": (float("-inf") if start is None else start, _KIND_ORDER[kind]),
    }


def _fmt(value, digits: int) -> str:
    if value is None or value != value:  # NaN is "unknown": left empty
        return ""
    return f"{value:.{digits}f}"


def _gait_rows(stability) -> list[dict]:
    rows = []
    for issue in stability.sensor_issues:
        rows.append(_row("sensor", issue.start_s, issue.end_s, reason=issue.sentence(), sensor=issue.sensor))
    for u in stability.ungraded:
        if u.kind != "running":  # a run's reason goes on its gait row below
            rows.append(_row("not_graded", u.start_s, u.end_s, reason=u.sentence()))
    for bout in stability.gait:
        ungraded = next((u for u in stability.ungraded if u.kind == bout.kind
                         and abs(u.start_s - bout.start_s) < 0.5), None)
        graded = "" if ungraded is None else f"; not graded: {ungraded.reason}"
        if bout.note is not None:
            rows.append(_row(bout.kind, bout.start_s, bout.end_s, reason=bout.note + graded))
            continue
        median = bout.step_intervals_s
        step_time = f", median step time {float(np.median(median)):.3f} s" if len(median) else ""
        rows.append(_row(bout.kind, bout.start_s, bout.end_s,
                         reason=f"{bout.step_count} steps, cadence {bout.cadence_spm:.0f} steps/min"
                                f"{step_time}{graded}"))
        times = bout.step_times_s
        for i, start in enumerate(times):
            end = times[i + 1] if i + 1 < len(times) else None
            rows.append(_row("step", float(start), None if end is None else float(end),
                             reason=f"{bout.kind} step {i + 1} of {len(times)}"))
    return rows


def event_rows(analysis: Analysis, stability=None) -> list[dict]:
    """The rows of events.csv as dicts of strings keyed by EVENT_COLUMNS; `stability` (an
    imu.core.stability.StabilityResult) adds the gait bouts, steps and sensor problems."""
    rows = [] if stability is None else _gait_rows(stability)
    cal = analysis.calibration
    if cal.neutral is not None:
        rows.append(_row("calibration", *cal.neutral,
                         reason=f"neutral still window ({cal.quality})"))
    for i, (start, end) in enumerate(cal.bends, 1):
        rows.append(_row("calibration", start, end, reason=f"forward bend {i} of {len(cal.bends)}"))
    if not cal.ok:
        start = None if cal.neutral is None else cal.neutral[0]
        reasons = "; ".join(cal.reasons) or "no reason given"
        rows.append(_row("calibration", start, reason=f"calibration failed: {reasons}"))
    for location, quality in analysis.sensors.items():
        for start, end in quality.stats.gaps:
            rows.append(_row("gap", start, end, reason="samples lost", sensor=location))
    signal = analysis.thresholds.slouch_signal
    enter = analysis.thresholds.slouch_enter_deg
    less_specific = ("; trunk_inclination, less specific than thoracic_flexion (a lean from the "
                     "hips counts too)" if signal == UPPER_BACK_SLOUCH else "")
    for ep in analysis.episodes:
        still_open = " (still open at the end of the session)" if ep.end_s is None or ep.open_at_end else ""
        rows.append(_row("slouch", ep.start_s, episode_end(ep, analysis.duration_s), ep.peak_deg,
                         signal, f"over {enter:g} deg from neutral{still_open}{less_specific}"))
    for alert in analysis.alerts:
        rows.append(_row("alert", alert.t, peak=alert.value_deg, angle=alert.angle,
                         reason=alert.reason))
    rows += _training_rows(analysis.events)
    for e in analysis.events:  # issue 13: unguided posture resets
        if e.get("event") == "posture_reset":
            rows.append(_row("posture_reset", e["start_s"], e["t"], -e.get("extension_deg", 0.0), e.get("signal", ""),
                             "thoracic extension held (counted at the end time)"))
    rows.sort(key=lambda r: r["_sort"])
    return [{k: r[k] for k in EVENT_COLUMNS} for r in rows]


def _training_rows(events: list[dict]) -> list[dict]:
    """Sitting bouts, breaks, break reminders, lifts and lift cues (imu.core.sitting, lifts)."""
    rows = []
    for e in events:
        kind = e.get("event")
        if kind == "sitting_bout":
            rows.append(_row("sitting", e["start_s"], e["end_s"], reason=(
                f"{e['reminders']} reminder(s)" + (", still seated at the end" if e["open_at_end"] else ""))))
        elif kind == "sitting_break":
            rows.append(_row("sitting_break", e["start_s"], e["end_s"],
                             reason="up and walking" + (", still up at the end" if e["open_at_end"] else "")))
        elif kind == "sitting_break_due":
            rows.append(_row("break_reminder", e["t"], reason=f"seated {e['seated_s'] / 60:.0f} min without a break"))
        elif kind == "lift":
            share = e.get("lumbar_share")
            rows.append(_row("lift", e["start_s"], e["end_s"], e.get("trunk_inclination_peak_deg"),
                             "trunk_inclination", f"{e['grade']}; lumbar share "
                             + (f"{100 * share:.0f} %" if share is not None else "not measurable")))
        elif kind == "lift_cue":
            rows.append(_row("lift_cue", e["t"], peak=e.get("lumbar_flexion_deg"), angle="lumbar_flexion",
                             reason=e["reason"]))
    return rows


def write_events_csv(analysis: Analysis, path: str | Path, stability=None) -> Path:
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=EVENT_COLUMNS)
        writer.writeheader()
        writer.writerows(event_rows(analysis, stability))
    return path
