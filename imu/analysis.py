"""Run the pipeline over a whole recording or CSV file (the I/O edge of reports and replay).

A recording is streamed through the pipeline in batches, so memory stays bounded on an
eight-hour session. The calibration is the one the live loop recorded; without one (a
simulated or imported session) it is detected from the start of the data, exactly as
replay does, so a report and a replay of the same file give the same events.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from imu.core.calibrate import Calibration, CalibrationError, calibrate
from imu.core.grid import too_slow_notes
from imu.core.pipeline import AnalysisCollector, Pipeline
from imu.core.result import Analysis, CalibrationReport
from imu.profile import Thresholds, thresholds_from_dict
from imu.samples import NotificationColumns, TimedSamples

# below this a sensor's stream is a few stray samples, not a recording: 2 samples 5 s apart
# would otherwise be reported as a 5 s session at 0 Hz
MIN_SENSOR_SAMPLES = 10


@dataclass
class Source:
    """A recording opened for analysis: how to stream it, and what it says about itself."""

    path: Path
    kind: str  # "session" or "csv"
    sensors: dict[str, dict]  # location -> {"device", "mode", ...}
    thresholds: Thresholds
    calibration: Calibration | None  # as recorded; None means detect it
    labels: list[tuple[float, float, str]]
    annotations: list[tuple[float, float, str]]
    notes: list[str]
    batches: object  # () -> iterator of lists of Notification | LinkEvent, or None for CSV
    timed: dict[str, TimedSamples] | None = None  # CSV samples, already on the session timeline
    csv_stats: dict | None = None
    integrity: object = None  # a session file's Integrity after the last full read

    def describe(self) -> dict:
        return {"file": str(self.path), "kind": self.kind}


def open_source(path: str | Path, thresholds: Thresholds | None = None, mapping=None) -> Source:
    """Open a recording; raises ValueError with one clear line.

    A session file; a CSV (the interchange format, any table an import mapping describes, or
    a Movella DOT app export); a folder of Movella DOT exports (one file per sensor); or an
    XDF file recorded from LSL. mapping: an ImportMapping, or the path of a TOML/JSON one;
    without one, a mapping beside the data is used (see `sidecar_mapping`), so replay and
    the dashboards read the file the same way as the report.
    """
    from imu.recording.mapping import load_mapping

    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: no such file")
    if mapping is None:
        mapping = sidecar_mapping(path)
    if mapping is not None and not hasattr(mapping, "columns"):
        mapping = load_mapping(mapping)
    if path.is_dir():
        from imu.recording.movella_csv import dot_files

        if not dot_files(path):
            raise ValueError(f"{path}: is a folder without Movella DOT CSV exports, not a session or CSV file")
        return _open_csv(path, thresholds, mapping)
    if path.suffix.lower() in (".csv", ".txt", ".tsv", ".xdf", ".xdfz"):
        return _open_csv(path, thresholds, mapping)
    source = _open_session(path, thresholds)
    source.notes += too_slow_notes({loc: s.get("rate_hz") for loc, s in source.sensors.items()})
    return source


SIDECAR_SUFFIXES = (".map.toml", ".map.json")


def sidecar_mapping(path: Path) -> Path | None:
    """DATA.map.toml (or .map.json) beside a data file, or imu-map.toml inside a folder."""
    candidates = [path / "imu-map.toml", path / "imu-map.json"] if path.is_dir() else \
        [Path(str(path) + suffix) for suffix in SIDECAR_SUFFIXES]
    return next((c for c in candidates if c.is_file()), None)


def _open_session(path: Path, thresholds: Thresholds | None) -> Source:
    from imu.recording.reader import SessionReader

    with SessionReader(path) as reader:
        metadata = dict(reader.metadata)
        sensors = {loc: {"device": s["device"], "mode": s.get("mode"),
                         "rate_hz": (s.get("details") or {}).get("rate_hz")}
                   for loc, s in reader.sensors.items()}
        known = len(reader.integrity.problems)
        calibrations = reader.calibrations()
        annotations = [(a.t_start, a.t_end, a.label) for a in reader.annotations()]
        integrity = reader.integrity
        notes = integrity.problems[known:]  # only read here; the streaming read finds the rest again
    if not sensors:
        raise ValueError(f"{path}: the session file names no sensors")
    recorded = [c for c in calibrations if c.accepted]
    calibration = None
    if recorded:
        try:
            calibration = Calibration.from_dict(recorded[-1].data)
        except (KeyError, TypeError, ValueError, IndexError):
            notes.append("the calibration recorded in the session is incomplete: "
                         "it was detected from the data instead")
    if thresholds is None and "thresholds" in metadata:
        try:
            thresholds = thresholds_from_dict(metadata["thresholds"])
        except ValueError as err:
            raise ValueError(f"{path}: the thresholds stored in the session file are unusable ({err}); "
                             "pass --thresholds FILE to analyse it with others") from None
    labels = [a for a in annotations if a[2] in ("calibrate_neutral", "calibrate_bend")]
    source = Source(path, "session", sensors, thresholds or Thresholds(), calibration, labels,
                    annotations, notes, None, integrity=integrity)

    def batches():
        with SessionReader(path) as reader:
            yield from reader.iter_batches()
            source.integrity = reader.integrity  # what the read found, damage included

    source.batches = batches
    return source


def _open_csv(path: Path, thresholds: Thresholds | None, mapping=None) -> Source:
    """Any table of timed samples: interchange or mapped CSV, DOT exports, XDF."""
    from imu.recording.csv_import import read_interchange_csv
    from imu.recording.movella_csv import is_dot_export, read_dot_exports
    from imu.recording.xdf import read_xdf

    if path.is_dir() or is_dot_export(path):
        data = read_dot_exports(path, mapping)
    elif path.suffix.lower() in (".xdf", ".xdfz"):
        data = read_xdf(path, mapping)
    else:
        data = read_interchange_csv(path, mapping)
    if not data.samples:
        raise ValueError(f"{path}: no usable sensor rows ({_why_unusable(data)})")
    sensors = {loc: {"device": None, "rate_hz": measured_rate_hz(s.t)} for loc, s in data.samples.items()}
    notes = list(data.notes) + too_slow_notes({loc: s["rate_hz"] for loc, s in sensors.items()})
    if data.time_offset_s:
        notes.append(f"time_s in the file started at {data.time_offset_s:.3f} s; "
                     "times are reported from the first sample")
    return Source(path, "csv", sensors, thresholds or Thresholds(), None, list(data.labels),
                  list(data.labels), notes, None, timed=data.samples, csv_stats=data.stats)


def _why_unusable(data) -> str:
    reasons = {}
    for stats in list(data.stats.values()) + [data.rejected]:
        for reason, count in stats.errors.items():
            reasons[reason] = reasons.get(reason, 0) + count
    return ", ".join(f"{n} {r}" for r, n in sorted(reasons.items(), key=lambda kv: -kv[1])[:4]) or "no rows"


def measured_rate_hz(t: np.ndarray) -> float | None:
    """A sensor's sample rate from its median interval (robust to losses and pauses)."""
    intervals = np.diff(t)
    intervals = intervals[intervals > 0]
    return round(float(1.0 / np.median(intervals)), 3) if len(intervals) else None


