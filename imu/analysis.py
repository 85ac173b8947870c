"""Run the pipeline over a whole recording or CSV file (the I/O edge of reports and replay).

A recording is streamed through the pipeline in batches, so memory stays bounded on an
eight-hour session. A calibration is about the mounting, not the moment: each one applies to
its whole stretch of the recording, before and after its own span. Where they come from, in
order of precedence: the spans the user names (`--calibration FROM:TO`), the calibrations
the live loop recorded, the labelled calibration spans (calibrate_neutral / calibrate_bend;
spans far apart are separate calibrations, e.g. a sensor re-attached), else one detected
from the start of the data. Report and replay use the same plan, so they give the same
events. Slouch events are not counted during a calibration's own span (the wearer was
following its instructions); the angles there are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from imu.core.calibrate import Calibration, CalibrationError, CalibrationStretch, calibrate
from imu.core.gait import too_slow_notes
from imu.core.pipeline import Pipeline
from imu.core.result import Analysis, CalibrationReport
from imu.reading import (TABLE_SUFFIXES, ReadAhead, last_host_time, session_sensors, sidecar_mapping,
                         start_reading)
from imu.runner import Runner, RunResult

CALIBRATION_LABELS = ("calibrate_neutral", "calibrate_bend")
LABEL_GROUP_GAP_S = 30.0  # calibration labels closer than this belong to one calibration
from imu.profile import Thresholds, thresholds_from_dict
from imu.samples import TimedSamples

# the calibration plan takes the session's start from the reading process's batches (then
# fed to the runner) when it looks no further than this: the usual search (twice
# Thresholds.calibration_search_s) does; a calibration labelled hours in is read here instead
# of holding hours of batches
HEAD_FROM_READING_S = 900.0
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
    # how to calibrate, as the user asked: spans holding a calibration (--calibration FROM:TO),
    # whether the data hold calibration bends at all, and whether the sensors' axes are the
    # documented ones (None: yes for our session files, unknown for a CSV from elsewhere)
    calibration_spans: list[tuple[float, float]] | None = None
    bends: bool = True
    mounting_declared: bool | None = None

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
    if path.suffix.lower() in TABLE_SUFFIXES:
        return _open_csv(path, thresholds, mapping)
    source = _open_session(path, thresholds)
    source.notes += too_slow_notes({loc: s.get("rate_hz") for loc, s in source.sensors.items()})
    return source


def _open_session(path: Path, thresholds: Thresholds | None) -> Source:
    from imu.recording.reader import SessionReader

    with SessionReader(path) as reader:
        metadata = dict(reader.metadata)
        sensors = session_sensors(reader)
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


def new_runner(source: Source, plan: "CalibrationPlan", **options) -> Runner:
    """The runner for a source under its calibration plan (options as for `Runner`)."""
    return Runner(source.sensors, source.thresholds, plan.stretches or None,
                  annotations=source.annotations, extra_stats=source.csv_stats, **options)


@dataclass
class CalibrationPlan:
    """Which calibration applies where: accepted ones with their stretches, and the refused
    ones with theirs (no angles there, and the report says why)."""

    stretches: list[CalibrationStretch]
    refused: list[tuple[float, float, CalibrationReport]]
    problems: list[str] = field(default_factory=list)  # e.g. recorded calibrations unreadable

    @property
    def primary(self) -> Calibration | None:
        return self.stretches[0].calibration if self.stretches else None

    def report(self) -> CalibrationReport:
        """The first accepted calibration's report (or the first refusal), listing every
        calibration's stretch when there are several."""
        entries = [(s.from_s, s.to_s, s.calibration.report) for s in self.stretches] + self.refused
        entries.sort(key=lambda e: e[0])
        if not entries:
            return CalibrationReport(False, "failed", ["no calibration"])
        main = self.primary.report if self.primary is not None else entries[0][2]
        paused = [list(s.calibration.span_s) for s in self.stretches
                  if s.calibration.span_s and s.calibration.span_s[1] > s.calibration.span_s[0]]
        if paused:  # the calibrations' own movements: angles kept, no slouch events counted
            main = replace(main, details={**main.details, "slouch_not_counted_s": paused})
        if len(entries) > 1:
            main = replace(main, stretches=[{
                "from_s": None if not np.isfinite(a) else float(a),
                "to_s": None if not np.isfinite(b) else float(b),
                "ok": r.ok, "quality": r.quality, "sagittal_sign": r.sagittal_sign,
                "neutral": list(r.neutral) if r.neutral else None, "reasons": list(r.reasons),
            } for a, b, r in entries])
        return main

    def notes(self) -> list[str]:
        out = list(self.problems)
        for a, b, r in self.refused:
            where = (f"{'the start' if not np.isfinite(a) else f'{a:.0f} s'} to "
                     f"{'the end' if not np.isfinite(b) else f'{b:.0f} s'}")
            out.append(f"angles not measured from {where}: calibration refused ("
                       + "; ".join(r.reasons) + ")")
        return out


