"""Replay: a recorded session through the live runner, paced on the session clock.

The calibration plan comes from `find_calibrations` (the function `imu report` uses) and the
notifications from `iter_notifications`, fed to one `Runner` in small chunks, so replay
gives the events a report gives. Everything before `from_s` is processed silently at full
speed; from there on each step goes to the sinks, and with `speed` > 0 a step is delivered
when the wall clock reaches session time / speed.

Sinks follow the one contract of imu.runner (`step(update)`, optional `finish()`); the live
loop builds the same `StepUpdate`s, so every sink here works live too.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Iterator, TextIO

from imu.analysis import CalibrationPlan, Source, find_calibrations, new_runner, open_source, plan_notes
from imu.core.result import Analysis, CalibrationReport
from imu.core.stability import StabilityResult
from imu.jsonvalues import plain
from imu.profile import Thresholds
from imu.runner import (GRADE_EVENTS, AlertSink, fan_out, SensorStatusTracker, Sink, StepUpdate,
                        calibration_event, finish_sinks)

__all__ = ["AlertSink", "JsonlSink", "ReplayResult", "SensorStatusTracker", "Sink", "StepUpdate",
           "event_json", "replay"]

PIPELINE_EVENTS = ("slouch_start", "slouch_end", "alert",
                   "sitting_break_due", "sitting_bout", "sitting_break", "lift", "lift_cue",
                   "posture_reset")  # issue 13
SILENT_STEP_S = 10.0  # chunk length while catching up to from_s (nothing is shown)
FAST_STEP_S = 1.0  # chunk length at speed 0: small, yet few steps per session
PACED_STEP_WALL_S = 0.04  # a paced replay steps every 40 ms of wall time, like the live loop


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
    stability: StabilityResult | None = None  # the whole session's runs, carries and holds

    @property
    def grades(self) -> list[dict]:
        """The final carry and run grades: those of `imu report`."""
        return [e for e in self.events if e["event"] in GRADE_EVENTS and not e["provisional"]]

    @property
    def pipeline_events(self) -> list[dict]:
        """Slouch, alert, sitting and lift events: these equal `analyze(...).events` after from_s."""
        return [e for e in self.events if e["event"] in PIPELINE_EVENTS]


# --- sinks -------------------------------------------------------------------------------
def event_json(event: dict) -> str:
    """One event as one JSON line (NaN becomes null: JSON has no NaN)."""
    return json.dumps(plain(event), separators=(",", ":"))


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


# --- calibration ------------------------------------------------------------------------
def replay_calibration(source: Source) -> tuple[CalibrationPlan, CalibrationReport]:
    """The calibration plan `analyze` uses (which calibration applies where) and its report."""
    plan = find_calibrations(source)
    return plan, plan.report()


# --- pacing ---------------------------------------------------------------------------------
def _chunk_end(t: float, from_s: float, step_s: float) -> float:
    """End of the chunk holding time t: long chunks before from_s, step_s chunks after."""
    if t < from_s:
        return min(from_s, (math.floor(t / SILENT_STEP_S) + 1) * SILENT_STEP_S)
    return from_s + (math.floor((t - from_s) / step_s) + 1) * step_s


def _chunks(items: Iterable, from_s: float, step_s: float) -> Iterator[tuple[float, float, list]]:
    """(chunk end time, last item time, items before the end), for items in host-time order."""
    chunk, end = [], None
    for item in items:
        if end is None:
            end = _chunk_end(item.host_time_s, from_s, step_s)
        elif item.host_time_s >= end:
            yield end, chunk[-1].host_time_s, chunk
            chunk, end = [], _chunk_end(item.host_time_s, from_s, step_s)
        chunk.append(item)
    if chunk:
        yield end, chunk[-1].host_time_s, chunk


def _timed_chunks(timed: dict, from_s: float, step_s: float):
    """CSV sources: the already-timed samples cut on the same chunk boundaries."""
    ends = sorted({_chunk_end(float(t), from_s, step_s)
                   for s in timed.values() for t in s.t[:: max(1, len(s.t) // 100_000)]})
    last = max((float(s.t[-1]) for s in timed.values() if len(s.t)), default=0.0)
    ends = sorted(set(ends) | {_chunk_end(last, from_s, step_s)})
    start = -math.inf
    for end in ends:
        yield end, end, {loc: s.take((s.t >= start) & (s.t < end)) for loc, s in timed.items()}
        start = end


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
    runner = new_runner(source, plan, keep_acc=True, provisional_grades=True)
    result = ReplayResult(analysis=None)  # type: ignore[arg-type]
    t0 = plan.primary.applies_from_s if plan.primary is not None else 0.0
    pending = [calibration_event(report, t0)]  # delivered with the first shown step
    started: list[float] = []  # wall time when session time from_s was shown

    def deliver(update: StepUpdate) -> None:
        if update.t < from_s:
            return
        shown = pending + [e for e in update.events if e["t"] >= from_s]
        pending.clear()
        if speed > 0:
            if not started:
                started.append(clock.now())
            wait = started[0] + (update.t - from_s) / speed - clock.now()
            if wait > 0:
                clock.sleep(wait)
        out = update.out if (update.out.t >= from_s).all() else update.out.take(update.out.t >= from_s)
        update = replace(update, out=out, events=shown)
        result.events.extend(shown)
        fan_out(sinks, update)

    reached = 0.0
    try:
        if source.timed is not None:
            steps = _timed_chunks(source.timed, from_s, step_s)
        else:
            from imu.recording.reader import iter_notifications

            steps = _chunks(iter_notifications(source.path), from_s, step_s)
        for end, data_t, items in steps:
            deliver(runner.feed(items, end, data_t))  # rates over data time, not past the last sample
            reached = end
        notes = list(source.notes) + plan_notes(plan)
        final = runner.finish(notes=notes, calibration=report)
        last_t = final.update.t
        if from_s > last_t:
            raise ValueError(f"from {from_s:g} s is past the end of the session ({last_t:.1f} s)")
        deliver(replace(final.update, t=max(last_t, from_s, reached)))
    finally:
        finish_sinks(sinks)
    result.analysis, result.stability = final.analysis, final.stability
    return result
