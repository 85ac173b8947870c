"""The thoracic mobility test in summary.json, report.html and its own page (issue 13 item 4).

`add_mobility(summary, analysis, source, facts)` adds summary["mobility_test"] when the session
holds a test (annotations `mobility_<movement>` written by `imu live --test mobility` or by
hand with `imu annotate`): the ranges are measured again from the recording by the same code
the live test used (imu.core.mobility), with the person's earlier tests beside them.
`render_mobility_section(summary)` is the report's section; `mobility_page(test, earlier)` the
stand-alone page `imu live --test mobility` writes beside the session file.
"""

from __future__ import annotations

from pathlib import Path

from imu.core.mobility import ANGLE_WORDS, EVEN_DEG, MOVEMENTS, SEGMENTS, MobilityRecorder
from imu.core.mobility_guide import LABEL_PREFIX, MobilityGuide, guide_notes
from imu.profile import Thresholds
from imu.report.html import STYLE, _e, _num, _table

SEGMENT_WORDS = {"thoracic": "thoracic (upper back on lower back)",
                 "lumbar": "lumbar (lower back on pelvis)", "trunk": "whole trunk"}


def add_mobility(summary: dict, analysis, source: dict | None, facts=None) -> dict:
    labels = [a for a in analysis.annotations if str(a[2]).startswith("mobility_")]
    if not labels or not source or not source.get("file"):
        return summary
    from imu.people import existing_profile

    result, _ = mobility_from_recording(source["file"], analysis.thresholds)
    if result is None:
        summary["mobility_test"] = {"movements": {}, "asymmetry": {}, "earlier": [],
                                    "notes": ["mobility test not measured: no accepted calibration"]}
        return summary
    test = result.to_dict()
    profile = existing_profile(getattr(facts, "person", None))
    key = str(Path(source["file"]).resolve())
    test["earlier"] = [t for t in earlier_tests(profile) if str(Path(t.get("session", "")).resolve()) != key]
    summary["mobility_test"] = test
    return summary


def earlier_range(test: dict | None, movement: str, segment: str) -> float | None:
    """One range of an earlier test as the profile stores it (None when it has none)."""
    try:
        return test["movements"][movement]["ranges"][segment]["range_deg"]
    except (KeyError, TypeError):
        return None


def _body(test: dict, earlier: list[dict]) -> str:
    last = earlier[-1] if earlier else None
    parts = ['<p class="note">Each movement once, from standing tall to a comfortable end range: the '
             "range is the furthest each segment went from where it started, in degrees. Rotation is "
             "measured over the movement only (without a magnetometer the sensors' headings drift "
             f"slowly). Sides within {EVEN_DEG:g} deg of each other count as even; real sensors carry "
             "3 to 7 deg of error in relative angles, so a side difference under about 5 deg is not a "
             "finding.</p>"]
    header = ["movement"] + [SEGMENT_WORDS[s] for s in SEGMENTS]
    rows = []
    for movement in MOVEMENTS:
        m = test["movements"].get(movement)
        cells = [_e(movement.replace("_", " "))]
        for segment in SEGMENTS:
            r = (m or {}).get("ranges", {}).get(segment)
            if r is None or r.get("range_deg") is None:
                cells.append(f'<span class="note">{_e((r or {}).get("note") or "not measured")}</span>')
                continue
            text = _num(r["range_deg"], 0)
            before = earlier_range(last, movement, segment)
            if before is not None:
                text += f' <span class="note">(earlier {_num(before, 0)})</span>'
            cells.append(text)
        rows.append(cells)
    parts.append(_table(header, rows, text_columns=(1, 2, 3)))
    rows = []
    for pair, segments in test.get("asymmetry", {}).items():
        for segment, a in segments.items():
            if a.get("larger") is None:
                continue
            side = "even" if a["larger"] == "even" else f"{a['larger']} larger"
            rows.append([_e(pair.replace("_", " ")), _e(SEGMENT_WORDS[segment]), _num(a["left_deg"]),
                         _num(a["right_deg"]), _num(a["difference_deg"]), _e(side)])
    if rows:
        parts.append("<h3>Left and right</h3>")
        parts.append(_table(["movement", "segment", "left (deg)", "right (deg)", "right - left (deg)",
                             "which side"], rows, text_columns=(1, 5)))
    words = sorted({ANGLE_WORDS[r["angle"]] for m in test["movements"].values()
                    for r in m.get("ranges", {}).values() if r.get("angle") in ANGLE_WORDS
                    and r.get("range_deg") is not None})
    notes = words + list(test.get("notes", []))
    if notes:
        parts.append("<ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>")
    if earlier:
        dates = ", ".join(str(t.get("date", "?")) for t in earlier[-5:])
        parts.append(f'<p class="note">Earlier tests of this person: {_e(dates)}; the table shows the '
                     "latest.</p>")
    else:
        parts.append('<p class="note">No earlier test of this person to compare with.</p>')
    return "\n".join(parts)


def render_mobility_section(summary: dict) -> str:
    test = summary.get("mobility_test")
    if not test:
        return ""
    return "<h2>Thoracic mobility test</h2>\n" + _body(test, test.get("earlier", []))


def mobility_page(test: dict, earlier: list[dict]) -> str:
    title = f"Mobility test {test.get('date', '')}".strip()
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>\n"
            f"<h1>{_e(title)}</h1>\n<p class=\"meta\">{_e(test.get('session', ''))}"
            f"{' (virtual sensors)' if test.get('virtual') else ''}</p>\n"
            + _body(test, earlier) + "\n</body></html>\n")


def earlier_tests(profile) -> list[dict]:
    try:
        return profile.mobility_tests() if profile is not None else []
    except (OSError, ValueError):
        return []


# --- from a recording ---------------------------------------------------------------------------

def mobility_from_recording(path, thresholds: Thresholds | None = None,
                            spans: list[tuple[float, float, str]] | None = None):
    """(MobilityResult or None, spans) of a session file: the spans its annotations hold
    (`mobility_*`), or with spans=[] the guide run over the calibrated data as it was live."""
    from imu.analysis import analyze, find_calibrations, open_source
    from imu.core.angles import AngleComputer

    source = open_source(path, thresholds)
    if spans is None:
        spans = [(a, b, label.removeprefix(LABEL_PREFIX)) for a, b, label in source.annotations
                 if label.startswith(LABEL_PREFIX) and label.removeprefix(LABEL_PREFIX) in MOVEMENTS]
        if not spans:
            return None, []
    guide = None
    calibration = find_calibrations(source).primary
    if calibration is None:
        return None, spans
    computer = AngleComputer(calibration, source.thresholds)
    recorder = MobilityRecorder(keep=[(a - 1.0, b + 1.0) for a, b, _ in spans] if spans else None)
    if not spans:
        guide = MobilityGuide(source.thresholds)
        start = max(calibration.applies_from_s or 0.0, (calibration.span_s or (0.0, 0.0))[1])

    def on_step(out) -> None:
        if not out.angles or not len(out.t):
            return
        segments = computer.segments(out.grid)
        recorder.add(out.t, out.angles, segments)
        if guide is not None and out.t[-1] >= start:
            if not guide.began:
                guide.begin(start)
            guide.update(out.t, out.angles, segments, float(out.t[-1]))

    source = open_source(path, thresholds)
    analysis = analyze(source, on_step=on_step)
    if guide is not None:
        if guide.began and len(analysis.t):
            guide.end(float(analysis.t[-1]))
        spans = list(guide.spans)
    result = recorder.measure(spans)
    if guide is not None:
        result.notes += guide_notes(guide)
    return result, spans
