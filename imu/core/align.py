"""Device clocks onto the session timeline, per sensor (docs/architecture.md section 3).

Host arrival = true time + latency, and latency is never negative, so the lower envelope of
(host arrival - device time) over time is the clock offset plus drift. The envelope is
estimated from the minimum delay in each window of device time; a straight line through
the recent window minima, lowered so no minimum lies under it, maps device time to session
time.

Everything is causal: the mapping used for a sample depends only on the frames that arrived
before it (and on its own frame), and the fit is refreshed only at window boundaries of
device time. Feeding a stream in chunks therefore gives exactly what feeding it whole gives.

Devices without a clock (device_time NaN) get a synthetic one: sample count / nominal rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from imu.samples import SampleBlock, TimedSamples

WINDOW_S = 10.0  # device seconds per envelope window
FIT_WINDOWS = 90  # windows in the drift fit (15 minutes)
DROPOUT_S = 0.25  # arrivals this far behind the synthetic clock mean samples were lost


@dataclass
class ClockAligner:
    nominal_rate_hz: float | None = None  # only used for devices without a clock
    window_s: float = WINDOW_S
    fit_windows: int = FIT_WINDOWS
    _window_index: int | None = None
    _window_min: float = np.inf  # running min of (host - device) in the current window
    _window_min_dev: float = np.nan
    _minima: list[tuple[float, float]] = field(default_factory=list)  # (device s, min delay)
    _intercept: float | None = None  # delay model: intercept + slope * (device - ref)
    _slope: float = 0.0
    _ref: float = 0.0
    _samples_seen: int = 0
    _clockless_shift: float = 0.0  # seconds added to the synthetic clock over dropouts
    _clockless_floor: float = np.inf  # smallest arrival delay against the synthetic clock
    _last_t: float = -np.inf

    def align(self, block: SampleBlock) -> TimedSamples:
        """Session times for a block of decoded samples (in arrival order)."""
        n = len(block)
        device = block.device_time_s
        if n and np.all(np.isnan(device)):
            device = self._synthetic_clock(block.host_time_s)
        self._samples_seen += n
        delay = _frame_min(block.host_time_s - device, block.host_time_s)
        t = np.empty(n)
        windows = np.floor(device / self.window_s).astype(np.int64) if n else np.empty(0, np.int64)
        start = 0
        while start < n:
            w = windows[start]
            if self._window_index is None:
                self._window_index = int(w)
            if w != self._window_index:
                self._close_window(int(w))
            end = start + int(np.searchsorted(windows[start:], w, side="right"))
            seg_delay = delay[start:end]
            running_min = np.minimum.accumulate(np.concatenate([[self._window_min], seg_delay]))[1:]
            t[start:end] = device[start:end] + self._offsets(device[start:end], running_min)
            idx = int(np.argmin(seg_delay))
            if seg_delay[idx] < self._window_min:
                self._window_min = float(seg_delay[idx])
                self._window_min_dev = float(device[start + idx])
            start = end
        # session time never runs backwards within a sensor (a refit may shift it slightly)
        if n:
            t = np.maximum.accumulate(np.concatenate([[self._last_t], t]))[1:]
            self._last_t = float(t[-1])
        quat = block.quat.copy()
        if block.vibrating is not None and block.vibrating.any():
            quat[block.vibrating] = np.nan  # motor vibration: never used for angles
        return TimedSamples(t, quat, block.acc, block.gyro, block.vibrating)

    def _synthetic_clock(self, host: np.ndarray) -> np.ndarray:
        """Sample count / nominal rate for a device without a clock, moved forward over a
        dropout: when arrivals run ahead of the count by more than any latency, samples were
        lost, and the count must not pull what follows back into the gap."""
        rate = self.nominal_rate_hz or _rate_from_host(host)
        device = (self._samples_seen + np.arange(len(host))) / rate + self._clockless_shift
        delay = host - device
        while True:
            floor = np.minimum.accumulate(np.concatenate([[self._clockless_floor], delay]))[1:]
            ahead = np.flatnonzero(delay - floor > DROPOUT_S)
            if not len(ahead):
                break
            j = int(ahead[0])
            shift = delay[j] - floor[j]
            device[j:] += shift
            delay[j:] -= shift
            self._clockless_shift += shift
        self._clockless_floor = float(floor[-1])
        return device

    def _offsets(self, device: np.ndarray, running_min: np.ndarray) -> np.ndarray:
        if self._intercept is None:
            return running_min  # first window: best so far is the smallest delay seen
        model = self._intercept + self._slope * (device - self._ref)
        # a new lower delay than the model predicts means the model sits too high
        return np.minimum(model, running_min)

    def _close_window(self, new_index: int) -> None:
        if np.isfinite(self._window_min):
            self._minima.append((self._window_min_dev, self._window_min))
            self._minima = self._minima[-self.fit_windows:]
            self._refit()
        self._window_index = new_index
        self._window_min = np.inf
        self._window_min_dev = np.nan

    def _refit(self) -> None:
        dev = np.array([m[0] for m in self._minima])
        d = np.array([m[1] for m in self._minima])
        self._ref = float(dev[-1])
        if len(d) >= 3 and dev[-1] - dev[0] > 0:
            slope, _ = np.polyfit(dev - self._ref, d, 1)
        else:
            slope = 0.0
        residual = d - slope * (dev - self._ref)
        self._slope = float(slope)
        self._intercept = float(residual.min())  # lowered: an envelope, not a mean

    @property
    def drift_ppm(self) -> float:
        return self._slope * 1e6

    @property
    def residual_ms(self) -> float | None:
        """RMS distance of the window minima from the fitted envelope, in ms."""
        if self._intercept is None or len(self._minima) < 3:
            return None
        dev = np.array([m[0] for m in self._minima])
        d = np.array([m[1] for m in self._minima])
        model = self._intercept + self._slope * (dev - self._ref)
        return float(np.sqrt(np.mean((d - model) ** 2)) * 1e3)


def _frame_min(delay: np.ndarray, host: np.ndarray) -> np.ndarray:
    """Each sample gets the smallest delay of its notification: a frame arrives whole, so its
    last sample bounds the latency of all of them (and they keep their spacing)."""
    if len(delay) < 2:
        return delay
    starts = np.flatnonzero(np.concatenate([[True], host[1:] != host[:-1]]))
    mins = np.minimum.reduceat(delay, starts)
    return np.repeat(mins, np.diff(np.concatenate([starts, [len(delay)]])))


def _rate_from_host(host: np.ndarray) -> float:
    span = host[-1] - host[0] if len(host) > 1 else 0.0
    return (len(host) - 1) / span if span > 0 else 100.0


def align_block(block: SampleBlock, nominal_rate_hz: float | None = None) -> TimedSamples:
    """Align a whole recorded stream of one sensor (same result as aligning it in chunks)."""
    return ClockAligner(nominal_rate_hz).align(block)
