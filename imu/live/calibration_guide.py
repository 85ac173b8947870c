"""Guided calibration for the live loop (docs/architecture.md section 4).

The guide is fed the pipeline's grid (raw sensor orientations) step by step and walks the
wearer through: sit tall and keep still (3 s of stillness), then bend forward slowly twice,
coming back up each time; once the bends are over it calibrates on the data of the attempt
(the stillest part of the neutral it saw, the bends after it). A calibration that cannot
tell which way is forward is refused here: live alerts must not rest on an unchecked sign.
A refused calibration is reported with its reasons and the guide starts again, a bounded
number of times. It is pure: no clock, no I/O; the live session prints and records.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from imu.core.calibrate import (Calibration, CalibrationError, calibrate, find_bends,
                                find_neutral, mean_quat, to_anatomical_earth)
from imu.core.grid import GridFrame
from imu.core.result import CalibrationReport
from imu.profile import Thresholds
from imu.runner import calibration_event

NEUTRAL, BENDS, DONE, FAILED = "neutral", "bends", "done", "failed"
SAY_SIT_TALL = "Calibration: sit (or stand) tall and keep still for a few seconds."
SAY_BEND = ("Good. Now bend forward slowly, then come back up; do it {n} times "
            "(back to sitting tall each time).")
SAY_HOLD = "Bends seen. Sit tall and keep still for a moment ..."


@dataclass
class GuideUpdate:
    """What one step of the guide produced."""

    say: list[str] = field(default_factory=list)  # instructions for the wearer, in order
    attempts: list[Calibration | CalibrationReport] = field(default_factory=list)  # tried now
    accepted: Calibration | None = None


class CalibrationGuide:
    def __init__(self, thresholds: Thresholds, max_attempts: int = 3,
                 neutral_timeout_s: float = 60.0, bends_timeout_s: float = 60.0,
                 settle_s: float = 2.0, check_every_s: float = 0.25) -> None:
        self.thr = thresholds
        self.max_attempts = max_attempts
        self.neutral_timeout_s, self.bends_timeout_s = neutral_timeout_s, bends_timeout_s
        self.settle_s, self.check_every_s = settle_s, check_every_s
        self.stage = NEUTRAL
        self.attempt = 0
        self.calibration: Calibration | None = None
        self._t: list[np.ndarray] = []
        self._q: dict[str, list[np.ndarray]] = {}
        self._start_t: float | None = None  # session time the current attempt began
        self._stage_t: float | None = None
        self._neutral: tuple[float, float] | None = None
        self._last_check = -np.inf
        self._said_start = False

    @property
    def active(self) -> bool:
        return self.stage in (NEUTRAL, BENDS)

    def begin(self) -> GuideUpdate:
        self._said_start = True
        return GuideUpdate(say=[SAY_SIT_TALL])

    def update(self, frame: GridFrame, now: float) -> GuideUpdate:
        """Add a step of grid frames; `now` is the session time the step reached."""
        update = GuideUpdate()
        if not self.active:
            return update
        if not self._said_start:
            update.say += self.begin().say
        if len(frame):
            self._t.append(frame.t)
            for loc, q in frame.quat.items():
                self._q.setdefault(loc, []).append(q)
            if self._start_t is None:
                self._start_t = self._stage_t = float(frame.t[0])
        if self._start_t is None or now - self._last_check < self.check_every_s:
            return update
        self._last_check = now
        t, quats = self._window()
        if len(t) < 10:
            return update
        if self.stage == NEUTRAL:
            self._check_neutral(t, quats, now, update)
        if self.stage == BENDS:
            self._check_bends(t, quats, now, update)
        return update

    # -- stages ----------------------------------------------------------------------------
    def _window(self):
        t = np.concatenate(self._t)
        quats = {loc: np.concatenate(parts) for loc, parts in self._q.items()}
        self._t, self._q = [t], {loc: [q] for loc, q in quats.items()}  # keep it one array
        keep = t >= self._start_t
        return t[keep], {loc: q[keep] for loc, q in quats.items()}

    def _check_neutral(self, t, quats, now, update: GuideUpdate) -> None:
        found = find_neutral(t, {k: to_anatomical_earth(v) for k, v in quats.items()}, self.thr)
        if found is not None:
            a, b = found
            self._neutral = (float(t[a]), float(t[b - 1]))
            self.stage, self._stage_t = BENDS, now
            update.say.append(SAY_BEND.format(n=self.thr.bends_required))
        elif now - self._stage_t > self.neutral_timeout_s:
            self._refuse(CalibrationReport(False, "failed", [
                f"no still neutral found: nobody stood or sat still for {self.thr.neutral_still_s:g} s"]),
                now, update)

    def _check_bends(self, t, quats, now, update: GuideUpdate) -> None:
        quats_e = {k: to_anatomical_earth(v) for k, v in quats.items()}
        in_neutral = (t >= self._neutral[0]) & (t <= self._neutral[1])
        neutral_q = {k: mean_quat(q[in_neutral]) for k, q in quats_e.items()}
        after = int(np.searchsorted(t, self._neutral[1], side="right"))
        bends, deviation = find_bends(t, quats_e, neutral_q, after, self.thr)
        done = [b for b in bends if b[2] < len(t)]  # came back below the bend threshold
        bending = bool(deviation[-1] > self.thr.bend_min_deg * 0.25)
        settled = done and not bending and t[-1] - t[done[-1][2] - 1] >= self.settle_s
        enough = len(done) >= self.thr.bends_required and settled
        timed_out = now - self._stage_t > self.bends_timeout_s and not bending
        if enough or timed_out:
            self._attempt(t, quats, now, update)

    def _attempt(self, t, quats, now, update: GuideUpdate) -> None:
        self.attempt += 1
        try:
            # the stillest part of the neutral the guide saw, and the bends after it
            calibration = calibrate(t, quats, self.thr, neutral_window=self._neutral,
                                    search=(float(t[0]), float(t[-1])))
        except CalibrationError as err:
            self._refuse(CalibrationReport(False, "failed", [str(err)]), now, update, counted=True)
            return
        if calibration.report.ok and calibration.report.sagittal_sign == "unverified":
            # live alerts on a sign nobody could check would be the worst outcome: try again
            calibration.report.ok, calibration.report.quality = False, "failed"
            calibration.report.reasons.insert(0, "could not tell which way is forward")
        update.attempts.append(calibration)
        if calibration.report.ok:
            self.stage, self.calibration = DONE, calibration
            update.accepted = calibration
            self._t, self._q = [], {}
        else:
            self._restart(calibration.report, now, update)

    def _refuse(self, report: CalibrationReport, now, update: GuideUpdate, counted: bool = False) -> None:
        if not counted:
            self.attempt += 1
        update.attempts.append(report)
        self._restart(report, now, update)

    def _restart(self, report: CalibrationReport, now, update: GuideUpdate) -> None:
        update.say.append("Calibration refused: " + "; ".join(report.reasons) + ".")
        if self.attempt >= self.max_attempts:
            self.stage = FAILED
            self._t, self._q = [], {}
            update.say.append(f"No calibration after {self.attempt} attempts: recording only, "
                              "no angles and no alerts in this session.")
            return
        self.stage, self._start_t, self._stage_t, self._neutral = NEUTRAL, now, now, None
        update.say.append("Let's try again. " + SAY_SIT_TALL)


def attempt_record(attempt: Calibration | CalibrationReport, t: float, number: int) -> dict:
    """The dict recorded (SessionWriter.add_calibration) for one attempt."""
    if isinstance(attempt, Calibration):
        data = attempt.to_dict()
    else:
        data = {"ok": False, "quality": attempt.quality, "reasons": list(attempt.reasons)}
    data["attempt"] = number
    data["decided_at_s"] = float(t)
    return data


def attempt_event(attempt: Calibration | CalibrationReport, t: float, number: int) -> dict:
    """The live `calibration` event for one attempt."""
    if isinstance(attempt, Calibration):
        return calibration_event(attempt.report, t, attempt=number, applies_from_s=attempt.applies_from_s)
    return calibration_event(attempt, t, attempt=number)
