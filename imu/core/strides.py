"""Steps and strides from the trunk signals; cadence; autocorrelation regularity.

Pure functions: arrays in, arrays out.

The gait signal is the magnitude of the trunk acceleration when a sensor sends it (each
step is one vertical bounce), otherwise the lumbar (or trunk) sagittal inclination, which
rocks forward and back once per step with the pelvis. Cadence is the step frequency of
the unbiased autocorrelation (Moe-Nilssen & Helbostad 2004): its first dominant peak in
the step band is one step. Step events are the peaks of the gait signal band-passed
around that frequency; a stride is two consecutive steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.signal import butter, find_peaks, sosfilt, sosfilt_zi, sosfiltfilt

STEP_BAND_HZ = (1.2, 4.0)  # walking 1.4-2.2 Hz, running 2.4-3.6 Hz
ACC_PREFERENCE = ("sacral", "lumbar", "thoracic")
ANGLE_PREFERENCE = ("lumbar_inclination", "trunk_inclination")
FILTER_BLOCK = 1 << 16  # samples a long signal is worked on at a time (bounded temporaries)


@dataclass
class Steps:
    t: np.ndarray  # (k,) step times, session s
    cadence_spm: float  # from the autocorrelation period
    step_period_s: float
    step_regularity: float  # Ad1: autocorrelation at one step
    stride_regularity: float  # Ad2: autocorrelation at one stride
    signal: str  # which signal the steps came from

    @property
    def symmetry(self) -> float:
        """Ad1 / Ad2: 1 for identical left and right steps."""
        if not np.isfinite(self.stride_regularity) or self.stride_regularity <= 0:
            return float("nan")
        return float(self.step_regularity / self.stride_regularity)

    def strides(self) -> np.ndarray:
        """(m, 2) start and end time of each stride (two consecutive steps, back to back)."""
        if len(self.t) < 3:
            return np.empty((0, 2))
        starts = self.t[0:-2:2]
        return np.stack([starts, self.t[2::2][:len(starts)]], axis=1)


def fill_nan(x: np.ndarray, in_place: bool = False) -> np.ndarray:
    """Linear interpolation over NaN (constant at the ends); all-NaN stays NaN. in_place:
    fill `x` itself (a float64 array the caller owns) instead of a copy.

    np.interp over the NaN samples alone, against their finite neighbours alone: a value
    between two finite samples depends on those two only, and one on a finite sample is
    that sample, so this is np.interp over the whole signal without its whole-signal
    index and value arrays (the memory peak of a long report's grading)."""
    x = np.asarray(x, float)
    finite = np.isfinite(x)
    if finite.all() or not finite.any():
        return x if in_place else x.copy()
    out = x if in_place else x.copy()
    missing = np.flatnonzero(~finite)
    del finite
    # each run of NaN: its first sample, and one past its last
    breaks = np.flatnonzero(np.diff(missing) > 1)
    starts = missing[np.concatenate([[0], breaks + 1])]
    ends = missing[np.concatenate([breaks, [len(missing) - 1]])] + 1
    nodes = np.unique(np.concatenate([starts - 1, ends]))
    nodes = nodes[(nodes >= 0) & (nodes < len(x))]
    out[missing] = np.interp(missing, nodes, x[nodes])
    return out


def acceleration_magnitude(a: np.ndarray) -> np.ndarray:
    """|a| in float64, a new array: of an (n, 3) acceleration a block at a time (only the
    result is a whole-session array), or of (n,) magnitudes as they are (what the session's
    collector keeps: every reader of the acceleration needs only its magnitude)."""
    if a.ndim == 1:
        return np.array(a, dtype=float)
    out = np.empty(len(a))
    for lo in range(0, len(a), FILTER_BLOCK):
        part = a[lo:lo + FILTER_BLOCK]
        out[lo:lo + FILTER_BLOCK] = np.sqrt(sum(np.square(part[:, k], dtype=float) for k in range(3)))
    return out


def gait_candidates(angles: dict[str, np.ndarray], acc: dict[str, np.ndarray] | None = None):
    """The series a gait signal may be, in the order they are tried, as (read, name): read(rows)
    gives that series' rows as a new float64 array (NaN where missing). A sensor's
    acceleration magnitude (g) first, then a sagittal inclination (deg)."""
    out = [((lambda rows, a=acc[loc]: acceleration_magnitude(a[rows])), f"{loc} acceleration")
           for loc in ACC_PREFERENCE if acc and loc in acc]
    return out + [((lambda rows, x=angles[name]: np.array(x[rows], dtype=float)), name)
                  for name in ANGLE_PREFERENCE if name in angles]


def gait_signal(angles: dict[str, np.ndarray], acc: dict[str, np.ndarray] | None = None,
                rows: slice | np.ndarray = slice(None)) -> tuple[np.ndarray | None, str]:
    """(signal, name): the first of gait_candidates finite on more than half of `rows`, its
    gaps filled; (None, "") when none is."""
    for read, name in gait_candidates(angles, acc):
        x = read(rows)
        if np.isfinite(x).mean() > 0.5:
            return fill_nan(x, in_place=True), name  # x is this call's own
    return None, ""


@lru_cache(maxsize=64)
def _band_sos(rate_hz: float, low_hz: float, high_hz: float, order: int) -> np.ndarray:
    """Filter design is costlier than filtering a 6 s window: designed once per band."""
    nyq = rate_hz / 2.0
    high = min(high_hz, 0.9 * nyq)
    return butter(order, [low_hz / nyq, high / nyq], btype="band", output="sos")


def bandpass(x: np.ndarray, rate_hz: float, low_hz: float, high_hz: float, order: int = 2) -> np.ndarray:
    """Zero-phase band-pass along the last axis (each row of a 2-D array on its own)."""
    if x.shape[-1] <= 3 * (2 * order + 1) * 2:
        return x - np.mean(x, axis=-1, keepdims=True)
    sos = _band_sos(float(rate_hz), float(low_hz), float(high_hz), order)
    if x.ndim == 1 and len(x) > 4 * FILTER_BLOCK:
        return _filtfilt_in_blocks(sos, x)
    return sosfiltfilt(sos, x, axis=-1)


def _filtfilt_in_blocks(sos: np.ndarray, x: np.ndarray) -> np.ndarray:
    """scipy's sosfiltfilt (odd padding of its default length), bit for bit, on a long 1-D
    signal with temporaries of one block: a filter's state carried from block to block
    is the same recursion over the same samples in the same order. The backward pass
    writes over the forward one, block by block from the end, so the whole-session arrays
    are the input and one output (sosfiltfilt holds four or five at once: the peak of a
    long report's grading)."""
    x = np.asarray(x, float)
    taps = 2 * len(sos) + 1 - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    edge = 3 * taps
    left, right = 2 * x[0] - x[edge:0:-1], 2 * x[-1] - x[-2:-(edge + 2):-1]  # odd extension
    zi = sosfilt_zi(sos)
    y = np.empty(len(x) + 2 * edge)
    state, at = zi * left[0], 0
    for piece in [left] + [x[lo:lo + FILTER_BLOCK] for lo in range(0, len(x), FILTER_BLOCK)] + [right]:
        y[at:at + len(piece)], state = sosfilt(sos, piece, zi=state)
        at += len(piece)
    state = zi * y[-1]
    for hi in range(len(y), 0, -FILTER_BLOCK):
        lo = max(0, hi - FILTER_BLOCK)
        backward, state = sosfilt(sos, y[lo:hi][::-1], zi=state)
        y[lo:hi] = backward[::-1]
    return y[edge:-edge]


def unbiased_autocorrelation(x: np.ndarray, max_lag: int) -> np.ndarray:
    """Ad(m) = 1/(N-m) sum x_i x_(i+m) / (1/N sum x_i^2), m = 0..max_lag (Moe-Nilssen)."""
    x = np.asarray(x, float) - np.mean(x)
    n = len(x)
    max_lag = min(max_lag, n - 1)
    if n < 4 or max_lag < 1:
        return np.ones(1)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    f = np.fft.rfft(x, size)
    raw = np.fft.irfft(f * np.conj(f), size)[: max_lag + 1]
    raw = raw / (n - np.arange(max_lag + 1))
    return raw / raw[0] if raw[0] > 0 else np.zeros(max_lag + 1)


def _parabolic(ac: np.ndarray, k: int) -> tuple[float, float]:
    if 0 < k < len(ac) - 1:
        a, b, c = ac[k - 1], ac[k], ac[k + 1]
        denom = a - 2 * b + c
        if denom < 0:
            shift = 0.5 * (a - c) / denom
            return k + shift, b - 0.25 * (a - c) * shift
    return float(k), float(ac[k])


def step_period(x: np.ndarray, rate_hz: float, band_hz: tuple[float, float] = STEP_BAND_HZ):
    """(step period s, Ad1, Ad2) of a gait signal; (nan, 0, 0) when there is no rhythm.

    The step is the first autocorrelation peak in the step band reaching 70 % of the
    band's highest peak (a stride lag can fall inside the band when running)."""
    lo, hi = int(np.floor(rate_hz / band_hz[1])), int(np.ceil(rate_hz / band_hz[0]))
    if len(x) < 2 * hi + 2:
        return float("nan"), 0.0, 0.0
    ac = unbiased_autocorrelation(x, 2 * hi + 2)
    peaks, _ = find_peaks(ac[: hi + 1])
    peaks = peaks[peaks >= lo]
    if len(peaks) == 0 or ac[peaks].max() <= 0:
        return float("nan"), 0.0, 0.0
    best = ac[peaks].max()
    k = int(peaks[np.flatnonzero(ac[peaks] >= 0.7 * best)[0]])
    lag, ad1 = _parabolic(ac, k)
    # the stride peak: the highest value within +-25 % of twice the step lag
    lo2, hi2 = int(np.floor(1.75 * lag)), min(int(np.ceil(2.25 * lag)), len(ac) - 2)
    ad2 = 0.0
    if hi2 > lo2:
        k2 = lo2 + int(np.argmax(ac[lo2:hi2 + 1]))
        ad2 = _parabolic(ac, k2)[1]
    return lag / rate_hz, float(ad1), float(ad2)


def detect_steps(t: np.ndarray, signal: np.ndarray, rate_hz: float, name: str = "") -> Steps:
    """Steps of one stretch of gait (the signal spans the stretch only)."""
    period, ad1, ad2 = step_period(signal, rate_hz)
    if not np.isfinite(period):
        return Steps(np.empty(0), float("nan"), float("nan"), 0.0, 0.0, name)
    f = 1.0 / period
    narrow = bandpass(signal, rate_hz, 0.6 * f, 1.5 * f)
    peaks, _ = find_peaks(narrow, distance=max(1, int(0.6 * period * rate_hz)))
    times = t[peaks]
    return Steps(times, 60.0 / period, period, ad1, ad2, name)


def per_stride(t: np.ndarray, x: np.ndarray, strides: np.ndarray) -> dict[str, np.ndarray]:
    """Per stride: mid time, mean, range (max - min) of x; NaN where the stride is mostly unknown."""
    x = np.asarray(x, float)
    idx = np.searchsorted(t, strides)
    out = {k: np.full(len(strides), np.nan) for k in ("t", "mean", "range")}
    for i, (a, b) in enumerate(idx):
        seg = x[a:b]
        out["t"][i] = 0.5 * (strides[i, 0] + strides[i, 1])
        finite = seg[np.isfinite(seg)]
        if len(seg) and len(finite) >= 0.8 * len(seg):
            out["mean"][i] = finite.mean()
            out["range"][i] = np.ptp(finite)
    return out
