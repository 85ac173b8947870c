"""The runner: the one object live, replay and report drive (docs/architecture.md, "The runner").

A `Runner` wraps the pure `Pipeline` and owns everything a step needs besides it: the switch
to a calibration (live: when the guide accepts one, with the items seen so far fed again;
replay and report: the calibration plan's stretches from the start), the sensors' link
status, the collectors that build the session's `Analysis`, and the stability grades of
runs and carries. `feed(items)` returns one `StepUpdate`; `finish()` returns a `RunResult`.
Callers only iterate their source, pace it and hand each update to their sinks.

Carry and run grades come twice. While the session goes on, a carry is graded when its
labelled end has passed, and a run once the wearer has stopped moving after it, from a
trailing window of the data (`provisional: true`: the session is not over, so the wearer's
unloaded walking, the standing lean and the activity segments are what the window holds).
At the end the whole session is graded once, exactly as the report grades it
(`provisional: false`).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Callable, Protocol

import numpy as np

from imu.core.activity import CARRY_LABELS, RUNNING, WINDOW_S, window_label
from imu.core.calibrate import Calibration, CalibrationStretch
from imu.core.pipeline import AnalysisCollector, Pipeline, StepOutput
from imu.core.result import Analysis, CalibrationReport
from imu.core.stability import AccCollector, StabilityResult, analyze_stability, stability_from_analysis
from imu.profile import Thresholds
from imu.samples import DecodeStats, LinkEvent, TimedSamples

MIN_LOSS_GAP_S = 1.0  # shorter losses show in the loss percentage, not as a gap
RATE_WINDOW_S = 2.0  # sensor rate shown = samples over the trailing two seconds
GRADE_EVENTS = ("carry_graded", "run_graded")
# provisional grades: how often the wearer's running is checked, how much data a grade looks
# at, how much of a check interval must be running, and how long after its end a carry is graded
GRADE_CHECK_S = 30.0
GRADE_WINDOW_S = 600.0
RUNNING_PROBES = 3  # activity windows judged per check (evenly spaced, the last ending at the check)
CARRY_SETTLE_S = 2.0
RUN_ENDED_BEFORE_S = 10.0  # a run whose segment reaches this close to the window end goes on


@dataclass
class StepUpdate:
    """One step as sinks see it, live or replayed."""

    out: StepOutput  # grid orientations, angles, context labels on the analysis grid
    events: list[dict]  # live vocabulary, time order: slouch_*, alert, gap, reconnect, *_graded
    samples: dict[str, TimedSamples]  # oriented sensor samples that entered this step
    status: dict[str, dict]  # location -> SensorStatusTracker.status() entry
    t: float  # session time the step has reached


class Sink(Protocol):
    """The one sink contract: `step(update)` for every update, then `finish()` once at the
    end of the stream if the sink has it (not `close()`: a Qt window has one)."""

    def step(self, update: StepUpdate) -> None: ...


def finish_sinks(sinks) -> None:
    """Call `finish()` on every sink that has it."""
    for sink in sinks:
        finish = getattr(sink, "finish", None)
        if finish is not None:
            finish()


class AlertSink:
    """Calls `notify(event)` for each event the wearer is alerted to (terminal, desktop or
    haptic alerting); kinds: which events those are."""

    def __init__(self, notify: Callable[[dict], None], kinds: tuple[str, ...] = ("alert",)):
        self.notify, self.kinds = notify, kinds

    def step(self, update: StepUpdate) -> None:
        for event in update.events:
            if event["event"] in self.kinds:
                self.notify(event)


@dataclass
class RunResult:
    """What a whole run gives: the last update, the session's analysis and its grades."""

    update: StepUpdate  # the final step (the pipeline's tail, the final grades among its events)
    analysis: Analysis | None  # None when the runner did not collect (live)
    stability: StabilityResult | None  # runs, carries, holds of the whole session; None if not graded
    grades: list[dict] = field(default_factory=list)  # the final carry_graded / run_graded events
    acc: dict[str, np.ndarray] | None = None  # grid acceleration per sensor, when kept

    @cached_property
    def exposures(self):
        """Exposure zones, percentiles and static bouts per angle (what the report shows)."""
        from imu.core.exposure import angle_summary

        return angle_summary(self.analysis)


