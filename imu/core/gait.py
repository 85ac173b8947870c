"""Steps of each walking and running bout: step count, step times, cadence.

Pure: arrays in, GaitBout out. The steps come from imu.core.strides (the peaks of the gait
signal band-passed around the bout's own step frequency); a bout is a walking or running
segment of imu.core.activity, or any span a caller names (a validation's trial).

A step rhythm needs samples: steps come at 1.4-4 Hz, and a sensor sampled too slowly folds
them onto false rhythms (at 5 Hz, 2.8 Hz running reads as 2.2 Hz) or loses each step's
sharp impact between samples, so the stride reads as the step (on the real running data of
imu.validate_real, every 10th / 20th sample: 4 of 31 trials at 25 Hz and 11 of 31 at 10 Hz
came out at half the cadence, a runner "walking" at 90 spm; at 50 Hz and above every step
is counted and the cadence is within 0.2 %). So gait needs GAIT_MIN_RATE_HZ, ten samples
for the quickest step, and the found step must have SAMPLES_PER_STEP_MIN samples. The rate
that counts is the sensor's own, not the analysis grid's (the grid interpolates; it cannot
restore what was never sampled): below it a bout carries a note and no numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from imu.core.columns import time_axis
from imu.core.strides import STEP_BAND_HZ, detect_steps, gait_signal

SAMPLES_PER_STEP_MIN = 10  # below this a step's peak is placed too coarsely to count on
GAIT_MIN_RATE_HZ = SAMPLES_PER_STEP_MIN * STEP_BAND_HZ[1]  # 40 Hz: the fastest steps placed too
MIN_BOUT_S = 2.0  # the autocorrelation needs two slow steps and a stride after them


def rate_problem(sensor_rate_hz: float | None) -> str | None:
    """Why steps cannot be measured at this sensor rate, or None when they can."""
    if sensor_rate_hz is None or not np.isfinite(sensor_rate_hz) or sensor_rate_hz >= GAIT_MIN_RATE_HZ:
        return None
    return (f"the sensor sends {sensor_rate_hz:.3g} samples/s; steps (up to 4 per second) need at "
            f"least {GAIT_MIN_RATE_HZ:g} samples/s, below that the stride or an alias passes for the step")


def too_slow_notes(rates_hz: dict[str, float | None]) -> list[str]:
    """One report note per sensor too slow for steps and cadence (its angles still count)."""
    return [f"{location} sensor: angles are measured, but not steps, cadence or strides: {problem}"
            for location, rate in rates_hz.items() if (problem := rate_problem(rate))]


@dataclass
class GaitBout:
    kind: str  # "walking", "running", or what the caller named the span
    start_s: float
    end_s: float
    step_times_s: np.ndarray = field(default_factory=lambda: np.empty(0))
    cadence_spm: float = float("nan")  # from the autocorrelation (robust to a missed step)
    signal: str = ""
    note: str | None = None  # why there are no steps, when there are none

    @property
    def step_count(self) -> int:
        return int(len(self.step_times_s))

    @property
    def step_intervals_s(self) -> np.ndarray:
        return np.diff(self.step_times_s)

    def as_dict(self) -> dict:
        d = self.step_intervals_s
        out = {"kind": self.kind, "start_s": round(self.start_s, 2), "end_s": round(self.end_s, 2),
               "signal": self.signal or None}
        cadence = round(float(self.cadence_spm), 1) if np.isfinite(self.cadence_spm) else None
        if self.note is not None:
            return out | {"step_count": None, "cadence_spm": cadence, "note": self.note}
        return out | {
            "step_count": self.step_count,
            "cadence_spm": cadence,
            "step_time_s": {"median": round(float(np.median(d)), 3) if len(d) else None,
                            "p10": round(float(np.percentile(d, 10)), 3) if len(d) else None,
                            "p90": round(float(np.percentile(d, 90)), 3) if len(d) else None,
                            "cv_pct": round(float(100 * np.std(d) / np.mean(d)), 1) if len(d) > 2 else None},
            "step_times_s": [round(float(x), 3) for x in self.step_times_s],
        }


def bout_steps(t: np.ndarray, angles: dict[str, np.ndarray], acc: dict | None, kind: str,
               start_s: float, end_s: float, sensor_rate_hz: float | None = None) -> GaitBout:
    """The steps between start_s and end_s (a note instead when they cannot be measured)."""
    bout = GaitBout(kind, float(start_s), float(end_s))
    problem = rate_problem(sensor_rate_hz)
    if problem is not None:
        bout.note = f"steps not measured: {problem}"
        return bout
    t = time_axis(t)
    # the samples in [start_s, end_s] by binary search (a mask per bout is quadratic on a day)
    sl = slice(int(np.searchsorted(t, start_s, side="left")), int(np.searchsorted(t, end_s, side="right")))
    if sl.stop - sl.start < 4 or end_s - start_s < MIN_BOUT_S:
        bout.note = f"steps not measured: the bout is shorter than {MIN_BOUT_S:g} s"
        return bout
    signal, name = gait_signal(angles, acc, sl)
    bout.signal = name
    if signal is None:
        bout.note = "steps not measured: no acceleration or sagittal inclination in this span"
        return bout
    rate = 1.0 / np.median(np.diff(t[sl]))
    steps = detect_steps(t[sl], signal, rate, name)
    if not np.isfinite(steps.cadence_spm):
        bout.note = "steps not measured: no step rhythm in the gait signal"
        return bout
    bout.cadence_spm = steps.cadence_spm
    per_step = (sensor_rate_hz or rate) * steps.step_period_s
    if per_step < SAMPLES_PER_STEP_MIN:
        bout.note = (f"step count and step times not measured: {per_step:.1f} samples per step "
                     f"at {sensor_rate_hz or rate:.3g} samples/s, at least {SAMPLES_PER_STEP_MIN} are "
                     "needed to place each step (the cadence is given)")
        return bout
    bout.step_times_s = steps.t
    return bout


def gait_bouts(t, angles, acc, segments, sensor_rate_hz: float | None = None,
               kinds=("walking", "running")) -> list[GaitBout]:
    """One GaitBout per segment of the given kinds (imu.core.activity.Segment)."""
    return [bout_steps(t, angles, acc, s.kind, s.start_s, s.end_s, sensor_rate_hz)
            for s in segments if s.kind in kinds]
