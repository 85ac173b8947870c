"""Sensors that slipped on the skin or came off, told apart from what the wearer did.

Pure: arrays in, issues and an invalid mask out (offline: a slip is only known to be one
once it is clear the step never came back).

Slipped: the sensor's mounting jumped and stayed. It shows as a step in a relative angle
that involves the sensor (more than `slip_jump_deg` within 0.2 s, the level 0.3-3 s after
differing from the level before by as much, in the same direction). A posture does the
same at its start: a quick slouch, a side bend, a twist. What a posture cannot do is stay
forever: the wearer comes back. So a step is a slip only when the angle never again returns
(for a second) to within max(slip_jump_deg / 2, a quarter of the step) of its level before
the step, or beyond it; and a step that brings the angle back to where it lived before
(its median before the first step, moved by each slip found) ends a posture. The price: a sensor that slipped and was then pressed back exactly
where it was is taken for a posture that came back (a re-attached sensor is what a new
calibration is for). Which sensor slipped is read from which one's inclination moved with
the step (a thoracic-joint step with the trunk inclination -> thoracic sensor; with the
lumbar inclination -> lumbar sensor; a lumbar-joint step without the lumbar inclination ->
sacral sensor).

Stopped: a sensor whose inclination is frozen (3 s std below `sensor_stopped_std_deg`) for
STOPPED_MIN_S while another sensor shows gait: walking moves every trunk segment, so a
sensor that stays still then lies on a table. Trunk movement over a still pelvis (seated
reaches, side bends) is not gait and never makes the pelvis sensor "stopped". A sensor
whose own acceleration still shows the body's motion has not stopped, however stiff its
inclination.

With a single sensor there is no relative angle and no other sensor: neither check applies
(imu.core.layout says so in the report).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imu.core.columns import time_axis
from imu.core.exposure import median_step
from imu.core.strides import acceleration_magnitude, bandpass, step_period
from imu.profile import Thresholds

STOPPED_MIN_S = 6.0  # longer than any posture change that could freeze one sensor
ROLLING_BLOCK = 1 << 16  # samples per block of a rolling statistic (bounded temporaries)
COME_BACK_S = 1.0  # how long a return to the old level must last to show a posture
_RELATIVE = {"thoracic": ("thoracic_flexion", "thoracic_lateral_bend"),
             "lumbar": ("lumbar_flexion", "lumbar_lateral_bend")}
_INCLINATION = {"thoracic": ("trunk_inclination", "trunk_lateral_inclination"),
                "lumbar": ("lumbar_inclination", "lumbar_lateral_inclination")}
# the inclination that moves with a relative angle's plane, per sensor
_SAME_PLANE = {"flexion": 0, "lateral_bend": 1}


@dataclass
class SensorIssue:
    sensor: str
    kind: str  # "slipped" (its mounting jumped and stayed) or "stopped" (came off)
    start_s: float
    end_s: float
    size_deg: float = 0.0

    def as_dict(self) -> dict:
        return {"sensor": self.sensor, "kind": self.kind, "start_s": round(self.start_s, 2),
                "end_s": round(self.end_s, 2), "size_deg": round(self.size_deg, 1)}

    def sentence(self) -> str:
        what = ("slipped on the skin (its reading jumped and never came back)" if self.kind == "slipped"
                else "stopped moving with the body (it came off)")
        return (f"{self.sensor} sensor {what} at {self.start_s:.0f} s: "
                f"{self.start_s:.0f}-{self.end_s:.0f} s not graded")


def _levels(x: np.ndarray, c: int, rate: float) -> tuple[float, float]:
    near, far = int(0.3 * rate), int(3.0 * rate)
    before = np.asarray(x[max(0, c - far):max(0, c - near)], float)
    after = np.asarray(x[c + near:c + far], float)
    if np.isfinite(before).sum() < rate or np.isfinite(after).sum() < rate:
        return float("nan"), float("nan")
    return float(np.nanmedian(before)), float(np.nanmedian(after))


def _jumps(x: np.ndarray, rate: float, jump_deg: float) -> list[tuple[int, float, float]]:
    """(index, size, level before) of fast steps that hold for at least 3 s. x: float32 (as
    the Analysis keeps it) or float64; read in float64 where it is read."""
    if len(x) < int(6 * rate) or not any(np.isfinite(x[lo:lo + ROLLING_BLOCK]).any()
                                         for lo in range(0, len(x), ROLLING_BLOCK)):
        return []
    lag = max(1, int(round(0.2 * rate)))
    out, last = [], -np.inf
    far = int(3.0 * rate)
    for i in _fast_changes(x, lag, jump_deg):
        if i - last < far:
            continue
        c = int(i - lag // 2)
        before, after = _levels(x, c, rate)
        size = after - before
        if np.isfinite(size) and abs(size) > jump_deg and np.sign(size) == np.sign(float(x[i]) - float(x[i - lag])):
            out.append((c, float(size), before))
            last = i
    return out


def _fast_changes(x: np.ndarray, lag: int, jump_deg: float) -> np.ndarray:
    """Indices i where |x[i] - x[i - lag]| > jump_deg (unknown is no change), a block at a
    time so a long session needs no whole-session temporaries."""
    found = []
    for lo in range(lag, len(x), ROLLING_BLOCK):
        hi = min(len(x), lo + ROLLING_BLOCK)
        with np.errstate(invalid="ignore"):
            change = np.asarray(x[lo:hi], float) - np.asarray(x[lo - lag:hi - lag], float)
            found.append(lo + np.flatnonzero(np.abs(change) > jump_deg))
    return np.concatenate(found) if found else np.empty(0, np.int64)


class _MovingMean:
    """Centred mean over `window` samples of the finite values (NaN where none), read a
    stretch at a time (`mean[lo:hi]`): the running sums are kept only at every
    ROLLING_BLOCK-th sample and summed on from there when read, the same sequential
    additions as one pass over the session, so the values are that pass's; a posture's
    return is looked for over minutes, and a whole-session float64 mean per relative angle
    was the largest part of finding slips in a long session."""

    def __init__(self, x: np.ndarray, window: int):
        self.x, self.h = x, window // 2
        self.marks = []  # (sum, count) of the samples before each multiple of ROLLING_BLOCK
        total, count = 0.0, 0
        for lo in range(0, len(x), ROLLING_BLOCK):
            self.marks.append((total, count))
            values, finite = self._columns(x[lo:lo + ROLLING_BLOCK])
            total = np.cumsum(np.concatenate([[total], values]))[-1]
            count += int(finite.sum())

    @staticmethod
    def _columns(part) -> tuple[np.ndarray, np.ndarray]:
        part = np.asarray(part, float)
        finite = np.isfinite(part)
        return np.where(finite, part, 0.0), finite

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, rows: slice) -> np.ndarray:
        lo, hi, _ = rows.indices(len(self.x))
        hi = max(lo, hi)
        if hi == lo:
            return np.empty(0)
        n = len(self.x)
        first, last = max(lo - self.h, 0), min(hi + self.h, n)  # running sums needed
        base = first - first % ROLLING_BLOCK
        total, count = self.marks[base // ROLLING_BLOCK]
        values, finite = self._columns(self.x[base:last])
        sums = np.cumsum(np.concatenate([[total], values]))
        counts = np.cumsum(np.concatenate([[count], finite.astype(np.int64)]))
        idx = np.arange(lo, hi)
        a, b = np.clip(idx - self.h, 0, n) - base, np.clip(idx + self.h + 1, 0, n) - base
        size = counts[b] - counts[a]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(size > 0, (sums[b] - sums[a]) / np.maximum(size, 1), np.nan)


def _window_sums(n: int, x: np.ndarray, columns, before: int, after: int, block: int | None = None):
    """For each block lo..hi of `block` samples (default ROLLING_BLOCK): (lo, hi, window lengths, sums), the
    sums of each of `columns(x[a:b])`'s series over the windows [i - before, i + after)
    (clipped to 0..n). Running sums carried from block to block are the same sequential
    additions as one pass over the session, so the values are those of one pass; only a
    block's temporaries are ever held."""
    block = block or ROLLING_BLOCK
    base, carried = 0, None  # the running sums of the samples before `base`
    for lo in range(0, n, block):
        hi = min(n, lo + block)
        top = min(max(hi - 1 + after, hi), n)  # the furthest window end this block needs
        parts = columns(x[base:top])
        if carried is None:
            carried = [np.cumsum(part[:0]).dtype.type(0) for part in parts]
        running = [np.cumsum(np.concatenate([np.array([c]), part])) for c, part in zip(carried, parts)]
        idx = np.arange(lo, hi)
        a = np.clip(idx - before, 0, n) - base
        b = np.clip(idx + after, 0, n) - base
        yield lo, hi, b - a, [r[b] - r[a] for r in running]
        nxt = max(hi - before, 0)  # where the next block's first window starts
        carried, base = [r[nxt - base] for r in running], nxt