def calibration_event(report: CalibrationReport, t: float, **extra) -> dict:
    """The `calibration` event, accepted or refused, live or replayed."""
    return {"event": "calibration", "t": float(t), "ok": report.ok, "quality": report.quality,
            "reasons": list(report.reasons), "sagittal_sign": report.sagittal_sign, **extra}


class Runner:
    def __init__(self, sensors: dict[str, dict], thresholds: Thresholds | None = None,
                 calibration: Calibration | list[CalibrationStretch] | None = None, *,
                 annotations=(), extra_stats: dict[str, DecodeStats] | None = None,
                 collect: bool = True, keep_acc: bool = False, provisional_grades: bool = True,
                 keep_history: bool = False):
        """sensors, thresholds, calibration: as for `Pipeline`. annotations: (start_s, end_s,
        label) spans known so far (carries are graded from them; live adds more with
        `annotate`). collect: keep every step for the session's Analysis (replay, report).
        keep_acc: keep the grid acceleration too (the final grades need it). provisional_grades:
        grade carries and runs while the session goes on. keep_history: keep the items fed
        until a calibration arrives, to feed them again to the calibrated pipeline (live)."""
        self.sensors, self.thresholds = sensors, thresholds or Thresholds()
        self.annotations = list(annotations)
        self._extra_stats = extra_stats
        self._collect, self._keep_acc = collect, keep_acc
        self._provisional = provisional_grades
        self._history: list | None = [] if keep_history else None
        self.status: SensorStatusTracker | None = None
        self._start(calibration)

    def _start(self, calibration) -> None:
        """A fresh pipeline and collectors; the sensors' link status carries over."""
        self.pipeline = Pipeline(self.sensors, self.thresholds, calibration)
        if self._extra_stats:
            self.pipeline.extra_stats.update(self._extra_stats)
        old, self.status = self.status, SensorStatusTracker(self.pipeline)
        if old is not None:
            self.status.connected, self.status.gaps = old.connected, old.gaps
        self.collector = AnalysisCollector() if self._collect else None
        self.acc = AccCollector() if self._keep_acc else None
        self.watch = GradeWatch(self.pipeline, self.annotations) if self._provisional else None

    @property
    def calibrated(self) -> bool:
        return self.pipeline.calibration is not None

    def annotate(self, start_s: float, end_s: float, label: str) -> None:
        """A span the wearer labelled while the session goes on (e.g. a carry key)."""
        self.annotations.append((float(start_s), float(end_s), label))

    # --- stepping --------------------------------------------------------------------------
    def feed(self, items, t: float | None = None, status_t: float | None = None) -> StepUpdate:
        """One step: notifications and link events in arrival order, or (already timed
        sources) location -> TimedSamples. t: the session time the step reached (default: the
        last item's); status_t: the time sensor rates are measured at (default t)."""
        if isinstance(items, dict):
            links, out = [], self.pipeline.feed_timed(items)
        else:
            if self._history is not None:
                self._history.extend(items)
            links = [e for i in items if isinstance(i, LinkEvent)
                     and (e := self.status.link_event(i)) is not None]
            out = self.pipeline.feed(items)
        if t is None:
            t = _last_time(items, out)
        return self._update(out, links, t, t if status_t is None else status_t)

    def calibrate(self, calibration: Calibration, t: float) -> StepUpdate:
        """Switch to `calibration` (live): a calibrated pipeline fed everything seen so far,
        so its events are those a report of the recording gives."""
        history, self._history = self._history or [], None
        self._start(calibration)
        return self._update(self.pipeline.feed(history), [], t, t)

    def finish(self, t: float | None = None, *, notes=(), calibration: CalibrationReport | None = None,
               grade: bool = True) -> RunResult:
        """The pipeline's tail, then the session's Analysis (when collecting) and, with grade,
        the whole session's run and carry grades, among the last update's events."""
        out = self.pipeline.finish()
        if t is None:
            t = float(out.t[-1]) if len(out.t) else max(
                (fl[1] for fl in self.pipeline.first_last.values() if math.isfinite(fl[1])), default=0.0)
        update = self._update(out, [], t, t)
        if self.collector is None:
            return RunResult(update, None, None)
        notes = list(notes) + [
            f"no data from any sensor from {a:.1f} s to {b:.1f} s ({(b - a) / 3600:.2f} h): "
            "that stretch is left out of the analysis" for a, b in self.pipeline.grid.skipped_s]
        analysis = self.collector.build(self.pipeline, notes, self.annotations)
        if calibration is not None:
            analysis.calibration = calibration
        result = RunResult(update, analysis, None, acc=self.acc.acc if self.acc is not None else None)
        return self.grade(result) if grade else result

    def grade(self, result: RunResult) -> RunResult:
        """The whole session's run and carry grades (what the report shows), added to the
        last update's events as `provisional: false` grades."""
        if result.analysis is None or not _enough_to_grade(result.analysis):
            return result
        stability = stability_from_analysis(result.analysis, result.acc)
        # given when decided: at the end of the session, like a provisional one at its check
        grades = [replace_t(e, result.update.t) for e in grade_events(stability, provisional=False)]
        update = replace(result.update, events=sorted(result.update.events + grades, key=lambda e: e["t"]))
        return replace(result, update=update, stability=stability, grades=grades)

    def _update(self, out: StepOutput, links: list[dict], t: float, status_t: float) -> StepUpdate:
        if self.collector is not None:
            self.collector.add(out)
        if self.acc is not None:
            self.acc(out)
        graded = self.watch.add(out) if self.watch is not None else []
        events = sorted(links + out.events + graded, key=lambda e: e["t"])
        return StepUpdate(out, events, out.samples, self.status.status(status_t), t)