def _new_pipeline(source: Source, calibration: Calibration | None) -> Pipeline:
    pipeline = Pipeline(source.sensors, source.thresholds, calibration)
    if source.csv_stats:
        pipeline.extra_stats.update(source.csv_stats)
    return pipeline


def _label_windows(labels, name):
    return [(s, e) for s, e, label in labels if label == name]


def find_calibration(source: Source) -> Calibration:
    """The recorded calibration, or one detected from the start of the data."""
    if source.calibration is not None:
        return source.calibration
    thr = source.thresholds
    neutral = _label_windows(source.labels, "calibrate_neutral")
    bends = _label_windows(source.labels, "calibrate_bend")
    labelled_end = max((e for _, e in neutral + bends), default=0.0)
    horizon = labelled_end + 2 * thr.calibration_search_s
    pipeline = _new_pipeline(source, None)
    times, quats = [], {loc: [] for loc in source.sensors}
    for out in _steps(source, pipeline, stop_after_s=horizon):
        times.append(out.t)
        for loc in quats:
            quats[loc].append(out.grid.quat[loc])
    t = np.concatenate(times) if times else np.empty(0)
    if len(t) < 10:
        raise CalibrationError("too little data to calibrate")
    quats = {loc: np.concatenate(q) for loc, q in quats.items()}
    return calibrate(t, quats, thr,
                     neutral_window=neutral[0] if neutral else None,
                     bend_windows=bends or None)


def _steps(source: Source, pipeline: Pipeline, stop_after_s: float | None = None):
    """Drive a pipeline over the whole source (or its first stop_after_s seconds)."""
    if source.timed is not None:
        samples = source.timed
        if stop_after_s is not None:
            samples = {loc: _head(s, stop_after_s) for loc, s in samples.items()}
        yield pipeline.feed_timed(samples)
    else:
        for batch in source.batches():
            yield pipeline.feed(batch)
            if stop_after_s is not None and _last_time(batch) > stop_after_s:
                break
    yield pipeline.finish()


def _last_time(batch) -> float:
    last = batch[-1]
    return float(last.host_time_s[-1]) if isinstance(last, NotificationColumns) else last.host_time_s


def _head(samples: TimedSamples, until_s: float) -> TimedSamples:
    keep = samples.t <= until_s
    return TimedSamples(samples.t[keep], samples.quat[keep],
                        None if samples.acc is None else samples.acc[keep],
                        None if samples.gyro is None else samples.gyro[keep])


def analyze(source: Source, on_step=None) -> Analysis:
    """The whole source through the pipeline: angles, events and data quality."""
    notes = list(source.notes)
    refused = None
    try:
        calibration = find_calibration(source)
    except CalibrationError as err:
        calibration = None
        refused = CalibrationReport(False, "failed", [str(err)])
    if calibration is not None and not calibration.report.ok:
        refused, calibration = calibration.report, None
    if refused is not None:
        notes.append("angles not measured: calibration refused (" + "; ".join(refused.reasons) + ")")
    pipeline = _new_pipeline(source, calibration)
    collector = AnalysisCollector()
    for out in _steps(source, pipeline):
        collector.add(out)
        if on_step is not None:
            on_step(out)
    for start, end in pipeline.grid.skipped_s:
        notes.append(f"no data from any sensor from {start:.1f} s to {end:.1f} s "
                     f"({(end - start) / 3600:.2f} h): that stretch is left out of the analysis")
    integrity = source.integrity
    if integrity is not None and not (integrity.complete and integrity.closed_cleanly):
        notes.append(integrity.summary())
    analysis = collector.build(pipeline, notes, source.annotations)
    usable = [q for q in analysis.sensors.values() if q.samples >= MIN_SENSOR_SAMPLES]
    if len(analysis.t) < 2 or analysis.duration_s <= 0 or not usable:
        seen = ", ".join(f"{q.location} {q.samples} samples at {q.rate_hz:g} Hz"
                         for q in analysis.sensors.values())
        raise ValueError(f"{source.path}: too little data to analyse ({seen or 'no samples'}; "
                         f"a sensor needs at least {MIN_SENSOR_SAMPLES} samples)")
    if refused is not None:
        analysis.calibration = refused
    return analysis
