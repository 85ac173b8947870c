"""Exposure metrics of trunk angles: zone time, percentiles, static bouts, slouch rate.

Pure numpy: arrays and the core's `Analysis` in, numbers out. Definitions follow
docs/trunk-science.md (exposure standards and their sources):

- Zones: one `ZoneScheme` per angle (`zone_scheme`), used by the report and the dashboard
  alike. The standard depends on what the angle measures (docs/trunk-science.md):
  * inclination against gravity (`trunk_inclination`, `lumbar_inclination`): ISO 11226 /
    EN 1005-4 trunk inclination, neutral 0-20, intermediate 20-60, awkward >60 deg
    (`Thresholds.sagittal_zones_deg`);
  * thoracic flexion relative to the lumbar sensor: the "back curvature" classes tabulated
    beside ISO 11226 (thoracic minus lumbar), 0-20, 20-40, >40 deg
    (`Thresholds.curvature_zones_deg`);
  * lumbar flexion relative to the sacrum: no standard gives classes, so no zones;
  * lateral angles: |angle| in 0-10, 10-20, >20 deg (`Thresholds.lateral_zones_deg`).
  Sagittal schemes have an extension class, but only below -`zone_neutral_band_deg`: a few
  degrees behind neutral cannot be told from sensor error (1-3 deg for inclination, 3-7 deg
  for relative flexion against optical motion capture), so it counts as neutral. A value
  exactly on an edge belongs to the lower class (20.0 is neutral, 60.0 intermediate).
  Axial rotation has no zones: it is a short-window quantity, and no static bouts either.
- Percentiles P10, P50, P90 (linear interpolation), P90-P10, min and max.
- Distribution: counts per whole degree, bin i holding lo + i <= value < lo + i + 1
  (`DegreeHistogram`, trimmed to the first..last non-empty bin).
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

from imu.core.columns import time_axis
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
class DegreeHistogram:
    lo_deg: int  # left edge of the first 1-degree bin
    counts: np.ndarray  # (k,) int64: valid finite samples with lo_deg + i <= value < lo_deg + i + 1


@dataclass(frozen=True)
class AngleExposure:
    name: str
    valid_s: float  # time with a valid, finite value
    coverage_pct: float  # valid_s against the whole analysis span
    percentiles: dict[str, float]  # p10, p50, p90, p90_p10, min, max
    zones_pct: dict[str, float] | None  # zone label -> % of valid time; None for rotation
    static: StaticBouts | None  # None for rotation: a high-passed heading is not a posture
    zone_scheme: ZoneScheme | None = None  # the classes behind zones_pct
    histogram: DegreeHistogram | None = None  # the valid samples per whole degree


ZONE_CLASSES = ("extension", "neutral", "intermediate", "awkward")


@dataclass(frozen=True)
class ZoneScheme:
    """Exposure classes for one angle: labels, class names, edges, and where they come from.

    Sagittal: extension (< -dead_band), neutral (-dead_band..low), intermediate (low..high),
    awkward (> high). Lateral: the absolute angle in neutral / intermediate / awkward.
    """

    edges: tuple[float, float]
    lateral: bool
    dead_band_deg: float  # sagittal only: how far behind neutral still counts as neutral
    basis: str  # the standard and the quantity it is defined for, in words

    @property
    def classes(self) -> tuple[str, ...]:
        return ZONE_CLASSES[1:] if self.lateral else ZONE_CLASSES

    @property
    def labels(self) -> tuple[str, ...]:
        return zone_labels(self.edges, self.lateral, self.dead_band_deg)

    def classify(self, values: np.ndarray) -> np.ndarray:
        """Index into `labels` per sample (int8), -1 where the value is unknown."""
        low, high = _check_edges(self.edges)
        x = np.asarray(values, dtype=float)
        out = np.full(x.shape, -1, dtype=np.int8)
        finite = np.isfinite(x)
        v = np.abs(x[finite]) if self.lateral else x[finite]
        k = np.where(v <= low, 0, np.where(v <= high, 1, 2))
        if not self.lateral:
            k = np.where(v < -self.dead_band_deg, 0, k + 1)
        out[finite] = k
        return out

    def counts(self, values: np.ndarray) -> np.ndarray:
        """Finite samples per class label (int64, in the order of `labels`): the classes of
        `classify` counted from three comparisons, without classifying every sample (this
        runs on every sample of every angle of a report)."""
        low, high = _check_edges(self.edges)
        if not self.lateral and self.dead_band_deg < 0:  # as the labels refuse it
            raise ValueError(f"zone dead band must be >= 0 deg, got {self.dead_band_deg}")
        x = np.asarray(values, dtype=float)
        v = x[np.isfinite(x)]
        if self.lateral:
            v = np.abs(v)
        up_to_low = np.count_nonzero(v <= low)
        above_high = np.count_nonzero(v > high)
        counts = [up_to_low, v.size - up_to_low - above_high, above_high]
        if not self.lateral:  # extension: below -dead band, which lies below `low`
            extension = np.count_nonzero(v < -self.dead_band_deg)
            counts = [extension, up_to_low - extension] + counts[1:]
        return np.array(counts, dtype=np.int64)

    def percent(self, values: np.ndarray) -> dict[str, float]:
        """Percent of the finite samples per class label (all NaN when none is finite)."""
        return self.percent_of(self.counts(values))

    def percent_of(self, counts: np.ndarray) -> dict[str, float]:
        """`counts` (per class label) as percent of their total (all NaN when it is 0)."""
        total = int(counts.sum())
        if total == 0:
            return {label: math.nan for label in self.labels}
        return {label: 100.0 * c / total for label, c in zip(self.labels, counts)}


INCLINATION_ANGLES = ("trunk_inclination", "lumbar_inclination")
CURVATURE_ANGLES = ("thoracic_flexion",)


def zone_scheme(name: str, thresholds) -> ZoneScheme | None:
    """The exposure classes that apply to an angle, or None when no standard covers it."""
    band = float(thresholds.zone_neutral_band_deg)
    if name in INCLINATION_ANGLES:
        return ZoneScheme(tuple(thresholds.sagittal_zones_deg), False, band,
                          "ISO 11226 / EN 1005-4 trunk inclination (against gravity)")
    if name in CURVATURE_ANGLES:
        return ZoneScheme(tuple(thresholds.curvature_zones_deg), False, band,
                          "back curvature classes beside ISO 11226 (thoracic relative to lumbar)")
    if name in LATERAL_ANGLES:
        return ZoneScheme(tuple(thresholds.lateral_zones_deg), True, 0.0,
                          "ISO 11226 / EN 1005-4 lateral bend (absolute angle)")
    return None


def zone_labels(edges: tuple[float, float], lateral: bool, dead_band_deg: float = 0.0
                ) -> tuple[str, ...]:
    low, high = _check_edges(edges)
    if lateral:
        return (f"0-{low:g}", f"{low:g}-{high:g}", f">{high:g}")
    if dead_band_deg < 0:
        raise ValueError(f"zone dead band must be >= 0 deg, got {dead_band_deg}")
    back = f"{-dead_band_deg:g}" if dead_band_deg else "0"
    return (f"<{back}", f"{back}-{low:g}", f"{low:g}-{high:g}", f">{high:g}")


def zone_percent(values: np.ndarray, edges: tuple[float, float], lateral: bool,
                 dead_band_deg: float = 0.0) -> dict[str, float]:
    """Percent of the given samples in each zone; NaN samples are ignored (see ZoneScheme)."""
    return ZoneScheme(tuple(edges), lateral, dead_band_deg, "").percent(values)


def percentiles(values: np.ndarray) -> dict[str, float]:
    """P10, P50, P90, P90-P10, min and max of the finite samples (all NaN when none)."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return dict.fromkeys(("p10", "p50", "p90", "p90_p10", "min", "max"), math.nan)
    p10, p50, p90 = np.percentile(x, PERCENTILES)
    return percentile_dict(p10, p50, p90, x.min(), x.max())


