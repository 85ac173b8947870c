"""Making a report: analyse a recording and write summary.json, events.csv and report.html.

The one service behind `imu report`, the report at the end of `imu live` and the cohort's
reports. Heavy modules are imported when a report is made, not when this one is imported.
"""

from __future__ import annotations

from pathlib import Path


def make_report(input_path, out_dir, thresholds=None, mapping=None, calibration_spans=None, bends=True,
                profile=None, quiet=True) -> dict:
    """Analyse a recording and write its report; a progress bar on a terminal unless quiet.
    Returns the written paths by file name ("summary.json", "events.csv", "report.html")."""
    from imu.parallel import Standby
    from imu.reading import start_reading
    from imu.report.figure_plan import figure_sets

    # first thing: a session file is read in a second process while this one imports the
    # analysis and finds the calibration plan
    reading = start_reading(input_path)
    # and the processes that will draw the figures are forked now, while this one is small
    # (forked after the analysis, each began with the session's arrays as its own memory):
    # as many as the figures are ever shared among on this machine
    drawers = [Standby() for _ in figure_sets(0)]
    try:
        return _make(reading, drawers, input_path, out_dir, thresholds, mapping, calibration_spans, bends,
                     profile, quiet)
    finally:
        if reading is not None:
            reading.close()  # ended already, unless the report failed before the read did
        for drawer in drawers:
            drawer.close()  # those not needed, or all when the report failed before its figures


def _make(reading, drawers, input_path, out_dir, thresholds, mapping, calibration_spans, bends, profile,
          quiet) -> dict:
    from imu.analysis import open_source, run_source
    from imu.progress import progress
    from imu.report.figure_plan import figure_sets, without_series
    from imu.report.overview import session_facts
    from imu.report.writer import prepare_output_dir, write_report
    from imu.spill import SpillColumns
    from imu.timefmt import clock

    prepare_output_dir(Path(out_dir))  # an unwritable folder fails before minutes of analysis
    source = open_source(input_path, thresholds, mapping)
    source.calibration_spans, source.bends = calibration_spans, bends
    total = session_facts(source.path, source.kind).end_hint_s
    # the session's time axis, angles and acceleration are kept in files while the report is
    # made, not in memory that grows with the recording; the report is written before they go
    with progress("analysing", total=total, quiet=quiet, unit=clock) as bar, SpillColumns() as columns:
        def on_step(update) -> None:
            if len(update.out.t):
                bar.advance_to(float(update.out.t[-1]))

        drawing = []

        def draw_figures(result) -> None:
            # the figures need no grades: other processes draw them while this one grades,
            # from the envelope and exposure (the session's arrays stay here)
            light = without_series(result.analysis)  # run_source gathers the envelope in the pass
            for drawer, names in zip(drawers, figure_sets(len(result.analysis.t))):
                drawing.append(drawer.submit(draw_session_figures, light, result.exposures, result.envelope, names))
            bar.set_total(None)
            bar.stage("trunk stability and figures")

        result = run_source(source, on_step=on_step, before_grading=draw_figures, reading=reading, columns=columns)
        bar.set_total(None)
        return write_report(result.analysis, Path(out_dir), source.describe(), profile=profile,
                            progress=bar.stage, stability=result.stability,
                            exposures=result.exposures, envelope=result.envelope,
                            images={k: v for d in drawing for k, v in d.result().items()} if drawing else None)


def draw_session_figures(analysis, exposures: dict, envelope, names: tuple[str, ...]) -> dict[str, bytes | None]:
    """`imu.report.figures.session_figures`, imported where it runs: what a report sends its
    figure processes (so the report process itself need not load matplotlib to send it)."""
    from imu.report.figures import session_figures

    return session_figures(analysis, exposures, envelope, names)
