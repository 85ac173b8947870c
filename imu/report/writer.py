"""write_report: a session's summary.json, events.csv and report.html in one directory."""

from __future__ import annotations

import json
from pathlib import Path

from imu.atomic import replacing_dir
from imu.core.exposure import angle_summary
from imu.core.result import Analysis
from imu.report import figures
from imu.report.events import write_events_csv
from imu.report.html import render_html
from imu.core.stability import stability_from_analysis
from imu.report.stability_section import render_stability_section, stability_figures
from imu.report.stability_summary import add_stability
from imu.report.summary import build_summary


def write_report(analysis: Analysis, out_dir: str | Path, source: dict,
                 acc: dict | None = None) -> dict[str, Path]:
    """Write the three report files into out_dir (created if needed); returns their paths.

    source: {"kind": ..., "file": ...} as for `build_summary`. acc: the grid acceleration per
    sensor (imu.core.stability.AccCollector), which sharpens activity and stride detection.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"report directory {out} exists and is not a directory")
    exposures = angle_summary(analysis)
    summary = build_summary(analysis, source, exposures)
    stability = stability_from_analysis(analysis, acc)
    add_stability(summary, analysis, stability)
    plotted = list(exposures)
    images = {
        "traces": figures.trace_figure(analysis, plotted) if plotted else None,
        "zones": figures.zone_figure(exposures) if any(
            e.zones_pct is not None for e in exposures.values()) else None,
        "distributions": figures.distribution_figure(analysis, exposures) if plotted else None,
        "hourly": figures.hourly_figure(analysis),
    }
    extra = render_stability_section(
        summary, stability_figures(stability, analysis.thresholds.hold_deviation_deg))
    html = render_html(summary, images, extra)
    # allow_nan=False: a NaN that slipped through is a bug, not a silent "NaN" token
    summary_text = json.dumps(summary, indent=2, allow_nan=False)
    with replacing_dir(out) as partial:  # all three files or none of them
        write_events_csv(analysis, partial / "events.csv", stability)
        (partial / "report.html").write_text(html, encoding="utf-8")
        (partial / "summary.json").write_text(summary_text, encoding="utf-8")
    return {name: out / name for name in ("summary.json", "events.csv", "report.html")}
