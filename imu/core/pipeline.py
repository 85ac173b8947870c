"""The one pipeline: notifications (or timed samples) in, angles and events out.

decode -> align -> orient -> grid -> angles -> context -> posture, every stage streaming and
causal. Live, replay and reports all drive this same object; a report simply feeds the
whole recording. Nothing here touches a socket, file, clock or thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable

import numpy as np

from imu.core.angles import AngleComputer
from imu.core.calibrate import Calibration, CalibrationStretch, to_anatomical_earth
from imu.core.columns import Column, MemoryColumns
from imu.core.context import CODE_UNCALIBRATED, STILL, ContextTracker, context_codes, context_labels
from imu.core.front import FrontBatch, FrontQuality, SensorFront
from imu.core.grid import GridFrame, GridResampler
from imu.core.layout import thresholds_for_layout
from imu.core.lifts import LiftTracker
from imu.core.posture import SlouchTracker
from imu.core.resets import ResetTracker
from imu.core.result import Analysis, CalibrationReport, SensorQuality
from imu.core.sitting import SittingTracker
from imu.profile import Thresholds
from imu.samples import DecodeStats, LinkEvent, Notification, NotificationColumns, TimedSamples


@dataclass
class StepOutput:
    """What one step of the pipeline produced."""

    grid: GridFrame  # raw sensor orientations on the grid (for calibration and dashboards)
    angles: dict[str, np.ndarray]
    context: np.ndarray
    events: list[dict] = field(default_factory=list)
    # the oriented sensor samples that entered this step (location -> samples; dashboards
    # draw the raw orientation from them), only sensors that sent any
    samples: dict[str, TimedSamples] = field(default_factory=dict)

    @property
    def t(self) -> np.ndarray:
        return self.grid.t

    @cached_property
    def valid(self) -> np.ndarray:
        """(n,) bool: every sensor had data on these grid rows (its orientation is known)."""
        valid = np.ones(len(self.t), dtype=bool)
        for q in self.grid.quat.values():
            valid &= np.isfinite(q).all(axis=1)
        return valid

    @cached_property
    def context_codes(self) -> np.ndarray:
        """The context labels as uint8 codes (imu.core.context), one byte a row."""
        return context_codes(self.context)

    def take(self, index: np.ndarray) -> "StepOutput":
        """The grid rows at `index` (angles, context and grid alike); events and samples kept."""
        return StepOutput(self.grid.take(index), {k: v[index] for k, v in self.angles.items()},
                          self.context[index], list(self.events), self.samples)


class Pipeline:
    def __init__(
        self,
        sensors: dict[str, dict],
        thresholds: Thresholds | None = None,
        calibration: Calibration | list[CalibrationStretch] | None = None,
    ):
        """sensors: location -> {"device": decoder name, "mode": ..., "rate_hz": nominal}."""
        # a layout without thoracic_flexion alerts on what it has (imu.core.layout)
        self.thr = thresholds_for_layout(thresholds or Thresholds(), sensors)
        self.sensors = sensors
        self.front = SensorFront(sensors)  # decode, align, orient: each sensor on its own
        self._front_quality: dict[str, FrontQuality] | None = None  # when the front runs elsewhere
        self.grid = GridResampler(list(sensors), self.thr.analysis_rate_hz,
                                  self.thr.max_interpolation_gap_s, self.thr.max_interpolation_gap_periods)
        self.context = ContextTracker(self.thr.analysis_rate_hz, self.thr.moving_min_rate_dps)
        self.slouch = SlouchTracker(self.thr)
        # issue 13: lifts, sitting bouts and unguided posture resets, beside the slouch tracker
        self.lifts = LiftTracker(self.thr, self.thr.analysis_rate_hz)
        self.sitting = SittingTracker(self.thr, self.thr.analysis_rate_hz)
        self.resets = ResetTracker(self.thr)
        self.samples_seen = {loc: 0 for loc in sensors}
        self.first_last = {loc: [np.inf, -np.inf] for loc in sensors}
        self.link_events: list[LinkEvent] = []
        self.extra_stats: dict[str, DecodeStats] = {}  # quality of pre-decoded input (CSV rows)
        self.calibration: Calibration | None = None  # the first (or only) one
        self.stretches: list[CalibrationStretch] = []
        self._computers: list[AngleComputer] = []
        self._blank_before = -np.inf  # live: no angles before the calibration took effect
        self._quiet: list[tuple[float, float]] = []  # no slouch events inside these spans
        self._oriented: dict[str, list[TimedSamples]] = {}  # entered since the last step
        if calibration is not None:
            self.set_calibration(calibration)

    def set_calibration(self, calibration: Calibration | list[CalibrationStretch]) -> None:
        """One Calibration (live): angles from its applies_from_s on, as it must be forward
        in time. Stretches (report, replay): each calibration over its own stretch of the
        session, before and after its own span; slouch events are not counted inside a
        calibration's span (the wearer was following its instructions), angles are kept."""
        if isinstance(calibration, Calibration):
            self.stretches = [CalibrationStretch(calibration)]
            self._blank_before, self._quiet = calibration.applies_from_s, []
        else:
            self.stretches = list(calibration)
            self._blank_before = -np.inf
            self._quiet = [s.calibration.span_s for s in self.stretches if s.calibration.span_s]
        self.calibration = self.stretches[0].calibration if self.stretches else None
        self._computers = [AngleComputer(s.calibration, self.thr) for s in self.stretches]
        self._training_calibration()

    # --- input -------------------------------------------------------------------
    def feed(self, items: list[Notification | LinkEvent | NotificationColumns]) -> StepOutput:
        """A chunk of notifications and link events in arrival order."""
        return self._take(self.front.feed(items))

    def feed_front(self, batch: FrontBatch) -> StepOutput:
        """A chunk that went through a sensor front elsewhere (imu.analysis runs one in a
        second process): the same step `feed` takes after its own front."""
        self._front_quality = batch.quality
        return self._take(batch.pieces)

    def feed_timed(self, samples: dict[str, TimedSamples]) -> StepOutput:
        """Samples already on the session timeline (CSV interchange import)."""
        for loc, s in samples.items():
            self._push(loc, self.front.orient(loc, s))
        return self._step(final=False)

    def finish(self) -> StepOutput:
        out = self._step(final=True)
        out.events += self.slouch.finish()
        out.events += self.lifts.finish() + self.sitting.finish() + self.resets.finish()
        return out

    def front_quality(self, clock: bool = True) -> dict[str, FrontQuality]:
        """Each sensor's decode quality and battery (and with clock its clock fit, which the
        status line, read every step, does not need)."""
        return self._front_quality if self._front_quality is not None else self.front.quality(clock)

    def _take(self, pieces) -> StepOutput:
        for piece in pieces:
            if isinstance(piece, LinkEvent):
                self.link_events.append(piece)
                self.grid.set_connected(piece.sensor, piece.kind in ("connected", "reconnected"))
            else:
                self._push(*piece)
        return self._step(final=False)

    def _push(self, loc: str, samples: TimedSamples) -> None:
        """Oriented samples of one sensor onto the grid."""
        if len(samples):
            self._oriented.setdefault(loc, []).append(samples)
            self.samples_seen[loc] += len(samples)
            fl = self.first_last[loc]
            fl[0], fl[1] = min(fl[0], samples.t[0]), max(fl[1], samples.t[-1])
        self.grid.push(loc, samples)

    # --- processing ----------------------------------------------------------------
    def _step(self, final: bool) -> StepOutput:
        oriented = {loc: TimedSamples.concat(parts) for loc, parts in self._oriented.items()}
        self._oriented = {}
        out = self._step_grid(final)
        out.samples = oriented
        return out

    def _step_grid(self, final: bool) -> StepOutput:
        frame = self.grid.pull(final=final)
        n = len(frame)
        if not self._computers or n == 0:
            return StepOutput(frame, {}, context_labels(np.full(n, CODE_UNCALIBRATED)))
        angles, segments = self._angles_and_segments(frame)
        before = frame.t < self._blank_before
        if before.any():
            for a in angles.values():
                a[before] = np.nan
        labels, speed = self.context.update(segments)
        # inside a calibration's span the wearer follows its instructions: no slouch, lift or
        # reset is counted there (the angles are kept)
        quiet = self._quiet_mask(frame.t)
        signal = angles.get(self.thr.slouch_signal, np.full(n, np.nan))
        if quiet is not None:
            signal = np.where(quiet, np.nan, signal)
        events = self.slouch.update(frame.t, signal, labels == STILL)
        extension = angles.get("thoracic_flexion", np.full(n, np.nan))  # posture resets
        if quiet is not None:
            extension = np.where(quiet, np.nan, extension)
        more = self._training_events(frame, angles, speed, quiet) + self.resets.update(frame.t, extension)
        if more:
            events = sorted(events + more, key=lambda e: e["t"])
        return StepOutput(frame, angles, labels, events)

    # --- issue 13: lifts and sitting bouts -------------------------------------------
    def _training_calibration(self) -> None:
        """Each stretch's calibrated lumbar maxima for the lifts; calibration spans are
        neither lifts nor sitting down or standing up."""
        unsure = ("the calibration could not verify which way is forward, so a lumbar flexion "
                  "may be an extension")
        self.lifts.set_calibration([
            (s.from_s, s.to_s, s.calibration.report.details.get("lumbar_max_deg") or {},
             None if s.calibration.report.ok and s.calibration.report.sagittal_sign == "verified"
             else unsure) for s in self.stretches])
        for a, b in self._quiet:
            self.sitting.exclude(a, b)

    def _quiet_mask(self, t: np.ndarray) -> np.ndarray | None:
        """Samples inside a calibration's span, or None when there are none."""
        if not self._quiet:
            return None
        inside = np.zeros(len(t), bool)
        for a, b in self._quiet:
            inside |= (t >= a) & (t <= b)
        return inside if inside.any() else None

    def _training_events(self, frame: GridFrame, angles: dict[str, np.ndarray],
                         speed: np.ndarray, quiet: np.ndarray | None) -> list[dict]:
        masked = angles  # a calibration's bends are not lifts
        if quiet is not None:
            masked = {k: np.where(quiet, np.nan, v) for k, v in angles.items()}
        events = self.lifts.update(frame.t, masked)
        for e in events:
            if e["event"] == "lift":
                self.sitting.exclude(e["start_s"], e["end_s"])
        return events + self.sitting.update(frame.t, angles, frame.acc, speed)

    def _angles_and_segments(self, frame: GridFrame):
        """Angles, each stretch by its own calibration, and segment orientations for the
        context (a sensor without a calibration there enters as it is: the context needs
        only angular speed, which the mounting does not change)."""
        if len(self._computers) == 1 and self.stretches[0].from_s == -np.inf \
                and self.stretches[0].to_s == np.inf:
            computer = self._computers[0]
            segments = computer.segments(frame)  # once: the angles and the context share them
            return computer.compute(frame, segments), segments
        n = len(frame)
        angles: dict[str, np.ndarray] = {}
        locations = {loc for s in self.stretches for loc in s.calibration.mounting}
        segments = {loc: to_anatomical_earth(frame.quat[loc]) for loc in locations if loc in frame.quat}
        for stretch, computer in zip(self.stretches, self._computers):
            inside = (frame.t >= stretch.from_s) & (frame.t < stretch.to_s)
            if not inside.any():
                continue
            part = GridFrame(frame.t[inside], {k: v[inside] for k, v in frame.quat.items()},
                             {k: v[inside] for k, v in frame.acc.items()})
            part_segments = computer.segments(part)
            for name, values in computer.compute(part, part_segments).items():
                angles.setdefault(name, np.full(n, np.nan))[inside] = values
            for loc, q in part_segments.items():
                segments[loc][inside] = q
        return angles, segments

    # --- quality --------------------------------------------------------------------
    def sensor_quality(self) -> dict[str, SensorQuality]:
        out = {}
        quality = self.front_quality()  # once: with the clock fit of every sensor
        for loc, spec in self.sensors.items():
            first, last = self.first_last[loc]
            count = self.samples_seen[loc]
            rate = (count - 1) / (last - first) if count > 1 and last > first else 0.0
            front = quality[loc]
            stats = front.stats if front.stats is not None else self.extra_stats.get(loc, DecodeStats())
            out[loc] = SensorQuality(loc, spec.get("device") or "csv", round(rate, 2), count, stats,
                                     front.residual_ms, front.drift_ppm, front.battery_pct)
        return out


