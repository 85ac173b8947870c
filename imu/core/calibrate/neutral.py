"""The neutral: a still, upright moment whose gravity fixes each sensor's vertical.

Real people sway (2-14 deg over a 15 s "upright" span) and are still for about a second, not
three. So the neutral is the *stillest* stretch of what is available, judged on the tilt of
every sensor, never a whole labelled span taken verbatim:
- labelled span: trimmed at both ends (the wearer settles in and starts moving early), then
  its stillest window; refused, with the reason, when too short after trimming;
- unlabelled: the first stretch of at least `neutral_min_s` where every sensor is still,
  narrowed to its first window that keeps within the still gate.
The window is as long as possible up to `neutral_window_s` while its tilt spread stays
inside the still gate, so slow sway shortens the window instead of refusing it.
"""

from __future__ import annotations

import numpy as np

from imu.core.calibrate.model import CalibrationError, runs, tilt_between, mean_quat, up_in_sensor
from imu.core.context import lagged_angular_speed, trailing_mean
from imu.profile import Thresholds

SPREAD_MARGIN = 0.75  # cut inside the gate's limit, so the chosen window's spread passes it


def angular_speed_dps(t: np.ndarray, q: np.ndarray, smooth_s: float = 0.5) -> np.ndarray:
    """Angular speed of a sensor over the trailing `smooth_s`; NaN where nothing is known."""
    if len(t) < 2:
        return np.zeros(len(t))
    rate = 1.0 / np.median(np.diff(t))
    speed = lagged_angular_speed(q[:0], q, rate)
    return trailing_mean(np.empty(0), speed, max(int(round(smooth_s * rate)), 1))


def _close_small_gaps(mask: np.ndarray, max_gap: int) -> np.ndarray:
    """Fill False runs of at most max_gap samples that lie between True runs."""
    out = mask.copy()
    for a, b in runs(~mask):
        if 0 < a and b < len(mask) and b - a <= max_gap:
            out[a:b] = True
    return out


def _window_variance(ups: list[np.ndarray], a: int, b: int, length: int) -> np.ndarray:
    """Summed variance of every sensor's up vector over each window of `length` samples
    starting at a .. b - length (inf where a window holds unknown samples)."""
    count = b - a - length + 1
    total = np.zeros(count)
    for up in ups:
        u = up[a:b]
        bad = ~np.isfinite(u).all(axis=1)
        u = np.where(bad[:, None], 0.0, u)
        c1 = np.vstack([np.zeros((1, 3)), np.cumsum(u, axis=0)])
        c2 = np.vstack([np.zeros((1, 3)), np.cumsum(u * u, axis=0)])
        cb = np.concatenate([[0], np.cumsum(bad)])
        s1 = c1[length:] - c1[:-length]
        s2 = c2[length:] - c2[:-length]
        var = (s2 / length - (s1 / length) ** 2).sum(axis=1)
        total += np.where(cb[length:] - cb[:-length] > 0, np.inf, np.maximum(var, 0.0))
    return total


def _spread(quats_e: dict[str, np.ndarray], a: int, b: int) -> float:
    """Largest tilt of any sensor from its own mean over [a, b), deg."""
    worst = 0.0
    for q in quats_e.values():
        part = q[a:b]
        part = part[np.isfinite(part).all(axis=1)]
        if len(part):
            worst = max(worst, float(np.max(tilt_between(part, mean_quat(part)))))
    return worst


def stillest_window(t, quats_e: dict[str, np.ndarray], a: int, b: int, thr: Thresholds,
                    min_s: float, earliest: bool = False) -> tuple[int, int] | None:
    """The longest window (up to neutral_window_s, at least min_s) inside [a, b) whose tilt
    spread passes the still gate: where every sensor's tilt varies least, or with `earliest`
    the first one that passes (a slow posture change may follow inside a still stretch, and
    the neutral is what came before it)."""
    dt = float(np.median(np.diff(t)))
    longest = min(b - a, int(round(thr.neutral_window_s / dt)))
    shortest = max(int(round(min_s / dt)), 2)
    limit = SPREAD_MARGIN * thr.still_max_spread_deg
    stride = max(int(round(0.25 / dt)), 1)
    lengths = [longest]
    while lengths[-1] > shortest:
        lengths.append(max(shortest, int(lengths[-1] * 0.7)))
    lengths = [n for n in lengths if n >= shortest]
    if earliest:  # the first start that holds a window, as long a window as it holds
        usable = [n for n in lengths if b - a >= n]
        for offset in range(0, b - a - (usable[-1] if usable else b - a) + 1, stride):
            for n in usable:
                lo, hi = a + offset, a + offset + n
                known = min(np.isfinite(q[lo:hi, 0]).mean() for q in quats_e.values())
                if hi <= b and known >= 0.8 and _spread(quats_e, lo, hi) <= limit:
                    return lo, hi  # (a lost packet or two inside does not matter)
        return None
    ups = [up_in_sensor(q) for q in quats_e.values()]
    for n in lengths:
        variance = _window_variance(ups, a, b, n)
        if np.isfinite(variance).any():
            start = a + int(np.argmin(variance))
            if _spread(quats_e, start, start + n) <= limit:
                return start, start + n
    return None


def still_mask(t, quats_e: dict[str, np.ndarray], thr: Thresholds) -> np.ndarray:
    """Samples where every sensor turns slower than still_max_rate_dps (unknown: not still);
    a lost packet or two inside a still stretch does not split it."""
    still = np.ones(len(t), dtype=bool)
    for q in quats_e.values():
        still &= angular_speed_dps(t, q) < thr.still_max_rate_dps  # NaN compares False
    dt = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
    return _close_small_gaps(still, int(round(0.3 / dt)))


def find_neutral(t, quats_e, thr: Thresholds, start_s: float = 0.0, min_s: float | None = None):
    """First still stretch of at least `min_s` (default neutral_still_s, what the live guide
    asks for; data without a guide use neutral_min_s), narrowed to its first window that
    keeps within the still gate."""
    if len(t) < 3:
        return None
    min_s = thr.neutral_still_s if min_s is None else min_s
    still = still_mask(t, quats_e, thr) & (t >= start_s)
    dt = float(np.median(np.diff(t)))
    for a, b in runs(still):
        if (b - a) * dt < min_s:
            continue
        found = stillest_window(t, quats_e, a, b, thr, min_s, earliest=True)
        if found is not None:
            return found
    return None


def labelled_neutral(t, quats_e, span: tuple[float, float], thr: Thresholds) -> tuple[int, int]:
    """The stillest window of a labelled neutral span; CalibrationError when it cannot hold one."""
    start, end = span[0] + thr.neutral_trim_s, span[1] - thr.neutral_trim_s
    length = end - start
    where = f"the labelled neutral {span[0]:.1f}-{span[1]:.1f} s"
    if length < thr.neutral_min_s:
        raise CalibrationError(
            f"{where} is {max(length, 0.0):.1f} s long after trimming {thr.neutral_trim_s:g} s at each "
            f"end; it needs at least {thr.neutral_min_s:g} s")
    sel = np.flatnonzero((t >= start) & (t <= end))
    if len(sel) < 3:
        raise CalibrationError(f"{where} holds no sensor data")
    found = stillest_window(t, quats_e, int(sel[0]), int(sel[-1]) + 1, thr, thr.neutral_min_s)
    if found is None:
        raise CalibrationError(
            f"{where} holds no {thr.neutral_min_s:g} s in which every sensor kept within "
            f"{SPREAD_MARGIN * thr.still_max_spread_deg:.1f} deg: nobody sat or stood still there")
    return found