def _last_time(items, out: StepOutput) -> float:
    if isinstance(items, dict):
        ends = [float(s.t[-1]) for s in items.values() if len(s.t)]
        return max(ends) if ends else (float(out.t[-1]) if len(out.t) else 0.0)
    if items:
        last = items[-1]
        return float(np.max(last.host_time_s))
    return float(out.t[-1]) if len(out.t) else 0.0


def _enough_to_grade(analysis: Analysis) -> bool:
    return len(analysis.t) >= 2 and analysis.duration_s > 0 and bool(analysis.angles)


# --- grades ----------------------------------------------------------------------------------
def grade_events(stability: StabilityResult, provisional: bool) -> list[dict]:
    """One `run_graded` / `carry_graded` event per graded run and carry, at its end."""
    events = []
    for r in stability.runs:
        events.append({"event": "run_graded", "t": float(r.end_s), "start_s": float(r.start_s),
                       "end_s": float(r.end_s), "grade": r.grade, "reasons": list(r.reasons),
                       "cadence_spm": float(r.cadence_spm),
                       "trunk_lean_mean_deg": float(r.trunk_lean_mean_deg),
                       "lean_drift_deg": float(r.lean_drift_deg), "provisional": provisional})
    for c in stability.carries:
        events.append({"event": "carry_graded", "t": float(c.end_s), "kind": c.kind,
                       "start_s": float(c.start_s), "end_s": float(c.end_s), "grade": c.grade,
                       "reasons": list(c.reasons), "breakdown": bool(c.breakdown),
                       "breakdown_at_s": None if c.breakdown_at_s is None else float(c.breakdown_at_s),
                       "provisional": provisional})
    return sorted(events, key=lambda e: e["t"])