class AnalysisCollector:
    """Gathers step outputs into one Analysis (angles kept as float32 to bound memory)."""

    def __init__(self, columns=None):
        """columns: where the time axis, angles, validity and context are kept while the run
        goes on (imu.core.columns; default in memory)."""
        self._columns = columns if columns is not None else MemoryColumns()
        self._t = self._columns.column(np.float64, increasing=True)  # the time axis
        self._angles: dict[str, Column] = {}
        self._finite: set[str] = set()  # angles with a finite value somewhere
        self._n = 0  # grid samples so far
        self._context = self._columns.column(np.uint8)  # one byte a sample
        self._valid = self._columns.column(np.bool_)
        self.events: list[dict] = []

    def add(self, out: StepOutput) -> None:
        n = len(out.t)
        self.events += out.events
        if n == 0:
            return
        for name, values in out.angles.items():
            column = self._angles.get(name)
            if column is None:
                column = self._angles[name] = self._columns.column(np.float32)
            if len(column) < self._n:  # an angle that appeared late: NaN before
                column.append(np.full(self._n - len(column), np.nan, dtype=np.float32))
            values = values.astype(np.float32)
            column.append(values)
            if name not in self._finite and np.isfinite(values).any():
                self._finite.add(name)
        self._t.append(np.array(out.t, dtype=np.float64))
        self._context.append(np.array(out.context_codes, dtype=np.uint8))
        self._valid.append(np.array(out.valid, dtype=bool))
        self._n += n

    def build(self, pipeline: Pipeline, notes: list[str], annotations=None,
              after_each: Callable[[], object] | None = None) -> Analysis:
        """The session's Analysis. after_each: called once each series is joined (the runner
        hands the freed pieces back to the system there, imu.heap)."""
        # one series at a time, each then kept as its one joined part: only one series is
        # ever held twice (its parts and their join), not the whole session's angles
        def join(column):
            joined = column.series()
            if after_each is not None:
                after_each()
            return joined

        t = join(self._t)
        angles = {}
        for name, column in self._angles.items():
            if len(column) < self._n:  # an angle that ended early: NaN after
                column.append(np.full(self._n - len(column), np.nan, dtype=np.float32))
            values = join(column)
            if name in self._finite:
                angles[name] = values
        valid = join(self._valid)
        context = join(self._context)
        calibration = (pipeline.calibration.report if pipeline.calibration
                       else CalibrationReport(False, "failed", ["no calibration"]))
        # (analysis and replay put the whole calibration plan's report in its place)
        ends = [fl for fl in pipeline.first_last.values() if np.isfinite(fl[1])]
        duration = max(fl[1] for fl in ends) if ends else 0.0
        return Analysis(
            t=t, angles=angles,
            valid=valid, context=context,
            episodes=list(pipeline.slouch.episodes), alerts=list(pipeline.slouch.alerts),
            calibration=calibration, sensors=pipeline.sensor_quality(), thresholds=pipeline.thr,
            duration_s=float(duration), annotations=list(annotations or []), notes=notes,
            events=list(self.events),
        )
