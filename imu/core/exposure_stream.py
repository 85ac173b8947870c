"""Exposure metrics accumulated step by step, in memory that does not grow with the session.

`ExposureAccumulator` gives what `imu.core.exposure.angle_summary` gives for the Analysis a
streaming pass collects (imu.core.pipeline.AnalysisCollector), without keeping the
session's arrays: per angle it keeps a histogram of 0.01-degree bins (its size set by the
range the angle covers, 36,000 bins for a full circle), the zone counts, the static bouts
found so far (the one thing that grows), the open bout's first sample, and fewer than a
bout's minimum of samples whose start is not decided yet.

Exact, as the offline computation gives them: valid time, coverage, zone percentages,
minimum, maximum, the whole-degree histogram and the static bouts (the same samples; their
ends are start + samples * dt, so equal when dt is `grid_step` of the whole time axis).
Approximate: P10, P50 and P90, read off the fine histogram with each order statistic taken
at its bin's centre, so each is within PERCENTILE_ERROR_DEG (0.005 deg) of numpy's linear
interpolation, and P90-P10 within twice that. (Values go through float32, as the collected
Analysis keeps them; a float32 times 100 is exact in float64, so a value's bin is exact.)
"""

from __future__ import annotations

import numpy as np

from imu.core.exposure import (
    PERCENTILES, AngleExposure, DegreeHistogram, StaticBouts, angle_kind, angle_order,
    bout_samples, first_outside, greedy_bouts, percentile_dict, zone_scheme,
)

BINS_PER_DEGREE = 100  # percentile histogram resolution: 0.01 deg
PERCENTILE_ERROR_DEG = 0.5 / BINS_PER_DEGREE  # an order statistic is at most half a bin from its bin's centre
MAX_SPAN_DEG = 720  # angles are within +-180 deg; a wider spread is not an angle (and would not fit)


class ExposureAccumulator:
    """Exposure of every angle, fed one pipeline step at a time.

    thresholds: the pipeline's thresholds (`Pipeline.thr`, as `Analysis.thresholds`);
    dt: the analysis grid step in seconds (1 / analysis_rate_hz).
    """

    def __init__(self, thresholds, dt: float):
        if not dt > 0:
            raise ValueError(f"grid step must be positive, got {dt}")
        self.thresholds, self.dt = thresholds, float(dt)
        self.need = bout_samples(thresholds.static_min_s, self.dt)
        self.samples = 0  # grid samples added so far, of every step
        self._angles: dict[str, _AngleState] = {}

    def add(self, t: np.ndarray, angles: dict[str, np.ndarray], valid: np.ndarray) -> None:
        """One step: its grid times (n,), angles (name -> (n,), NaN where unknown; an angle
        missing from the step is unknown throughout it) and valid mask (n,)."""
        t = np.asarray(t, dtype=float)
        valid = np.asarray(valid, dtype=bool)
        n = t.size
        if valid.shape != (n,):
            raise ValueError(f"valid mask {valid.shape} does not match the step's time axis ({n},)")
        if n == 0:
            return
        for name, values in angles.items():
            values = np.asarray(values)
            if values.shape != (n,):
                raise ValueError(f"angle {name!r} has shape {values.shape}, step time axis ({n},)")
            state = self._angles.get(name)
            if state is None:
                state = self._angles[name] = _AngleState(name, self.thresholds, self.need)
            # float32 as the collected Analysis keeps it, so both paths see the same values
            x = np.where(valid, values.astype(np.float32).astype(np.float64), np.nan)
            state.add(t, x, self.samples)
        for name, state in self._angles.items():
            if name not in angles:
                state.gap(self.samples)
        self.samples += n

    def result(self) -> dict[str, AngleExposure]:
        """`angle_summary` of everything added so far (angles without a valid sample left out).
        Can be called at any time; adding more afterwards goes on from where it was."""
        return {name: self._angles[name].exposure(self.samples, self.dt)
                for name in angle_order(self._angles) if self._angles[name].usable}