@dataclass
class _Request:
    """One calibration to find: where to look, and what the labels say."""

    search: tuple[float, float]
    neutral: tuple[float, float] | None = None
    bends: list[tuple[float, float]] | None = None


def _label_groups(labels) -> list[_Request]:
    """Calibration labels grouped into calibrations (a pause of LABEL_GROUP_GAP_S parts them)."""
    spans = sorted((s, e, k) for s, e, k in labels if k in CALIBRATION_LABELS)
    groups: list[list] = []
    for span in spans:
        if groups and span[0] - max(e for _, e, _ in groups[-1]) <= LABEL_GROUP_GAP_S:
            groups[-1].append(span)
        else:
            groups.append([span])
    out = []
    for g in groups:
        neutral = [(s, e) for s, e, k in g if k == "calibrate_neutral"]
        bends = [(s, e) for s, e, k in g if k == "calibrate_bend"]
        out.append(_Request((g[0][0], max(e for _, e, _ in g)), neutral[0] if neutral else None,
                            bends or None))
    return out


def _requests(source: Source) -> list[_Request]:
    if source.calibration_spans:
        return [_Request((float(a), float(b))) for a, b in sorted(source.calibration_spans)]
    groups = _label_groups(source.labels)
    return groups or [_Request((-np.inf, np.inf))]


def _recorded(source: Source, problems: list[str]) -> list[Calibration]:
    """The calibrations the live loop accepted, in order (the last one only when the source
    cannot say more), each with its own span: the first from the session start (live counted
    no slouch events before it took effect), a later one (a sensor re-attached) from its
    neutral, to when it took effect."""
    found = []
    if source.kind == "session" and source.path is not None:
        from imu.recording.reader import SessionReader

        with SessionReader(source.path) as reader:
            records = [c for c in reader.calibrations() if c.accepted]
        for record in records:
            try:
                found.append(Calibration.from_dict(record.data))
            except (KeyError, TypeError, ValueError, IndexError, AttributeError):
                problems.append(f"a calibration recorded at {record.host_time_s:.1f} s is incomplete "
                                "and was left out")
    if not found and source.calibration is not None:
        found = [source.calibration]
    before = 0.0
    for k, c in enumerate(found):
        start = c.report.neutral[0] if k and c.report.neutral else before
        c.span_s = (min(max(start, before), c.applies_from_s) if k else 0.0, c.applies_from_s)
        before = c.applies_from_s
    return found


def _stretches(items: list[tuple[float, object]]) -> list[tuple[float, float, object]]:
    """Each item applies from its own start up to the next one's (the first from the session
    start, the last to its end)."""
    items = sorted(items, key=lambda i: i[0])
    out = []
    for k, (start, item) in enumerate(items):
        lo = -np.inf if k == 0 else start
        hi = items[k + 1][0] if k + 1 < len(items) else np.inf
        out.append((lo, hi, item))
    return out


