"""report.html: one self-contained page for a physiotherapist and for the wearer.

It opens with the answer (who, when, how long, which sensors, what went well and what to
work on, the headline numbers against the person's earlier sessions), then the figures,
then every threshold and the data quality. Every number comes from the summary dictionary
(so the page and summary.json never disagree) or from `imu.report.overview`; figures arrive
as PNG bytes embedded as data URIs. No scripts, no external assets; every piece of text
inserted into the page is escaped. The layout reflows down to phone width.
"""

from __future__ import annotations

import base64
from html import escape

from imu import timefmt
from imu.report.overview import Comparison, SessionFacts, headline, span_text, verdict

MAX_TABLE_ROWS = 300  # longer event lists are in events.csv

STYLE = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5rem auto;max-width:1100px;
color:#222;line-height:1.45;padding:0 1rem}
h1{margin:0 0 .2rem;font-size:1.7rem}h2{border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2rem}
h3{margin:.2rem 0 .4rem;font-size:1.05rem}
.when{font-size:1.05rem;color:#333;margin:.2rem 0}.meta{color:#666;font-size:.85rem}
.badge{display:inline-block;border-radius:4px;padding:.15rem .5rem;font-size:.85rem;font-weight:600}
.badge.real{background:#dcfce7;color:#14532d}.badge.virtual,.badge.simulated{background:#ede9fe;color:#4c1d95}
.badge.unknown{background:#eee;color:#444}
.answer{display:flex;flex-wrap:wrap;gap:1rem;margin:1rem 0}
.answer>div{flex:1 1 20rem;border-radius:8px;padding:.7rem 1rem}
.answer ul{margin:.2rem 0;padding-left:1.2rem}.answer li{margin:.25rem 0}
.well{background:#f0faf2;border:1px solid #b7e1c1}.work{background:#fff7ed;border:1px solid #f5d0a9}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(10.5rem,1fr));gap:.7rem;margin:1rem 0}
.card{border:1px solid #ddd;border-radius:6px;padding:.55rem .8rem}
.card .v{font-size:1.5rem;font-weight:600}.card .k{color:#555;font-size:.85rem}
.card .c{font-size:.8rem;margin-top:.2rem;color:#555}
.c.better{color:#166534}.c.worse{color:#9a3412}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:.88rem;margin:.6rem 0}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:right}
th:first-child,td:first-child{text-align:left}td.text{text-align:left}
img{max-width:100%;height:auto;display:block;margin:.5rem 0}
.bad{color:#a22;font-weight:600}.note{color:#555;font-size:.88rem}
@media (max-width:600px){body{margin:.8rem auto;padding:0 .6rem}h1{font-size:1.35rem}
.card .v{font-size:1.25rem}.cards{grid-template-columns:repeat(2,1fr)}
.fig img{max-width:none;width:680px}}
"""


def _e(value) -> str:
    return escape(str(value), quote=True)


def _num(value, digits: int = 1, unit: str = "") -> str:
    if value is None:
        return "&ndash;"
    text = f"{value:.{digits}f}" if isinstance(value, float) else str(value)
    return _e(text + (f" {unit}" if unit else ""))


def clock(seconds: float | None) -> str:
    """Seconds as h:mm:ss (or m:ss under an hour)."""
    return "&ndash;" if seconds is None else timefmt.clock(round(seconds))


def _image(png: bytes | None, alt: str) -> str:
    if png is None:
        return ""
    data = base64.b64encode(png).decode("ascii")
    return f'<div class="fig scroll"><img src="data:image/png;base64,{data}" alt="{_e(alt)}"></div>'


def _table(header: list[str], rows: list[list[str]], text_columns: tuple[int, ...] = ()) -> str:
    """A table of already-escaped cells; header cells are escaped here."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = "".join(f'<td class="text">{c}</td>' if i in text_columns else f"<td>{c}</td>"
                        for i, c in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    return (f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def _card(label: str, value: str, comparison: str = "") -> str:
    return (f'<div class="card"><div class="v">{value}</div><div class="k">{_e(label)}</div>'
            f"{comparison}</div>")


def _versus(name: str, value, comparison: Comparison | None, unit: str = "") -> str:
    """"usual 12.0 (better)" under a card, when the person has earlier sessions."""
    if comparison is None or name not in comparison.usual:
        return ""
    usual = comparison.usual[name]
    result = verdict(name, value, usual) or ""
    shown = clock(usual) if unit == "s" else f"{usual:.1f}{' ' + unit if unit else ''}"
    word = {"better": "better than usual", "worse": "worse than usual",
            "same": "as usual"}.get(result, "")
    return (f'<div class="c {result}">usual {_e(shown)}'
            f"{' &middot; ' + _e(word) if word else ''}</div>")


def _headline(s: dict, comparison: Comparison | None) -> str:
    slouch, duration = s["slouch"], s["duration_s"]
    numbers = headline(s)
    measured = numbers["slouch_per_hour"] is not None
    per_hour_label = "slouches per hour" + (
        f" (from {span_text(duration)})" if duration and duration < 3600 else "")
    cards = [_card("worn for", clock(duration))]
    if measured:
        cards += [
            _card("slouches", _num(slouch["count"])),
            _card(per_hour_label, _num(slouch["per_hour"], 1),
                  _versus("slouch_per_hour", numbers["slouch_per_hour"], comparison)),
            _card(f"time slouched ({clock(slouch['total_s'])})",
                  f"{_num(numbers['slouched_pct'], 0)} %",
                  _versus("slouched_pct", numbers["slouched_pct"], comparison, "%")),
            _card("longest slouch", clock(slouch["longest_s"]),
                  _versus("longest_slouch_s", numbers["longest_slouch_s"], comparison, "s")),
            _card("alerts", _num(s["alerts"]["count"])),
        ]
    else:
        cards.append(_card("slouches", "not measured"))
    if numbers["trunk_neutral_pct"] is not None:
        cards.append(_card("trunk inclination neutral", f"{_num(numbers['trunk_neutral_pct'], 0)} %",
                           _versus("trunk_neutral_pct", numbers["trunk_neutral_pct"], comparison, "%")))
    cal = s["calibration"]
    quality = _e(cal["quality"]) if cal["ok"] else '<span class="bad">failed</span>'
    cards.append(_card("calibration", quality))
    note = ""
    if comparison is not None:
        note = (f'<p class="note">"Usual" is the median of this person\'s {comparison.sessions} '
                f"earlier calibrated session{'s' if comparison.sessions > 1 else ''}.</p>")
    return f'<div class="cards">{"".join(cards)}</div>{note}'


def _who(facts: SessionFacts | None) -> str:
    if facts is None or not facts.person:
        return "unnamed wearer"
    if facts.person == "default":  # `imu live` without --profile
        return "default profile (no name given)"
    return facts.person


def _opening(s: dict, facts: SessionFacts | None, well: list[str], work: list[str],
             comparison: Comparison | None, history_note: str) -> str:
    """Who, when, how long, which sensors, and the answer in words."""
    if facts is None:
        facts = SessionFacts(file_name=str(s["source"].get("file") or s["source"]["kind"]))
    who = _who(facts)
    when = "start time not recorded"
    if facts.started is not None:
        stamp = f"{facts.started:%a %d %b %Y, %H:%M}"
        when = stamp if facts.started_is_wear_time else f"file written {stamp}"
    duration = s["duration_s"] or 0.0
    badge = {"real": "real sensors", "virtual": "virtual sensors", "simulated": "simulated",
             "unknown": "sensors not recorded"}[facts.sensors]
    well_items = "".join(f"<li>{_e(x)}</li>" for x in well) or \
        "<li>Nothing stands out as good in the measured numbers.</li>"
    work_items = "".join(f"<li>{_e(x)}</li>" for x in work) or \
        "<li>Nothing stands out: keep it up.</li>"
    return (f"<header><h1>Posture report: {_e(who)}</h1>"
            f'<p class="when">{_e(when)} &middot; {_e(span_text(duration))} of data &middot; '
            f'<span class="badge {facts.sensors}">{_e(badge)}</span></p>'
            f'<p class="meta">{_e(facts.sensors_text)}. File {_e(facts.file_name)}; generated by '
            f'imu {_e(s["generated_by"]["version"])}. {_e(history_note)}</p></header>'
            f'<section class="answer"><div class="well"><h3>What went well</h3><ul>{well_items}'
            f'</ul></div><div class="work"><h3>What to work on</h3><ul>{work_items}</ul></div>'
            f"</section>" + _headline(s, comparison))


def _angle_tables(s: dict) -> str:
    names = list(s["angles"])
    dist = []
    for n in names:
        a, static = s["angles"][n], s["angles"][n]["static"] or {}
        dist.append([_e(n.replace("_", " ")),
                     *(_num(a[k], 1) for k in ("p10", "p50", "p90", "p90_p10", "min", "max")),
                     _num(static.get("count")), clock(static.get("longest_s")),
                     _num(static.get("over_1min")), _num(a["coverage_pct"], 1)])
    distribution = _table(["angle", "P10", "P50", "P90", "P90-P10", "min", "max", "static bouts",
                           "longest static", "static > 1 min", "measured %"], dist)
    zone_rows = []
    for n in names:
        zones = s["angles"][n]["zones"]
        if zones:
            cells = ", ".join(f"{_e(k)} deg: {_num(v, 1)} %" for k, v in zones.items())
            zone_rows.append([_e(n.replace("_", " ")), cells])
    zones = _table(["angle", "% of measured time per zone"], zone_rows, text_columns=(1,))
    return zones, distribution


def _slouch_table(s: dict) -> str:
    events = s["slouch"]["events"]
    rows = [[_num(i + 1), clock(e["start_s"]), clock(e["end_s"]), _num(e["duration_s"], 1),
             _num(e["peak_deg"], 1)] for i, e in enumerate(events[:MAX_TABLE_ROWS])]
    more = (f'<p class="note">{len(events) - MAX_TABLE_ROWS} more in events.csv.</p>'
            if len(events) > MAX_TABLE_ROWS else "")
    return _table(["#", "start", "end", "duration (s)", "peak (deg)"], rows) + more


def _alert_table(s: dict) -> str:
    moments = s["alerts"]["moments"]
    if not moments:
        return '<p class="note">No alerts were due in this session.</p>'
    rows = [[clock(m["t"]), _e(m["reason"])] for m in moments[:MAX_TABLE_ROWS]]
    return _table(["time", "reason"], rows, text_columns=(1,))


def _quality_table(s: dict) -> str:
    rows = []
    for location, q in s["sensors"].items():
        gap_s = sum(g["end_s"] - g["start_s"] for g in q["gaps"])
        reasons = ", ".join(f"{_e(r)}: {n}" for r, n in q["errors"].items()) or "none"
        rows.append([_e(location), _e(q["device"]), _num(q["rate_hz"], 1), _num(q["samples"]),
                     f"{_num(q['lost_samples'])} ({_num(q['lost_pct'], 2)} %)",
                     f"{len(q['gaps'])} ({gap_s:.1f} s)", _num(q["bad_notifications"]),
                     _num(q["bad_samples"]), reasons, _num(q["clock_residual_ms"], 2),
                     _num(q["clock_drift_ppm"], 1), _num(q["battery_pct"], 0)])
    if not rows:
        return '<p class="note">No sensor statistics were recorded.</p>'
    return _table(["sensor", "device", "rate (Hz)", "samples", "lost", "gaps", "bad packets",
                   "bad samples", "bad packet reasons", "clock residual (ms)", "drift (ppm)",
                   "battery %"], rows, text_columns=(1, 8))


def _calibration_panel(s: dict) -> str:
    cal = s["calibration"]
    status = "passed" if cal["ok"] else '<span class="bad">failed</span>'
    neutral = cal["neutral"]
    items = [f"<li>Result: {status}; quality <b>{_e(cal['quality'])}</b>.</li>"]
    if neutral:
        items.append(f"<li>Neutral posture: {clock(neutral['start_s'])} to "
                     f"{clock(neutral['end_s'])}.</li>")
    items.append(f"<li>Forward bends used: {len(cal['bends'])}.</li>")
    items += [f"<li>{_e(r)}</li>" for r in cal["reasons"]]
    return f"<ul>{''.join(items)}</ul>"


def _method_panel(s: dict) -> str:
    method = s["method"]
    thresholds = _table(["threshold", "value"], [
        [_e(k), _e(", ".join(f"{x:g}" for x in v) if isinstance(v, list) else v)]
        for k, v in method["thresholds"].items()])
    conventions = "".join(f"<li><b>{_e(k.replace('_', ' '))}</b>: {_e(v)}</li>"
                          for k, v in {**method["conventions"], **method["definitions"]}.items())
    return (f"<p>Software: imu {_e(method['software_version'])}; summary schema "
            f"{_e(s['schema'])}.</p><ul>{conventions}</ul>{thresholds}")


def _zone_note(s: dict, zone_bases: dict[str, str]) -> str:
    th = s["method"]["thresholds"]
    rows = "".join(f"<li><b>{_e(name.replace('_', ' '))}</b>: {_e(basis)}</li>"
                   for name, basis in zone_bases.items())
    band = th.get("zone_neutral_band_deg")
    dead = (f" Sagittal angles down to -{band:g} deg count as neutral: a few degrees behind "
            "the calibrated upright cannot be told from sensor error (1-3 deg for inclination, "
            "3-7 deg for relative flexion), so only a lean further back is extension."
            if band is not None else "")
    return (f'<p class="note">Which standard applies to which angle (docs/trunk-science.md):</p>'
            f'<ul class="note">{rows}</ul><p class="note">{_e(dead)} Lumbar flexion relative to '
            "the sacrum has no zones in these standards; see its percentiles and the lumbar "
            "slump line.</p>")


def render_html(summary: dict, figures: dict[str, bytes | None], activity_html: str = "",
                facts: SessionFacts | None = None, comparison: Comparison | None = None,
                well: list[str] | None = None, work: list[str] | None = None,
                zone_bases: dict[str, str] | None = None, history_note: str = "") -> str:
    """The report page. figures: "timeline", "rate", "traces", "zones", "distributions" -> PNG
    bytes; activity_html: the runs, carries and holds section (already escaped); facts,
    comparison, well, work: the opening (imu.report.overview); zone_bases: angle -> standard."""
    s = summary
    facts_title = _who(facts)
    when = f", {facts.started:%d %b %Y %H:%M}" if facts and facts.started else ""
    title = f"Posture report: {facts_title}{when}"
    zones, distribution = _angle_tables(s)
    not_measured = "".join(f"<li>{_e(line)}</li>" for line in s["not_measured"])
    th = s["method"]["thresholds"]
    signal = s["slouch"]["signal"].replace("_", " ")
    sections = [
        _opening(s, facts, well or [], work or [], comparison, history_note),
        "<h2>The session at a glance</h2>",
        '<p class="note">Activity, counted slouch episodes (violet) and alerts (red marks) over '
        "the session.</p>",
        _image(figures.get("timeline"), "session timeline: activity, slouches, alerts"),
        "<h2>Slouches</h2>",
        f'<p class="note">A slouch is {_e(signal)} above {th["slouch_enter_deg"]:g} deg until it '
        f'falls below {th["slouch_exit_deg"]:g} deg, held {th["slouch_min_duration_s"]:g} s or '
        "more; bars count episodes by their start.</p>",
        _image(figures.get("rate"), "slouches per time bin"),
        _slouch_table(s),
        "<h2>Angles over time</h2>",
        '<p class="note">Violet hatching: counted slouch episodes. Background: the exposure zones '
        "that apply to each angle (blue extension, green neutral, amber intermediate, red "
        "awkward). Each pixel column shows the lowest and highest value in it.</p>",
        _image(figures.get("traces"), "angle traces over time"),
        "<h2>Exposure zones</h2>", _zone_note(s, zone_bases or {}),
        _image(figures.get("zones"), "time in exposure zones"), zones,
        "<h2>Distributions and static postures</h2>",
        _image(figures.get("distributions"), "angle distributions"), distribution,
        "<h2>Alerts</h2>", _alert_table(s),
        activity_html,
        "<h2>Data quality</h2>", _quality_table(s),
        "<h2>Calibration</h2>", _calibration_panel(s),
        "<h2>What could not be measured</h2>",
        f"<ul>{not_measured}</ul>" if not_measured else "<p>Everything was measured.</p>",
        "<h2>Method</h2>", _method_panel(s),
    ]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>\n"
            + "\n".join(sections) + "\n</body></html>\n")
