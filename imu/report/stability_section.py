"""report.html section on activities, steps, runs, carries and holds, with per-stride figures.

`render_stability_section(summary, figures)` -> HTML (escaped) for the summary keys added by
imu.report.stability_summary.add_stability; the figures come from
imu.report.stability_figures. The lead inserts the section into render_html (e.g. after
"Alerts").
"""

from __future__ import annotations

from imu.report.html import _e, _image, _num, _table, clock

def _grade(grade: str) -> str:
    return f'<span class="bad">{_e(grade)}</span>' if grade == "poor" else _e(grade)


def render_stability_section(summary: dict, figures: dict[str, bytes | None]) -> str:
    """HTML for runs, carries and holds; empty string when the session has none of them."""
    runs, carries = summary.get("running") or [], summary.get("carries") or []
    holds = (summary.get("holds") or {}).get("tests") or []
    issues = summary.get("sensor_issues") or []
    acts = [a for a in summary.get("activities") or [] if a["kind"] not in ("unknown",)]
    notes = summary.get("stability_notes") or []
    gait = any(a["kind"] in ("walking", "running") for a in acts)
    if not (runs or carries or holds or issues or gait or notes):
        return ""
    out = ["<h2>Activities and trunk stability</h2>"]
    if acts:
        rows = [[_e(a["kind"].replace("_", " ")), clock(a["start_s"]), clock(a["end_s"]),
                 _num(a["end_s"] - a["start_s"], 0, "s"), _num(a.get("cadence_spm"), 0),
                 _num(a.get("step_count"), 0) if "note" not in a else _e(a["note"])] for a in acts]
        out.append(_table(["activity", "from", "to", "duration", "cadence (steps/min)", "steps"], rows, (0, 5)))
    if issues:
        out.append("<p class=\"note\">Sensor problems (these spans are not graded or alerted on): "
                   + "; ".join(f"{_e(i['sensor'])} {_e(i['kind'])} {clock(i['start_s'])}-{clock(i['end_s'])}"
                               for i in issues) + "</p>")
    for i, r in enumerate(runs):
        out.append(f"<h3>Run {i + 1}: {clock(r['start_s'])} to {clock(r['end_s'])}, grade {_grade(r['grade'])}</h3>")
        ranges, reg = r["stride_ranges_deg"], r["regularity"]
        out.append(_table(
            ["cadence (steps/min)", "trunk lean (deg)", "lean drift (deg)", "sagittal range", "lateral range",
             "rotation range", "step regularity", "stride regularity", "symmetry"],
            [[_num(r["cadence_spm"], 0), _num(r["trunk_lean_mean_deg"]), _num(r["lean_drift_deg"]),
              _num(ranges["sagittal"]), _num(ranges["lateral"]), _num(ranges["rotation"]),
              _num(reg["step"], 2), _num(reg["stride"], 2), _num(reg["symmetry"], 2)]]))
        out.append("<ul>" + "".join(f"<li>{_e(x)}</li>" for x in r["reasons"]) + "</ul>")
        out.append(_image(figures.get(f"run_{i}"), f"run {i + 1} per stride"))
    for i, c in enumerate(carries):
        out.append(f"<h3>{_e(c['kind'].replace('_', ' '))}: {clock(c['start_s'])} to {clock(c['end_s'])}, "
                   f"grade {_grade(c['grade'])}</h3>")
        vs = c.get("vs_walking") or {}
        out.append(_table(
            ["lateral bend mean", "lateral range / stride", "rotation range / stride", "flexion drift",
             "lateral drift", "range growth", "vs walking: lateral range", "breakdown at"],
            [[_num(c["lateral_bend_mean_deg"], 1, "deg"), _num(c["lateral_bend_range_deg"], 1, "deg"),
              _num(c["rotation_range_deg"], 1, "deg"), _num(c["flexion_drift_deg"], 1, "deg"),
              _num(c["lateral_drift_deg"], 1, "deg"),
              _num(None if c["range_growth"] is None else 100 * c["range_growth"], 0, "%"),
              _num(vs.get("lateral_range_ratio"), 2, "x"),
              clock(c["breakdown_at_s"]) if c["breakdown"] else "none"]]))
        out.append("<ul>" + "".join(f"<li>{_e(x)}</li>" for x in c["reasons"]) + "</ul>")
        out.append(_image(figures.get(f"carry_{i}"), f"{c['kind']} per stride"))
    if holds:
        out.append("<h3>Endurance holds</h3>")
        out.append(_table(["test", "from", "form held (s)", "failed", "failing signal", "max deviation (deg)"],
                          [[_e(h["kind"].replace("_", " ")), clock(h["start_s"]), _num(h["endurance_s"], 1),
                            "yes" if h["failed"] else "no (held to the end)",
                            _e((h["failed_signal"] or "-").replace("_", " ")), _num(h["max_deviation_deg"], 1)]
                           for h in holds], (0, 3, 4)))
        mcgill = (summary.get("holds") or {}).get("mcgill") or {}
        checks = mcgill.get("checks") or []
        if checks:
            out.append(_table(["McGill ratio", "value", "target", "within"],
                              [[_e(c["ratio"]), _num(c["value"], 2), _e(c["target"]),
                                "yes" if c["ok"] else '<span class="bad">no</span>'] for c in checks], (0, 2)))
        out.append(_image(figures.get("holds"), "deviation from the first seconds of each hold"))
    if notes:
        out.append("<ul>" + "".join(f"<li class=\"note\">{_e(n)}</li>" for n in notes) + "</ul>")
    return "\n".join(out)
