"""A whole session's gait signal and its step band, read a block at a time.

The offline segmentation (imu.core.activity.segment_activities) reads the session's gait
signal (imu.core.strides.gait_signal) and its zero-phase 0.8-6 Hz band through windows.
Held whole, the two float64 series were the memory peak of a long report's grading (46 MB
for 8 hours at 100 Hz, growing with the session). Here both are made a block at a time:

- `SessionGaitSignal` chooses the signal once for the session, as gait_signal does, and
  gives any stretch of it with its missing samples filled exactly as filling the whole
  signal fills them (from the nearest finite samples on either side, wherever they are);
- `SessionBand` filters each block with BAND_MARGIN_S of signal on either side. A
  zero-phase filter's start-up fades within a few seconds (its slowest pole, near the
  0.8 Hz corner, decays by e^-1 in about a third of a second), so inside the margins the
  block's band is the whole session's: equal bit for bit in the sessions compared (an
  8-hour day, both sensors at 100 Hz), and within 1e-14 with a margin of a minute.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from imu.core.strides import bandpass, fill_nan, gait_candidates

SEGMENT_BAND_HZ = (0.8, 6.0)  # the segmentation's step band: windows take its spread
BAND_BLOCK = 1 << 18  # samples filtered at a time (44 min at 100 Hz)
BAND_MARGIN_S = 120.0  # signal filtered on either side of a block and then dropped
_SCAN = 4096  # samples looked at a time for the finite neighbour of a gap


@dataclass
class SessionGaitSignal:
    """The session's gait signal: `rows(a, b)` is gait_signal's whole-session signal [a:b]."""

    raw: Callable[[int, int], np.ndarray]  # rows [a, b) as float64, NaN where missing
    n: int
    name: str  # as gait_signal names it: "<location> acceleration" or an inclination

    @property
    def is_acc(self) -> bool:
        return "acceleration" in self.name

    @classmethod
    def of(cls, angles: dict[str, np.ndarray], acc: dict[str, np.ndarray] | None, n: int) -> SessionGaitSignal | None:
        """gait_signal's choice for the whole session (the first candidate finite on more
        than half of it), or None when no candidate is."""
        for read, name in gait_candidates(angles, acc):
            raw = (lambda a, b, read=read: read(slice(a, b)))
            finite = sum(int(np.count_nonzero(np.isfinite(raw(lo, min(n, lo + BAND_BLOCK)))))
                         for lo in range(0, n, BAND_BLOCK))
            if n and 2 * finite > n:  # gait_signal's isfinite(x).mean() > 0.5, in whole numbers
                return cls(raw, n, name)
        return None

    def rows(self, a: int, b: int) -> np.ndarray:
        """The filled signal of rows [a, b): a gap at either end is filled from the finite
        sample beyond it, as the whole signal's filling does (np.interp between a gap's two
        neighbours depends on them and their distance only)."""
        x = self.raw(a, b)
        if not len(x) or np.isfinite(x).all():
            return x
        lo = a if np.isfinite(x[0]) else self._finite_before(a)
        hi = b if np.isfinite(x[-1]) else self._finite_after(b)
        if (lo, hi) != (a, b):
            x = self.raw(lo, hi)
        return fill_nan(x, in_place=True)[a - lo:b - lo]

    def _finite_before(self, a: int) -> int:
        """The last finite row before a (a when there is none: the gap runs from the start)."""
        for hi in range(a, 0, -_SCAN):
            lo = max(0, hi - _SCAN)
            finite = np.flatnonzero(np.isfinite(self.raw(lo, hi)))
            if len(finite):
                return lo + int(finite[-1])
        return a

    def _finite_after(self, b: int) -> int:
        """One past the first finite row from b on (b when there is none)."""
        for lo in range(b, self.n, _SCAN):
            finite = np.flatnonzero(np.isfinite(self.raw(lo, min(self.n, lo + _SCAN))))
            if len(finite):
                return lo + int(finite[0]) + 1
        return b


class SessionBand:
    """The session's step band (SEGMENT_BAND_HZ) a block at a time: `blocks()` in order,
    `block(k)` again later (filtered anew: the same samples give the same values). Each
    block is filtered with margin_s of signal on either side. block, margin_s: default
    BAND_BLOCK and BAND_MARGIN_S as they are when the band is made."""

    def __init__(self, signal: SessionGaitSignal, rate_hz: float, block: int | None = None,
                 margin_s: float | None = None):
        self.signal, self.rate_hz = signal, rate_hz
        self.size = int(block or BAND_BLOCK)
        self.margin = int(round((BAND_MARGIN_S if margin_s is None else margin_s) * rate_hz))

    @property
    def n(self) -> int:
        return self.signal.n

    def bounds(self, k: int) -> tuple[int, int]:
        return k * self.size, min(self.n, (k + 1) * self.size)

    def blocks(self) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
        """(lo, hi, signal[lo:hi], band[lo:hi]) of consecutive blocks covering the session."""
        for k in range(-(-self.n // self.size)):
            yield self.bounds(k) + self.block(k)

    def block(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(signal[lo:hi], band[lo:hi]) of block k."""
        lo, hi = self.bounds(k)
        a, b = max(0, lo - self.margin), min(self.n, hi + self.margin)
        x = self.signal.rows(a, b)
        return x[lo - a:hi - a], bandpass(x, self.rate_hz, *SEGMENT_BAND_HZ)[lo - a:hi - a]
