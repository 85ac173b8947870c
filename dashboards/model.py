"""What the dashboard shows at one moment, computed without Qt.

`DashboardFrame` is one snapshot: rolling traces, episodes so far, counters, posture angles,
sensor status and the alert state. Two models produce it:

- `ReplayModel`: the whole session replayed once through the pipeline (imu.replay, so the
  events are the pipeline's), then any session time is a slice of its arrays: seeking is
  free.
- `LiveModel`: ring buffers fed step by step (from a queue, on the GUI thread).

An episode is shown once the pipeline has counted it (its slouch_start event), shaded from
where it started; that is what live knows, so replay shows the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from imu.core.context import CONTEXT_LABELS
from imu.core.exposure import ZoneScheme, zone_scheme
from imu.core.result import Analysis
from imu.profile import Thresholds
from imu.replay import replay
from imu.runner import GRADE_EVENTS

ZONE_ANGLE = "trunk_inclination"  # ISO 11226 judges trunk posture by its inclination
MARKED_EVENTS = ("slouch_start", "alert", "slouch_end", "gap", "reconnect",
                 "sitting_break_due", "lift", "lift_cue", "posture_reset")  # issue 13


def trace_names(angles) -> dict[str, list[str]]:
    """Which angles the two trace panels draw, given the angles a session has."""
    angles = set(angles)
    lumbar = "lumbar_flexion" if "lumbar_flexion" in angles else "lumbar_inclination"
    sagittal = [a for a in ("thoracic_flexion", lumbar, "trunk_inclination") if a in angles]
    lateral = [a for a in ("thoracic_lateral_bend", "lumbar_lateral_bend",
                           "trunk_lateral_inclination") if a in angles]
    return {"sagittal": sagittal, "lateral": lateral}


def zone_scheme_of(thresholds: Thresholds) -> ZoneScheme:
    """The zones the dashboard counts and shades: the report's, for ZONE_ANGLE."""
    return zone_scheme(ZONE_ANGLE, thresholds)


@dataclass
class DashboardFrame:
    t: float  # session time shown
    duration_s: float | None  # replay: session length; live: None
    trace_t: np.ndarray
    traces: dict[str, np.ndarray]  # angle name -> values on trace_t
    panels: dict[str, list[str]]  # "sagittal" / "lateral" -> angle names
    episodes: list[tuple[float, float]]  # (start_s, end_s or t for the open one), shown so far
    slouch_count: int
    alert_count: int
    zone_s: dict[str, float]  # zone label -> seconds of ZONE_ANGLE so far (zones.labels order)
    posture: dict[str, float]  # angle name -> value at t (NaN where unknown)
    context: str
    status: dict[str, dict]  # location -> imu.replay.SensorStatusTracker entry
    alert: dict | None  # the alert event whose episode is still open
    slouching_since: float | None  # start of the open counted episode
    calibration: dict | None  # the calibration event
    zones: ZoneScheme = field(default_factory=lambda: zone_scheme_of(Thresholds()))
    window_s: float = 60.0
    training: "EventState | None" = None  # lifts and break reminders so far (issue 13)
    reset_count: int = 0  # posture resets so far (issue 13), guided ones among them
    guided_resets: int = 0
    reset_target: int = 3
    grades: list[dict] = field(default_factory=list)  # carry / run grades so far, latest last


