"""Write a session's samples as rows, one per sensor sample, to Parquet or CSV.

Columns: time_s (session time from the alignment), sensor, qw..qz, ax..az and gx..gz where
the session has them, label (from the annotations, when there are any), device_time_s,
host_time_s, seq, vibrating. The CSV is the interchange format plus extra columns, so it
reads back with `read_interchange_csv`. Parquet keeps the session metadata, sensors,
annotations and events as JSON in the schema metadata.

Storage only: the caller says how a sensor's device clock maps to session time (the core's
aligner, in `imu.export.export_session`), so this module needs nothing from the core.
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

# (session, sensor location, its decoded block) -> the block's samples on the session
# timeline, one per input sample and in the same order
SensorAligner = Callable[[Session, str, SampleBlock], TimedSamples]


def check_export_request(out_path: str | Path, fmt: str) -> Path:
    """The output path, or ValueError for an unknown format or a missing folder."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose {' or '.join(FORMATS)}")
    out_path = Path(out_path)
    if not out_path.parent.is_dir():
        raise ValueError(f"output directory does not exist: {out_path.parent}")
    return out_path


def export_samples(session_or_path: Session | str | Path, out_path: str | Path, fmt: str,
                   align: SensorAligner) -> Path:
    """Write the session's samples to out_path, on the timeline `align` gives; returns the path."""
    out_path = check_export_request(out_path, fmt)
    session = session_or_path if isinstance(session_or_path, Session) else read_session(session_or_path)
    frame = session_frame(session, align)
    return write_frame(frame, out_path, fmt, "%.10g", _schema_metadata(session))


def session_frame(session: Session, align: SensorAligner):
    """The export rows as a pandas DataFrame, sorted by session time."""
    timed, extra = {}, {}
    for location, block in session.blocks.items():
        if len(block) == 0:
            continue
        samples = align(session, location, block)
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


def _schema_metadata(session: Session) -> dict[bytes, bytes]:
    return {
        b"imu.export": EXPORT_SCHEMA.encode(),
        b"imu.session.metadata": to_json(session.metadata).encode(),
        b"imu.session.sensors": to_json(session.sensors).encode(),
        b"imu.session.annotations": to_json([a._asdict() for a in session.annotations]).encode(),
        b"imu.session.events": to_json([e._asdict() for e in session.events]).encode(),
        b"imu.session.integrity": json.dumps(session.integrity.summary()).encode(),
    }


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