class GradeWatch:
    """Provisional carry and run grades while the session goes on, from a trailing window.

    Checks happen at fixed session times (a carry: CARRY_SETTLE_S after its labelled end;
    a run: at the first check, every GRADE_CHECK_S, at which none of its few activity windows
    is running any more, after one that had some), on the grid rows before that time only, so
    the grades do not depend on how the stream was chunked. Memory is the window, whatever
    the session's length.
    """

    def __init__(self, pipeline: Pipeline, annotations: list):
        self.pipeline, self.annotations = pipeline, annotations  # the runner's list: live adds to it
        self._parts: deque = deque()  # (t, angles, valid, acc) per step, trimmed
        self._graded_carries: set[tuple[float, float, str]] = set()
        self._graded_runs: list[tuple[float, float]] = []
        self._next_check = GRADE_CHECK_S
        self._ran = False  # the wearer was running at the last check

    def add(self, out: StepOutput) -> list[dict]:
        if not len(out.t) or not self.pipeline.stretches:
            return []
        valid = np.ones(len(out.t), bool)
        for q in out.grid.quat.values():
            valid &= np.isfinite(q).all(axis=1)
        self._parts.append((out.t, out.angles, valid, out.grid.acc))
        reached = float(out.t[-1])
        events = []
        for a, b, label in list(self.annotations):
            key = (a, b, label)
            if label in CARRY_LABELS and key not in self._graded_carries and reached >= b + CARRY_SETTLE_S:
                self._graded_carries.add(key)
                cut = b + CARRY_SETTLE_S
                # from a minute before it (walking to compare with), within the kept window
                events += self._grade(max(a - 60.0, cut - GRADE_WINDOW_S - 60.0), cut, carries={key})
        while reached >= self._next_check:
            cut, self._next_check = self._next_check, self._next_check + GRADE_CHECK_S
            running = self._running(cut)
            if self._ran and not running:  # a run has just ended
                events += self._grade(cut - GRADE_WINDOW_S, cut, runs=True)
            self._ran = running
        self._trim(reached - GRADE_WINDOW_S - GRADE_CHECK_S - 60.0)
        return events

    def _running(self, cut: float) -> bool:
        """Whether any of a few activity windows of the check interval before `cut` is running."""
        step = GRADE_CHECK_S / RUNNING_PROBES
        for k in range(RUNNING_PROBES):
            end = cut - k * step
            window = self._window(end - WINDOW_S, end)
            if window is not None and len(window[0]) > 10 and \
                    window_label(window[1], window[3], self.pipeline.thr.analysis_rate_hz,
                                 self.pipeline.thr) == RUNNING:
                return True
        return False

    def _window(self, lo: float, hi: float):
        parts = [p for p in self._parts if p[0][-1] >= lo and p[0][0] < hi]
        if not parts:
            return None
        t = np.concatenate([p[0] for p in parts])
        rows = (t >= lo) & (t < hi)
        names = {n for p in parts for n in p[1]}
        angles = {n: np.concatenate([p[1].get(n, np.full(len(p[0]), np.nan)) for p in parts])[rows]
                  for n in names}
        valid = np.concatenate([p[2] for p in parts])[rows]
        locs = {loc for p in parts for loc in p[3]}
        acc = {loc: np.concatenate([p[3].get(loc, np.full((len(p[0]), 3), np.nan)) for p in parts])[rows]
               for loc in locs}
        return t[rows], angles, valid, acc

    def _grade(self, lo: float, hi: float, carries=frozenset(), runs: bool = False) -> list[dict]:
        window = self._window(lo, hi)
        if window is None or len(window[0]) < 2:
            return []
        t, angles, valid, acc = window
        # nominal rates: measured ones would depend on how much has been fed so far
        rates = [s["rate_hz"] for s in self.pipeline.sensors.values() if s.get("rate_hz")]
        spans = [s.calibration.span_s for s in self.pipeline.stretches
                 if s.calibration.span_s and s.calibration.span_s[1] > s.calibration.span_s[0]]
        try:
            result = analyze_stability(t, angles, valid, [c for c in carries], self.pipeline.thr, acc,
                                       sensor_rate_hz=min(rates) if rates else None,
                                       calibration_spans=spans)
        except ValueError:  # too little in the window to say anything yet
            return []
        kept = replace(result, runs=[r for r in result.runs if runs and self._new_run(r, hi)])
        return [replace_t(e, hi) for e in grade_events(kept, provisional=True)]

    def _new_run(self, run, cut: float) -> bool:
        if run.end_s > cut - RUN_ENDED_BEFORE_S:
            return False  # still going at the window's end
        if any(run.start_s < b and run.end_s > a for a, b in self._graded_runs):
            return False
        self._graded_runs.append((run.start_s, run.end_s))
        return True

    def _trim(self, before: float) -> None:
        while self._parts and self._parts[0][0][-1] < before:
            self._parts.popleft()


