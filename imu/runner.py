"""The runner: the one object live, replay and report drive (docs/architecture.md section 10).

A `Runner` wraps the pure `Pipeline` and owns everything a step needs besides it: the switch
to a calibration (live: when the guide accepts one, with the items seen so far fed again;
replay and report: the calibration plan's stretches from the start), the sensors' link
status, the collectors that build the session's `Analysis`, and the stability grades of
runs and carries. `feed(items)` returns one `StepUpdate`; `finish()` returns a `RunResult`.
Callers only iterate their source, pace it and hand each update to their sinks.

Carry and run grades come twice. While the session goes on, a carry is graded when its
labelled end has passed, and a run once the wearer has stopped running (imu.core.grades),
from a trailing window of the data (`provisional: true`: the session is not over, so the wearer's
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

from imu.core.calibrate import Calibration, CalibrationStretch
from imu.core.envelope import SessionEnvelope
from imu.core.exposure_stream import ExposureAccumulator
from imu.core.front import FrontBatch
from imu.core.pipeline import AnalysisCollector, Pipeline, StepOutput
from imu.core.result import Analysis, CalibrationReport
from imu.core.grades import GRADE_EVENTS, GradeWatch, grade_events, replace_t
from imu.core.stability import AccCollector, StabilityResult, stability_from_analysis
from imu.heap import release_freed_memory
from imu.profile import Thresholds
from imu.samples import DecodeStats, LinkEvent, TimedSamples

__all__ = ["ALERT_EVENTS", "GRADE_EVENTS", "AlertSink", "RunResult", "Runner", "SensorStatusTracker", "Sink",
           "StepUpdate", "calibration_event", "fan_out", "finish_sinks"]

MIN_LOSS_GAP_S = 1.0  # shorter losses show in the loss percentage, not as a gap
RATE_WINDOW_S = 2.0  # sensor rate shown = samples over the trailing two seconds
TRIM_EVERY_SAMPLES = 1 << 16  # collected samples between two hand-backs of freed memory


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


def fan_out(sinks: list, update: "StepUpdate", on_failure: Callable[[str], None] | None = None) -> None:
    """One update to every sink, in order. With on_failure (live: a broken viewer must not
    stop the recording) a sink that raises is taken out of `sinks` and on_failure says so in
    one line; without it the error propagates."""
    for sink in list(sinks):
        try:
            sink.step(update)
        except Exception as err:
            if on_failure is None:
                raise
            on_failure(f"{type(sink).__name__} failed and is switched off: {type(err).__name__}: {err}")
            sinks.remove(sink)


def finish_sinks(sinks) -> None:
    """Call `finish()` on every sink that has it."""
    for sink in sinks:
        finish = getattr(sink, "finish", None)
        if finish is not None:
            finish()


# events the wearer is alerted to: the slouch alert, the reminder to get up after a long
# sitting bout and the cue during a lift with a rounding lower back
ALERT_EVENTS = ("alert", "sitting_break_due", "lift_cue")


class AlertSink:
    """Calls `notify(event)` for each event the wearer is alerted to (terminal, desktop or
    haptic alerting); kinds: which events those are."""

    def __init__(self, notify: Callable[[dict], None], kinds: tuple[str, ...] = ALERT_EVENTS):
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
    accumulated: dict | None = None  # exposure accumulated during the run (summarize)
    envelope: SessionEnvelope | None = None  # the figures' per-bin summary, gathered likewise

    @cached_property
    def exposures(self):
        """Exposure zones, percentiles and static bouts per angle (what the report shows):
        accumulated step by step when the runner summarized, else from the Analysis."""
        if self.accumulated is not None:
            return self.accumulated
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
                 keep_history: bool = False, summarize: bool = False, columns=None):
        """sensors, thresholds, calibration: as for `Pipeline`. annotations: (start_s, end_s,
        label) spans known so far (carries are graded from them; live adds more with
        `annotate`). collect: keep every step for the session's Analysis (replay, report).
        keep_acc: keep the grid acceleration too (the final grades need it). provisional_grades:
        grade carries and runs while the session goes on. keep_history: keep the items fed
        until a calibration arrives, to feed them again to the calibrated pipeline (live).
        summarize: accumulate the exposure (zones, percentiles, static bouts) and the report
        figures' envelope step by step, in memory that does not grow with the session.
        columns: where the collected time axis, angles and acceleration are kept
        (imu.core.columns; default in memory; a report keeps them in files, imu.spill)."""
        self.sensors, self.thresholds = sensors, thresholds or Thresholds()
        self.annotations = list(annotations)
        self._extra_stats = extra_stats
        self._collect, self._keep_acc = collect, keep_acc
        self._provisional = provisional_grades
        self._summarize = summarize
        self._columns = columns
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
        self.collector = AnalysisCollector(self._columns) if self._collect else None
        self._collected = 0  # grid samples collected since freed memory was last handed back
        self.acc = AccCollector(self._columns) if self._keep_acc else None
        step = 1.0 / self.pipeline.grid.rate_hz
        self.exposure = ExposureAccumulator(self.pipeline.thr, step) if self._summarize else None
        self.envelope = SessionEnvelope(step) if self._summarize else None
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
        elif isinstance(items, FrontBatch):  # read and decoded in another process
            links = [e for i in items.pieces if isinstance(i, LinkEvent)
                     and (e := self.status.link_event(i)) is not None]
            out = self.pipeline.feed_front(items)
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
        analysis = self.collector.build(self.pipeline, notes, self.annotations, after_each=release_freed_memory)
        if calibration is not None:
            analysis.calibration = calibration
        acc = self.acc.acc if self.acc is not None else None
        release_freed_memory()
        result = RunResult(update, analysis, None, acc=acc,
                           accumulated=self.exposure.result() if self.exposure is not None else None,
                           envelope=self.envelope)
        return self.grade(result) if grade else result

    def grade(self, result: RunResult) -> RunResult:
        """The whole session's run and carry grades (what the report shows), added to the
        last update's events as `provisional: false` grades."""
        if result.analysis is None or not _enough_to_grade(result.analysis):
            return result
        stability = stability_from_analysis(result.analysis, result.acc)
        release_freed_memory()  # grading's temporaries: the report is written next
        # given when decided: at the end of the session, like a provisional one at its check
        grades = [replace_t(e, result.update.t) for e in grade_events(stability, provisional=False)]
        update = replace(result.update, events=sorted(result.update.events + grades, key=lambda e: e["t"]))
        return replace(result, update=update, stability=stability, grades=grades)

    def _update(self, out: StepOutput, links: list[dict], t: float, status_t: float) -> StepUpdate:
        if self.collector is not None:
            self.collector.add(out)
            self._collected += len(out.t)
            if self._collected >= TRIM_EVERY_SAMPLES:
                # a step's freed temporaries stay in the C heap beside the kept pieces unless
                # handed back (imu.heap): an 8-hour pass held about 25 MB more without this
                release_freed_memory()
                self._collected = 0
        if self.acc is not None:
            self.acc(out)
        if self.exposure is not None and len(out.t):
            self.exposure.add(out.t, out.angles, out.valid)
            self.envelope.add(out.t, out.angles, out.valid, out.context_codes)
        graded = self.watch.add(out) if self.watch is not None else []
        events = sorted(links + out.events + graded, key=lambda e: e["t"])
        return StepUpdate(out, events, out.samples, self.status.status(status_t), t)


