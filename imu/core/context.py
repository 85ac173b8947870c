"""Activity context from the trunk sensors, streaming: is the wearer still or moving?

The slouch alert only fires while the wearer sits or stands still (docs/architecture.md section 5).
Stillness is judged from the segments' angular speed, averaged over the trailing second, so
the label of a sample depends only on the past and chunked input gives the same labels.
"""

from __future__ import annotations

import numpy as np

from imu import quat as Q

STILL, MOVING, UNKNOWN = "still", "moving", "unknown"
UNCALIBRATED = "uncalibrated"  # no calibration yet: no context either
# Labels as small integer codes into this table. A label array is an object array whose
# elements all point at these few strings (8 bytes a sample, not a string object each);
# collectors keep the codes (1 byte a sample) and turn them back with `context_labels`.
CONTEXT_LABELS = (UNKNOWN, STILL, MOVING, UNCALIBRATED)
CODE_UNKNOWN, CODE_STILL, CODE_MOVING, CODE_UNCALIBRATED = range(len(CONTEXT_LABELS))
_LABEL_TABLE = np.array(CONTEXT_LABELS, dtype=object)


def context_labels(codes: np.ndarray) -> np.ndarray:
    """Label array (object, shared strings) of context codes."""
    return _LABEL_TABLE[np.asarray(codes, dtype=np.uint8)]


def context_codes(labels: np.ndarray) -> np.ndarray:
    """Codes (uint8) of a label array; a label outside the table raises ValueError."""
    labels = np.asarray(labels)
    codes = np.zeros(labels.shape, dtype=np.uint8)
    seen = np.zeros(labels.shape, dtype=bool)
    for code, label in enumerate(CONTEXT_LABELS):
        match = labels == label
        codes[match], seen[match] = code, True
    if not seen.all():
        raise ValueError(f"unknown context label {labels[~seen][0]!r}")
    return codes


COUNT_BLOCK = 1 << 16  # samples counted at a time


def context_counts(labels: np.ndarray) -> dict[str, int]:
    """Samples per label of a label array or of its uint8 codes, without a string copy of
    the whole array."""
    if getattr(labels, "dtype", None) != np.uint8:
        labels = np.asarray(labels)  # codes are read by stretches: they may be a series
    try:
        codes = labels if labels.dtype == np.uint8 else context_codes(labels)
        # a block at a time: bincount widens its input to 8 bytes a sample
        counts = np.zeros(256, np.int64)
        for lo in range(0, len(codes), COUNT_BLOCK):
            counts += np.bincount(codes[lo:lo + COUNT_BLOCK], minlength=256)
    except ValueError:  # labels from elsewhere (a test, an import): count them as they are
        names, found = np.unique(np.asarray(labels).astype(str), return_counts=True)
        return {str(k): int(c) for k, c in zip(names, found)}
    return {label: int(c) for label, c in zip(CONTEXT_LABELS, counts) if c}


SPEED_LAG_S = 0.25  # orientation change over this lag, so sensor noise does not read as motion


def lagged_angular_speed(previous: np.ndarray, q: np.ndarray, rate_hz: float) -> np.ndarray:
    """deg/s from the rotation between each sample and the one SPEED_LAG_S earlier.

    `previous` holds the samples before `q` (at least the lag's worth when available); the
    first samples of a session compare with the earliest one there is.
    """
    lag = max(int(round(SPEED_LAG_S * rate_hz)), 1)
    # each sample normalised once, not once a side; on quaternion components (imu.quat.parts),
    # contiguous for segments as imu.core.angles stores them
    joined = Q.normalize_parts([np.concatenate([p, c]) for p, c in zip(Q.parts(previous), Q.parts(q))])
    start, total = len(previous), len(previous) + len(q)
    idx = np.arange(start, total)
    earlier = np.maximum(idx - lag, 0)
    span = np.maximum(idx - earlier, 1) / rate_hz
    # with the lag's worth before the chunk, the earlier samples are a plain slice
    rows = slice(start - lag, total - lag) if start >= lag else earlier
    return Q.angle_between_unit_parts([c[rows] for c in joined], [c[start:] for c in joined]) / span


def trailing_mean(history: np.ndarray, values: np.ndarray, window: int) -> np.ndarray:
    """Mean of the finite values in the trailing `window` samples (NaN where there are none).

    Sums run over integers (milli-units), so the result is exact and does not depend on
    where a stream was cut into chunks. `history` is what came before `values`.
    """
    joined = np.concatenate([history, values])
    finite = np.isfinite(joined)
    milli = np.where(finite, np.round(np.where(finite, joined, 0.0) * 1000.0), 0).astype(np.int64)
    sums = np.concatenate([[0], np.cumsum(milli)])
    counts = np.concatenate([[0], np.cumsum(finite)])
    end = np.arange(len(history), len(joined)) + 1
    start = np.maximum(end - window, 0)
    n = counts[end] - counts[start]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (sums[end] - sums[start]) / 1000.0 / np.maximum(n, 1), np.nan)


class ContextTracker:
    def __init__(self, rate_hz: float, still_max_dps: float, window_s: float = 1.0):
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
        lag = max(int(round(SPEED_LAG_S * self.rate_hz)), 1)
        speed = np.full(n, -np.inf)
        for loc, q in segments.items():
            previous = self._last.get(loc, q[:0])
            # the fastest segment decides; an unknown one makes the sample unknown
            speed = np.maximum(speed, lagged_angular_speed(previous, q, self.rate_hz))
            self._last[loc] = q[-lag:].copy() if len(q) >= lag else np.concatenate([previous, q])[-lag:]
        mean = trailing_mean(self._history, speed, self.window)
        self._history = np.concatenate([self._history, speed])[-(self.window - 1):] \
            if self.window > 1 else np.empty(0)
        codes = np.where(np.isnan(mean), CODE_UNKNOWN,
                         np.where(mean < self.still_max_dps, CODE_STILL, CODE_MOVING))
        return context_labels(codes), mean
