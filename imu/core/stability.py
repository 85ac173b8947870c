"""Issue 5 entry point: activity context and trunk-stability grading of a whole session.

`analyze_stability(t, angles, ...)` takes the arrays of an Analysis (and, when available,
the grid acceleration per sensor: (n, 3), or its (n,) magnitude as AccCollector keeps it)
and returns a StabilityResult: activity segments and per-sample labels, sensor issues
(slipped / came off) with an invalid mask, per-run metrics, per-carry metrics against the
wearer's unloaded walking, per-hold failure times and McGill's ratios. Spans with a slipped
or removed sensor are never graded. Arrays in, results out: the angles and acceleration are
read by stretches only (`x[a:b]`), so they may be arrays or series kept in files
(imu.core.columns); the unusable samples are masked as they are read (`MaskedSeries`).
`stability_from_analysis(analysis, acc=None)` is the same on an Analysis object.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from imu.core.activity import (ACTIVITY_CODE, ACTIVITY_LABELS, CARRY_LABELS, HOLD_ALIASES, RUNNING, STANDING,
                               PREFIX_BLOCK, WALKING, ActivityResult, Segment, SensorIssue, activity_labels,
                               detect_sensor_issues, label_runs, overlay_labels, segment_activities,
                               span_rows)
from imu.core.gait import GaitBout, gait_bouts, rate_problem
from imu.core.carries import CarryMetrics, WalkingBaseline, carry_metrics, walking_baseline
from imu.core.columns import Column, MemoryColumns, time_axis
from imu.core.holds import HoldMetrics, endurance_ratios, hold_metrics
from imu.core.running import RunMetrics, run_metrics
from imu.core.strides import acceleration_magnitude
from imu.heap import release_freed_memory

MIN_RUN_S = 20.0
MIN_STANDING_REF_S = 3.0
CARRY_MIN_GAIT_SHARE = 0.5  # a carry is walking with a load: at least half of it must be gait
GAIT_KINDS = (WALKING, RUNNING)


@dataclass
class StabilityResult:
    activity: ActivityResult
    codes: np.ndarray  # (n,) uint8 activity codes (ACTIVITY_LABELS), annotated carries / holds written over
    invalid: np.ndarray  # (n,) bool: a sensor slipped or came off
    sensor_issues: list[SensorIssue]
    runs: list[RunMetrics]
    carries: list[CarryMetrics]
    holds: list[HoldMetrics]
    endurance: dict | None
    walking: WalkingBaseline | None
    lean_reference_deg: float | None
    notes: list[str] = field(default_factory=list)
    gait: list[GaitBout] = field(default_factory=list)  # steps of each walking / running segment
    gait_note: str | None = None  # why there is no gait at all, when the layout or rate cannot tell
    ungraded: list[Ungraded] = field(default_factory=list)  # runs, carries, holds without a grade

    @property
    def labels(self) -> np.ndarray:
        """The per-sample labels as strings (made on each call: read `codes` in loops)."""
        return activity_labels(self.codes)

    @property
    def activities(self) -> list[Segment]:
        """Automatic segments with the annotated carries and holds cut in."""
        t = self.activity.t
        out: list[Segment] = []
        if len(t) == 0:
            return out
        cad = {(s.kind, round(s.start_s, 3)): s.cadence_spm for s in self.activity.segments}
        for a, b in zip(*label_runs(self.codes)):
            end = t[b] if b < len(t) else t[-1]
            kind = ACTIVITY_LABELS[self.codes[a]]
            out.append(Segment(kind, float(t[a]), float(end), cad.get((kind, round(float(t[a]), 3)))))
        return out


def _overlaps_invalid(t, invalid, a, b) -> bool:
    rows = span_rows(t, a, b)
    return bool(rows.stop > rows.start and invalid[rows].mean() > 0.05)


@dataclass
class Ungraded:
    """A run, carry or hold that has no grade, and why (the sentence goes into the notes)."""

    kind: str  # "running" or the wearer's label
    start_s: float
    end_s: float
    reason: str

    def sentence(self) -> str:
        what = "run" if self.kind == RUNNING else self.kind
        return f"{what} at {self.start_s:.0f}-{self.end_s:.0f} s not graded: {self.reason}"


def _gradeable(annotations, labels, t, invalid, ungraded: list[Ungraded]):
    """Annotated spans with one of `labels`, in time order, skipping (with a reason) those
    during which a sensor slipped or came off."""
    for a, b, label in sorted(annotations):
        if label not in labels:
            continue
        if _overlaps_invalid(t, invalid, a, b):
            ungraded.append(Ungraded(label, a, b, "a sensor slipped or came off"))
            continue
        yield a, b, label


def _subtract(span, others, margin: float) -> list[tuple[float, float]]:
    """Parts of `span` outside every span of `others` (each widened by `margin`)."""
    parts = [span]
    for a, b in others:
        a, b = a - margin, b + margin
        parts = [piece for s, e in parts for piece in ((s, min(e, a)), (max(s, b), e)) if piece[1] > piece[0]]
    return parts


def _carry_without_gait(t, codes, a: float, b: float) -> str | None:
    """Why a labelled carry is no carry (the wearer did not walk), or None."""
    inside = codes[span_rows(t, a, b)]
    if not len(inside):
        return "it lies outside the recording"
    gait = np.isin(inside, [ACTIVITY_CODE[kind] for kind in GAIT_KINDS]).mean()
    if gait >= CARRY_MIN_GAIT_SHARE:
        return None
    counts = np.bincount(inside, minlength=len(ACTIVITY_LABELS))
    top = min(ACTIVITY_LABELS[code] for code in np.flatnonzero(counts == counts.max()))  # ties: by name
    doing = {"sitting": "the wearer was seated", "standing": "the wearer stood still",
             "still": "the wearer sat or stood still"}.get(top, f"the wearer was {top}")
    return (f"no walking in it ({100 * gait:.0f} % gait; {doing} for "
            f"{100 * counts.max() / len(inside):.0f} % of it), so strides there are not steps")


def analyze_stability(t: np.ndarray, angles: dict[str, np.ndarray], valid: np.ndarray | None = None,
                      annotations=(), thresholds=None, acc: dict[str, np.ndarray] | None = None,
                      neutral_posture: str | None = None,
                      sensor_rate_hz: float | None = None, calibration_spans=()) -> StabilityResult:
    t = time_axis(t)
    # the angles as float32 (as the Analysis keeps them); each analysis widens what it reads
    # to float64 itself (a float64 copy of every angle at once was the report's memory peak)
    angles = _float32_series(angles)
    issues, invalid = detect_sensor_issues(t, angles, thresholds, acc)
    release_freed_memory()  # its temporaries, before the segmentation makes its own
    unusable = invalid.copy()
    if valid is not None:  # a block at a time: valid may be a series read by stretches
        for lo in range(0, len(unusable), PREFIX_BLOCK):
            unusable[lo:lo + PREFIX_BLOCK] |= ~np.asarray(valid[lo:lo + PREFIX_BLOCK], bool)
    masked = {name: MaskedSeries(values, unusable) for name, values in angles.items()} if unusable.any() else angles
    return _grade(t, masked, valid, annotations, thresholds, acc, neutral_posture, sensor_rate_hz,
                  calibration_spans, issues, invalid, unusable)


def _float32_series(angles: dict) -> dict:
    """Each angle as it is when it is float32 (an array, or a series read by stretches,
    imu.core.columns); a float32 copy of any other."""
    return {name: values if getattr(values, "dtype", None) == np.float32 and hasattr(values, "__len__")
            else np.array(values, dtype=np.float32) for name, values in angles.items()}


class MaskedSeries:
    """An angle read with NaN at the rows of `mask` (a sensor slipped or came off, or no
    valid data): the grading sees unusable samples as missing. Read by stretches
    (`x[a:b]`, a new array each time), so neither the angle nor a masked copy of it is ever
    made whole (a masked copy of every angle was 80-115 MB of an 8-hour report's peak)."""

    def __init__(self, values, mask: np.ndarray):
        self.values, self.mask, self.dtype = values, mask, values.dtype

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, rows):
        out = np.array(self.values[rows], dtype=self.dtype)  # a copy even of an array's view
        out[self.mask[rows]] = np.nan
        return out

    def __array__(self, dtype=None, copy=None):
        whole = self[:]
        return whole if dtype is None else whole.astype(dtype)