def _last_time(items, out: StepOutput) -> float:
    if isinstance(items, dict):
        ends = [float(s.t[-1]) for s in items.values() if len(s.t)]
        return max(ends) if ends else (float(out.t[-1]) if len(out.t) else 0.0)
    if isinstance(items, FrontBatch):
        return items.last_host_time_s if items.last_host_time_s is not None else (
            float(out.t[-1]) if len(out.t) else 0.0)
    if items:
        last = items[-1]
        return float(np.max(last.host_time_s))
    return float(out.t[-1]) if len(out.t) else 0.0


def _enough_to_grade(analysis: Analysis) -> bool:
    return len(analysis.t) >= 2 and analysis.duration_s > 0 and bool(analysis.angles)


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
        front = self.pipeline.front_quality(clock=False)
        for loc in self.pipeline.sensors:
            seen = self.pipeline.samples_seen[loc]
            history = self._history[loc]
            history.append((t, seen))
            while len(history) > 2 and history[1][0] <= t - RATE_WINDOW_S:
                history.popleft()
            t0, seen0 = history[0]
            rate = (seen - seen0) / (t - t0) if t > t0 else 0.0
            stats = front[loc].stats
            lost = stats.lost_samples if stats is not None else 0
            total = seen + lost
            last_gap = self.gaps[loc][-1] if self.gaps[loc] else None
            loss_gap = self._last_loss_gap(stats, last_gap)
            if loss_gap is not None and (last_gap is None or loss_gap[0] > last_gap[0]):
                last_gap = loss_gap
            out[loc] = {"connected": self.connected[loc], "rate_hz": round(rate, 1),
                        "loss_pct": 100.0 * lost / total if total else 0.0,
                        "battery_pct": front[loc].battery_pct,
                        "last_gap": None if last_gap is None else tuple(last_gap)}
        return out

    @staticmethod
    def _last_loss_gap(stats, link_gap) -> list | None:
        """The latest loss (by sequence numbers) long enough to be a gap, not a link gap."""
        if stats is None:
            return None
        for start, end in reversed(stats.gaps):
            if end - start < MIN_LOSS_GAP_S:
                continue
            if link_gap is not None and start <= (link_gap[1] or math.inf) and end >= link_gap[0]:
                return None  # the same gap the link events already describe
            return [start, end]
        return None
