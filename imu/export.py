"""`imu export`: a session's samples on the session timeline, or what the analysis made of it
(the angle time series, the events), as Parquet or CSV.

The file writing is storage's (`imu.recording.export`); this module adds what needs the
core or the analysis: the clock alignment of the samples, the angles and the events.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np

from imu.recording.export import FORMATS, check_export_request, export_samples, write_frame
from imu.recording.reader import Session
from imu.samples import SampleBlock, TimedSamples

WHATS = ("samples", "angles", "events")
ANGLES_SCHEMA = "imu.angles/1"


def export_session(session_or_path: Session | str | Path, out_path: str | Path, fmt: str = "parquet",
                   align: Callable[[SampleBlock], TimedSamples] | None = None) -> Path:
    """Write the session's samples to out_path; returns the path.

    align maps a sensor's decoded block to session time, one row per input sample in the
    same order; default `imu.core.align.align_block` at the sensor's recorded rate.
    """
    if align is not None:
        return export_samples(session_or_path, out_path, fmt, lambda session, location, block: align(block))
    return export_samples(session_or_path, out_path, fmt, _session_aligner)


def _session_aligner(session: Session, location: str, block: SampleBlock) -> TimedSamples:
    from imu.core.align import align_block

    rate = (session.sensors[location].get("details") or {}).get("rate_hz")
    return align_block(block, rate)


def angle_frame(analysis):
    """The analysis grid as rows: time_s, valid, context, slouch (inside a counted episode),
    then one column per angle in degrees (NaN where unknown), in the documented name order."""
    import pandas as pd

    from imu.core.exposure import episode_end
    from imu.core.result import ANGLE_NAMES

    t = np.asarray(analysis.t, dtype=float)
    slouch = np.zeros(t.size, dtype=bool)
    for ep in analysis.episodes:
        slouch[(t >= ep.start_s) & (t <= episode_end(ep, analysis.duration_s))] = True
    order = {name: i for i, name in enumerate(ANGLE_NAMES)}
    names = sorted(analysis.angles, key=lambda n: (order.get(n, len(order)), n))
    columns = {"time_s": t, "valid": np.asarray(analysis.valid, dtype=bool),
               "context": analysis.context_labels.astype(str), "slouch": slouch}
    columns.update({name: np.asarray(analysis.angles[name], dtype=float) for name in names})
    return pd.DataFrame(columns)


def event_frame(analysis):
    """The events of the analysis (the report's events.csv rows) as a DataFrame."""
    import pandas as pd

    from imu.report.events import EVENT_COLUMNS, event_rows

    frame = pd.DataFrame(event_rows(analysis), columns=list(EVENT_COLUMNS))
    for column in ("start_s", "end_s", "duration_s", "peak_deg"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame


def export_analysis(path: str | Path, out_path: str | Path, fmt: str = "parquet",
                    what: str = "angles", thresholds=None) -> Path:
    """Analyse a session (or CSV) exactly as `imu report` does and write its angle time series
    ("angles") or its events ("events") to Parquet or CSV; returns the path."""
    from imu.analysis import analyze, open_source
    from imu.profile import thresholds_to_dict

    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose {' or '.join(FORMATS)}")
    if what not in ("angles", "events"):
        raise ValueError(f"unknown export {what!r}; choose one of {', '.join(WHATS)}")
    out_path = check_export_request(out_path, fmt)
    analysis = analyze(open_source(path, thresholds))
    frame = angle_frame(analysis) if what == "angles" else event_frame(analysis)
    meta = {b"imu.export": ANGLES_SCHEMA.encode(), b"imu.export.what": what.encode(),
            b"imu.source": str(path).encode(),
            b"imu.calibration.quality": str(analysis.calibration.quality).encode(),
            b"imu.thresholds": json.dumps(thresholds_to_dict(analysis.thresholds)).encode()}
    return write_frame(frame, out_path, fmt, "%.6g", meta)
