"""Sensors at different rates onto one analysis grid (k / rate seconds), streaming.

A grid time is emitted once every connected sensor has a sample at or after it, so the
result does not depend on how the input was chunked. A disconnected sensor (a link event)
is not waited for: its grid values are NaN until it streams again. Orientation is
interpolated between the two bracketing samples only when they are at most
`max_gap_s` apart; across a longer gap the value is NaN (never invented).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from imu import quat as Q
from imu.samples import TimedSamples


@dataclass
class _SensorBuffer:
    t: np.ndarray = field(default_factory=lambda: np.empty(0))
    quat: np.ndarray = field(default_factory=lambda: np.empty((0, 4)))
    acc: np.ndarray | None = None
    connected: bool = True
    ended: bool = False


@dataclass
class GridFrame:
    """A stretch of grid output: times and per-sensor values on them."""

    t: np.ndarray
    quat: dict[str, np.ndarray]  # location -> (n, 4), NaN where unknown
    acc: dict[str, np.ndarray]  # location -> (n, 3) g, only sensors that send acceleration

    def __len__(self) -> int:
        return len(self.t)


SKIP_EMPTY_S = 60.0  # a stretch without any sensor's data longer than this is left off the grid


class GridResampler:
    def __init__(self, locations: list[str], rate_hz: float, max_gap_s: float):
        self.locations = list(locations)
        self.rate_hz = rate_hz
        self.max_gap_s = max_gap_s
        self._buffers = {loc: _SensorBuffer() for loc in self.locations}
        self._next_k = 0  # index of the next grid time to emit
        self.skipped_s: list[tuple[float, float]] = []  # (from, to) stretches left out: no data at all

    def push(self, location: str, samples: TimedSamples) -> None:
        buf = self._buffers[location]
        keep = np.isfinite(samples.t)
        if len(samples) and samples.t[keep].size:
            t = samples.t[keep]
            # only samples after the last one kept (arrival order can repeat a time)
            newer = t > (buf.t[-1] if len(buf.t) else -np.inf)
            buf.t = np.concatenate([buf.t, t[newer]])
            buf.quat = np.concatenate([buf.quat, samples.quat[keep][newer]])
            if samples.acc is not None:
                acc = samples.acc[keep][newer]
                buf.acc = acc if buf.acc is None else np.concatenate([buf.acc, acc])
        buf.connected = True

    def set_connected(self, location: str, connected: bool) -> None:
        self._buffers[location].connected = connected

    def pull(self, final: bool = False) -> GridFrame:
        """Emit every grid time that is now settled (all of them when final)."""
        ends = []
        for buf in self._buffers.values():
            last = buf.t[-1] if len(buf.t) else -np.inf
            if final or not buf.connected:
                continue
            ends.append(last)
        if final:
            ends = [max((b.t[-1] for b in self._buffers.values() if len(b.t)), default=-np.inf)]
        horizon = min(ends) if ends else -np.inf
        if not np.isfinite(horizon):
            return self._empty()
        last_k = int(np.floor(horizon * self.rate_hz + 1e-9))
        if last_k < self._next_k:
            return self._empty()
        grid = self._covered(self._next_k, last_k) / self.rate_hz
        self._next_k = last_k + 1
        if len(grid) == 0:
            return self._empty()
        quats, accs = {}, {}
        for loc, buf in self._buffers.items():
            quats[loc], acc = self._interpolate(buf, grid)
            if acc is not None:
                accs[loc] = acc
            self._trim(buf, grid[-1])
        return GridFrame(grid, quats, accs)

    def _covered(self, k0: int, k1: int) -> np.ndarray:
        """Grid indices k0..k1, less those in a stretch of more than SKIP_EMPTY_S where no
        sensor has data (a recording paused, a clock that jumped a day): such a stretch would
        only be NaN, yet cost memory in proportion to its length rather than to the data."""
        if (k1 - k0) / self.rate_hz <= SKIP_EMPTY_S:
            return np.arange(k0, k1 + 1)
        times = [b.t for b in self._buffers.values() if len(b.t)]
        t = np.unique(np.concatenate(times)) if times else np.empty(0)
        breaks = np.flatnonzero(np.diff(t) > SKIP_EMPTY_S)  # data stretches: samples this close
        starts = np.floor(np.concatenate([t[:1], t[breaks + 1]]) * self.rate_hz + 1e-9) - 1
        ends = np.ceil(np.concatenate([t[breaks], t[-1:]]) * self.rate_hz - 1e-9) + 1
        parts, k = [], k0
        for a, b in zip(np.clip(starts, k0, k1 + 1).astype(np.int64), np.clip(ends, k0 - 1, k1).astype(np.int64)):
            if b < a:
                continue
            if (a - k) / self.rate_hz > SKIP_EMPTY_S:
                self.skipped_s.append((k / self.rate_hz, (a - 1) / self.rate_hz))
            else:
                a = k  # a short empty stretch stays on the grid, as it would in a short pull
            parts.append(np.arange(max(a, k), b + 1))
            k = max(k, b + 1)
        if (k1 + 1 - k) / self.rate_hz > SKIP_EMPTY_S:
            self.skipped_s.append((k / self.rate_hz, k1 / self.rate_hz))
        elif k <= k1:
            parts.append(np.arange(k, k1 + 1))
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)

    def _interpolate(self, buf: _SensorBuffer, grid: np.ndarray):
        n = len(grid)
        out = np.full((n, 4), np.nan)
        acc_out = None if buf.acc is None else np.full((n, 3), np.nan)
        if len(buf.t) == 0:
            return out, acc_out
        hi = np.searchsorted(buf.t, grid, side="left")
        lo = hi - 1
        exact = (hi < len(buf.t)) & (buf.t[np.minimum(hi, len(buf.t) - 1)] == grid)
        inside = (lo >= 0) & (hi < len(buf.t))
        ok = inside.copy()
        ok[inside] = (buf.t[hi[inside]] - buf.t[lo[inside]]) <= self.max_gap_s
        frac = np.zeros(n)
        frac[ok] = (grid[ok] - buf.t[lo[ok]]) / (buf.t[hi[ok]] - buf.t[lo[ok]])
        out[ok] = Q.nlerp(buf.quat[lo[ok]], buf.quat[hi[ok]], frac[ok])
        out[exact] = buf.quat[hi[exact]]
        if acc_out is not None:
            a_lo, a_hi = buf.acc[lo[ok]], buf.acc[hi[ok]]
            acc_out[ok] = a_lo + (a_hi - a_lo) * frac[ok, None]
            acc_out[exact] = buf.acc[hi[exact]]
        return out, acc_out

    @staticmethod
    def _trim(buf: _SensorBuffer, emitted_until: float) -> None:
        # keep the last sample at or before the emitted horizon: it brackets the next grid time
        keep_from = max(int(np.searchsorted(buf.t, emitted_until, side="right")) - 1, 0)
        if keep_from:
            buf.t = buf.t[keep_from:]
            buf.quat = buf.quat[keep_from:]
            if buf.acc is not None:
                buf.acc = buf.acc[keep_from:]

    def _empty(self) -> GridFrame:
        return GridFrame(np.empty(0), {loc: np.empty((0, 4)) for loc in self.locations},
                         {loc: np.empty((0, 3)) for loc, b in self._buffers.items() if b.acc is not None})
