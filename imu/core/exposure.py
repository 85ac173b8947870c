"""Exposure metrics of trunk angles: zone time, percentiles, static bouts, slouch rate.

Pure numpy: arrays and the core's `Analysis` in, numbers out. Definitions follow
../shared/reference/trunk-science.md sections 3.3 to 3.5 and DESIGN section 5:

- Zones (ISO 11226 / EN 1005-4). Sagittal angles: "<0" (extension), "0-20", "20-60", ">60"
  with the edges of `Thresholds.sagittal_zones_deg`; a value exactly on an edge belongs to
  the lower class (20.0 is "0-20", 60.0 is "20-60"). Lateral angles use |angle| with
  `Thresholds.lateral_zones_deg`: "0-10", "10-20", ">20". Axial rotation has no zones: it is
  a short-window quantity (DESIGN section 3), and no static bouts either.
- Percentiles P10, P50, P90 (linear interpolation), P90-P10, min and max.
- Static bout (EN 1005-1, "within +-1.5 deg for 4 s or more"), read precisely as: a run of
  consecutive valid samples that all lie within +-band of the run's first sample, lasting at
  least `static_min_s`. Runs are found greedily from the start of the recording: a bout
  starts at the earliest sample that begins a qualifying run (not inside an earlier bout)
  and lasts until the first sample that leaves the band or is invalid. A bout's duration
  is its number of samples times the grid step.

Every metric uses valid samples only: `Analysis.valid` true and the angle finite.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter1d, minimum_filter1d

from imu.core.result import (
    ANGLE_NAMES, LATERAL_ANGLES, ROTATION_ANGLES, SAGITTAL_ANGLES, Analysis, SlouchEpisode,
)

LONG_BOUT_S = 60.0  # REBA adds a point for a posture held static over a minute


@dataclass(frozen=True)
class StaticBouts:
    start_s: np.ndarray  # (k,) session seconds of each bout's first sample
    end_s: np.ndarray  # (k,) start_s + duration

    @property
    def count(self) -> int:
        return len(self.start_s)

    @property
    def durations_s(self) -> np.ndarray:
        return self.end_s - self.start_s

    @property
    def longest_s(self) -> float:
        return float(self.durations_s.max()) if self.count else 0.0

    @property
    def total_s(self) -> float:
        return float(self.durations_s.sum())

    def count_longer_than(self, seconds: float) -> int:
        return int(np.count_nonzero(self.durations_s > seconds))


@dataclass(frozen=True)
class AngleExposure:
    name: str
    valid_s: float  # time with a valid, finite value
    coverage_pct: float  # valid_s against the whole analysis span
    percentiles: dict[str, float]  # p10, p50, p90, p90_p10, min, max
    zones_pct: dict[str, float] | None  # zone label -> % of valid time; None for rotation
    static: StaticBouts | None  # None for rotation: a high-passed heading is not a posture


def zone_labels(edges: tuple[float, float], lateral: bool) -> tuple[str, ...]:
    low, high = _check_edges(edges)
    middle = (f"0-{low:g}", f"{low:g}-{high:g}", f">{high:g}")
    return middle if lateral else ("<0",) + middle


def zone_percent(values: np.ndarray, edges: tuple[float, float], lateral: bool) -> dict[str, float]:
    """Percent of the given samples in each zone; NaN samples are ignored.

    Sagittal: "<0", "0-low", "low-high", ">high". Lateral (|value|): "0-low", "low-high",
    ">high". Edge values fall in the lower class. With no finite sample every zone is NaN.
    """
    low, high = _check_edges(edges)
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if lateral:
        x = np.abs(x)
    labels = zone_labels(edges, lateral)
    if x.size == 0:
        return {label: math.nan for label in labels}
    counts = [np.count_nonzero(x <= low), np.count_nonzero((x > low) & (x <= high)),
              np.count_nonzero(x > high)]
    if not lateral:
        negative = np.count_nonzero(x < 0)
        counts = [negative, counts[0] - negative] + counts[1:]
    return {label: 100.0 * c / x.size for label, c in zip(labels, counts)}


def percentiles(values: np.ndarray) -> dict[str, float]:
    """P10, P50, P90, P90-P10, min and max of the finite samples (all NaN when none)."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return dict.fromkeys(("p10", "p50", "p90", "p90_p10", "min", "max"), math.nan)
    p10, p50, p90 = np.percentile(x, [10.0, 50.0, 90.0])
    return {"p10": float(p10), "p50": float(p50), "p90": float(p90),
            "p90_p10": float(p90 - p10), "min": float(x.min()), "max": float(x.max())}


def grid_step(t: np.ndarray) -> float:
    """The analysis grid's sample spacing in seconds (median step; the grid is uniform)."""
    t = np.asarray(t, dtype=float)
    if t.ndim != 1 or t.size < 2:
        raise ValueError("time axis needs at least two samples to have a grid step")
    steps = np.diff(t)
    if not np.all(steps > 0):
        raise ValueError("time axis must be strictly increasing")
    return float(np.median(steps))