PERCENTILES = (10.0, 50.0, 90.0)


def percentile_dict(p10, p50, p90, low, high) -> dict[str, float]:
    return {"p10": float(p10), "p50": float(p50), "p90": float(p90),
            "p90_p10": float(p90 - p10), "min": float(low), "max": float(high)}


def degree_histogram(values: np.ndarray) -> DegreeHistogram:
    """Counts of the finite samples per whole degree (bin = floor(value))."""
    x = np.asarray(values, dtype=float)
    bins = np.floor(x[np.isfinite(x)]).astype(np.int64)
    if bins.size == 0:
        return DegreeHistogram(0, np.zeros(0, np.int64))
    lo = int(bins.min())
    return DegreeHistogram(lo, np.bincount(bins - lo).astype(np.int64))


def grid_step(t: np.ndarray) -> float:
    """The analysis grid's sample spacing in seconds (median step; the grid is uniform)."""
    t = time_axis(t)
    if t.ndim != 1 or t.size < 2:
        raise ValueError("time axis needs at least two samples to have a grid step")
    if not all(np.all(np.diff(t[lo:lo + STEP_BLOCK + 1]) > 0) for lo in range(0, t.size - 1, STEP_BLOCK)):
        raise ValueError("time axis must be strictly increasing")
    return median_step(t)


