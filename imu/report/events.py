"""events.csv: one row per event of a session, in time order.

Kinds: slouch (counted episodes), alert, gap (lost data of one sensor), calibration (the
neutral window, each bend, or the failure). Columns are fixed (EVENT_COLUMNS); a value
that does not apply is left empty.
"""

from __future__ import annotations

import csv
from pathlib import Path

from imu.core.exposure import episode_end
from imu.core.result import Analysis

EVENT_COLUMNS = ("kind", "start_s", "end_s", "duration_s", "peak_deg", "angle", "reason", "sensor")
_KIND_ORDER = {"calibration": 0, "gap": 1, "slouch": 2, "alert": 3}


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


def event_rows(analysis: Analysis) -> list[dict]:
    """The rows of events.csv as dicts of strings keyed by EVENT_COLUMNS."""
    rows = []
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
    for ep in analysis.episodes:
        still_open = " (still open at the end of the session)" if ep.end_s is None or ep.open_at_end else ""
        rows.append(_row("slouch", ep.start_s, episode_end(ep, analysis.duration_s), ep.peak_deg,
                         signal, f"over {enter:g} deg from neutral{still_open}"))
    for alert in analysis.alerts:
        rows.append(_row("alert", alert.t, peak=alert.value_deg, angle=alert.angle,
                         reason=alert.reason))
    rows.sort(key=lambda r: r["_sort"])
    return [{k: r[k] for k in EVENT_COLUMNS} for r in rows]


def write_events_csv(analysis: Analysis, path: str | Path) -> Path:
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=EVENT_COLUMNS)
        writer.writeheader()
        writer.writerows(event_rows(analysis))
    return path