def static_bouts(t: np.ndarray, values: np.ndarray, band_deg: float, min_s: float) -> StaticBouts:
    """Static bouts by the module's definition; NaN samples end a bout.

    Vectorised: a sliding max/min over `min_s` marks every sample that begins a qualifying
    run; the Python loop then visits bouts only (at most duration / min_s of them).
    """
    x = np.asarray(values, dtype=float)
    t = np.asarray(t, dtype=float)
    if x.shape != t.shape:
        raise ValueError(f"values {x.shape} and time {t.shape} differ in shape")
    if band_deg < 0 or min_s <= 0:
        raise ValueError("static band must be >= 0 deg and minimum duration > 0 s")
    empty = StaticBouts(np.empty(0), np.empty(0))
    if x.size < 2:
        return empty
    dt = grid_step(t)
    need = max(1, math.ceil(min_s / dt - 1e-9))  # samples a bout must span
    if x.size < need:
        return empty
    missing = ~np.isfinite(x)
    # forward window [i, i + need): origin -(need // 2) aligns scipy's window to start at i
    upper = maximum_filter1d(np.where(missing, np.inf, x), need, origin=-(need // 2))
    lower = minimum_filter1d(np.where(missing, -np.inf, x), need, origin=-(need // 2))
    last_start = x.size - need
    with np.errstate(invalid="ignore"):
        begins = (upper[: last_start + 1] <= x[: last_start + 1] + band_deg) & (
            lower[: last_start + 1] >= x[: last_start + 1] - band_deg)
    starts = np.flatnonzero(begins)
    bout_starts, bout_ends = [], []
    position = 0
    while True:
        k = np.searchsorted(starts, position)
        if k == starts.size:
            break
        start = int(starts[k])
        end = _first_outside(x, start + need, x[start], band_deg)
        bout_starts.append(start)
        bout_ends.append(end)
        position = end
    if not bout_starts:
        return empty
    first = np.asarray(bout_starts)
    lengths = np.asarray(bout_ends) - first
    start_s = t[first]
    return StaticBouts(start_s, start_s + lengths * dt)


def _first_outside(x: np.ndarray, begin: int, anchor: float, band: float) -> int:
    """Index of the first sample from `begin` outside anchor +- band (or NaN); len(x) if none."""
    chunk = 1024
    i = begin
    while i < x.size:
        segment = x[i: i + chunk]
        with np.errstate(invalid="ignore"):
            outside = ~(np.abs(segment - anchor) <= band)
        if outside.any():
            return i + int(np.argmax(outside))
        i += segment.size
        chunk *= 2  # long bouts cost O(length), short ones a single small slice
    return x.size


def episode_end(episode: SlouchEpisode, session_end_s: float) -> float:
    """An episode still open at the end of the session ends with the session."""
    return session_end_s if episode.end_s is None or episode.open_at_end else episode.end_s


def slouches_per_hour(count: int, duration_s: float) -> float:
    if duration_s <= 0:
        raise ValueError(f"session duration must be positive, got {duration_s} s")
    return count / (duration_s / 3600.0)


def slouch_hour_bins(episodes: list[SlouchEpisode], duration_s: float
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Episodes per hour of session, by start time.

    Returns (bin_start_s, counts, bin_length_s); the last bin may be shorter than an hour.
    """
    if duration_s <= 0:
        raise ValueError(f"session duration must be positive, got {duration_s} s")
    bins = max(1, math.ceil(duration_s / 3600.0 - 1e-9))
    bin_start = np.arange(bins) * 3600.0
    length = np.minimum(3600.0, duration_s - bin_start)
    starts = np.array([e.start_s for e in episodes], dtype=float)
    index = np.clip((starts // 3600.0).astype(int), 0, bins - 1)
    counts = np.bincount(index, minlength=bins)
    return bin_start, counts, length


def angle_kind(name: str) -> str:
    """"sagittal", "lateral", "rotation", or "other" (no zones) for an angle name."""
    if name in SAGITTAL_ANGLES:
        return "sagittal"
    if name in LATERAL_ANGLES:
        return "lateral"
    if name in ROTATION_ANGLES:
        return "rotation"
    return "other"


def angle_exposure(name: str, t: np.ndarray, values: np.ndarray, valid: np.ndarray,
                   thresholds) -> AngleExposure:
    x = np.where(valid, np.asarray(values, dtype=float), np.nan)
    dt = grid_step(t)
    usable = int(np.count_nonzero(np.isfinite(x)))
    kind = angle_kind(name)
    zones = None
    if kind == "sagittal":
        zones = zone_percent(x, thresholds.sagittal_zones_deg, lateral=False)
    elif kind == "lateral":
        zones = zone_percent(x, thresholds.lateral_zones_deg, lateral=True)
    return AngleExposure(
        name=name,
        valid_s=usable * dt,
        coverage_pct=100.0 * usable / x.size,
        percentiles=percentiles(x),
        zones_pct=zones,
        static=None if kind == "rotation" else static_bouts(
            t, x, thresholds.static_band_deg, thresholds.static_min_s),
    )


def angle_summary(analysis: Analysis) -> dict[str, AngleExposure]:
    """Exposure of every angle with at least one valid sample, in DESIGN name order."""
    t = np.asarray(analysis.t, dtype=float)
    valid = np.asarray(analysis.valid, dtype=bool)
    if valid.shape != t.shape:
        raise ValueError(f"valid mask {valid.shape} does not match the time axis {t.shape}")
    order = {name: i for i, name in enumerate(ANGLE_NAMES)}
    out = {}
    for name in sorted(analysis.angles, key=lambda n: (order.get(n, len(order)), n)):
        values = analysis.angles[name]
        values = np.asarray(values, dtype=float)
        if values.shape != t.shape:
            raise ValueError(f"angle {name!r} has shape {values.shape}, time axis {t.shape}")
        if not np.any(np.isfinite(values) & valid):
            continue
        out[name] = angle_exposure(name, t, values, valid, analysis.thresholds)
    return out


def _check_edges(edges) -> tuple[float, float]:
    low, high = (float(e) for e in edges)
    if not 0 < low < high:
        raise ValueError(f"zone edges must satisfy 0 < low < high, got {tuple(edges)}")
    return low, high
