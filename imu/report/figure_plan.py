"""Which session figures a report draws, how it shares them among processes, and what
those processes are sent.

Light on purpose (no matplotlib): the report process plans and sends the figures
(imu.report.make), the processes it forked first thing import the drawing
(imu.report.figures) and draw them. A session without runs, carries or holds then never
loads matplotlib in the report process.
"""

from __future__ import annotations

import os
from dataclasses import replace

import numpy as np

from imu.core.result import Analysis

FIGURES = ("timeline", "rate", "traces", "zones", "distributions")


# grading an hour at 100 Hz takes about a third of what drawing the figures takes, eight
# hours more than all of it (2-core machine, benchmarks/bench_report_8h.py)
SPLIT_FIGURES_BELOW_SAMPLES = 4 * 3600 * 100


def figure_sets(samples: int, cores: int | None = None) -> list[tuple[str, ...]]:
    """How a report's figures are shared among the processes that draw them while it grades:
    the traces (the slowest) apart from the rest where a core is free for both, else all
    in one. On two cores the grading of a long session needs the second core's time."""
    cores = (os.cpu_count() or 1) if cores is None else cores
    if cores >= 3 or (cores == 2 and samples < SPLIT_FIGURES_BELOW_SAMPLES):
        return [("traces",), tuple(name for name in FIGURES if name != "traces")]
    return [FIGURES]


def without_series(analysis: Analysis) -> Analysis:
    """The analysis as the session figures read it beside an envelope (duration, thresholds,
    episodes, alerts), without its per-sample arrays and event list: small to send to the
    process that draws them (an eight-hour session's arrays are about 150 MB)."""
    return replace(analysis, t=np.empty(0), angles={}, valid=np.empty(0, bool),
                   context=np.empty(0, np.uint8), events=[])
