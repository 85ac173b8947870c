"""Activity context from the trunk sensors, streaming: is the wearer still or moving?

The slouch alert only fires while the wearer sits or stands still (DESIGN section 5).
Stillness is judged from the segments' angular speed, averaged over the trailing second, so
the label of a sample depends only on the past and chunked input gives the same labels.
"""

from __future__ import annotations

import numpy as np

from imu import quat as Q

STILL, MOVING, UNKNOWN = "still", "moving", "unknown"


class ContextTracker:
    def __init__(self, rate_hz: float, window_s: float = 1.0, still_max_dps: float = 12.0):
        self.rate_hz = rate_hz
        self.window = max(int(round(window_s * rate_hz)), 1)
        self.still_max_dps = still_max_dps
        self._last: dict[str, np.ndarray] = {}
        self._history = np.empty(0)  # last window-1 speeds, for the trailing average

    def update(self, segments: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(labels, trailing mean angular speed in deg/s) for a chunk of segment orientations."""
        n = len(next(iter(segments.values()))) if segments else 0
        if n == 0:
            return np.empty(0, dtype=object), np.empty(0)
        speed = np.zeros(n)
        for loc, q in segments.items():
            prev = self._last.get(loc, q[:1])
            joined = np.concatenate([prev, q])
            step = Q.angle_between(joined[:-1], joined[1:]) * self.rate_hz
            speed = np.maximum(speed, np.where(np.isnan(step), np.inf, step))
            self._last[loc] = q[-1:]
        joined = np.concatenate([self._history, speed])
        missing = self.window - 1 - len(self._history)
        if missing > 0:  # session start: pad with the first speed so windows are full
            joined = np.concatenate([np.full(missing, joined[0]), joined])
        capped = np.where(np.isinf(joined), 1e6, joined)
        # one sum per window, independent of where chunks were cut
        mean = np.lib.stride_tricks.sliding_window_view(capped, self.window).mean(axis=1)
        self._history = joined[len(joined) - (self.window - 1):] if self.window > 1 else np.empty(0)
        labels = np.where(mean >= 1e5, UNKNOWN, np.where(mean < self.still_max_dps, STILL, MOVING))
        return labels.astype(object), np.where(mean >= 1e5, np.nan, mean)