STEP_BLOCK = 1 << 16  # time steps differenced at a time
MOST_DISTINCT_STEPS = 4096  # beyond this many distinct steps the axis is no grid: one whole sort


def median_step(t: np.ndarray) -> float:
    """np.median(np.diff(t)), bit for bit, without its whole-session arrays (the steps and
    the copy the median sorts: 46 MB at 8 h at 100 Hz, at the peak of a long report's
    grading). A grid's steps take a handful of distinct values (float rounding of one
    spacing, and its gaps), so they are counted a block at a time and the middle one found
    from the counts; an irregular axis (many distinct steps) is sorted whole instead."""
    t = time_axis(t)
    n = t.size - 1
    values, counts = np.empty(0), np.empty(0, np.int64)
    for lo in range(0, max(n, 0), STEP_BLOCK):
        v, c = np.unique(np.diff(t[lo:lo + STEP_BLOCK + 1]), return_counts=True)
        values, where = np.unique(np.concatenate([values, v]), return_inverse=True)
        counts = np.bincount(where, weights=np.concatenate([counts, c]), minlength=len(values)).astype(np.int64)
        if len(values) > MOST_DISTINCT_STEPS:
            return float(np.median(np.diff(t)))
    if n < 1 or np.isnan(values).any():
        return float(np.median(np.diff(t)))  # nothing to count, or NaN (the median's own answer)
    ends = np.cumsum(counts)  # the sorted steps' positions where each value ends

    def at(k: int) -> float:  # the k-th smallest step
        return values[np.searchsorted(ends, k, side="right")]

    half = n // 2
    return float(at(half)) if n % 2 else float((at(half - 1) + at(half)) / 2)


def static_bouts(t: np.ndarray, values: np.ndarray, band_deg: float, min_s: float,
                 dt: float | None = None) -> StaticBouts:
    """Static bouts by the module's definition; NaN samples end a bout. dt: the grid step,
    when the caller knows it already (`grid_step(t)`).

    Vectorised: a sliding max/min over `min_s` marks the samples between bouts that begin a
    qualifying run (`greedy_bouts`); the Python loop visits bouts only (at most duration /
    min_s of them).
    """
    x = np.asarray(values, dtype=float)
    t = np.asarray(t, dtype=float)
    if x.shape != t.shape:
        raise ValueError(f"values {x.shape} and time {t.shape} differ in shape")
    if band_deg < 0 or min_s <= 0:
        raise ValueError("static band must be >= 0 deg and minimum duration > 0 s")
    if x.size < 2:
        return StaticBouts(np.empty(0), np.empty(0))
    dt = grid_step(t) if dt is None else dt
    first, ends = greedy_bouts(x, bout_samples(min_s, dt), band_deg)
    if not first:
        return StaticBouts(np.empty(0), np.empty(0))
    lengths = np.asarray(ends) - first
    start_s = t[first]
    return StaticBouts(start_s, start_s + lengths * dt)