def _grade(t, masked, valid, annotations, thresholds, acc, neutral_posture, sensor_rate_hz,
           calibration_spans, issues, invalid, unusable) -> StabilityResult:
    """analyze_stability once the unusable samples are masked (NaN) in `masked`."""
    notes = [issue.sentence() for issue in issues]
    activity = segment_activities(t, masked, acc, None if valid is None else ~unusable, thresholds,
                                  neutral_posture, sensor_rate_hz, calibration_spans)
    gait = gait_bouts(t, masked, acc, activity.segments, sensor_rate_hz)
    gait_note = rate_problem(sensor_rate_hz)
    if gait_note is not None:
        gait_note = f"walking, running, steps and cadence not measured: {gait_note}"
        notes.append(gait_note)
    activity.sensor_issues, activity.invalid = issues, invalid
    annotations = list(annotations or [])
    codes = overlay_labels(t, activity.codes, annotations, set(CARRY_LABELS) | set(HOLD_ALIASES))

    # the standing neutral for the running lean: median trunk inclination while standing still
    ref = None
    standing = [s for s in activity.segments if s.kind == STANDING and s.end_s - s.start_s >= MIN_STANDING_REF_S]
    if standing and "trunk_inclination" in masked:
        # the standing samples in time order, each once (the trimmed spans may overlap)
        x, done = [], 0
        spans = sorted((span_rows(t, s.start_s + 1.0, s.end_s - 1.0) for s in standing),
                       key=lambda rows: (rows.start, rows.stop))
        for rows in spans:
            start = max(rows.start, done)
            if rows.stop > start:
                x.append(np.asarray(masked["trunk_inclination"][start:rows.stop], float))
                done = rows.stop
        x = np.concatenate(x) if x else np.empty(0)
        if np.isfinite(x).sum() > 100:
            ref = float(np.nanmedian(x))

    runs, ungraded = [], []
    for seg in activity.spans(RUNNING):
        def skip(reason: str) -> None:
            ungraded.append(Ungraded(RUNNING, seg.start_s, seg.end_s, reason))

        if seg.end_s - seg.start_s < MIN_RUN_S:
            skip(f"shorter than {MIN_RUN_S:g} s (its steps and cadence are given)")
            continue
        if _overlaps_invalid(t, invalid, seg.start_s, seg.end_s):
            skip("a sensor slipped or came off")
            continue
        if "trunk_inclination" not in masked:
            skip("the running grade (lean, drift, sway) needs trunk_inclination, from a thoracic "
                 "sensor (its steps and cadence are given)")
            continue
        m = run_metrics(t, masked, seg.start_s, seg.end_s, acc, ref, thresholds)
        if m is None:
            skip("fewer than 4 clear strides in its gait signal")
        else:
            runs.append(m)

    carry_spans = [(a, b) for a, b, label in annotations if label in CARRY_LABELS]
    walk_spans = []
    for seg in activity.spans(WALKING):
        for a, b in _subtract((seg.start_s, seg.end_s), carry_spans, margin=5.0):
            if b - a >= 15.0 and not _overlaps_invalid(t, invalid, a, b):
                walk_spans.append((a, b))
    walking = walking_baseline(t, masked, walk_spans, acc) if walk_spans else None
    carries = []
    for a, b, label in _gradeable(annotations, CARRY_LABELS, t, invalid, ungraded):
        no_gait = _carry_without_gait(t, activity.codes, a, b)
        if no_gait is not None:
            ungraded.append(Ungraded(label, a, b, no_gait))
            continue
        if "trunk_lateral_inclination" not in masked:
            ungraded.append(Ungraded(label, a, b, "the carry grade needs trunk_lateral_inclination, "
                                                  "from a thoracic sensor"))
            continue
        m = carry_metrics(t, masked, label, a, b, acc, walking, thresholds)
        if m is None:
            ungraded.append(Ungraded(label, a, b, "fewer than 5 clear strides in it"))
        else:
            carries.append(m)
    if carry_spans and walking is None:
        notes.append("no unloaded walking in this session: carries graded against their own start only")

    holds = []
    for a, b, label in _gradeable(annotations, HOLD_ALIASES, t, invalid, ungraded):
        m = hold_metrics(t, masked, label, a, b, thresholds)
        if m is not None:
            holds.append(m)
    endurance = endurance_ratios(holds) if holds else None
    ungraded.sort(key=lambda u: u.start_s)
    notes += [u.sentence() for u in ungraded]
    return StabilityResult(activity, codes, invalid, issues, runs, carries, holds, endurance,
                           walking, ref, notes, gait, gait_note, ungraded)