# --- event bookkeeping shared by both models ----------------------------------------------
@dataclass
class EventState:
    """Episodes, counts and the alert state, advanced event by event in time order."""

    episodes: list[list] = field(default_factory=list)  # [start_s, end_s | None]
    slouch_count: int = 0
    alert_count: int = 0
    alert: dict | None = None
    calibration: dict | None = None
    lift_count: int = 0  # issue 13: lifts, rounded-back cues and sitting-break reminders
    lift_cues: int = 0
    break_reminders: int = 0
    training_note: str = ""  # the latest of them, in words
    reset_count: int = 0
    guided_resets: int = 0
    grades: list[dict] = field(default_factory=list)  # one per carry / run: the latest word on it

    def apply(self, event: dict) -> None:
        kind = event["event"]
        if kind == "slouch_start":
            self.slouch_count += 1
            self.episodes.append([event["start_s"], None])
        elif kind == "slouch_end":
            for episode in reversed(self.episodes):
                if episode[0] == event["start_s"]:
                    episode[1] = event["end_s"]
                    break
            if self.alert is not None and self.alert["start_s"] == event["start_s"]:
                self.alert = None
        elif kind == "alert":
            self.alert_count += 1
            self.alert = event
        elif kind == "calibration":
            self.calibration = event
        elif kind in ("lift", "lift_cue", "sitting_break_due"):
            from imu.live.status import describe_event

            self.lift_count += kind == "lift"
            self.lift_cues += kind == "lift_cue"
            self.break_reminders += kind == "sitting_break_due"
            self.training_note = describe_event(event)
        elif kind == "posture_reset":
            self.reset_count += 1
        elif kind == "posture_reset_guided" and event.get("completed"):
            self.guided_resets += 1
        elif kind in GRADE_EVENTS:  # the final grade replaces the provisional one
            same = [g for g in self.grades if g["event"] == kind and g.get("kind") == event.get("kind")
                    and abs(g["start_s"] - event["start_s"]) < 5.0]
            self.grades = [g for g in self.grades if g not in same] + [event]

    def open_start(self) -> float | None:
        return self.episodes[-1][0] if self.episodes and self.episodes[-1][1] is None else None


def _episodes_in_view(episodes, t0: float, t: float) -> list[tuple[float, float]]:
    shown = []
    for start, end in episodes:
        end = t if end is None else end
        if end >= t0 and start <= t:
            shown.append((start, min(end, t)))
    return shown


def _at(values: np.ndarray, i: int) -> float:
    return float(values[i]) if 0 <= i < len(values) else math.nan


# --- replay ---------------------------------------------------------------------------------
class _StatusRecorder:
    """Replay sink keeping the sensor status of every step (seekable afterwards)."""

    def __init__(self):
        self.t: list[float] = []
        self.status: list[dict] = []

    def step(self, update) -> None:
        self.t.append(update.t)
        self.status.append(update.status)


class ReplayModel:
    """A whole session, replayed once; frame_at(t) is a cheap slice."""

    def __init__(self, path: str | Path, window_s: float = 60.0, thresholds: Thresholds | None = None):
        recorder = _StatusRecorder()
        result = replay(path, sinks=[recorder], thresholds=thresholds)
        self.path = Path(path)
        self.analysis: Analysis = result.analysis
        self.events = sorted(result.events, key=lambda e: e["t"])
        self.window_s = window_s
        a = self.analysis
        self.t = a.t
        self.duration_s = float(a.t[-1]) if len(a.t) else a.duration_s
        self.panels = trace_names(a.angles)
        self.zones = zone_scheme_of(a.thresholds)
        self._event_t = np.array([e["t"] for e in self.events])
        self._status_t = np.array(recorder.t)
        self._status = recorder.status
        self.marks = [e for e in self.events if e["event"] in MARKED_EVENTS]
        self._mark_t = np.array([e["t"] for e in self.marks])
        dt = 1.0 / a.thresholds.analysis_rate_hz
        zone = self.zones.classify(a.angles.get(ZONE_ANGLE, np.full(len(a.t), np.nan)))
        # zone seconds up to each grid index: cumulative, so any time is one lookup
        self._zone_cum = np.stack([np.cumsum(zone == k) * dt
                                   for k in range(len(self.zones.labels))], axis=1)

    def state_at(self, t: float) -> EventState:
        state = EventState()
        for event in self.events[: int(np.searchsorted(self._event_t, t, side="right"))]:
            state.apply(event)
        return state

    def frame_at(self, t: float) -> DashboardFrame:
        t = float(min(max(t, 0.0), self.duration_s))
        lo = int(np.searchsorted(self.t, t - self.window_s, side="left"))
        hi = int(np.searchsorted(self.t, t, side="right"))
        a = self.analysis
        names = {n for panel in self.panels.values() for n in panel}
        state = self.state_at(t)
        zone_s = self._zone_cum[hi - 1] if hi > 0 else np.zeros(len(self.zones.labels))
        s = int(np.searchsorted(self._status_t, t, side="right")) - 1
        return DashboardFrame(
            t=t, duration_s=self.duration_s, trace_t=self.t[lo:hi],
            traces={n: a.angles[n][lo:hi] for n in names}, panels=self.panels,
            episodes=_episodes_in_view(state.episodes, t - self.window_s, t),
            slouch_count=state.slouch_count, alert_count=state.alert_count,
            zone_s=dict(zip(self.zones.labels, map(float, zone_s))),
            posture={n: _at(v, hi - 1) for n, v in a.angles.items()},
            context=CONTEXT_LABELS[a.context[hi - 1]] if hi > 0 else "",
            status=self._status[max(s, 0)] if self._status else {},
            alert=state.alert, slouching_since=state.open_start(),
            calibration=state.calibration, zones=self.zones, window_s=self.window_s,
            training=state,
            reset_count=state.reset_count, reset_target=a.thresholds.resets_per_day_target,
            guided_resets=sum(1 for _, end, label in a.annotations if label == "posture_reset" and end <= t),
            grades=list(state.grades))

    def previous_mark(self, t: float) -> float | None:
        i = int(np.searchsorted(self._mark_t, t - 1e-6, side="left")) - 1
        return float(self._mark_t[i]) if i >= 0 else None

    def next_mark(self, t: float) -> float | None:
        i = int(np.searchsorted(self._mark_t, t + 1e-6, side="right"))
        return float(self._mark_t[i]) if i < len(self._mark_t) else None


