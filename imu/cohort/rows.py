"""One session, one row: the summary ("imu.summary/1") flattened into tidy columns.

`index_session` is what a Dask worker runs for each file: it reads the session's summary
(the report's summary.json when one is newer than the file, otherwise computed with the
package's own analysis) and returns a plain dict, never samples.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import imu
from imu.cohort.identity import fingerprint, identity
from imu.core.activity import MOVING, RUNNING, SITTING, STANDING, STILL, UNKNOWN, WALKING
from imu.core.result import ANGLE_NAMES
from imu.report.summary import SCHEMA

CONTEXTS = (SITTING, STANDING, STILL, WALKING, RUNNING, MOVING, UNKNOWN)
GRADES = ("good", "fair", "poor")
PERCENTILES = ("p10", "p50", "p90")


def index_session(task: dict) -> dict:
    """The index row of one file; any failure becomes a row with status "failed"."""
    path = Path(task["path"])
    row = {"path": str(path), "file": path.name, "size": task["size"], "mtime_ns": task["mtime_ns"],
           "indexed_with": imu.__version__}
    began = time.perf_counter()
    try:
        row["fingerprint"] = fingerprint(path)
        row.update(identity(path, task.get("person_from_folder", False)))
        summary, origin = _summary(path)
        row.update(summary_row(summary))
        row.update(status="ok", error=None, summary_from=origin)
    except Exception as err:  # a damaged or unreadable file: listed with its reason
        from imu.cohort.runner import describe_error

        row.update(status="failed", error=describe_error(err))
    row["analysis_s"] = round(time.perf_counter() - began, 3)  # wall time on the worker
    return row


def _summary(path: Path) -> tuple[dict, str]:
    saved = Path(str(path) + ".report") / "summary.json"
    if saved.is_file() and saved.stat().st_mtime_ns >= path.stat().st_mtime_ns:
        try:
            summary = json.loads(saved.read_text(encoding="utf-8"))
            if summary.get("schema") == SCHEMA:
                return summary, "report"
        except (OSError, ValueError):
            pass  # a broken summary.json is recomputed, not trusted
    return compute_summary(path), "computed"


def compute_summary(path: Path) -> dict:
    """The summary `imu report` would write (without its figures and HTML)."""
    from imu.analysis import open_source, run_source
    from imu.report.stability_summary import add_stability
    from imu.report.summary import build_summary
    from imu.spill import SpillColumns

    source = open_source(path)
    with SpillColumns() as columns:  # the session's series in files while the summary is made, as for a report
        result = run_source(source, columns=columns)
        summary = build_summary(result.analysis, source.describe(), result.exposures)
        return add_stability(summary, result.analysis, result.stability)


def column_name(*parts: str) -> str:
    """A tidy column name: '0-20' -> '0_20', '>60' -> 'over_60', '<0' -> 'under_0'."""
    text = "_".join(parts).replace(">", "over_").replace("<", "under_")
    return re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower()


def summary_row(s: dict) -> dict:
    """The tidy columns of one summary (missing parts become None, never guessed)."""
    slouch = s.get("slouch") or {}
    angles = s.get("angles") or {}
    signal = slouch.get("signal")
    signal_angle = angles.get(signal) or {}
    wear_s = signal_angle.get("valid_s")
    duration = s.get("duration_s") or 0.0
    sensors = s.get("sensors") or {}
    row = {
        "duration_s": duration,
        "wear_s": wear_s,
        "wear_pct": signal_angle.get("coverage_pct"),
        "sensors": ",".join(sorted(sensors)),
        "n_sensors": len(sensors),
        "calibration_ok": (s.get("calibration") or {}).get("ok"),
        "calibration_quality": (s.get("calibration") or {}).get("quality"),
        "slouch_signal": signal,
        "slouch_count": slouch.get("count"),
        "slouch_per_hour": slouch.get("per_hour"),
        "slouch_per_worn_hour": _ratio(slouch.get("count"), wear_s, 3600.0),
        "slouch_s": slouch.get("total_s"),
        "slouch_pct": _ratio(slouch.get("total_s"), wear_s, 100.0),
        "slouch_longest_s": slouch.get("longest_s"),
        "alerts": (s.get("alerts") or {}).get("count"),
        "lumbar_slump_pct": (s.get("lumbar_slump") or {}).get("time_pct"),
    }
    static = signal_angle.get("static") or {}
    row.update(static_bouts=static.get("count"), static_longest_s=static.get("longest_s"),
               static_bouts_over_1min=static.get("over_1min"))
    context = s.get("context_s") or {}
    row.update({f"{c}_s": context.get(c, 0.0 if context else None) for c in CONTEXTS})
    for name in ANGLE_NAMES:
        a = angles.get(name)
        for p in PERCENTILES:
            row[f"{name}_{p}"] = None if a is None else a.get(p)
        for label, pct in ((a or {}).get("zones") or {}).items():
            row[column_name(name, "zone", label, "pct")] = pct
    row.update(_activities(s))
    row.update(_quality(s, sensors))
    return row


def _ratio(value, over, scale: float):
    if value is None or not over:
        return None
    return round(scale * float(value) / float(over), 4)


def _activities(s: dict) -> dict:
    runs, carries = s.get("running") or [], s.get("carries") or []
    holds = (s.get("holds") or {}).get("tests") or []
    row = {"runs": len(runs), "carries": len(carries), "holds": len(holds),
           "carry_breakdowns": sum(1 for c in carries if c.get("breakdown"))}
    for kind, items in (("run", runs), ("carry", carries)):
        for grade in GRADES:
            row[f"{kind}_grade_{grade}"] = sum(1 for i in items if i.get("grade") == grade)
    leans = [r["trunk_lean_mean_deg"] for r in runs if r.get("trunk_lean_mean_deg") is not None]
    row["run_lean_mean_deg"] = sum(leans) / len(leans) if leans else None
    return row


def _quality(s: dict, sensors: dict) -> dict:
    lost = [q.get("lost_pct") for q in sensors.values() if q.get("lost_pct") is not None]
    gaps = [g for q in sensors.values() for g in (q.get("gaps") or [])]
    return {
        "lost_pct_max": max(lost) if lost else None,
        "bad_samples": sum(int(q.get("bad_samples") or 0) for q in sensors.values()),
        "gaps": len(gaps),
        "gap_s": round(sum((g["end_s"] or 0) - (g["start_s"] or 0) for g in gaps), 3),
        "not_measured": len(s.get("not_measured") or []),
    }