def bout_samples(min_s: float, dt: float) -> int:
    """Samples a static bout must span at least."""
    return max(1, math.ceil(min_s / dt - 1e-9))


def greedy_bouts(x: np.ndarray, need: int, band_deg: float) -> tuple[list[int], list[int]]:
    """Static bouts of x as (first sample, end sample) index lists; NaN ends a bout, and a
    bout still in its band at the last sample ends at len(x). A start later than
    len(x) - need is never taken: it cannot be told yet whether it begins a bout."""
    if x.size < need:
        return [], []
    last_start = x.size - need
    bout_starts, bout_ends = [], []
    position = 0
    while True:
        start = _next_bout_start(x, position, last_start, need, band_deg)
        if start is None:
            break
        end = first_outside(x, start + need, x[start], band_deg)
        bout_starts.append(start)
        bout_ends.append(end)
        position = end
    return bout_starts, bout_ends


def _next_bout_start(x: np.ndarray, position: int, last_start: int, need: int, band_deg: float) -> int | None:
    """The first sample s in position..last_start whose run x[s], ..., x[s + need - 1] lies
    within x[s] +- band (no NaN), or None.

    Only the samples between bouts are asked (those inside one cannot begin another, and on
    a day of sitting they are most of them): first the sample itself, as a bout often
    follows the one before at once, then stretches of candidates, doubling while none
    qualifies, each by the max and min of its forward windows."""
    if position > last_start:
        return None
    window, anchor = x[position: position + need], x[position]
    with np.errstate(invalid="ignore"):  # NaN: not within any band (nor is +-inf)
        if math.isfinite(anchor) and window.max() <= anchor + band_deg and window.min() >= anchor - band_deg:
            return position
    span = need
    while position <= last_start:
        stop = min(position + span, last_start + 1)
        part = x[position: stop + need - 1]  # every window of the candidates position..stop - 1
        upper, lower = _forward_extremes(part, need)
        head = part[: stop - position]
        with np.errstate(invalid="ignore"):
            found = np.flatnonzero((upper <= head + band_deg) & (lower >= head - band_deg))
        if found.size:
            return position + int(found[0])
        position, span = stop, 2 * span
    return None