def stability_from_analysis(analysis, acc: dict[str, np.ndarray] | None = None,
                            neutral_posture: str | None = None) -> StabilityResult:
    """analyze_stability on an imu.core.result.Analysis."""
    spans = (analysis.calibration.details or {}).get("slouch_not_counted_s", [])
    return analyze_stability(analysis.t, analysis.angles, analysis.valid, analysis.annotations,
                             analysis.thresholds, acc, neutral_posture, slowest_sensor_hz(analysis),
                             calibration_spans=spans)


def slowest_sensor_hz(analysis) -> float | None:
    """The lowest measured sensor rate of a session: gait needs every sensor it may use."""
    rates = [q.rate_hz for q in analysis.sensors.values() if q.rate_hz and q.rate_hz > 0]
    return min(rates) if rates else None


class AccCollector:
    """An on_step callback for imu.analysis.analyze that keeps the grid acceleration's
    magnitude per sensor (the Analysis does not hold it): analyze(source, on_step=collector);
    collector.acc. Magnitudes only, as float32: every reader of the acceleration (gait
    signal, sensor issues) needs no more, and an 8-hour session's three axes were 69 MB."""

    def __init__(self, columns=None):
        """columns: where the magnitudes are kept while the run goes on (imu.core.columns;
        default in memory)."""
        self._columns = columns if columns is not None else MemoryColumns()
        self._kept: dict[str, Column] = {}
        self._n = 0

    def __call__(self, out) -> None:
        n = len(out.t)
        if n == 0:
            return
        for loc, a in out.grid.acc.items():
            column = self._kept.get(loc)
            if column is None:
                column = self._kept[loc] = self._columns.column(np.float32)
            if len(column) < self._n:  # a sensor whose acceleration appeared late: NaN before
                column.append(np.full(self._n - len(column), np.nan, np.float32))
            # g to 7 digits: the sensor sends 1/2048 g
            column.append(acceleration_magnitude(a).astype(np.float32))
        self._n += n

    @property
    def acc(self) -> dict[str, np.ndarray]:
        out = {}
        for loc, column in self._kept.items():
            if len(column) < self._n:  # a sensor whose acceleration ended early: NaN after
                column.append(np.full(self._n - len(column), np.nan, np.float32))
            out[loc] = column.series()
        return out