def _comes_back(smooth: np.ndarray, c: int, size: float, before: float, rate: float,
                jump_deg: float) -> bool:
    """Does the angle return to (or past) its level before the step, for COME_BACK_S?

    Read forward in growing blocks, stopping at the first such return: a posture usually
    ends within minutes, and only a slip needs the rest of the session read."""
    tol = max(0.5 * jump_deg, 0.25 * abs(size))
    lo, end = c + int(0.3 * rate), len(smooth)  # read from 0.3 s after the step
    need = max(1, int(COME_BACK_S * rate))
    sign = np.sign(size)
    run = 0  # samples back in a row up to the block's start
    block = 4096
    while lo < end:
        back = sign * (smooth[lo:lo + block] - before) < tol  # NaN compares False: unknown is not back
        lo, block = lo + len(back), min(2 * block, ROLLING_BLOCK)
        away = np.flatnonzero(~back)
        if len(away) == 0:
            run += len(back)
        else:
            inside = np.diff(away) - 1  # runs between two samples away
            if run + away[0] >= need or (len(inside) and inside.max() >= need):
                return True
            run = len(back) - 1 - int(away[-1])
        if run >= need:
            return True
    return False


def _home(x: np.ndarray, first_step: int) -> float:
    """Where the angle lives before any step: its median up to the first one (else 0, the
    calibrated neutral)."""
    head = np.asarray(x[:first_step], float)
    return float(np.nanmedian(head)) if np.isfinite(head).any() else 0.0