def find_calibrations(source: Source, ahead: ReadAhead | None = None) -> CalibrationPlan:
    """Every calibration of the source and the stretch each applies to (see the module doc).
    ahead: the source's reading process (`imu.reading.ReadAhead`), to take the session's
    start from instead of reading it here."""
    problems: list[str] = []
    if source.calibration_spans is None:
        recorded = _recorded(source, problems)
        if recorded:
            starts = [c.span_s[0] if k else 0.0 for k, c in enumerate(recorded)]
            return _plan(list(zip(starts, recorded)), problems)
    requests = _requests(source)
    thr = source.thresholds
    t, quats = _grid_until(source, [_needed(r, thr) for r in requests], ahead)
    declared = source.kind == "session" if source.mounting_declared is None else source.mounting_declared
    found = []
    for r in requests:
        start = r.search[0] if np.isfinite(r.search[0]) else (float(t[0]) if len(t) else 0.0)
        try:
            if len(t) < 10:
                where = "" if not np.isfinite(r.search[1]) else f" between {r.search[0]:g} and {r.search[1]:g} s"
                raise CalibrationError(f"too little data to calibrate{where}")
            c = calibrate(t, quats, thr, neutral_window=r.neutral, bend_windows=r.bends,
                          bends=source.bends, mounting_declared=declared,
                          search=(max(start, float(t[0])), r.search[1]))
            # a labelled or named span starts the stretch: the sensor was (re)attached before it
            found.append((min(c.span_s[0], start), c))
        except CalibrationError as err:
            found.append((start, CalibrationReport(False, "failed", [str(err)])))
    return _plan(found, problems)


def _plan(found: list[tuple[float, object]], problems: list[str]) -> CalibrationPlan:
    stretches, refused = [], []
    for lo, hi, item in _stretches(found):
        if isinstance(item, Calibration) and item.report.ok:
            stretches.append(CalibrationStretch(item, lo, hi))
        else:
            refused.append((lo, hi, item.report if isinstance(item, Calibration) else item))
    return CalibrationPlan(stretches, refused, problems)


def _needed(r: _Request, thr) -> tuple[float, float]:
    """The data a calibration request may look at: its span, or the neutral search and the
    bend search after it when the span is open-ended."""
    lo = r.search[0] if np.isfinite(r.search[0]) else 0.0
    hi = r.search[1] if np.isfinite(r.search[1]) else lo + 2 * thr.calibration_search_s
    return lo, hi


def _grid_until(source: Source, keep_spans: list[tuple[float, float]], ahead: ReadAhead | None = None):
    """Grid orientations of every sensor within `keep_spans` (so an eight-hour file does not
    fill memory), reading no further than the last of them: from the reading process's
    batches when it is given and the spans lie within the session's start, else here."""
    horizon = max(b for _, b in keep_spans)
    pipeline = _new_pipeline(source, None)
    if ahead is not None and horizon <= HEAD_FROM_READING_S:
        steps = _front_steps(pipeline, ahead.until(horizon))
    else:
        steps = _steps(source, pipeline, stop_after_s=horizon)
    times, quats = [], {loc: [] for loc in source.sensors}
    for out in steps:
        keep = np.zeros(len(out.t), dtype=bool)
        for a, b in keep_spans:
            keep |= (out.t >= a) & (out.t <= b)
        times.append(out.t[keep])
        for loc in quats:
            quats[loc].append(out.grid.quat[loc][keep])
    t = np.concatenate(times) if times else np.empty(0)
    return t, {loc: np.concatenate(q) if q else np.empty((0, 4)) for loc, q in quats.items()}


def find_calibration(source: Source) -> Calibration:
    """The first accepted calibration (CalibrationError with the reasons when there is none)."""
    plan = find_calibrations(source)
    if plan.primary is None:
        raise CalibrationError("; ".join(plan.report().reasons))
    return plan.primary


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
            if stop_after_s is not None and last_host_time(batch) > stop_after_s:
                break
    yield pipeline.finish()


def _front_steps(pipeline: Pipeline, batches):
    """Drive a pipeline over batches already put through the sensor front."""
    for batch in batches:
        yield pipeline.feed_front(batch)
    yield pipeline.finish()


def _head(samples: TimedSamples, until_s: float) -> TimedSamples:
    return samples.take(samples.t <= until_s)


