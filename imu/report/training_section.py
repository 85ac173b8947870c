"""Sitting bouts, movement breaks and lifts: summary.json keys and the report.html section.

`add_training(summary, analysis)` adds, from the pipeline's events (imu.core.sitting,
imu.core.lifts), in place:
- "sitting": {"bouts": {count, total_s, longest_s, over_threshold, events}, "breaks":
  {count, total_s, median_s, events}, "reminders": {count, events}, "rules": {...}};
- "lifts": {count, grades, cues, lumbar_share_median, events: [one per lift], "method"}.
`render_training_section(summary)` gives the HTML (escaped); empty when there is nothing.
"""

from __future__ import annotations

from imu.core.layout import layout_of
from imu.core.lifts import HINGE, NOT_GRADED, PARTLY, STOOP, lift_summary
from imu.core.result import Analysis
from imu.core.sitting import sitting_summary
from imu.report.html import _e, _num, _table, clock
from imu.report.summary import json_safe

GRADE_WORDS = {HINGE: "hinge (hips did the work)", STOOP: "stoop (rounded lower back)",
               PARTLY: "partly rounded", NOT_GRADED: "not graded"}


def lift_method(analysis: Analysis) -> dict:
    thr = analysis.thresholds
    worn = set(analysis.sensors)
    return {
        "signal": "trunk_inclination" if "thoracic" in worn else "lumbar_inclination",
        "lift": (f"a bend over {thr.lift_enter_deg:g} deg that peaks at {thr.lift_min_peak_deg:g} deg "
                 f"or more and comes back under {thr.lift_exit_deg:g} deg within {thr.lift_max_s:g} s"),
        "lumbar_share": ("change of lumbar_flexion over change of lumbar_inclination (lumbar spine "
                         "plus pelvis) from the second before the bend to its peak"),
        "grades": (f"hinge: lumbar share up to {100 * thr.lift_hinge_share_max:.0f} %; stoop: from "
                   f"{100 * thr.lift_stoop_share_min:.0f} % or lumbar flexion of "
                   f"{thr.lift_rounded_lumbar_deg:g} deg or more; partly rounded in between"),
        "measurable": ("sacral" in worn and "lumbar" in worn),
        "not_measurable_reason": None if {"sacral", "lumbar"} <= worn else (
            f"layout {layout_of(worn).name} has no "
            + ("sacral" if "lumbar" in worn else "lumbar and sacral")
            + " sensor: lumbar flexion cannot be separated from hip flexion, so lifts are found and "
              "measured but not graded"),
    }


def add_training(summary: dict, analysis: Analysis) -> dict:
    summary["sitting"] = json_safe(sitting_summary(analysis.events, analysis.thresholds), "sitting")
    lifts = lift_summary(analysis.events)
    lifts["method"] = lift_method(analysis)
    summary["lifts"] = json_safe(lifts, "lifts")
    return summary


def render_training_section(summary: dict) -> str:
    sitting, lifts = summary.get("sitting") or {}, summary.get("lifts") or {}
    bouts = (sitting.get("bouts") or {}).get("events") or []
    breaks = (sitting.get("breaks") or {}).get("events") or []
    reminders = (sitting.get("reminders") or {}).get("count") or 0
    if not (bouts or breaks or lifts.get("count")):
        return ""
    out = []
    if bouts or breaks:
        rules = sitting["rules"]
        b = sitting["bouts"]
        out.append("<h2>Sitting and movement breaks</h2>")
        out.append(
            f"<p>{b['count']} sitting bout{'s' if b['count'] != 1 else ''}, {clock(b['total_s'])} in all, "
            f"the longest {clock(b['longest_s'])}; {sitting['breaks']['count']} break"
            f"{'s' if sitting['breaks']['count'] != 1 else ''} taken; {reminders} reminder"
            f"{'s' if reminders != 1 else ''} to move. A reminder comes after "
            f"{rules['reminder_after_s'] / 60:g} min seated without a break, then every "
            f"{rules['reminder_repeat_s'] / 60:g} min; a break is at least "
            f"{rules['break_min_s']:g} s up and walking (the training advice is not to sit more "
            f"than about 30 minutes without moving; the repeat and the break length are our "
            f"choices).</p>")
        rows = [[clock(x["start_s"]), clock(x["end_s"]), clock(x["duration_s"]), _num(x["reminders"], 0),
                 _num(x["interruptions"], 0),
                 _e("; ".join(n for n in (
                     "not confirmed as sitting (no sit-down or stand-up seen)" if not x.get("confirmed", True) else "",
                     "from the session start" if x["from_session_start"] else "",
                     "still seated at the end" if x["open_at_end"] else "") if n))] for x in bouts]
        if rows:
            out.append(_table(["sitting from", "to", "duration", "reminders", "short walks", "note"], rows, (5,)))
        rows = [[clock(x["start_s"]), clock(x["end_s"]), clock(x["duration_s"]),
                 _e("still up at the end" if x["open_at_end"] else "")] for x in breaks]
        if rows:
            out.append(_table(["break from", "to", "length", "note"], rows, (3,)))
        out.append(f"<p class=\"note\">{_e(rules['limits'])}.</p>")
    if lifts.get("count"):
        method = lifts["method"]
        out.append("<h2>Lifts and hinges</h2>")
        grades = ", ".join(f"{n} {GRADE_WORDS.get(g, g)}" for g, n in sorted(lifts["grades"].items()))
        out.append(f"<p>{lifts['count']} lift{'s' if lifts['count'] != 1 else ''}: {_e(grades)}; "
                   f"{lifts['cues']} live cue{'s' if lifts['cues'] != 1 else ''} for a rounded back. "
                   f"A lift is {_e(method['lift'])}. Lumbar share: {_e(method['lumbar_share'])}; "
                   f"{_e(method['grades'])} (our choices).</p>")
        if method.get("not_measurable_reason"):
            out.append(f"<p class=\"note\">{_e(method['not_measurable_reason'])}.</p>")
        rows = []
        for x in lifts["events"]:
            lumbar = (f"{x['lumbar_flexion_peak_deg']:.0f} deg flexion" if x.get("lumbar_flexion_peak_deg") is not None
                      else f"{x['lumbar_inclination_deg']:.0f} deg inclination"
                      if x.get("lumbar_inclination_deg") is not None else None)
            share = (f"{100 * x['lumbar_share']:.0f} %" if x.get("lumbar_share") is not None
                     else "not measurable")
            pct = x.get("lumbar_pct_of_calibrated_max")
            rows.append([clock(x["start_s"]), _num(x["duration_s"], 1, "s"),
                         _num(x.get("trunk_inclination_peak_deg"), 0, "deg"), _e(lumbar or "-"),
                         _e(share), _num(pct, 0, "%"), _e(GRADE_WORDS.get(x["grade"], x["grade"])),
                         _e("; ".join(r for r in x["reasons"] if r))])
        out.append(_table(["at", "duration", "trunk peak", "lumbar peak", "lumbar share",
                           "of calibrated max", "grade", "why"], rows, (3, 4, 6, 7)))
        out.append("<p class=\"note\">The calibrated maximum is the largest lumbar angle of the "
                   "calibration's slow bends, not a tested end of range: a percentage over 100 means "
                   "the lift went deeper than those bends.</p>")
    return "\n".join(out)