def _shift(angles: dict, name: str | None, c: int, rate: float) -> float:
    if name is None or name not in angles:
        return float("nan")
    before, after = _levels(angles[name], c, rate)  # reads (and widens) only around c
    return abs(after - before)


def _slipped_sensor(joint: str, plane: int, c: int, size: float, angles, rate) -> str:
    """The sensor of a confirmed step: the one whose inclination moved with it."""
    upper = "thoracic" if joint == "thoracic" else "lumbar"
    lower = "lumbar" if joint == "thoracic" else "sacral"
    moved = {}
    for sensor in (upper, lower):
        names = _INCLINATION.get(sensor)
        moved[sensor] = _shift(angles, names[plane] if names else None, c, rate)
    half = 0.5 * abs(size)
    if moved[upper] >= half and not moved[lower] >= half:
        return upper
    if moved[lower] >= half and not moved[upper] >= half:
        return lower
    if lower == "sacral" and not moved[upper] >= half:
        return "sacral"  # no sacral inclination is reported: the lumbar one did not move
    return upper


def detect_sensor_issues(t: np.ndarray, angles: dict[str, np.ndarray], thresholds=None,
                         acc: dict[str, np.ndarray] | None = None) -> tuple[list[SensorIssue], np.ndarray]:
    """(issues, invalid mask) of a whole session; see the module text for the rules."""
    thr = thresholds or Thresholds()
    t = time_axis(t)
    n = len(t)
    invalid = np.zeros(n, bool)
    if n < 10:
        return [], invalid
    rate = 1.0 / median_step(t)
    slips: list[SensorIssue] = []
    for joint, names in _RELATIVE.items():
        for plane, name in enumerate(names):
            if name not in angles:
                continue
            x = angles[name]  # kept as it is (float32, an array or a series): each reader widens its part
            steps = _jumps(x, rate, thr.slip_jump_deg)
            if not steps:
                continue
            smooth = _MovingMean(x, max(1, int(0.5 * rate)))
            home = _home(x, steps[0][0])
            for c, size, before in steps:
                tol = max(0.5 * thr.slip_jump_deg, 0.25 * abs(size))
                if abs(before + size - home) < tol <= abs(before - home):
                    continue  # the end of a posture: back to where the angle lives
                if _comes_back(smooth, c, size, before, rate, thr.slip_jump_deg):
                    continue
                home += size  # the sensor's zero moved: later postures return here
                sensor = _slipped_sensor(joint, plane, c, size, angles, rate)
                slips.append(SensorIssue(sensor, "slipped", float(t[c]), float(t[-1]), abs(size)))
    issues: list[SensorIssue] = []
    for slip in sorted(slips, key=lambda s: s.start_s):
        # one slip shows in several angles (flexion and bend, both joints): keep the first
        if any(s.sensor == slip.sensor and s.kind == "slipped" for s in issues):
            continue
        issues.append(slip)
        invalid[int(np.searchsorted(t, slip.start_s, side="left")):] = True  # t >= the slip
    issues += _stopped(t, angles, rate, thr, invalid, acc or {})
    issues.sort(key=lambda s: s.start_s)
    return issues, invalid


