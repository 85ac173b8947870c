"""Posture resets in summary.json and report.html (issue 13 item 2).

`add_resets(summary, analysis, facts, source)` adds summary["posture_resets"]:
- measurable, note: whether resets can be seen at all (they need thoracic_flexion: a
  thoracic and a lumbar sensor) and why not;
- rule: the thresholds that define a reset; target_per_day (the profile's);
- count, guided, unguided: resets in this session. A reset is guided when it falls inside a
  routine that `imu live` guided (annotation `posture_reset`, source "guide"); a completed
  guided routine counts even when the detector did not see its extension;
- resets: [{t, start_s, extension_deg or null, guided, detected}];
- guided_routines: [{start_s, end_s, completed, detected}];
- by_day: [{date (local, or null when the session's start time is unknown), count, guided,
  earlier_sessions (resets the person's other reported sessions counted that day), total,
  target, met}].
`render_resets_section(summary)` gives the report's HTML for it (escaped).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from imu.core.result import Analysis
from imu.core.resets import SIGNAL
from imu.report.html import _e, _num, _table, clock

GUIDED_LABEL = "posture_reset"  # a completed guided routine (imu live --reset / key p)
PARTIAL_LABEL = "posture_reset_partial"  # a guided routine with a step not seen
MATCH_S = 2.0  # a detected reset this close to a guided routine belongs to it


def add_resets(summary: dict, analysis: Analysis, facts=None, source: dict | None = None) -> dict:
    thr = analysis.thresholds
    measurable = SIGNAL in analysis.angles
    routines = [{"start_s": float(a), "end_s": float(b), "completed": label == GUIDED_LABEL, "detected": False}
                for a, b, label in analysis.annotations if label in (GUIDED_LABEL, PARTIAL_LABEL)]
    resets = []
    for e in analysis.events:
        if e.get("event") != "posture_reset":
            continue
        inside = [r for r in routines if r["start_s"] - MATCH_S <= e["t"] <= r["end_s"] + MATCH_S]
        for r in inside:
            r["detected"] = True
        resets.append({"t": round(float(e["t"]), 2), "start_s": round(float(e["start_s"]), 2),
                       "extension_deg": e.get("extension_deg"), "guided": bool(inside), "detected": True})
    for r in routines:
        if r["completed"] and not r["detected"]:
            resets.append({"t": round(r["end_s"], 2), "start_s": round(r["start_s"], 2),
                           "extension_deg": None, "guided": True, "detected": False})
    resets.sort(key=lambda r: r["t"])
    note = "" if measurable else (
        "posture resets not measurable: they are seen as the upper back extending against the lower "
        "back (thoracic_flexion), which needs a thoracic and a lumbar sensor; with one sensor an "
        "extension cannot be told from leaning back")
    if not measurable and resets:
        note += "; only the routines guided by imu live are counted"
    started = getattr(facts, "started", None)
    summary["posture_resets"] = {
        "measurable": measurable, "note": note,
        "rule": {"signal": SIGNAL, "extension_deg": thr.reset_extension_deg, "exit_deg": thr.reset_exit_deg,
                 "hold_s": thr.reset_hold_s, "merge_s": thr.reset_merge_s},
        "target_per_day": thr.resets_per_day_target,
        "count": len(resets), "guided": sum(r["guided"] for r in resets),
        "unguided": sum(not r["guided"] for r in resets),
        "resets": resets, "guided_routines": routines,
        "by_day": _by_day(resets, started, thr.resets_per_day_target, _earlier(facts, source)),
    }
    return summary


def _day(started: dt.datetime | None, t: float) -> str | None:
    return None if started is None else (started + dt.timedelta(seconds=t)).date().isoformat()


def _by_day(resets: list[dict], started, target: int, earlier: dict[str, int]) -> list[dict]:
    days: dict = {}
    for r in resets:
        day = days.setdefault(_day(started, r["t"]), {"count": 0, "guided": 0})
        day["count"] += 1
        day["guided"] += int(r["guided"])
    if not days:
        days[_day(started, 0.0)] = {"count": 0, "guided": 0}
    out = []
    for date, d in sorted(days.items(), key=lambda kv: kv[0] or ""):
        before = earlier.get(date, 0) if date else 0
        total = d["count"] + before
        out.append({"date": date, "count": d["count"], "guided": d["guided"], "earlier_sessions": before,
                    "total": total, "target": target, "met": total >= target})
    return out


def _earlier(facts, source: dict | None) -> dict[str, int]:
    """Resets per day in the person's other reported sessions (real sensors only)."""
    from imu.people import existing_profile

    if facts is None or not facts.person or facts.sensors in ("virtual", "simulated"):
        return {}
    profile = existing_profile(facts.person)
    if profile is None:
        return {}
    key = str(Path(source["file"]).resolve()) if source and source.get("file") else None
    try:
        history = profile.history()
    except (OSError, ValueError):
        return {}
    out: dict[str, int] = {}
    for h in history:
        if h.get("session") == key:
            continue
        for d in h.get("posture_resets_by_day") or []:
            if isinstance(d, dict) and isinstance(d.get("date"), str) and isinstance(d.get("count"), int):
                out[d["date"]] = out.get(d["date"], 0) + d["count"]
    return out


def render_resets_section(summary: dict) -> str:
    pr = summary.get("posture_resets")
    if not pr:
        return ""
    rule = pr["rule"]
    parts = ["<h2>Posture resets</h2>",
             f'<p class="note">A reset is counted when the upper back extends at least '
             f'{rule["extension_deg"]:g} deg behind its neutral against the lower back '
             f'({_e(rule["signal"].replace("_", " "))}) and holds it {rule["hold_s"]:g} s; repeats '
             f'within {rule["merge_s"]:g} s are one routine. Leaning back in the chair with a neutral '
             f'spine, side stretches and a brief arch are not resets. Target: '
             f'{pr["target_per_day"]} a day (our choice, from the training advice of three or more '
             "resets a day).</p>"]
    if pr["note"]:
        parts.append(f'<p class="bad">{_e(pr["note"])}</p>')
    rows = []
    for d in pr["by_day"]:
        rows.append([_e(d["date"] or "this session"), _num(d["count"]), _num(d["guided"]),
                     _num(d["earlier_sessions"]), _num(d["total"]), _num(d["target"]),
                     "yes" if d["met"] else '<span class="bad">no</span>'])
    parts.append(_table(["day", "this session", "guided", "other sessions", "total", "target", "met"], rows))
    if pr["resets"]:
        rows = [[clock(r["start_s"]), clock(r["t"]), _num(r["extension_deg"]),
                 "guided" if r["guided"] else "on your own",
                 "yes" if r["detected"] else "no (guided routine completed)"] for r in pr["resets"]]
        parts.append(_table(["started", "counted at", "extension (deg)", "how", "seen by the sensors"],
                            rows, text_columns=(3, 4)))
    partial = [r for r in pr["guided_routines"] if not r["completed"]]
    if partial:
        parts.append(f'<p class="note">{len(partial)} guided routine(s) were not completed and are '
                     "not counted.</p>")
    return "\n".join(parts)