def replace_t(event: dict, t: float) -> dict:
    """A provisional grade is given when it was decided (the check time), not at its end."""
    return {**event, "t": float(t)}


# --- sensor status ---------------------------------------------------------------------------
class SensorStatusTracker:
    """Per-sensor link status for dashboards: connected, recent rate, loss, battery, last gap.

    Fed the link events and the pipeline's counters after each step (it reads only public
    pipeline attributes).
    """

    def __init__(self, pipeline: Pipeline):
        self.pipeline = pipeline
        self.connected = {loc: True for loc in pipeline.sensors}
        self.gaps: dict[str, list[list]] = {loc: [] for loc in pipeline.sensors}
        self._history = {loc: deque() for loc in pipeline.sensors}  # (t, samples_seen)

    def link_event(self, event: LinkEvent) -> dict | None:
        """Track a link change; returns the gap / reconnect event it means, if any."""
        loc = event.sensor
        if loc not in self.connected:
            return None
        if event.kind == "disconnected" and self.connected[loc]:
            self.connected[loc] = False
            self.gaps[loc].append([event.host_time_s, None])
            return {"event": "gap", "t": event.host_time_s, "sensor": loc}
        if event.kind == "connected" and not self.connected[loc]:
            self.connected[loc] = True
            gap = self.gaps[loc][-1]
            gap[1] = event.host_time_s
            return {"event": "reconnect", "t": event.host_time_s, "sensor": loc,
                    "gap_s": event.host_time_s - gap[0]}
        return None

    def status(self, t: float) -> dict[str, dict]:
        out = {}
        for loc in self.pipeline.sensors:
            seen = self.pipeline.samples_seen[loc]
            history = self._history[loc]
            history.append((t, seen))
            while len(history) > 2 and history[1][0] <= t - RATE_WINDOW_S:
                history.popleft()
            t0, seen0 = history[0]
            rate = (seen - seen0) / (t - t0) if t > t0 else 0.0
            decoder = self.pipeline.decoders.get(loc)
            lost = decoder.stats.lost_samples if decoder is not None else 0
            total = seen + lost
            last_gap = self.gaps[loc][-1] if self.gaps[loc] else None
            loss_gap = self._last_loss_gap(decoder, last_gap)
            if loss_gap is not None and (last_gap is None or loss_gap[0] > last_gap[0]):
                last_gap = loss_gap
            out[loc] = {"connected": self.connected[loc], "rate_hz": round(rate, 1),
                        "loss_pct": 100.0 * lost / total if total else 0.0,
                        "battery_pct": self.pipeline.battery.get(loc),
                        "last_gap": None if last_gap is None else tuple(last_gap)}
        return out

    @staticmethod
    def _last_loss_gap(decoder, link_gap) -> list | None:
        """The latest loss (by sequence numbers) long enough to be a gap, not a link gap."""
        if decoder is None:
            return None
        for start, end in reversed(decoder.stats.gaps):
            if end - start < MIN_LOSS_GAP_S:
                continue
            if link_gap is not None and start <= (link_gap[1] or math.inf) and end >= link_gap[0]:
                return None  # the same gap the link events already describe
            return [start, end]
        return None
