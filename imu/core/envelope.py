"""A session's figure summary, gathered step by step in memory that does not grow with its length.

The report's trace and timeline figures need, per stretch of time, the lowest and highest value
of each angle and which activity prevailed; they do not need every sample. `SessionEnvelope`
keeps exactly that in at most `max_bins` time bins of one width, counted from the first sample:
the width starts at one grid step (a short session keeps every sample) and doubles, merging
neighbouring bins pairwise, whenever the session grows past `max_bins` bins. Merging is exact
(min of mins, max of maxes, sums of counts), so the result does not depend on how the stream was
cut into steps.
"""

from __future__ import annotations

import numpy as np

from imu.core.context import CONTEXT_LABELS, context_codes
from imu.core.exposure import grid_step


def group_edges(n: int, groups: int) -> np.ndarray:
    """(k + 1,) edges splitting n pieces into k = min(n, groups) groups of equal piece count."""
    return np.arange(n + 1) if n <= groups else np.linspace(0, n, groups + 1).astype(np.int64)


def minmax_columns(first_t: np.ndarray, last_t: np.ndarray, low: np.ndarray, high: np.ndarray,
                   columns: int) -> tuple[np.ndarray, np.ndarray]:
    """Lowest low and highest high per column, interleaved at each column's middle time.

    The inputs are consecutive pieces of a series (single samples or bins): their first and last
    times and their lowest and highest values. They are grouped into `columns` columns of equal
    piece count (a piece each when there are fewer). NaN is ignored unless a whole column is NaN,
    so a gap stays a gap.
    """
    if columns < 1:
        raise ValueError("columns must be at least 1")
    n = low.size
    edges = group_edges(n, columns)
    first, last = edges[:-1], edges[1:] - 1
    if n == 0:
        return np.empty(0), np.empty(0)
    lows = np.fmin.reduceat(low, first)
    highs = np.fmax.reduceat(high, first)
    middle = 0.5 * (first_t[first] + last_t[last])
    return np.repeat(middle, 2), np.column_stack([lows, highs]).ravel()


