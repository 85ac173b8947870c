"""Replay: a recorded session through exactly the live pipeline, paced on the session clock.

The calibration plan comes from `find_calibrations` (the function `imu report` uses) and the
notifications from `iter_notifications`, fed to one `Pipeline` in small chunks, so replay
gives the events a report gives. Everything before `from_s` is processed silently at full
speed; from there on each step goes to the sinks, and with `speed` > 0 a step is delivered
when the wall clock reaches session time / speed.

A sink is any object with `step(update: StepUpdate)`, and optionally `finish()` (called
once at the end of the stream, from the producer's thread). The live loop builds the same
`StepUpdate`s, so every sink here works live too.
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Protocol, TextIO

import numpy as np

from imu.analysis import CalibrationPlan, Source, find_calibrations, open_source, plan_notes
from imu.core.calibrate import Calibration
from imu.core.pipeline import AnalysisCollector, Pipeline, StepOutput
from imu.core.result import Analysis, CalibrationReport
from imu.profile import Thresholds
from imu.samples import LinkEvent, TimedSamples

PIPELINE_EVENTS = ("slouch_start", "slouch_end", "alert",
                   "sitting_break_due", "sitting_bout", "sitting_break", "lift", "lift_cue")  # issue 13
SILENT_STEP_S = 10.0  # chunk length while catching up to from_s (nothing is shown)
FAST_STEP_S = 1.0  # chunk length at speed 0: small, yet few steps per session
PACED_STEP_WALL_S = 0.04  # a paced replay steps every 40 ms of wall time, like the live loop
MIN_LOSS_GAP_S = 1.0  # shorter losses show in the loss percentage, not as a gap
RATE_WINDOW_S = 2.0  # sensor rate shown = samples over the trailing two seconds


@dataclass
class StepUpdate:
    """One pipeline step as sinks see it, live or replayed."""

    out: StepOutput  # grid orientations, angles, context labels on the analysis grid
    events: list[dict]  # live vocabulary, time order: calibration, slouch_*, alert, gap, reconnect
    samples: dict[str, TimedSamples]  # sensor samples that entered this step (raw orientation)
    status: dict[str, dict]  # location -> SensorStatusTracker.status() entry
    t: float  # session time the step has reached


class Sink(Protocol):
    def step(self, update: StepUpdate) -> None: ...


class SystemClock:
    """Wall clock for pacing; tests pass an object with the same two methods."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass
class ReplayResult:
    analysis: Analysis  # the whole session, built from the same steps
    events: list[dict] = field(default_factory=list)  # what the sinks were given (t >= from_s)

    @property
    def pipeline_events(self) -> list[dict]:
        """Slouch, alert, sitting and lift events: these equal `analyze(...).events` after from_s."""
        return [e for e in self.events if e["event"] in PIPELINE_EVENTS]


# --- sinks -------------------------------------------------------------------------------
def _json_safe(value):
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def event_json(event: dict) -> str:
    """One event as one JSON line (NaN becomes null: JSON has no NaN)."""
    return json.dumps(_json_safe(event), separators=(",", ":"))


class JsonlSink:
    """Writes every event as one JSON object per line; flushed each step for `tail -f`."""

    def __init__(self, target: str | Path | TextIO):
        if isinstance(target, (str, Path)):
            self._stream = open(target, "w", encoding="utf-8")
            self._owned = True
        else:
            self._stream, self._owned = target, False

    def step(self, update: StepUpdate) -> None:
        if update.events:
            self._stream.write("".join(event_json(e) + "\n" for e in update.events))
            self._stream.flush()

    def finish(self) -> None:
        if self._owned:
            self._stream.close()


class AlertSink:
    """Calls `notify(event)` for each alert event (terminal, desktop or haptic alerting)."""

    def __init__(self, notify: Callable[[dict], None]):
        self.notify = notify

    def step(self, update: StepUpdate) -> None:
        for event in update.events:
            if event["event"] == "alert":
                self.notify(event)


