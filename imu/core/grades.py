"""Carry and run grades as events, and provisional ones while a session goes on.

`grade_events` turns a StabilityResult's graded runs and carries into `run_graded` /
`carry_graded` events. `GradeWatch` is fed each step's output and gives provisional grades
from a trailing window: a carry once its labelled end has passed, a run once the wearer has
stopped running. Pure: step outputs in, events out (docs/architecture.md, section 10).
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace

import numpy as np

from imu.core.activity import CARRY_LABELS, RUNNING, WINDOW_S, window_label
from imu.core.pipeline import Pipeline, StepOutput
from imu.core.stability import StabilityResult, analyze_stability

GRADE_EVENTS = ("carry_graded", "run_graded")
# provisional grades: how often the wearer's running is checked, how much data a grade looks
# at, how many activity windows a check judges, and how long after its end a carry is graded
GRADE_CHECK_S = 30.0
GRADE_WINDOW_S = 600.0
RUNNING_PROBES = 3  # evenly spaced, the last ending at the check
CARRY_SETTLE_S = 2.0
RUN_ENDED_BEFORE_S = 10.0  # a run whose segment reaches this close to the window end goes on


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
