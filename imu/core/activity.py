"""Activity context from the trunk sensors: still (sitting / standing), walking, running;
carries and holds as the wearer labelled them; sensors that slipped or came off.

Pure functions and one streaming tracker; arrays in, results out.

Gait is found window by window (6 s windows every second, centred): a window is gait when
its gait signal (imu.core.strides.gait_signal) has a clear step rhythm (autocorrelation at
one step >= `gait_min_regularity`) of some size (band-passed amplitude); running when the
cadence reaches `running_cadence_min_spm`. Still windows have almost no angular change.
Sitting vs standing: still spans joined to walking or running without a deep trunk bend in
between (standing up or sitting down bends the trunk over 20 deg) are standing; the others
take the calibration's posture when it is known, else stay "still".

Slipped or removed sensors are found by imu.core.sensor_issues (re-exported here).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import numpy as np

from imu.core.columns import time_axis
from imu.core.exposure import median_step
from imu.core.gait import rate_problem
from imu.core.gait_band import SessionBand, SessionGaitSignal
from imu.core.sensor_issues import SensorIssue, detect_sensor_issues  # noqa: F401 (re-exported)
from imu.core.strides import bandpass, fill_nan, gait_candidates, gait_signal, step_period
from imu.labels import CARRY_LABELS, HOLD_ALIASES  # noqa: F401 (re-exported for the core)
from imu.profile import Thresholds

STILL, SITTING, STANDING, WALKING, RUNNING, MOVING, UNKNOWN = (
    "still", "sitting", "standing", "walking", "running", "moving", "unknown")
# A session's per-sample labels are kept as uint8 codes into this table (one byte a sample;
# an object array of labels is eight): the activity kinds, then the annotated spans written
# over them (carries, holds).
ACTIVITY_LABELS = (UNKNOWN, STILL, SITTING, STANDING, WALKING, RUNNING, MOVING, *CARRY_LABELS, *HOLD_ALIASES)
ACTIVITY_CODE = {label: code for code, label in enumerate(ACTIVITY_LABELS)}
_ACTIVITY_TABLE = np.array(ACTIVITY_LABELS, dtype=object)
WINDOW_S = 6.0
HOP_S = 1.0
MIN_SEGMENT_S = 4.0
TRANSITION_BEND_DEG = 20.0


@dataclass
class Segment:
    kind: str
    start_s: float
    end_s: float
    cadence_spm: float | None = None

    def as_dict(self) -> dict:
        d = {"kind": self.kind, "start_s": round(self.start_s, 2), "end_s": round(self.end_s, 2)}
        if self.cadence_spm is not None and np.isfinite(self.cadence_spm):
            d["cadence_spm"] = round(float(self.cadence_spm), 1)
        return d


def activity_labels(codes: np.ndarray) -> np.ndarray:
    """The label array (object; its elements are the table's strings) of activity codes."""
    return _ACTIVITY_TABLE[np.asarray(codes, dtype=np.uint8)]


@dataclass
class ActivityResult:
    t: np.ndarray
    codes: np.ndarray  # (n,) uint8 into ACTIVITY_LABELS: still/sitting/standing/walking/...
    segments: list[Segment]  # automatic segmentation (gait and still), time order
    sensor_issues: list[SensorIssue] = field(default_factory=list)
    invalid: np.ndarray | None = None  # (n,) bool: a sensor slipped or came off

    @property
    def labels(self) -> np.ndarray:
        """The per-sample labels as strings (made on each call: read `codes` in loops)."""
        return activity_labels(self.codes)

    def spans(self, kind: str) -> list[Segment]:
        return [s for s in self.segments if s.kind == kind]


# --- window classification ----------------------------------------------------------------

def classify_window(x: np.ndarray, rate_hz: float, is_acc: bool, still_std: float,
                    thr: Thresholds, gait_measurable: bool = True,
                    amplitude: float | None = None) -> tuple[str, float]:
    """(label, cadence) of one window of gait signal; `still_std` is the window's largest
    inclination standard deviation (deg). Without `gait_measurable` (a sensor too slow for
    steps, imu.core.gait) a rhythm is only "moving": never walking or running at a false
    cadence, and never still. `amplitude`: the window's step-band standard deviation when
    the caller filtered the whole session once (else the window is filtered here)."""
    if len(x) < rate_hz or not np.isfinite(x).all():
        return UNKNOWN, float("nan")
    amp = float(np.std(bandpass(x, rate_hz, 0.8, 6.0))) if amplitude is None else amplitude
    min_amp = thr.gait_floor(is_acc)
    # too weak for gait whatever its rhythm: the autocorrelation is not needed (most of a day)
    period, ad1 = step_period(x, rate_hz)[:2] if amp >= min_amp else (float("nan"), 0.0)
    if np.isfinite(period) and ad1 >= thr.gait_min_regularity and amp >= min_amp:
        if not gait_measurable:
            return MOVING, float("nan")
        cadence = 60.0 / period
        return (RUNNING if cadence >= thr.running_cadence_min_spm else WALKING), cadence
    if is_acc and amp >= min_amp:
        return MOVING, float("nan")  # the body shakes the sensor: not still, whatever the angles
    if is_acc and not np.isfinite(still_std):
        # acceleration only (a sacral sensor alone has no angle): a quiet sensor is a still body
        return (STILL if amp < 0.25 * min_amp else MOVING), float("nan")
    if not np.isfinite(still_std):
        return UNKNOWN, float("nan")
    if still_std <= thr.still_max_std_deg:
        return STILL, float("nan")
    return MOVING, float("nan")


def _quiet_labels(amps: np.ndarray, stds: np.ndarray, is_acc: bool, thr: Thresholds) -> np.ndarray:
    """`classify_window`'s label of windows whose step-band amplitude is below the gait
    floor (or unknown), for many windows at once: no rhythm to look for, so the inclination
    spread decides (and, for acceleration alone, how quiet the sensor is)."""
    min_amp = thr.gait_floor(is_acc)
    known = np.isfinite(stds)
    out = np.where(stds <= thr.still_max_std_deg, STILL, MOVING).astype(object)
    if is_acc:
        out[~known] = np.where(amps[~known] < 0.25 * min_amp, STILL, MOVING)
    else:
        out[~known] = UNKNOWN
    return out


STILL_STD_ANGLES = ("trunk_inclination", "trunk_lateral_inclination", "lumbar_inclination",
                    "lumbar_lateral_inclination")


def _still_stds(angles: dict[str, np.ndarray], starts: np.ndarray, length: int,
                block: int = 512) -> np.ndarray:
    """`_still_std` of the windows [start, start + length) for every start, vectorised a
    block of windows at a time (NaN where no angle has more than 2 finite samples). Each
    block widens to float64 only the rows its windows cover (a whole-session float64 copy
    per angle was the report's memory peak on a long day)."""
    out = np.full(len(starts), -np.inf)
    for name in STILL_STD_ANGLES:
        if name not in angles or len(angles[name]) < length:
            continue
        for k in range(0, len(starts), block):
            these = starts[k:k + block]
            first = int(these.min())
            rows = np.asarray(angles[name][first:int(these.max()) + length], float)
            w = np.lib.stride_tricks.sliding_window_view(rows, length)[these - first]
            finite = np.isfinite(w)
            count = finite.sum(axis=1)
            mean = np.where(finite, w, 0.0).sum(axis=1) / np.maximum(count, 1)
            dev = np.where(finite, w - mean[:, None], 0.0)
            std = np.sqrt((dev * dev).sum(axis=1) / np.maximum(count, 1))
            std[count <= 2] = -np.inf
            out[k:k + block] = np.maximum(out[k:k + block], std)
    out[~np.isfinite(out)] = np.nan
    return out


PREFIX_BLOCK = 1 << 16  # samples per block of a running sum (bounded temporaries)


class PrefixSums:
    """`np.concatenate([[0], np.cumsum(values)])[positions]` (of the squares of the values
    with square) for nondecreasing positions, with the values given a stretch at a time in
    order: each stretch's running sum starts from the exact sum before it, the same
    sequential additions as one pass over the whole session, so the same values, without
    a whole-session running-sum array. `total`: the sum of everything added so far."""

    def __init__(self, positions: np.ndarray, kind: np.dtype, square: bool = False, total=0):
        self.positions = np.asarray(positions, dtype=np.int64)
        self.kind, self.square = np.dtype(kind), square
        self.out = np.zeros(len(self.positions), dtype=self.kind)
        self.total = self.kind.type(total)
        self.at = 0  # index of the next value

    def add(self, values: np.ndarray) -> None:
        for lo in range(0, len(values), PREFIX_BLOCK):
            part = values[lo:lo + PREFIX_BLOCK]
            start, end = self.at, self.at + len(part)
            a = np.searchsorted(self.positions, start, side="left")
            b = np.searchsorted(self.positions, end, side="right")
            running = np.cumsum(np.concatenate([np.array([self.total], self.kind),
                                                part * part if self.square else part]))
            self.out[a:b] = running[self.positions[a:b] - start]
            self.total, self.at = running[-1], end


def span_rows(t: np.ndarray, start_s: float, end_s: float) -> slice:
    """The samples with start_s <= t <= end_s of an increasing time axis, as a slice (two
    binary searches: a mask over the whole session per span is quadratic on a long day)."""
    return slice(int(np.searchsorted(t, start_s, side="left")), int(np.searchsorted(t, end_s, side="right")))


def _still_std(angles: dict[str, np.ndarray], rows: slice) -> float:
    stds = []
    for name in STILL_STD_ANGLES:
        if name in angles:
            x = np.asarray(angles[name][rows], float)
            x = x[np.isfinite(x)]
            if len(x) > 2:
                stds.append(np.std(x))
    return max(stds) if stds else float("nan")


def _mode_filter(labels: list[str], hops: int) -> list[str]:
    """Runs shorter than `hops` take the label of their longer neighbour (the left one when
    both are as long), the first short run first, until none is left (or one run is).

    A run list, not the labels: relabelling a run merges it with its equal neighbours, and
    every run before it is long already, so the scan goes on from the merged run instead
    of from the session's start (which made a long, fidgety day quadratic)."""
    runs: list[list] = []  # [label, length], neighbours never equal
    for label in labels:
        if runs and runs[-1][0] == label:
            runs[-1][1] += 1
        else:
            runs.append([label, 1])
    k = 0
    while k < len(runs) and len(runs) >= 2:
        if runs[k][1] >= hops:
            k += 1
            continue
        neighbours = [r for r in (runs[k - 1] if k > 0 else None, runs[k + 1] if k + 1 < len(runs) else None)
                      if r is not None]
        runs[k][0] = max(neighbours, key=lambda r: r[1])[0]
        if k + 1 < len(runs) and runs[k + 1][0] == runs[k][0]:
            runs[k][1] += runs.pop(k + 1)[1]
        if k > 0 and runs[k - 1][0] == runs[k][0]:
            runs[k - 1][1] += runs.pop(k)[1]
            k -= 1
    return [label for label, length in runs for _ in range(length)]


def _window_band_features(band: SessionBand, valid: np.ndarray | None, starts: np.ndarray,
                          stops: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    """Per window [start, stop): the share of valid samples, whether its gait signal has a
    gap, and the standard deviation of its step band; and the running sum of the squared
    band at each block's start (for _SquaredBand). Each window's sums come from running sums
    read at its two edges only, gathered a block of the session at a time: the signal and
    its band are never whole-session arrays."""
    edges = np.unique(np.concatenate([starts, stops]))
    a, b = np.searchsorted(edges, starts), np.searchsorted(edges, stops)
    valid_sums, missing_sums = PrefixSums(edges, np.int64), PrefixSums(edges, np.int64)
    band_sums, square_sums = PrefixSums(edges, np.float64), PrefixSums(edges, np.float64, square=True)
    square_totals = []
    for lo, hi, x, values in band.blocks():
        square_totals.append(square_sums.total)
        finite = np.isfinite(x)
        valid_sums.add(finite if valid is None else np.asarray(valid[lo:hi], bool))
        missing_sums.add(~finite)
        band_sums.add(values)
        square_sums.add(values)

    def window_sums(sums: PrefixSums) -> np.ndarray:
        return sums.out[b] - sums.out[a]

    length = stops - starts
    m = np.maximum(length, 1)
    mean = window_sums(band_sums) / m
    amps = np.sqrt(np.maximum(window_sums(square_sums) / m - mean * mean, 0.0))
    return window_sums(valid_sums) / length, window_sums(missing_sums) > 0, amps, square_totals


def segment_activities(t: np.ndarray, angles: dict[str, np.ndarray], acc: dict | None = None,
                       valid: np.ndarray | None = None, thresholds=None,
                       neutral_posture: str | None = None,
                       sensor_rate_hz: float | None = None, calibration_spans=()) -> ActivityResult:
    """Offline segmentation of a whole session into still / walking / running spans.
    `sensor_rate_hz`: the rate of the sensor behind the gait signal (the grid may be finer);
    below imu.core.gait.GAIT_MIN_RATE_HZ gait is only "moving"."""
    thr = thresholds or Thresholds()
    t = time_axis(t)
    n = len(t)
    if n < 2:
        return ActivityResult(t, np.full(n, ACTIVITY_CODE[UNKNOWN], dtype=np.uint8), [])
    rate = 1.0 / median_step(t)
    signal = SessionGaitSignal.of(angles, acc, n)
    if signal is None:
        return ActivityResult(t, np.full(n, ACTIVITY_CODE[UNKNOWN], dtype=np.uint8), [])
    is_acc = signal.is_acc
    gait_measurable = rate_problem(sensor_rate_hz) is None
    half = int(round(WINDOW_S * rate / 2))
    hop = max(1, int(round(HOP_S * rate)))
    centres = np.arange(0, n, hop)
    starts, stops = np.maximum(centres - half, 0), np.minimum(centres + half, n)
    session_band = SessionBand(signal, rate)
    valid_share, unknown_signal, amps, square_totals = _window_band_features(session_band, valid, starts, stops)
    length = stops - starts
    # the inclination spread of every whole window at once (edge windows one by one)
    whole = (centres - half >= 0) & (centres + half <= n)
    stds = np.full(len(centres), np.nan)
    stds[whole] = _still_stds(angles, centres[whole] - half, 2 * half)
    for i in np.flatnonzero(~whole).tolist():
        stds[i] = _still_std(angles, slice(int(starts[i]), int(stops[i])))
    # too little valid data, or what classify_window calls unknown (short or with a gap)
    unknown = (valid_share < 0.8) | (length < rate) | unknown_signal
    labels = _quiet_labels(amps, stds, is_acc, thr)
    labels[unknown] = UNKNOWN
    cadences = np.full(len(centres), np.nan)
    # windows with a step-band amplitude to test for a rhythm: few (most of a day is quiet)
    for i in np.flatnonzero(~unknown & (amps >= thr.gait_floor(is_acc))).tolist():
        labels[i], cadences[i] = classify_window(signal.rows(int(starts[i]), int(stops[i])), rate, is_acc,
                                                 float(stds[i]), thr, gait_measurable, float(amps[i]))
    labels = labels.tolist()
    labels = _mode_filter(labels, int(round(MIN_SEGMENT_S / HOP_S)))
    # hop labels to samples: each sample takes the label of its nearest centre
    table = np.array([ACTIVITY_CODE[label] for label in labels], dtype=np.uint8)
    sample_codes = np.empty(n, dtype=np.uint8)
    for lo in range(0, n, PREFIX_BLOCK):  # a block at a time: no whole-session index arrays
        hi = min(n, lo + PREFIX_BLOCK)
        nearest = np.clip(np.round(np.arange(lo, hi) / hop).astype(int), 0, len(centres) - 1)
        sample_codes[lo:hi] = table[nearest]
    segments = _segments(t, sample_codes, cadences, centres, hop)
    _refine_boundaries(t, _SquaredBand(session_band, square_totals), rate, segments)
    segments = _postures(t, angles, segments, neutral_posture, calibration_spans)
    for seg in segments:
        sample_codes[span_rows(t, seg.start_s, seg.end_s)] = ACTIVITY_CODE[seg.kind]
    return ActivityResult(t, sample_codes, segments)


def label_runs(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start, stop) sample indices of the runs of equal values (codes, labels, a mask)."""
    starts = np.concatenate([[0], np.flatnonzero(codes[1:] != codes[:-1]) + 1]).astype(int)
    return starts, np.concatenate([starts[1:], [len(codes)]]).astype(int)


def _segments(t, sample_codes, cadences, centres, hop) -> list[Segment]:
    out = []
    for a, b in zip(*label_runs(sample_codes)):
        kind = ACTIVITY_LABELS[sample_codes[a]]
        cad = None
        if kind in (WALKING, RUNNING):
            inside = (centres >= a) & (centres < b)
            cad = float(np.nanmedian(cadences[inside])) if np.isfinite(cadences[inside]).any() else None
        end = t[b] if b < len(t) else t[-1]
        out.append(Segment(str(kind), float(t[a]), float(end), cad))
    return out


class _SquaredBand:
    """The running sums of a session's squared step band at given positions, as one pass
    over the whole band gives them: each block that holds some is filtered again and summed
    from the running sum at its start (recorded when the band was first read)."""

    def __init__(self, band: SessionBand, totals: list):
        self.band, self.totals = band, totals

    def __len__(self) -> int:
        return self.band.n

    def sums_at(self, positions: np.ndarray) -> np.ndarray:
        out = np.zeros(len(positions))
        for k, total in enumerate(self.totals):
            lo, hi = self.band.bounds(k)
            i, j = np.searchsorted(positions, lo, side="left"), np.searchsorted(positions, hi, side="right")
            if i < j:
                sums = PrefixSums(positions[i:j] - lo, np.float64, square=True, total=total)
                sums.add(self.band.block(k)[1])
                out[i:j] = sums.out
        return out


def _refine_boundaries(t, band: _SquaredBand, rate: float, segments: list[Segment]) -> None:
    """Move each boundary that touches gait to where the step-band amplitude envelope
    (1 s RMS) crosses half-way between its levels on either side: the 6 s windows place
    boundaries up to half a window off, the envelope to about half a second. band: the gait
    signal's step band (0.8-6 Hz), summed where the envelope is needed."""
    if not any(WALKING in (l.kind, r.kind) or RUNNING in (l.kind, r.kind)
               for l, r in zip(segments[:-1], segments[1:])):
        return  # no boundary touches gait: nothing to refine (most of a desk day)
    k = max(1, int(round(rate)))
    pairs = [(left, right) for left, right in zip(segments[:-1], segments[1:])
             if WALKING in (left.kind, right.kind) or RUNNING in (left.kind, right.kind)]
    # the envelope only within 8 s of these boundaries (not the whole session's), from the
    # session's running sums of the squared band read at the windows' edges
    near = np.unique(np.concatenate([np.arange(np.searchsorted(t, r.start_s - 8.0),
                                               np.searchsorted(t, r.start_s + 8.0)) for _, r in pairs]))
    a, b = np.clip(near - k // 2, 0, len(band)), np.clip(near + k // 2 + 1, 0, len(band))
    edges = np.unique(np.concatenate([a, b]))
    sums = band.sums_at(edges)
    energy = sums[np.searchsorted(edges, b)] - sums[np.searchsorted(edges, a)]
    envelope = np.sqrt(energy / np.maximum(b - a, 1))

    def rms(lo: int, hi: int) -> np.ndarray:  # the envelope of samples lo..hi - 1 (all in `near`)
        return envelope[np.searchsorted(near, lo):np.searchsorted(near, hi)]

    for left, right in pairs:
        tb = right.start_s
        i = int(np.searchsorted(t, tb))
        lo, hi = int(np.searchsorted(t, tb - 5.0)), int(np.searchsorted(t, tb + 5.0))
        before = rms(int(np.searchsorted(t, tb - 8.0)), int(np.searchsorted(t, tb - 4.0)))
        after = rms(int(np.searchsorted(t, tb + 4.0)), int(np.searchsorted(t, tb + 8.0)))
        if len(before) < k or len(after) < k or hi - lo < 2 * k:
            continue
        level_a, level_b = np.median(before), np.median(after)
        if max(level_a, level_b) < 1.5 * min(level_a, level_b):
            continue  # no clear change of amplitude: keep the window boundary
        mid = 0.5 * (level_a + level_b)
        side = rms(lo, hi) > mid if level_b > level_a else rms(lo, hi) < mid
        # the crossing nearest the coarse boundary
        crossings = np.flatnonzero(side[1:] & ~side[:-1]) + lo + 1
        if len(crossings) == 0:
            continue
        j = crossings[np.argmin(np.abs(crossings - i))]
        new = float(t[j])
        if left.start_s < new < right.end_s:
            left.end_s = right.start_s = new


def _postures(t, angles, segments: list[Segment], neutral_posture: str | None,
              calibration_spans=()) -> list[Segment]:
    """Still spans become standing when joined to gait without a deep bend in between (a
    calibration's own bends are not sitting down or standing up)."""
    # sample indices of every deep bend: whether a span holds one is then two binary
    # searches, not a pass over the whole session per span (quadratic on a long day)
    deep = np.empty(0, np.int64)
    for name in ("lumbar_inclination", "trunk_inclination"):
        if name in angles:
            x = angles[name]  # a block at a time: no whole-session copy of its magnitude
            deep = np.concatenate([lo + np.flatnonzero(np.abs(x[lo:lo + PREFIX_BLOCK]) > TRANSITION_BEND_DEG)
                                   for lo in range(0, len(x), PREFIX_BLOCK)] or [deep])
            for a, b in calibration_spans:
                rows = span_rows(t, a, b)
                deep = deep[(deep < rows.start) | (deep >= rows.stop)]
            break

    def deep_bend(a: float, b: float) -> bool:
        lo, hi = np.searchsorted(t, a, side="left"), np.searchsorted(t, b, side="right")
        return bool(np.searchsorted(deep, hi) > np.searchsorted(deep, lo))

    gait = [i for i, s in enumerate(segments) if s.kind in (WALKING, RUNNING)]
    fallback = {"sitting": SITTING, "standing": STANDING}.get(neutral_posture or "", STILL)
    for i, seg in enumerate(segments):
        if seg.kind != STILL:
            continue
        # joined to the nearest gait on a side, or to none there: a farther one's span holds
        # the nearer one's, deep bends and all. The span to the right starts at the still
        # span's own start; the still span's edge may hold the sit-down / stand-up itself.
        k = bisect.bisect_left(gait, i)
        left = gait[k - 1] if k > 0 else None
        right = gait[k] if k < len(gait) else None
        standing = (left is not None and not deep_bend(segments[left].end_s, seg.start_s)
                    and not deep_bend(seg.start_s, min(seg.start_s + 3.0, seg.end_s))) or \
                   (right is not None and not deep_bend(seg.start_s, segments[right].start_s)
                    and not deep_bend(max(seg.end_s - 3.0, seg.start_s), seg.end_s))
        seg.kind = STANDING if standing else fallback
    # merge neighbours that became equal
    merged: list[Segment] = []
    for seg in segments:
        if merged and merged[-1].kind == seg.kind and seg.kind not in (WALKING, RUNNING):
            merged[-1].end_s = seg.end_s
        else:
            merged.append(seg)
    return merged


def overlay_labels(t: np.ndarray, codes: np.ndarray, annotations, kinds) -> np.ndarray:
    """Activity codes with the wearer's annotated spans (carries, holds) written over them: a
    copy when a span applies, else `codes` itself (a desk day has no carries or holds). Read
    the result, do not write to it."""
    spans = [(start, end, label) for start, end, label in annotations or [] if label in kinds]
    if not spans:
        return codes
    out = codes.copy()
    for start, end, label in spans:
        out[span_rows(t, start, end)] = ACTIVITY_CODE[label]
    return out


# --- streaming ------------------------------------------------------------------------------

class ActivityTracker:
    """Causal still / walking / running / moving labels for the live loop.

    Every HOP_S on the absolute grid (sample index multiple of the hop) the trailing
    WINDOW_S of gait signal is classified; samples take the latest decision, so a label
    depends only on the past and chunked input gives the same labels as whole input.
    Labels lag the truth by about half a window (3 s). Feed it the angles of each step
    (and the grid acceleration when sensors send it).
    """

    def __init__(self, rate_hz: float, thresholds=None):
        self.rate = rate_hz
        self.thr = thresholds or Thresholds()
        self.window = int(round(WINDOW_S * rate_hz))
        self.hop = max(1, int(round(HOP_S * rate_hz)))
        self._count = 0
        self._buf: dict[str, np.ndarray] = {}
        self._acc: dict[str, np.ndarray] = {}
        self._label = UNKNOWN
        self._quiet = np.empty(0, bool)

    def update(self, angles: dict[str, np.ndarray], acc: dict[str, np.ndarray] | None = None,
               quiet: np.ndarray | None = None) -> np.ndarray:
        """`quiet` (optional, per sample): the trunk turned slower than still_max_rate_dps
        there. A window of only quiet samples holds no steps, so it is told still or moving
        by its inclination spread alone, without the (costlier) gait test."""
        n = len(next(iter(angles.values()))) if angles else 0
        out = np.empty(n, dtype=object)
        if n == 0:
            return out
        for name, x in angles.items():
            self._buf[name] = np.concatenate([self._buf.get(name, np.empty(0)), np.asarray(x, float)])
        for loc, a in (acc or {}).items():
            self._acc[loc] = np.concatenate([self._acc.get(loc, np.empty((0, 3))), np.asarray(a, float)])
        if quiet is not None:
            self._quiet = np.concatenate([self._quiet, np.asarray(quiet, bool)])[-(self.window + n):]
        total = self._count + n
        first = self._count
        base = total - len(next(iter(self._buf.values())))  # absolute index of the buffer's start
        k = first + np.arange(n)  # absolute index of each sample
        decided = np.flatnonzero((k % self.hop == 0) & (k + 1 >= self.window))
        labels = self._decide_all([int(first + i + 1 - base) for i in decided])
        previous = 0
        for i, label in zip(decided.tolist(), labels):
            out[previous:i] = self._label  # a sample takes the latest decision, its own included
            self._label, previous = label, i
        out[previous:] = self._label
        self._count = total
        keep = self.window
        self._buf = {k: v[-keep:] for k, v in self._buf.items()}
        self._acc = {k: v[-keep:] for k, v in self._acc.items()}
        return out

    def _decide_all(self, ends: list[int]) -> list[str]:
        """The label of the window ending (exclusive) at each buffer index. Windows that need
        the gait test have their step band filtered together, in one call: filtering window
        by window cost more than everything else the tracker does. Likewise the quiet test
        and the gait signal are read off the whole buffer once, not window by window."""
        if not ends:
            return []
        length = len(next(iter(self._buf.values())))
        ends_at = np.asarray(ends, dtype=int)
        starts = ends_at - self.window
        spreads = _still_stds(self._buf, starts, self.window)
        quiet = np.zeros(len(ends_at), bool)  # only quiet samples, and a known spread
        if len(self._quiet) >= length:
            loud = np.concatenate([[0], np.cumsum(~self._quiet[len(self._quiet) - length:])])
            quiet = (loud[ends_at] == loud[starts]) & np.isfinite(spreads)
        labels: list[str | None] = [(STILL if spread <= self.thr.still_max_std_deg else MOVING) if still
                                    else None for still, spread in zip(quiet.tolist(), spreads.tolist())]
        gait = np.flatnonzero(~quiet)
        pending = []  # (which, signal, name): windows that take the gait test
        for which, (signal, name) in zip(gait.tolist(),
                                         _window_gait_signals(self._buf, self._acc, starts[gait], self.window)):
            if signal is None:
                labels[which] = UNKNOWN
            else:
                pending.append((which, signal, name))
        amplitudes = _step_band_amplitudes([p[1] for p in pending], self.rate)
        for (which, signal, name), amplitude in zip(pending, amplitudes):
            labels[which], _ = classify_window(signal, self.rate, "acceleration" in name, float(spreads[which]),
                                               self.thr, amplitude=amplitude)
        return labels


def _window_gait_signals(angles: dict[str, np.ndarray], acc: dict[str, np.ndarray], starts: np.ndarray,
                         length: int) -> list[tuple[np.ndarray | None, str]]:
    """`gait_signal` of each window [start, start + length) of buffered angles and (n, 3)
    acceleration, as (signal or None, name). Each candidate series (a sensor's acceleration
    magnitude, an inclination) is formed once for the whole buffer, elementwise as
    gait_signal forms it per window; a window takes the first candidate in gait_signal's
    order that is finite on more than half of its samples, NaN filled within the window."""
    candidates = [(read(slice(None)), name) for read, name in gait_candidates(angles, acc or None)]
    out: list[tuple[np.ndarray | None, str]] = [(None, "")] * len(starts)
    undecided = np.ones(len(starts), bool)
    for series, name in candidates:
        finite = np.concatenate([[0], np.cumsum(np.isfinite(series))])
        # finite on more than half: gait_signal's isfinite(x).mean() > 0.5, in whole numbers
        chosen = undecided & (2 * (finite[starts + length] - finite[starts]) > length)
        for i in np.flatnonzero(chosen).tolist():
            out[i] = (fill_nan(series[starts[i]:starts[i] + length]), name)
        undecided &= ~chosen
    return out


def _step_band_amplitudes(signals: list[np.ndarray], rate_hz: float) -> list[float | None]:
    """The step-band standard deviation of each signal as `classify_window` computes it,
    filtering the finite signals of one length together (None: let classify_window judge)."""
    out: list[float | None] = [None] * len(signals)
    usable = [i for i, x in enumerate(signals) if len(x) >= rate_hz and np.isfinite(x).all()]
    for size in {len(signals[i]) for i in usable}:
        group = [i for i in usable if len(signals[i]) == size]
        filtered = bandpass(np.stack([signals[i] for i in group]), rate_hz, 0.8, 6.0)
        for i, amplitude in zip(group, np.std(filtered, axis=-1)):
            out[i] = float(amplitude)
    return out


def window_label(angles: dict[str, np.ndarray], acc: dict[str, np.ndarray] | None,
                 rate_hz: float, thresholds) -> str:
    """The activity of one WINDOW_S stretch of angles (and acceleration): still, walking,
    running, moving or unknown (what ActivityTracker decides every hop)."""
    signal, name = gait_signal(angles, acc or None)
    if signal is None:
        return UNKNOWN
    label, _ = classify_window(signal, rate_hz, "acceleration" in name,
                               _still_std(angles, slice(None)), thresholds)
    return label