def _rolling_std_blocks(x: np.ndarray, window: int, block: int | None = None):
    """(lo, hi, std) for each block lo..hi: the std over samples [i - window // 2,
    i + window // 2) (clipped), NaN read as 0, from running sums (`_window_sums`); a block
    at a time, so the caller keeps what it needs of it, not a whole-session float array."""
    h = window // 2

    def columns(part):
        xf = np.nan_to_num(np.asarray(part, float))
        return xf, xf * xf

    for lo, hi, length, (s1, s2) in _window_sums(len(x), x, columns, h, h, block):
        m = np.maximum(length, 1)
        var = s2 / m - (s1 / m) ** 2
        yield lo, hi, np.sqrt(np.maximum(var, 0.0))


def _windows(n: int, rate: float, a: int, b: int):
    """6 s windows every second covering samples a..b."""
    half, hop = int(3.0 * rate), max(1, int(rate))
    for centre in range(a, b, hop):
        yield centre, slice(max(0, centre - half), min(n, centre + half))


def _has_gait(x: np.ndarray, rate: float, thr: Thresholds, is_acc: bool) -> bool:
    x = np.asarray(x, float)
    if len(x) < 4 * rate or np.isfinite(x).mean() < 0.8:
        return False
    x = np.where(np.isfinite(x), x, np.nanmean(x))
    period, ad1, _ = step_period(x, rate)
    amp = float(np.std(bandpass(x, rate, 0.8, 6.0)))
    return bool(np.isfinite(period) and ad1 >= thr.gait_min_regularity and amp >= thr.gait_floor(is_acc))


def _acc_moves(a: np.ndarray, rate: float, thr: Thresholds) -> bool:
    """The sensor's own acceleration shows the body's motion (step-band content)."""
    mag = acceleration_magnitude(a)
    if np.isfinite(mag).mean() < 0.8:
        return False
    mag = np.where(np.isfinite(mag), mag, np.nanmean(mag))
    return float(np.std(bandpass(mag, rate, 0.8, 6.0))) >= 0.5 * thr.gait_min_amplitude_g


