"""Export a session's samples: one row per sensor sample, to Parquet or CSV.

Columns: time_s (session time from the alignment), sensor, qw..qz, ax..az and gx..gz where
the session has them, label (from the annotations, when there are any), device_time_s,
host_time_s, seq, vibrating. The CSV is the interchange format plus extra columns, so it
reads back with `read_interchange_csv`. Parquet keeps the session metadata, sensors,
annotations and events as JSON in the schema metadata.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from imu.atomic import replacing_file
from imu.recording.csv_import import interchange_frame
from imu.recording.reader import Session, read_session
from imu.recording.schema import to_json
from imu.samples import SampleBlock, TimedSamples

FORMATS = ("parquet", "csv")
EXPORT_SCHEMA = "imu.export/1"


def export_session(session_or_path: Session | str | Path, out_path: str | Path, fmt: str = "parquet",
                   align: Callable[[SampleBlock], TimedSamples] | None = None) -> Path:
    """Write the session's samples to out_path; returns the path.

    align maps a sensor's decoded block to session time, one row per input sample in the
    same order; default `imu.core.align.align_block`.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose {' or '.join(FORMATS)}")
    out_path = Path(out_path)
    if not out_path.parent.is_dir():
        raise ValueError(f"output directory does not exist: {out_path.parent}")
    session = session_or_path if isinstance(session_or_path, Session) else read_session(session_or_path)
    frame = session_frame(session, align)
    return write_frame(frame, out_path, fmt, "%.10g", _schema_metadata(session))


def session_frame(session: Session, align: Callable[[SampleBlock], TimedSamples] | None = None):
    """The export rows as a pandas DataFrame, sorted by session time."""
    timed, extra = {}, {}
    for location, block in session.blocks.items():
        if len(block) == 0:
            continue
        samples = align(block) if align is not None else _default_align(session, location, block)
        if len(samples) != len(block):
            raise ValueError(f"alignment of {location!r} returned {len(samples)} rows for {len(block)} "
                             "samples; export needs one row per decoded sample")
        timed[location] = samples
        extra[location] = {
            "device_time_s": block.device_time_s,
            "host_time_s": block.host_time_s,
            "seq": block.seq.astype(np.int64),
            "vibrating": (np.zeros(len(block), bool) if block.vibrating is None
                          else block.vibrating.astype(bool)),
        }
    if not timed:
        raise ValueError(f"session {session.path} holds no decoded samples to export")
    labels = [(a.t_start, a.t_end, a.label) for a in session.annotations]
    frame = interchange_frame(timed, labels, extra)
    # interchange columns first, then the extras (a reader of interchange ignores those)
    first = [c for c in frame.columns if c not in ("device_time_s", "host_time_s", "seq", "vibrating")]
    return frame[first + ["device_time_s", "host_time_s", "seq", "vibrating"]]


def _default_align(session: Session, location: str, block: SampleBlock) -> TimedSamples:
    from imu.core.align import align_block

    rate = (session.sensors[location].get("details") or {}).get("rate_hz")
    return align_block(block, rate)


def _schema_metadata(session: Session) -> dict[bytes, bytes]:
    return {
        b"imu.export": EXPORT_SCHEMA.encode(),
        b"imu.session.metadata": to_json(session.metadata).encode(),
        b"imu.session.sensors": to_json(session.sensors).encode(),
        b"imu.session.annotations": to_json([a._asdict() for a in session.annotations]).encode(),
        b"imu.session.events": to_json([e._asdict() for e in session.events]).encode(),
        b"imu.session.integrity": json.dumps(session.integrity.summary()).encode(),
    }


# --- what the analysis made of it: angles and events ----------------------------------------
WHATS = ("samples", "angles", "events")
ANGLES_SCHEMA = "imu.angles/1"


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
               "context": np.asarray(analysis.context).astype(str), "slouch": slouch}
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
    out_path = Path(out_path)
    if not out_path.parent.is_dir():
        raise ValueError(f"output directory does not exist: {out_path.parent}")
    analysis = analyze(open_source(path, thresholds))
    frame = angle_frame(analysis) if what == "angles" else event_frame(analysis)
    meta = {b"imu.export": ANGLES_SCHEMA.encode(), b"imu.export.what": what.encode(),
            b"imu.source": str(path).encode(),
            b"imu.calibration.quality": str(analysis.calibration.quality).encode(),
            b"imu.thresholds": json.dumps(thresholds_to_dict(analysis.thresholds)).encode()}
    return write_frame(frame, out_path, fmt, "%.6g", meta)


def write_frame(frame, out_path: Path, fmt: str, float_format: str, parquet_metadata: dict) -> Path:
    """The frame as CSV or Parquet (metadata in its schema), whole or not at all."""
    _check_writable(out_path)
    with replacing_file(out_path) as partial:
        if fmt == "csv":
            frame.to_csv(partial, index=False, float_format=float_format)
        else:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            table = table.replace_schema_metadata({**(table.schema.metadata or {}), **parquet_metadata})
            pq.write_table(table, partial, compression="zstd")
    return out_path


def _check_writable(out_path: Path) -> None:
    """Refuse an unwritable folder before writing: an OSError naming the output path (the
    CLI words it), not a writer library's own message about a temporary file."""
    import errno
    import os

    if not os.access(out_path.parent, os.W_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(out_path))