def _forward_extremes(part: np.ndarray, need: int) -> tuple[np.ndarray, np.ndarray]:
    """The max and the min of each window part[s:s + need], s = 0 .. len(part) - need, with a
    value that is not finite counting as +inf in the max and -inf in the min.

    A window spans at most two consecutive blocks of `need` samples, so its max is the larger
    of a running max from its start to its block's end and one from the next block's start
    to its end (van Herk, Gil and Werman); max and min are exact, so this is what a sliding
    filter gives, with a handful of numpy calls where scipy's filter call cost more than its
    work on these short stretches."""
    count = len(part) - need + 1
    blocks = -(-len(part) // need)
    missing = ~np.isfinite(part)
    # padding past the end never enters a window: -inf for the max, +inf for the min
    high = np.full(blocks * need, -np.inf)
    high[:len(part)] = np.where(missing, np.inf, part)
    low = np.full(blocks * need, np.inf)
    low[:len(part)] = np.where(missing, -np.inf, part)
    out = []
    for values, running in ((high, np.maximum), (low, np.minimum)):
        by_block = values.reshape(blocks, need)
        to_end = running.accumulate(by_block[:, ::-1], axis=1)[:, ::-1].ravel()  # s .. its block's end
        from_start = running.accumulate(by_block, axis=1).ravel()  # its block's start .. s
        out.append(running(to_end[:count], from_start[need - 1: need - 1 + count]))
    return out[0], out[1]


def first_outside(x: np.ndarray, begin: int, anchor: float, band: float) -> int:
    """Index of the first sample from `begin` outside anchor +- band (or NaN); len(x) if none."""
    chunk = 1024
    i = begin
    while i < x.size:
        inside = np.abs(x[i: i + chunk] - anchor) <= band  # NaN: not inside
        if not inside.all():
            return i + int(np.argmin(inside))
        i += inside.size
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
    """Episodes per hour of session, by start time (`slouch_bins` with one-hour bins)."""
    return slouch_bins(episodes, duration_s, 3600.0)


def slouch_bins(episodes: list[SlouchEpisode], duration_s: float, bin_s: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Episodes per bin of session time, by start time.

    Returns (bin_start_s, counts, bin_length_s); the last bin may be shorter than bin_s,
    but a tail under 5 % of a bin (a 1200.4 s session in 300 s bins) joins the bin before.
    """
    if duration_s <= 0:
        raise ValueError(f"session duration must be positive, got {duration_s} s")
    if bin_s <= 0:
        raise ValueError(f"bin width must be positive, got {bin_s} s")
    bins = max(1, math.ceil(duration_s / bin_s - 0.05))
    bin_start = np.arange(bins) * bin_s
    length = np.minimum(bin_s, duration_s - bin_start)
    length[-1] = duration_s - bin_start[-1]
    starts = np.array([e.start_s for e in episodes], dtype=float)
    index = np.clip((starts // bin_s).astype(int), 0, bins - 1)
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
                   thresholds, dt: float | None = None) -> AngleExposure:
    """dt: the grid step, when the caller knows it (every angle of a session shares it)."""
    x = np.where(valid, np.asarray(values, dtype=float), np.nan)
    dt = grid_step(t) if dt is None else dt
    usable = int(np.count_nonzero(np.isfinite(x)))
    scheme = zone_scheme(name, thresholds)
    return AngleExposure(
        name=name,
        valid_s=usable * dt,
        coverage_pct=100.0 * usable / x.size,
        percentiles=percentiles(x),
        zones_pct=None if scheme is None else scheme.percent(x),
        static=None if angle_kind(name) == "rotation" else static_bouts(
            t, x, thresholds.static_band_deg, thresholds.static_min_s, dt),
        zone_scheme=scheme,
        histogram=degree_histogram(x),
    )


def angle_summary(analysis: Analysis) -> dict[str, AngleExposure]:
    """Exposure of every angle with at least one valid sample, in the name order of docs/architecture.md section 3."""
    t = np.asarray(analysis.t, dtype=float)
    valid = np.asarray(analysis.valid, dtype=bool)
    if valid.shape != t.shape:
        raise ValueError(f"valid mask {valid.shape} does not match the time axis {t.shape}")
    dt = grid_step(t) if t.size >= 2 else None  # once: a pass over the whole time axis
    nominal = 1.0 / analysis.thresholds.analysis_rate_hz
    if dt is not None and abs(dt - nominal) <= 1e-9 * nominal:
        # the grid's own step, not the float noise of its times' differences: a bout of
        # exactly 6000 samples is 60 s, as the exposure gathered during a pass counts it
        dt = nominal
    out = {}
    for name in angle_order(analysis.angles):
        values = analysis.angles[name]
        values = np.asarray(values, dtype=float)
        if values.shape != t.shape:
            raise ValueError(f"angle {name!r} has shape {values.shape}, time axis {t.shape}")
        if not np.any(np.isfinite(values) & valid):
            continue
        out[name] = angle_exposure(name, t, values, valid, analysis.thresholds, dt)
    return out


def angle_order(names) -> list[str]:
    """Angle names in the order of docs/architecture.md section 3, unknown names last by name."""
    order = {name: i for i, name in enumerate(ANGLE_NAMES)}
    return sorted(names, key=lambda n: (order.get(n, len(order)), n))


def _check_edges(edges) -> tuple[float, float]:
    low, high = (float(e) for e in edges)
    if not 0 < low < high:
        raise ValueError(f"zone edges must satisfy 0 < low < high, got {tuple(edges)}")
    return low, high
