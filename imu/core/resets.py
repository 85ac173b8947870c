"""Posture resets done without guidance, streaming (issue 13 item 2).

A posture reset (an extension, an upright hold, a thoracic extension over the chair back) has
one element the trunk sensors can see for certain: the upper back extending against the lower
back, `thoracic_flexion` going below the calibrated neutral. A reset is counted when the wearer
holds that extension at or beyond `reset_extension_deg` for `reset_hold_s` in one go (a yawn,
a stretch-and-sigh or a lean back in the chair with a neutral spine does not); the hold ends
when the extension falls back above `reset_exit_deg` (hysteresis, so noise does not split it).
Holds starting within `reset_merge_s` of the previous reset's end are repetitions of the same
routine and are not counted again. Unknown samples (NaN) end a hold: a reset must be seen.

Without a lumbar sensor there is no thoracic_flexion, and an extension of the upper back
cannot be told from leaning back; the tracker then finds nothing, and the report says that
resets were not measurable.
"""

from __future__ import annotations

import numpy as np

from imu.core.posture import hysteresis_edges
from imu.profile import Thresholds

SIGNAL = "thoracic_flexion"


class ResetTracker:
    def __init__(self, thresholds: Thresholds):
        self.thr = thresholds
        self.resets: list[dict] = []  # {start_s, t, end_s, reps, extension_deg}
        self._in = False
        self._start = 0.0
        self._peak = 0.0  # deepest extension of the current hold (deg, positive)
        self._counted = False
        self._last_t: float | None = None

    def update(self, t: np.ndarray, flexion: np.ndarray) -> list[dict]:
        """Advance over a chunk of `thoracic_flexion`; returns "posture_reset" events."""
        if len(t) == 0:
            return []
        thr = self.thr
        flexion = np.asarray(flexion, float)
        starts, ends = hysteresis_edges(flexion <= -thr.reset_extension_deg,
                                        (flexion > -thr.reset_exit_deg) | ~np.isfinite(flexion), self._in)
        events: list[dict] = []
        pos = 0
        while pos < len(t):
            if not self._in:
                nxt = starts[starts >= pos]
                if not len(nxt):
                    break
                pos = int(nxt[0])
                self._in, self._start, self._peak, self._counted = True, float(t[pos]), 0.0, False
            stop = ends[ends >= pos]
            run_end = int(stop[0]) if len(stop) else len(t)
            events += self._advance(t[pos:run_end], flexion[pos:run_end])
            if run_end < len(t):
                self._close(float(t[run_end]))
            pos = run_end
        self._last_t = float(t[-1])
        return events

    def finish(self) -> list[dict]:
        if self._in and self._last_t is not None:
            self._close(self._last_t)
        return []

    def _advance(self, t: np.ndarray, flexion: np.ndarray) -> list[dict]:
        if not len(t):
            return []
        finite = flexion[np.isfinite(flexion)]
        if len(finite):
            self._peak = max(self._peak, float(-finite.min()))
        if self._counted:
            self.resets[-1]["end_s"] = float(t[-1])
            self.resets[-1]["extension_deg"] = max(self.resets[-1]["extension_deg"], self._peak)
            return []
        reach = np.flatnonzero(t >= self._start + self.thr.reset_hold_s)
        if not len(reach):
            return []
        self._counted = True
        held_at = float(t[reach[0]])
        last = self.resets[-1] if self.resets else None
        if last is not None and self._start - last["end_s"] <= self.thr.reset_merge_s:
            last["reps"] += 1  # another repetition of the same routine
            last["end_s"] = float(t[-1])
            last["extension_deg"] = max(last["extension_deg"], self._peak)
            return []
        self.resets.append({"start_s": self._start, "t": held_at, "end_s": float(t[-1]), "reps": 1,
                            "extension_deg": self._peak})
        return [{"event": "posture_reset", "t": held_at, "start_s": self._start, "signal": SIGNAL,
                 "extension_deg": round(self._peak, 1)}]

    def _close(self, t_end: float) -> None:
        if self._counted:
            self.resets[-1]["end_s"] = t_end
        self._in = False