def _items(source: Source, ahead: ReadAhead | None):
    """What a runner is fed, step by step: the timed samples, or batches of notifications,
    which the reading process (imu.reading) reads and puts through the sensor front a batch
    or more ahead of this one, where the platform can fork."""
    if source.timed is not None:
        yield source.timed
    elif ahead is not None:
        # the read ends with the file's integrity: known only in the reading process
        source.integrity = yield from ahead.batches()
    else:
        yield from source.batches()


def run_source(source: Source, on_step=None, *, grade: bool = True, before_grading=None,
               reading=None, columns=None) -> RunResult:
    """The whole source through one runner: the session's Analysis, and with grade its runs'
    and carries' grades and the grid acceleration they were graded with (what a report shows).

    on_step: called with each StepUpdate (e.g. a progress bar). before_grading: called with
    the finished, not yet graded RunResult (the report starts its figures on the second core
    then: they do not need the grades, and grading is the longest step after the pass).
    reading: the source's reading process when the caller started it (imu.reading), else
    one is started here, before the calibration plan is made, so it reads ahead meanwhile.
    columns: where the collected series (time, angles, validity, context, acceleration) are
    kept (imu.core.columns: default in memory; the report's are files, imu.spill, valid
    while its SpillColumns are open)."""
    if reading is None and source.timed is None:
        reading = start_reading(source.path)
    try:
        return _run(source, on_step, grade, before_grading, reading, columns)
    finally:
        if reading is not None:
            reading.close()  # ended already, unless something failed before the read did


def _run(source: Source, on_step, grade: bool, before_grading, reading, columns) -> RunResult:
    ahead = ReadAhead(reading) if reading is not None else None
    plan = find_calibrations(source, ahead)
    runner = new_runner(source, plan, keep_acc=grade, provisional_grades=False, summarize=True, columns=columns)
    for items in _items(source, ahead):
        update = runner.feed(items)
        if on_step is not None:
            on_step(update)
    notes = list(source.notes) + plan_notes(plan)
    result = runner.finish(notes=notes, calibration=plan.report(), grade=False)
    if on_step is not None:
        on_step(result.update)
    analysis = result.analysis
    integrity = source.integrity  # known only now: the read has just ended
    if integrity is not None and not (integrity.complete and integrity.closed_cleanly):
        analysis.notes.append(integrity.summary())
    usable = [q for q in analysis.sensors.values() if q.samples >= MIN_SENSOR_SAMPLES]
    if len(analysis.t) < 2 or analysis.duration_s <= 0 or not usable:
        seen = ", ".join(f"{q.location} {q.samples} samples at {q.rate_hz:g} Hz"
                         for q in analysis.sensors.values())
        raise ValueError(f"{source.path}: too little data to analyse ({seen or 'no samples'}; "
                         f"a sensor needs at least {MIN_SENSOR_SAMPLES} samples)")
    if before_grading is not None:
        before_grading(result)
    if grade:
        result = runner.grade(result)
    return result


def analyze(source: Source, on_step=None) -> Analysis:
    """The whole source through the pipeline: angles, events and data quality.

    on_step: called with each step's StepOutput (e.g. imu.core.stability.AccCollector)."""
    return run_source(source, None if on_step is None else (lambda u: on_step(u.out)),
                      grade=False).analysis


def plan_notes(plan: CalibrationPlan) -> list[str]:
    """Plain notes on what the calibration plan leaves unmeasured or unsure."""
    if not plan.stretches:
        return ["angles not measured: calibration refused (" + "; ".join(plan.report().reasons) + ")"]
    notes = plan.notes()
    for k, s in enumerate(plan.stretches):
        r = s.calibration.report
        if k and r.sagittal_sign != "verified":  # the first one's sign is in the summary
            notes.append(f"sagittal signs {r.sagittal_sign} from {s.from_s:.0f} s on: which way "
                         "is forward was not established from the sensors' mounting")
        for loc, why in r.dropped.items():
            notes.append(f"{loc} sensor gives no angles: {why}")
    return notes
