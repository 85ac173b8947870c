"""Slouch episodes and alert moments, streaming (docs/architecture.md section 5).

An episode starts when the slouch signal reaches the enter threshold and ends when it falls
below the exit threshold (hysteresis). It counts once it has been held for the minimum
duration. Its first alert is due `alert_after_s` after it started, then every
`alert_repeat_s` while it lasts; an alert that falls due while the wearer is moving waits
for the first still moment, and the next one is counted from when it fired. Unknown samples
(NaN) neither start nor end an episode.
"""

from __future__ import annotations

import numpy as np

from imu.core.result import Alert, SlouchEpisode
from imu.profile import Thresholds


class SlouchTracker:
    def __init__(self, thresholds: Thresholds):
        self.thr = thresholds
        self.signal = thresholds.slouch_signal
        self.episodes: list[SlouchEpisode] = []  # counted, finished or still open
        self.alerts: list[Alert] = []
        self._in = False
        self._start = 0.0
        self._peak = -np.inf
        self._counted = False
        self._next_due = 0.0
        self._alert_number = 0
        self._last_t: float | None = None

    @property
    def open_episode(self) -> SlouchEpisode | None:
        return self.episodes[-1] if self._in and self._counted else None

    def update(self, t: np.ndarray, angle: np.ndarray, still: np.ndarray) -> list[dict]:
        """Advance over a chunk; returns the events it produced, in time order."""
        if len(t) == 0:
            return []
        thr = self.thr
        # NaN compares False either way: it holds the state
        starts, ends = hysteresis_edges(angle >= thr.slouch_enter_deg, angle < thr.slouch_exit_deg,
                                        self._in)
        events: list[dict] = []
        pos = 0
        while pos < len(t):
            if not self._in:
                nxt = starts[starts >= pos]
                if not len(nxt):
                    break
                pos = int(nxt[0])
                self._open(float(t[pos]))
            stop = ends[ends >= pos]
            run_end = int(stop[0]) if len(stop) else len(t)
            events += self._advance(t[pos:run_end], angle[pos:run_end], still[pos:run_end])
            if run_end < len(t):
                events += self._close(float(t[run_end]))
            pos = run_end
        self._last_t = float(t[-1])
        return events

    def finish(self) -> list[dict]:
        """Close an episode still open at the end of the data."""
        if self._in and self._last_t is not None:
            return self._close(self._last_t, open_at_end=True)
        return []

    def _open(self, t0: float) -> None:
        self._in, self._start, self._peak, self._counted = True, t0, -np.inf, False
        self._next_due = t0 + self.thr.alert_after_s
        self._alert_number = 0

    def _advance(self, t, angle, still) -> list[dict]:
        events = []
        if len(t) == 0:
            return events
        finite = angle[np.isfinite(angle)]
        if len(finite):
            self._peak = max(self._peak, float(finite.max()))
        if not self._counted:
            reach = np.flatnonzero(t >= self._start + self.thr.slouch_min_duration_s)
            if len(reach):
                self._counted = True
                counted_at = float(t[reach[0]])
                self.episodes.append(SlouchEpisode(self._start, None, self._peak, counted_at))
                events.append({"event": "slouch_start", "t": counted_at, "start_s": self._start,
                               "angle": self.signal})
        if self._counted:
            self.episodes[-1].peak_deg = self._peak
            while True:
                due = np.flatnonzero((t >= self._next_due) & still)
                if not len(due):
                    break
                i = int(due[0])
                self._alert_number += 1
                alert = Alert(float(t[i]), self._start, self.signal, float(angle[i]),
                              float(t[i] - self._start), self._alert_number)
                self.alerts.append(alert)
                events.append({"event": "alert", "t": alert.t, "start_s": self._start,
                               "angle": self.signal, "value_deg": alert.value_deg,
                               "held_s": alert.held_s, "number": alert.number,
                               "reason": alert.reason})
                self._next_due = alert.t + self.thr.alert_repeat_s
        return events

    def _close(self, t_end: float, open_at_end: bool = False) -> list[dict]:
        events = []
        if self._counted:
            episode = self.episodes[-1]
            episode.end_s = t_end
            episode.peak_deg = self._peak
            episode.open_at_end = open_at_end
            events.append({"event": "slouch_end", "t": t_end, "start_s": episode.start_s,
                           "end_s": t_end, "peak_deg": episode.peak_deg,
                           "open_at_end": open_at_end})
        self._in = False
        return events


def hysteresis_edges(enter: np.ndarray, leave: np.ndarray, was_in: bool) -> tuple[np.ndarray, np.ndarray]:
    """Indices where a hysteresis state switches on and off over a chunk: on where `enter`,
    off where `leave` (leave wins where both hold), unchanged elsewhere; was_in: the state
    before the chunk. The slouch and posture-reset trackers share it."""
    marks = np.zeros(len(enter), dtype=np.int8)
    marks[enter] = 1
    marks[leave] = -1
    state = _forward_fill(marks, 1 if was_in else -1) == 1
    prev = np.concatenate([[was_in], state[:-1]])
    return np.flatnonzero(state & ~prev), np.flatnonzero(~state & prev)


def _forward_fill(marks: np.ndarray, initial: int) -> np.ndarray:
    """Carry the last non-zero mark forward (the hysteresis state)."""
    idx = np.where(marks != 0, np.arange(len(marks)), -1)
    idx = np.maximum.accumulate(idx)
    return np.where(idx >= 0, marks[np.maximum(idx, 0)], initial)
