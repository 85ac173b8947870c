"""report.html: one self-contained page for a physiotherapist.

Every number comes from the summary dictionary (so the page and summary.json never
disagree); figures arrive as PNG bytes and are embedded as base64 data URIs. No scripts,
no external assets. Every piece of text inserted into the page is escaped.
"""

from __future__ import annotations

import base64
from html import escape

MAX_TABLE_ROWS = 300  # longer event lists are in events.csv

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1100px;
color:#222;line-height:1.4;padding:0 1rem}
h1{margin-bottom:.2rem}h2{border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2rem}
.meta{color:#666;font-size:.9rem}
.cards{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0}
.card{border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem;min-width:9rem}
.card .v{font-size:1.6rem;font-weight:600}.card .k{color:#555;font-size:.85rem}
table{border-collapse:collapse;font-size:.88rem;margin:.6rem 0}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:right}
th:first-child,td:first-child{text-align:left}td.text{text-align:left}
img{max-width:100%;height:auto;display:block;margin:.5rem 0}
.bad{color:#a22;font-weight:600}.note{color:#555;font-size:.88rem}
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
    if seconds is None:
        return "&ndash;"
    total = int(round(seconds))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _image(png: bytes | None, alt: str) -> str:
    if png is None:
        return ""
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{_e(alt)}">'


def _table(header: list[str], rows: list[list[str]], text_columns: tuple[int, ...] = ()) -> str:
    """A table of already-escaped cells; header cells are escaped here."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = "".join(f'<td class="text">{c}</td>' if i in text_columns else f"<td>{c}</td>"
                        for i, c in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _headline(s: dict) -> str:
    slouch, duration = s["slouch"], s["duration_s"]
    share = 100.0 * slouch["total_s"] / duration if duration else None
    cards = [
        ("Duration", clock(duration)),
        ("Slouches", _num(slouch["count"])),
        ("Slouches per hour", _num(slouch["per_hour"], 1)),
        ("Time slouched", f"{clock(slouch['total_s'])} ({_num(share, 1)} %)"),
        ("Alerts", _num(s["alerts"]["count"])),
        ("Calibration", _e(s["calibration"]["quality"])),
    ]
    body = "".join(f'<div class="card"><div class="v">{v}</div><div class="k">{_e(k)}</div></div>'
                   for k, v in cards)
    return f'<div class="cards">{body}</div>'


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


def render_html(summary: dict, figures: dict[str, bytes | None], activity_html: str = "") -> str:
    """The report page. figures: "traces", "zones", "distributions", "hourly" -> PNG bytes;
    activity_html: the runs, carries and holds section (already escaped), placed after alerts."""
    s = summary
    source = s["source"]
    title = f"Trunk posture report: {source['file'] or source['kind']}"
    zones, distribution = _angle_tables(s)
    not_measured = "".join(f"<li>{_e(line)}</li>" for line in s["not_measured"])
    th = s["method"]["thresholds"]
    signal = s["slouch"]["signal"].replace("_", " ")
    sections = [
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">Source: {_e(source["kind"])} {_e(source["file"] or "")} &middot; '
        f'generated by imu {_e(s["generated_by"]["version"])}</p>',
        _headline(s),
        "<h2>Angles over time</h2>",
        f'<p class="note">Purple shading: counted slouch episodes ({_e(signal)} above '
        f'{th["slouch_enter_deg"]:g} deg until it falls below {th["slouch_exit_deg"]:g} deg, '
        f'held {th["slouch_min_duration_s"]:g} s or more). Background: exposure zones, green '
        "neutral, amber intermediate, red awkward, blue extension. Each pixel column shows the "
        "lowest and highest value in it.</p>",
        _image(figures.get("traces"), "angle traces over time"),
        "<h2>Exposure zones</h2>", _image(figures.get("zones"), "time in exposure zones"), zones,
        "<h2>Distributions and static postures</h2>",
        _image(figures.get("distributions"), "angle distributions"), distribution,
        "<h2>Slouches</h2>", _image(figures.get("hourly"), "slouches per hour of session"),
        _slouch_table(s),
        "<h2>Alerts</h2>", _alert_table(s),
        activity_html,
        "<h2>Data quality</h2>", _quality_table(s),
        "<h2>Calibration</h2>", _calibration_panel(s),
        "<h2>What could not be measured</h2>",
        f"<ul>{not_measured}</ul>" if not_measured else "<p>Everything was measured.</p>",
        "<h2>Method</h2>", _method_panel(s),
    ]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>\n"
            + "\n".join(sections) + "\n</body></html>\n")