def _frozen_stretches(angles, win: int, thr: Thresholds) -> dict[str, list[tuple[int, int]]]:
    """Per sensor, the [a, b) sample stretches where its inclination is frozen (the larger of
    its inclination spreads below the stopped spread) while another sensor's moves (above
    the moving spread): read a block at a time, so no whole-session mask is held."""
    names = {sensor: [nm for nm in nms if nm in angles] for sensor, nms in _INCLINATION.items()}
    names = {sensor: nms for sensor, nms in names.items() if nms}
    if len(names) < 2:
        return {}
    # smaller blocks than elsewhere: four or more spreads are read side by side (at 65536
    # samples their temporaries were the largest part of an 8-hour report's peak)
    block = max(1, ROLLING_BLOCK // 8)
    streams = {(sensor, nm): _rolling_std_blocks(angles[nm], win, block)
               for sensor, nms in names.items() for nm in nms}
    out: dict[str, list[tuple[int, int]]] = {sensor: [] for sensor in names}
    open_at: dict[str, int | None] = {sensor: None for sensor in names}  # a stretch still going
    for blocks in zip(*streams.values()):
        lo = blocks[0][0]
        still, moves = {}, {}
        for (sensor, _), (_, _, spread) in zip(streams, blocks):
            below, above = spread < thr.sensor_stopped_std_deg, spread > thr.sensor_moving_std_deg
            still[sensor] = below if sensor not in still else still[sensor] & below
            moves[sensor] = above if sensor not in moves else moves[sensor] | above
        for sensor in names:
            # gait moves the others' inclination: only where they move is gait worth looking for
            frozen = still[sensor] & np.logical_or.reduce([moves[o] for o in names if o != sensor])
            was = np.concatenate([[open_at[sensor] is not None], frozen[:-1]])
            for j in np.flatnonzero(frozen != was).tolist():
                if frozen[j]:
                    open_at[sensor] = lo + j
                else:
                    out[sensor].append((open_at[sensor], lo + j))
                    open_at[sensor] = None
    n = len(angles[next(iter(names.values()))[0]])
    for sensor, start in open_at.items():
        if start is not None:
            out[sensor].append((start, n))
    return out


def _stopped(t, angles, rate, thr: Thresholds, invalid: np.ndarray, acc: dict) -> list[SensorIssue]:
    issues = []
    n = len(t)
    stretches = _frozen_stretches(angles, int(3.0 * rate), thr)
    for sensor, frozen in stretches.items():
        others = [k for k in stretches if k != sensor]
        for a, b in frozen:
            if (b - a) / rate < STOPPED_MIN_S:
                continue
            off = np.zeros(b - a, bool)  # the stretch's samples the body showed it lay still
            for centre, rows in _windows(n, rate, a, b):
                if sensor in acc and _acc_moves(acc[sensor][rows], rate, thr):
                    continue  # the body still moves this sensor
                if any(_has_gait(angles[_INCLINATION[o][0]][rows], rate, thr, False)
                       or (o in acc and _has_gait(acceleration_magnitude(acc[o][rows]), rate, thr, True))
                       for o in others if _INCLINATION[o][0] in angles):
                    off[centre - a:min(b, centre + int(rate)) - a] = True
            padded_off = np.concatenate([[False], off, [False]])
            spans = a + np.flatnonzero(np.diff(padded_off.astype(np.int8)))
            for s0, s1 in zip(spans[::2], spans[1::2]):
                if (s1 - s0) / rate >= STOPPED_MIN_S:
                    issues.append(SensorIssue(sensor, "stopped", float(t[s0]), float(t[s1 - 1])))
                    invalid[s0:s1] = True
    return issues