class _AngleState:
    def __init__(self, name: str, thresholds, need: int):
        self.name = name
        self.scheme = zone_scheme(name, thresholds)
        self.zone_counts = None if self.scheme is None else np.zeros(len(self.scheme.labels), np.int64)
        self.bouts = None if angle_kind(name) == "rotation" else _BoutFinder(
            need, float(thresholds.static_band_deg))
        self.usable = 0
        self.low, self.high = np.inf, -np.inf
        self.fine_lo = 0  # fine bin index of fine[0], a whole degree
        self.fine = np.zeros(0, np.int64)  # samples per 0.01-degree bin

    def add(self, t: np.ndarray, x: np.ndarray, first_index: int) -> None:
        finite = x[np.isfinite(x)]
        if self.bouts is not None:
            self.bouts.add(t, x, first_index)
        if finite.size == 0:
            return
        self.usable += finite.size
        self.low = min(self.low, float(finite.min()))
        self.high = max(self.high, float(finite.max()))
        if self.zone_counts is not None:
            self.zone_counts += self.scheme.counts(finite)
        # a float32 value times 100 is exact in float64, so floor(fine bin / 100) = floor(value)
        bins = np.floor(finite * BINS_PER_DEGREE).astype(np.int64)
        lo, hi = int(bins.min()), int(bins.max())
        self._cover(lo, hi)
        self.fine[lo - self.fine_lo: hi - self.fine_lo + 1] += np.bincount(bins - lo)

    def gap(self, index: int) -> None:
        if self.bouts is not None:
            self.bouts.gap(index)

    def _cover(self, lo: int, hi: int) -> None:
        """Widen the fine histogram to whole degrees holding bins lo..hi."""
        start = lo // BINS_PER_DEGREE * BINS_PER_DEGREE
        stop = (hi // BINS_PER_DEGREE + 1) * BINS_PER_DEGREE
        if self.fine.size:
            start, stop = min(start, self.fine_lo), max(stop, self.fine_lo + self.fine.size)
            if start == self.fine_lo and stop == self.fine_lo + self.fine.size:
                return
        if stop - start > MAX_SPAN_DEG * BINS_PER_DEGREE:
            raise ValueError(f"angle {self.name!r} spans {(stop - start) // BINS_PER_DEGREE} deg; "
                             f"angles in degrees span at most {MAX_SPAN_DEG}")
        wider = np.zeros(stop - start, np.int64)
        wider[self.fine_lo - start: self.fine_lo - start + self.fine.size] = self.fine
        self.fine_lo, self.fine = start, wider

    def exposure(self, samples: int, dt: float) -> AngleExposure:
        return AngleExposure(
            name=self.name,
            valid_s=self.usable * dt,
            coverage_pct=100.0 * self.usable / samples,
            percentiles=self._percentiles(),
            zones_pct=None if self.scheme is None else self.scheme.percent_of(self.zone_counts),
            static=None if self.bouts is None else self.bouts.result(samples, dt),
            zone_scheme=self.scheme,
            histogram=self._degrees(),
        )

    def _percentiles(self) -> dict[str, float]:
        """numpy's linear interpolation between order statistics, each one its bin's centre
        (the minimum and maximum themselves, which are known exactly, at the two ends)."""
        n = self.usable
        position = np.asarray(PERCENTILES) / 100.0 * (n - 1)  # as np.percentile computes it
        below = np.floor(position).astype(np.int64)
        above = np.minimum(below + 1, n - 1)
        cumulative = np.cumsum(self.fine)

        def order_statistic(rank: np.ndarray) -> np.ndarray:
            bins = self.fine_lo + np.searchsorted(cumulative, rank, side="right")
            value = np.clip((bins + 0.5) / BINS_PER_DEGREE, self.low, self.high)
            return np.where(rank == 0, self.low, np.where(rank == n - 1, self.high, value))

        a, b = order_statistic(below), order_statistic(above)
        p10, p50, p90 = a + (position - below) * (b - a)
        return percentile_dict(p10, p50, p90, self.low, self.high)

    def _degrees(self) -> DegreeHistogram:
        degrees = self.fine.reshape(-1, BINS_PER_DEGREE).sum(axis=1)
        filled = np.flatnonzero(degrees)
        return DegreeHistogram(self.fine_lo // BINS_PER_DEGREE + int(filled[0]),
                               degrees[filled[0]: filled[-1] + 1])


class _BoutFinder:
    """Static bouts of one angle across steps (the definition of imu.core.exposure).

    Between steps it holds either the open bout (its first sample's index, time and value)
    or the last samples whose start cannot be decided yet (fewer than `need`).
    """

    def __init__(self, need: int, band: float):
        self.need, self.band = need, band
        self.starts: list[float] = []  # closed bouts: first sample's time, samples spanned
        self.lengths: list[int] = []
        self.open: tuple[int, float, float] | None = None  # index, time, value of its first sample
        self.tail_x = np.empty(0)
        self.tail_t = np.empty(0)
        self.tail_index = 0  # session sample index of tail_x[0]

    def add(self, t: np.ndarray, x: np.ndarray, first_index: int) -> None:
        if self.open is not None:
            index, start_t, anchor = self.open
            end = first_outside(x, 0, anchor, self.band)
            if end == x.size:
                return
            self._close(start_t, first_index + end - index)
            t, x, first_index = t[end:], x[end:], first_index + end
        if self.tail_x.size:
            t = np.concatenate([self.tail_t, t])
            x = np.concatenate([self.tail_x, x])
            first_index = self.tail_index
        firsts, ends = greedy_bouts(x, self.need, self.band)
        for first, end in zip(firsts, ends):
            if end == x.size:
                self.open = (first_index + first, float(t[first]), float(x[first]))
            else:
                self._close(float(t[first]), end - first)
        keep = x.size if self.open is not None else max(ends[-1] if ends else 0, x.size - self.need + 1)
        self.tail_x, self.tail_t = x[keep:].copy(), t[keep:].copy()
        self.tail_index = first_index + keep

    def gap(self, index: int) -> None:
        """A step without this angle: unknown samples from session sample `index` on."""
        if self.open is not None:
            self._close(self.open[1], index - self.open[0])
        self.tail_x, self.tail_t = np.empty(0), np.empty(0)

    def result(self, samples: int, dt: float) -> StaticBouts:
        starts, lengths = list(self.starts), list(self.lengths)
        if self.open is not None:  # still in its band at the last sample: ends with the data
            starts.append(self.open[1])
            lengths.append(samples - self.open[0])
        start_s = np.asarray(starts, dtype=float)
        return StaticBouts(start_s, start_s + np.asarray(lengths, dtype=np.int64) * dt)

    def _close(self, start_t: float, length: int) -> None:
        self.starts.append(start_t)
        self.lengths.append(length)
        self.open = None