# --- sensor status -----------------------------------------------------------------------
class SensorStatusTracker:
    """Per-sensor link status for dashboards: connected, recent rate, loss, battery, last gap.

    Fed the link events and the pipeline's counters after each step; the live loop can use
    it as it is (it reads only public pipeline attributes).
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


# --- calibration ------------------------------------------------------------------------
def replay_calibration(source: Source) -> tuple[CalibrationPlan, CalibrationReport]:
    """The calibration plan `analyze` uses (which calibration applies where) and its report."""
    plan = find_calibrations(source)
    return plan, plan.report()


def calibration_event(calibration: Calibration | None, report: CalibrationReport) -> dict:
    t = calibration.applies_from_s if calibration is not None else 0.0
    return {"event": "calibration", "t": t, "ok": report.ok, "quality": report.quality,
            "reasons": list(report.reasons), "sagittal_sign": report.sagittal_sign}


# --- driving ----------------------------------------------------------------------------
class _OrientationTap:
    """Wraps a pipeline orientation stage to keep the samples it passes on in this step."""

    def __init__(self, inner):
        self.inner = inner
        self.taken: list[TimedSamples] = []

    def fill(self, samples: TimedSamples) -> TimedSamples:
        filled = self.inner.fill(samples)
        self.taken.append(filled)
        return filled

    def drain(self) -> TimedSamples | None:
        taken, self.taken = [t for t in self.taken if len(t)], []
        if not taken:
            return None
        if len(taken) == 1:
            return taken[0]
        return TimedSamples(np.concatenate([s.t for s in taken]),
                            np.concatenate([s.quat for s in taken]))


def _chunk_end(t: float, from_s: float, step_s: float) -> float:
    """End of the chunk holding time t: long chunks before from_s, step_s chunks after."""
    if t < from_s:
        return min(from_s, (math.floor(t / SILENT_STEP_S) + 1) * SILENT_STEP_S)
    return from_s + (math.floor((t - from_s) / step_s) + 1) * step_s


def _chunks(items: Iterable, from_s: float, step_s: float) -> Iterator[tuple[float, list]]:
    """(chunk end time, items before it), for items in host-time order."""
    chunk, end = [], None
    for item in items:
        if end is None:
            end = _chunk_end(item.host_time_s, from_s, step_s)
        elif item.host_time_s >= end:
            yield end, chunk
            chunk, end = [], _chunk_end(item.host_time_s, from_s, step_s)
        chunk.append(item)
    if chunk:
        yield end, chunk


def _timed_chunks(timed: dict[str, TimedSamples], from_s: float, step_s: float):
    """CSV sources: the already-timed samples cut on the same chunk boundaries."""
    ends = sorted({_chunk_end(float(t), from_s, step_s)
                   for s in timed.values() for t in s.t[:: max(1, len(s.t) // 100_000)]})
    last = max((float(s.t[-1]) for s in timed.values() if len(s.t)), default=0.0)
    ends = sorted(set(ends) | {_chunk_end(last, from_s, step_s)})
    start = -math.inf
    for end in ends:
        part = {}
        for loc, s in timed.items():
            keep = (s.t >= start) & (s.t < end)
            part[loc] = TimedSamples(s.t[keep], s.quat[keep],
                                     None if s.acc is None else s.acc[keep],
                                     None if s.gyro is None else s.gyro[keep])
        start = end
        yield end, part


def _slice_step(out: StepOutput, from_s: float) -> StepOutput:
    keep = out.t >= from_s
    if keep.all():
        return out
    grid = type(out.grid)(out.grid.t[keep], {k: v[keep] for k, v in out.grid.quat.items()},
                          {k: v[keep] for k, v in out.grid.acc.items()})
    return StepOutput(grid, {k: v[keep] for k, v in out.angles.items()}, out.context[keep],
                      list(out.events))


def replay(path: str | Path, *, speed: float = 0.0, from_s: float = 0.0,
           sinks: Iterable[Sink] = (), clock=None, thresholds: Thresholds | None = None,
           step_s: float | None = None, calibration_spans=None, bends: bool = True,
           mapping=None) -> ReplayResult:
    """Play a session file (or CSV) through the pipeline into `sinks`.

    speed: 0 = as fast as possible; otherwise wall time = (session time - from_s) / speed.
    from_s: first session time delivered; everything before is processed silently.
    clock: an object with now() and sleep(seconds) (default: the system clock).
    step_s: session seconds per pipeline step (default: 40 ms of wall time, 1 s at speed 0).
    calibration_spans, bends: where the calibrations are and whether they hold bends, as
    for `imu report` (`--calibration FROM:TO`, `--no-bends`). mapping: an import mapping, as
    for `open_source`.
    """
    if not (isinstance(speed, (int, float)) and math.isfinite(speed) and speed >= 0):
        raise ValueError(f"speed must be 0 (as fast as possible) or a positive factor, got {speed!r}")
    if not (isinstance(from_s, (int, float)) and math.isfinite(from_s) and from_s >= 0):
        raise ValueError(f"from must be a session time in seconds >= 0, got {from_s!r}")
    if step_s is None:
        step_s = PACED_STEP_WALL_S * speed if speed > 0 else FAST_STEP_S
    if not step_s > 0:
        raise ValueError(f"step_s must be positive, got {step_s!r}")
    clock = clock or SystemClock()
    sinks = list(sinks)
    source = open_source(path, thresholds, mapping)
    source.calibration_spans, source.bends = calibration_spans, bends
    plan, report = replay_calibration(source)
    pipeline = Pipeline(source.sensors, source.thresholds, plan.stretches or None)
    if source.csv_stats:
        pipeline.extra_stats.update(source.csv_stats)
    taps = {loc: _OrientationTap(o) for loc, o in pipeline.orienters.items()}
    pipeline.orienters.update(taps)
    status = SensorStatusTracker(pipeline)
    collector = AnalysisCollector()
    result = ReplayResult(analysis=None)  # type: ignore[arg-type]
    pending = [calibration_event(plan.primary, report)]  # delivered with the first shown step
    started: list[float] = []  # wall time when session time from_s was shown
    reached = [0.0]  # session time the last step reached

    def deliver(out: StepOutput, extra: list[dict], t_reached: float, data_t: float) -> None:
        collector.add(out)
        reached[0] = t_reached
        samples = {loc: s for loc, tap in taps.items() if (s := tap.drain()) is not None}
        current = status.status(data_t)  # rates over data time, not past the last sample
        events = sorted(out.events + extra, key=lambda e: e["t"])
        if t_reached < from_s:
            return
        shown = pending + [e for e in events if e["t"] >= from_s]
        pending.clear()
        if speed > 0:
            if not started:
                started.append(clock.now())
            wait = started[0] + (t_reached - from_s) / speed - clock.now()
            if wait > 0:
                clock.sleep(wait)
        update = StepUpdate(_slice_step(out, from_s), shown, samples, current, t_reached)
        result.events.extend(shown)
        for sink in sinks:
            sink.step(update)

    try:
        if source.timed is not None:
            for end, part in _timed_chunks(source.timed, from_s, step_s):
                deliver(pipeline.feed_timed(part), [], end, end)
        else:
            from imu.recording.reader import iter_notifications

            for end, chunk in _chunks(iter_notifications(source.path), from_s, step_s):
                link = [status.link_event(i) for i in chunk if isinstance(i, LinkEvent)]
                deliver(pipeline.feed(chunk), [e for e in link if e is not None], end,
                        chunk[-1].host_time_s)
        final = pipeline.finish()
        last_t = float(final.t[-1]) if len(final.t) else max(
            (fl[1] for fl in pipeline.first_last.values() if math.isfinite(fl[1])), default=0.0)
        if from_s > last_t:
            raise ValueError(f"from {from_s:g} s is past the end of the session ({last_t:.1f} s)")
        deliver(final, [], max(last_t, from_s, reached[0]), last_t)
    finally:
        for sink in sinks:
            finish = getattr(sink, "finish", None)  # not close(): a Qt window has one
            if finish is not None:
                finish()
    analysis = collector.build(pipeline, list(source.notes) + plan_notes(plan), source.annotations)
    analysis.calibration = report
    result.analysis = analysis
    return result