class SessionEnvelope:
    """Per time bin: each angle's min and max over valid samples, sample, valid and activity counts.

    dt: the grid step in seconds. Samples are placed by their step number from the first sample,
    round((t - t0) / dt), so bin edges fall between samples; a stretch the stream skipped leaves
    empty bins behind (a gap in the figures).
    """

    def __init__(self, dt: float, max_bins: int = 4096):
        if not dt > 0:
            raise ValueError(f"grid step must be positive, got {dt}")
        if max_bins < 2:
            raise ValueError("max_bins must be at least 2")
        self.dt = float(dt)
        self.max_bins = int(max_bins)
        self.steps_per_bin = 1  # bin width in grid steps; a power of two
        self.t0: float | None = None  # time of the first sample
        self._last_step = -1  # step number of the latest sample
        self._last_t = np.nan
        self._bins = 0  # bins in use (empty ones inside a skipped stretch included)
        capacity = self.max_bins + self.max_bins % 2  # even, so bins merge in whole pairs
        self._samples = np.zeros(capacity, dtype=np.int64)
        self._valid = np.zeros(capacity, dtype=np.int64)
        self._context = np.zeros((capacity, len(CONTEXT_LABELS)), dtype=np.int64)
        self._first_t = np.full(capacity, np.nan)
        self._last_bin_t = np.full(capacity, np.nan)
        self._low: dict[str, np.ndarray] = {}  # float32: the collector keeps angles as float32
        self._high: dict[str, np.ndarray] = {}

    @classmethod
    def from_arrays(cls, t, angles: dict[str, np.ndarray], valid, context_labels_or_codes,
                    dt: float | None = None, max_bins: int = 4096) -> SessionEnvelope:
        """The envelope of a session already in memory (an Analysis's t, angles, valid, context).

        The context may be labels (imu.core.context.CONTEXT_LABELS) or their uint8 codes. dt
        defaults to the grid step of t (1 s when there are fewer than two samples to measure it).
        """
        t = np.asarray(t, dtype=float)
        if dt is None:
            dt = grid_step(t) if t.size >= 2 else 1.0
        context = np.asarray(context_labels_or_codes)
        codes = context if context.dtype.kind in "iu" else context_codes(context)
        envelope = cls(dt, max_bins)
        envelope.add(t, angles, valid, codes)
        return envelope

    # --- gathering -------------------------------------------------------------------------
    def add(self, t, angles: dict[str, np.ndarray], valid, context_codes: np.ndarray) -> None:
        """One pipeline step: t (n,) increasing and later than before; angles name -> (n,)
        degrees; valid (n,) bool; context_codes (n,) uint8 codes of imu.core.context."""
        t = np.asarray(t, dtype=float)
        n = t.size
        valid = np.asarray(valid, dtype=bool)
        codes = np.asarray(context_codes, dtype=np.intp)
        if valid.shape != t.shape or codes.shape != t.shape:
            raise ValueError(f"valid {valid.shape} and context {codes.shape} must match t {t.shape}")
        if n == 0:
            return
        if codes.min() < 0 or codes.max() >= len(CONTEXT_LABELS):
            raise ValueError(f"context codes must lie in 0..{len(CONTEXT_LABELS) - 1}")
        for name, values in angles.items():  # all checks before anything changes
            if np.shape(values) != t.shape:
                raise ValueError(f"angle {name!r} has shape {np.shape(values)}, time {t.shape}")
        t0 = float(t[0]) if self.t0 is None else self.t0
        steps = np.rint((t - t0) / self.dt).astype(np.int64)
        if steps[0] <= self._last_step or np.any(np.diff(steps) <= 0):
            raise ValueError("sample times must increase by at least a grid step, across steps too")
        self.t0 = t0
        while steps[-1] // self.steps_per_bin >= self.max_bins:
            self._coarsen()
        bins = steps // self.steps_per_bin
        base, span = int(bins[0]), int(bins[-1] - bins[0]) + 1
        local = bins - base
        rows = slice(base, base + span)
        # pieces: runs of samples in one bin (bins are non-decreasing)
        starts = np.concatenate([[0], np.flatnonzero(np.diff(bins)) + 1])
        ends = np.concatenate([starts[1:], [n]])
        into = bins[starts]

        self._samples[rows] += np.bincount(local, minlength=span)
        self._valid[rows] += np.bincount(local[valid], minlength=span)
        kinds = len(CONTEXT_LABELS)
        self._context[rows] += np.bincount(local * kinds + codes,
                                           minlength=span * kinds).reshape(span, kinds)
        self._first_t[into] = np.fmin(self._first_t[into], t[starts])
        self._last_bin_t[into] = np.fmax(self._last_bin_t[into], t[ends - 1])
        for name, values in angles.items():
            if name not in self._low:  # an angle that appears late: nothing before
                self._low[name] = np.full(self._samples.size, np.nan, dtype=np.float32)
                self._high[name] = np.full(self._samples.size, np.nan, dtype=np.float32)
            y = np.where(valid, np.asarray(values, dtype=np.float32), np.float32(np.nan))
            low, high = self._low[name], self._high[name]
            low[into] = np.fmin(low[into], np.fmin.reduceat(y, starts))
            high[into] = np.fmax(high[into], np.fmax.reduceat(y, starts))
        self._bins = base + span
        self._last_step = int(steps[-1])
        self._last_t = float(t[-1])

    def _coarsen(self) -> None:
        """Double the bin width: bins 2i and 2i + 1 become bin i."""
        half = self._samples.size // 2

        def pairs(a, combine, empty):
            merged = combine(a[0::2], a[1::2])
            a[:half], a[half:] = merged, empty

        pairs(self._samples, np.add, 0)
        pairs(self._valid, np.add, 0)
        pairs(self._context, np.add, 0)
        pairs(self._first_t, np.fmin, np.nan)
        pairs(self._last_bin_t, np.fmax, np.nan)
        for name in self._low:
            pairs(self._low[name], np.fmin, np.nan)
            pairs(self._high[name], np.fmax, np.nan)
        self._bins = -(-self._bins // 2)
        self.steps_per_bin *= 2

    # --- reading ---------------------------------------------------------------------------
    @property
    def bins(self) -> int:
        """Bins from the first sample's to the latest's (empty ones in skipped stretches too)."""
        return self._bins

    @property
    def bin_s(self) -> float:
        """Bin width in seconds."""
        return self.steps_per_bin * self.dt

    @property
    def angle_names(self) -> list[str]:
        return list(self._low)

    @property
    def first_s(self) -> float:
        """Time of the first sample (NaN before any)."""
        return np.nan if self.t0 is None else self.t0

    @property
    def last_s(self) -> float:
        """Time of the latest sample (NaN before any)."""
        return self._last_t

    @property
    def sample_count(self) -> int:
        return int(self._samples.sum())

    @property
    def valid_count(self) -> int:
        return int(self._valid.sum())

    def sample_counts(self) -> np.ndarray:
        """(bins,) samples per bin."""
        return self._samples[:self._bins].copy()

    def valid_counts(self) -> np.ndarray:
        """(bins,) valid samples per bin."""
        return self._valid[:self._bins].copy()

    def context_counts(self) -> np.ndarray:
        """(bins, len(CONTEXT_LABELS)) samples per bin and context code."""
        return self._context[:self._bins].copy()

    def bin_times(self) -> tuple[np.ndarray, np.ndarray]:
        """(first, last) sample time of each bin; an empty bin gets the times its samples
        would have had, so every bin has a place on the time axis."""
        n, width = self._bins, self.steps_per_bin
        if n == 0:
            return np.empty(0), np.empty(0)
        start = self.t0 + np.arange(n) * width * self.dt
        first = np.where(np.isnan(self._first_t[:n]), start, self._first_t[:n])
        last = np.where(np.isnan(self._last_bin_t[:n]), start + (width - 1) * self.dt,
                        self._last_bin_t[:n])
        return first, last

    def minmax(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(bins,) lowest and highest valid value of an angle per bin (NaN where none)."""
        if name not in self._low:
            raise KeyError(f"no angle {name!r} in this envelope")
        return (self._low[name][:self._bins].astype(float),
                self._high[name][:self._bins].astype(float))

    def trace(self, name: str, columns: int) -> tuple[np.ndarray, np.ndarray]:
        """(tx, ty) to plot an angle across at most `columns` columns: each column's min and max
        interleaved at its middle time, as imu.report.figures.minmax_decimate does for samples.

        While every bin still holds one grid step and there are at most 2 * columns of them,
        the samples themselves come back (NaN where invalid or skipped).
        """
        low, high = self.minmax(name)
        first, last = self.bin_times()
        if self.steps_per_bin == 1 and self._bins <= 2 * columns:
            return first, low
        return minmax_columns(first, last, low, high, columns)

    def context_runs(self, max_runs: int) -> list[tuple[float, float, str]]:
        """(start_s, end_s, label) of each run of equal prevailing activity.

        Bins are grouped into at most `max_runs` groups of equal bin count; a group's label is
        the context most of its samples have (the first in CONTEXT_LABELS on a tie). A run lasts
        from its first sample to one grid step past its last, so neighbouring runs abut and a
        skipped stretch is left out.
        """
        n = self._bins
        if n == 0:
            return []
        starts = group_edges(n, max_runs)[:-1]
        counts = np.add.reduceat(self._context[:n], starts, axis=0)
        first = np.fmin.reduceat(self._first_t[:n], starts)
        last = np.fmax.reduceat(self._last_bin_t[:n], starts)
        filled = counts.sum(axis=1) > 0
        prevailing = np.where(filled, counts.argmax(axis=1), -1)
        change = np.flatnonzero(np.diff(prevailing)) + 1
        run_first = np.concatenate([[0], change])
        run_last = np.concatenate([change, [prevailing.size]]) - 1
        return [(float(first[a]), float(last[b]) + self.dt, CONTEXT_LABELS[prevailing[a]])
                for a, b in zip(run_first, run_last) if prevailing[a] >= 0]

    def context_seconds(self) -> dict[str, float]:
        """Seconds per context label (samples times the grid step), labels seen only."""
        totals = self._context[:self._bins].sum(axis=0)
        return {label: float(c) * self.dt for label, c in zip(CONTEXT_LABELS, totals) if c}