# --- live -------------------------------------------------------------------------------------
class LiveModel:
    """Rolling buffers of step outputs as they arrive (on the GUI thread, from a queue)."""

    def __init__(self, window_s: float = 60.0, thresholds: Thresholds | None = None):
        self.thr = thresholds or Thresholds()
        self.window_s = window_s
        self.zones = zone_scheme_of(self.thr)
        self._keep = int(2 * window_s * self.thr.analysis_rate_hz)  # trimmed at twice the window
        self.t = np.empty(0)
        self.angles: dict[str, np.ndarray] = {}
        self.context = ""
        self.state = EventState()
        self.status: dict[str, dict] = {}
        self._zone_s = np.zeros(len(self.zones.labels))
        self.steps = 0

    def add(self, out, events: list[dict] | None = None, status: dict | None = None) -> None:
        """One pipeline step: its StepOutput, its events (default out.events), sensor status."""
        self.steps += 1
        n = len(out.t)
        if n:
            if out.angles.keys() != self.angles.keys():  # calibration applied: start over
                self.angles = {k: np.full(len(self.t), np.nan) for k in out.angles}
            self.t = np.concatenate([self.t, out.t])[-self._keep:]
            for k, v in out.angles.items():
                self.angles[k] = np.concatenate([self.angles[k], v])[-self._keep:]
            self.context = str(out.context[-1])
            zone = self.zones.classify(np.asarray(out.angles.get(ZONE_ANGLE, np.full(n, np.nan))))
            self._zone_s += (np.bincount(zone[zone >= 0], minlength=len(self._zone_s))
                             / self.thr.analysis_rate_hz)
        for event in sorted(out.events if events is None else events, key=lambda e: e["t"]):
            self.state.apply(event)
        if status:
            self.status = status

    def frame(self) -> DashboardFrame:
        t = float(self.t[-1]) if len(self.t) else 0.0
        lo = int(np.searchsorted(self.t, t - self.window_s, side="left"))
        panels = trace_names(self.angles)
        names = {n for panel in panels.values() for n in panel}
        return DashboardFrame(
            t=t, duration_s=None, trace_t=self.t[lo:],
            traces={n: self.angles[n][lo:] for n in names}, panels=panels,
            episodes=_episodes_in_view(self.state.episodes, t - self.window_s, t),
            slouch_count=self.state.slouch_count, alert_count=self.state.alert_count,
            zone_s=dict(zip(self.zones.labels, map(float, self._zone_s))),
            posture={n: _at(v, len(v) - 1) for n, v in self.angles.items()},
            context=self.context, status=self.status, alert=self.state.alert,
            slouching_since=self.state.open_start(), calibration=self.state.calibration,
            reset_count=self.state.reset_count, guided_resets=self.state.guided_resets,
            reset_target=self.thr.resets_per_day_target,
            zones=self.zones, window_s=self.window_s, training=self.state,
            grades=list(self.state.grades))
