"""Sensors at different rates onto one analysis grid (k / rate seconds), streaming.

A grid time is emitted once every connected sensor has a sample at or after it, so the
result does not depend on how the input was chunked. A disconnected sensor (a link event)
is not waited for: its grid values are NaN until it streams again.

Orientation is interpolated between the two bracketing samples only across a short gap:
at most `max_gap_s`, or `gap_periods` of the sensor's own sample period when that is
longer, so a 5 Hz sensor is bridged between its samples (0.2 s apart) but never across
more than a couple of lost ones; across a longer gap the value is NaN (never invented).
The period is the median of the sensor's previous intervals, decided once per interval
as it arrives, so the result still does not depend on chunking.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from imu import quat as Q
from imu.samples import TimedSamples

PERIOD_HISTORY = 16  # intervals in the running median of a sensor's sample period
SLOWEST_PERIOD_S = 0.25  # a sensor slower than 4 Hz is not bridged as if it were regular


@dataclass
class _SensorBuffer:
    t: np.ndarray = field(default_factory=lambda: np.empty(0))
    bridged: np.ndarray = field(default_factory=lambda: np.empty(0, bool))  # gap before t[i] may be interpolated
    intervals: np.ndarray = field(default_factory=lambda: np.empty(0))  # the last PERIOD_HISTORY intervals
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

    def take(self, index: np.ndarray) -> "GridFrame":
        """The grid rows at `index` (a boolean mask or positions)."""
        return GridFrame(self.t[index], {k: v[index] for k, v in self.quat.items()},
                         {k: v[index] for k, v in self.acc.items()})


SKIP_EMPTY_S = 60.0  # a stretch without any sensor's data longer than this is left off the grid


class GridResampler:
    def __init__(self, locations: list[str], rate_hz: float, max_gap_s: float, gap_periods: float = 0.0):
        self.locations = list(locations)
        self.rate_hz = rate_hz
        self.max_gap_s = max_gap_s
        self.gap_periods = gap_periods
        self._buffers = {loc: _SensorBuffer() for loc in self.locations}
        self._next_k = 0  # index of the next grid time to emit
        self.skipped_s: list[tuple[float, float]] = []  # (from, to) stretches left out: no data at all

    def push(self, location: str, samples: TimedSamples) -> None:
        buf = self._buffers[location]
        # finite times after the last one kept (arrival order can repeat a time); the usual
        # chunk keeps every sample, and then nothing is copied before the buffers are joined
        use = np.isfinite(samples.t) & (samples.t > (buf.t[-1] if len(buf.t) else -np.inf))
        if use.any():
            every = bool(use.all())

            def take(values: np.ndarray) -> np.ndarray:
                return values if every else values[use]

            t = take(samples.t)
            buf.bridged = np.concatenate([buf.bridged, self._bridgeable(buf, t)])
            buf.t = np.concatenate([buf.t, t])
            buf.quat = np.concatenate([buf.quat, take(samples.quat)])
            if samples.acc is not None:
                acc = take(samples.acc)
                buf.acc = acc if buf.acc is None else np.concatenate([buf.acc, acc])
        buf.connected = True

    def _bridgeable(self, buf: _SensorBuffer, t: np.ndarray) -> np.ndarray:
        """For each new sample: may the gap from the sample before it be interpolated?"""
        if len(t) == 0:
            return np.empty(0, bool)
        before = buf.t[-1:] if len(buf.t) else t[:1]
        gaps = np.diff(np.concatenate([before, t]))
        if not len(buf.t):
            gaps[0] = np.inf  # the first sample has nothing before it
        if self.gap_periods <= 0:
            return gaps <= self.max_gap_s
        # the period each gap is judged by: median of the PERIOD_HISTORY intervals before it,
        # needed only for gaps longer than max_gap_s (a shorter one is bridged anyway)
        finite = np.isfinite(gaps)
        history = np.concatenate([buf.intervals, gaps[finite]])
        known = len(buf.intervals)
        long = finite & (gaps > self.max_gap_s)
        periods = np.full(len(gaps), np.nan)
        idx = known + np.arange(finite.sum())  # position of each finite gap in history
        periods[long] = _rolling_median_before(history, idx[long[finite]])
        # no history yet: the gap is its own period, as long as it looks like a sampling interval
        first = np.isnan(periods) & long
        periods[first] = gaps[first]
        periods = np.minimum(periods, SLOWEST_PERIOD_S)
        buf.intervals = history[-PERIOD_HISTORY:]
        limit = np.maximum(self.max_gap_s, self.gap_periods * periods)
        return finite & ((gaps <= self.max_gap_s) | (gaps <= limit))

    def sample_rate_hz(self, location: str) -> float | None:
        """The sensor's current sample rate from its recent intervals (None before two samples)."""
        intervals = self._buffers[location].intervals
        return float(1.0 / np.median(intervals)) if len(intervals) else None

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

    @staticmethod
    def _interpolate(buf: _SensorBuffer, grid: np.ndarray):
        """Orientation (and acceleration) of one sensor at the grid times: interpolated
        between the two bracketing samples when that gap is bridged, a sample's own value on
        a grid time it hits exactly, NaN elsewhere.

        The same arithmetic runs on every row, the few outside or across a gap included (their
        indices clipped, their result then blanked): selecting the usable rows first cost
        more than the whole interpolation, and a long recording nearly always has a lost
        sample somewhere in a step. Each row's value depends on that row alone, so it is the
        same as if the usable rows had been computed on their own."""
        n, size = len(grid), len(buf.t)
        acc_out = None
        if size == 0 or n == 0:
            return np.full((n, 4), np.nan), None if buf.acc is None else np.full((n, 3), np.nan)
        hi = np.searchsorted(buf.t, grid, side="left")
        hi_at = np.minimum(hi, size - 1)
        lo_at = np.maximum(hi - 1, 0)
        t_lo, t_hi = buf.t[lo_at], buf.t[hi_at]
        usable = (hi >= 1) & (hi < size) & buf.bridged[hi_at]
        unusable = np.flatnonzero(~usable)
        exact = np.flatnonzero((hi < size) & (t_hi == grid))
        with np.errstate(invalid="ignore", divide="ignore"):  # unusable rows: blanked below
            frac = (grid - t_lo) / (t_hi - t_lo)
            out = Q.nlerp(buf.quat[lo_at], buf.quat[hi_at], frac)
            if buf.acc is not None:
                a_lo = buf.acc[lo_at]
                acc_out = a_lo + (buf.acc[hi_at] - a_lo) * frac[:, None]
        out[unusable] = np.nan
        out[exact] = buf.quat[hi[exact]]
        if acc_out is not None:
            acc_out[unusable] = np.nan
            acc_out[exact] = buf.acc[hi[exact]]
        return out, acc_out

    @staticmethod
    def _trim(buf: _SensorBuffer, emitted_until: float) -> None:
        # keep the last sample at or before the emitted horizon: it brackets the next grid time
        keep_from = max(int(np.searchsorted(buf.t, emitted_until, side="right")) - 1, 0)
        if keep_from:
            buf.t = buf.t[keep_from:]
            buf.bridged = buf.bridged[keep_from:]
            buf.quat = buf.quat[keep_from:]
            if buf.acc is not None:
                buf.acc = buf.acc[keep_from:]

    def _empty(self) -> GridFrame:
        return GridFrame(np.empty(0), {loc: np.empty((0, 4)) for loc in self.locations},
                         {loc: np.empty((0, 3)) for loc, b in self._buffers.items() if b.acc is not None})


def _rolling_median_before(history: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Median of history[max(0, i - PERIOD_HISTORY):i] for each i in idx; NaN for i = 0."""
    out = np.full(len(idx), np.nan)
    short = idx < PERIOD_HISTORY  # the first few intervals of a sensor: a shorter history
    for j in np.flatnonzero(short & (idx > 0)):
        out[j] = np.median(history[:idx[j]])
    full = idx[~short]
    if len(full):
        windows = np.lib.stride_tricks.sliding_window_view(history, PERIOD_HISTORY)
        out[~short] = np.median(windows[full - PERIOD_HISTORY], axis=1)
    return out
