"""The mobility test's guide, pure: fed the calibrated angles and segment orientations step
by step, it says what to do next and finds where each of the six movements began and ended
(issue 13). The live edge (imu.live.mobility_test) prompts the wearer; the report measures a
recording with the same guide (imu.report.mobility_section)."""

from __future__ import annotations

import numpy as np

from imu import anatomy as A
from imu.core.mobility import DIRECTION, MOVEMENTS
from imu.profile import Thresholds

INTRO = ("Mobility test: six movements, each once, slowly and only as far as is comfortable; "
         "stand tall between them.")
PROMPTS = {
    "flexion": "Flexion: bend forward slowly, letting your back round, as far as is comfortable; "
               "then come back up to standing tall.",
    "extension": "Extension: hands on your lower back, lean back slowly as far as is comfortable; "
                 "then come back up.",
    "side_bend_left": "Side bend left: slide your left hand down the side of your leg as far as is "
                      "comfortable; then come back up.",
    "side_bend_right": "Side bend right: slide your right hand down the side of your leg as far as "
                       "is comfortable; then come back up.",
    "rotation_left": "Rotation left: arms crossed on your chest, hips facing forward, turn your "
                     "upper body to the left as far as is comfortable; then back to the front.",
    "rotation_right": "Rotation right: arms crossed on your chest, hips facing forward, turn your "
                      "upper body to the right as far as is comfortable; then back to the front.",
}
_GUIDE_SIGNALS = {"flexion": ("trunk_inclination", "lumbar_inclination"),
                  "extension": ("trunk_inclination", "lumbar_inclination"),
                  "side_bend_left": ("trunk_lateral_inclination", "lumbar_lateral_inclination"),
                  "side_bend_right": ("trunk_lateral_inclination", "lumbar_lateral_inclination"),
                  "rotation_left": ("thoracic", "lumbar"), "rotation_right": ("thoracic", "lumbar")}
WAITING, OUT, BACK = "waiting", "out", "back"
RETURN_HOLD_S = 1.0  # back near the start this long: the movement is over
QUIET_DEG = 2.0  # the movement's onset: the last moment the trunk was within this of the start
ONSET_LEAD_S = 1.0  # a span starts this long before the onset (the upright reference)
LABEL_PREFIX = "mobility_"


class MobilityGuide:
    """Pure: fed the calibrated angles and segment orientations step by step; says what to do
    next and collects the (start_s, end_s, movement) span of every movement done."""

    def __init__(self, thresholds: Thresholds, movements=MOVEMENTS):
        self.thr = thresholds
        self.queue = list(movements)
        self.spans: list[tuple[float, float, str]] = []
        self.skipped: list[tuple[str, str]] = []  # (movement, why)
        self.unsettled: list[str] = []  # seen going out, never seen back (the data ended)
        self.movement: str | None = None
        self.began = False

    @property
    def finished(self) -> bool:
        return self.began and self.movement is None and not self.queue

    def begin(self, now: float) -> list[str]:
        self.began = True
        return [INTRO] + self._next(now)

    def _next(self, now: float) -> list[str]:
        self.movement = self.queue.pop(0) if self.queue else None
        if self.movement is None:
            return ["Mobility test done."]
        self.state, self.t0 = WAITING, now
        self._t: list[float] = []
        self._raw: list[float] = []
        self._ref: float | None = None
        self._crossed_at = self._back_at = None
        self._onset = now
        done = len(MOVEMENTS) - len(self.queue)
        return [f"({done}/{len(MOVEMENTS)}) {PROMPTS[self.movement]}"]

    def _signal(self, angles: dict, segments: dict) -> np.ndarray | None:
        for name in _GUIDE_SIGNALS[self.movement]:
            if self.movement.startswith("rotation"):
                if name in segments:
                    return A.heading_deg(segments[name])
            elif name in angles:
                return np.asarray(angles[name], float)
        return None

    def update(self, t: np.ndarray, angles: dict, segments: dict, now: float) -> list[str]:
        """Add one step (only samples from the current movement's start count; a step that
        finishes one movement goes on to the next with the rest of its samples)."""
        say: list[str] = []
        while self.movement is not None:
            movement = self.movement
            say += self._update(t, angles, segments, now)
            if self.movement == movement:
                break
        return say

    def _update(self, t: np.ndarray, angles: dict, segments: dict, now: float) -> list[str]:
        say: list[str] = []
        raw = self._signal(angles, segments)
        if raw is None:
            self.skipped.append((self.movement, "no sensor gives it"))
            return [f"{self.movement.replace('_', ' ')}: not measurable with these sensors; skipped."] \
                + self._next(now)
        keep = (np.asarray(t) >= self.t0) & np.isfinite(raw)
        self._t += np.asarray(t)[keep].tolist()
        self._raw += raw[keep].tolist()
        if self._ref is None and self._t and self._t[-1] - self._t[0] >= 0.5:
            first = np.asarray(self._raw)[np.asarray(self._t) < self._t[0] + 0.5]
            self._ref = _circular_mean(first) if self.movement.startswith("rotation") else float(np.median(first))
        if self._ref is not None:
            movement = self.movement
            say += self._advance()
            if self.movement != movement:
                return say  # the next movement gets the rest of the step (update)
        timeout = self.thr.mobility_timeout_s
        if self.movement is not None and self.state == WAITING and now - self.t0 > timeout:
            self.skipped.append((self.movement, f"not seen within {timeout:g} s"))
            say.append(f"{self.movement.replace('_', ' ')} not seen; skipped.")
            say += self._next(self.t0 + timeout)
        elif self.movement is not None and self.state != WAITING and now - self._crossed_at > timeout:
            say += self._done(self._crossed_at + timeout, "did not come back to the start")
        return say

    def _moved(self) -> np.ndarray:
        raw = np.asarray(self._raw)
        delta = raw - self._ref
        if self.movement.startswith("rotation"):
            delta = -((delta + 180.0) % 360.0 - 180.0)  # heading: left turn +; rotation: right +
        return DIRECTION[self.movement] * delta

    def _advance(self) -> list[str]:
        t, moved = np.asarray(self._t), self._moved()
        move, back = self.thr.mobility_move_deg, self.thr.mobility_move_deg / 3.0
        if self.movement.startswith("rotation") and self.state != WAITING:
            # a heading drifts (no magnetometer): back within a quarter of the turn is back
            back = max(back, 0.25 * float(np.max(moved[t >= self._crossed_at])))
        while True:
            if self.state == WAITING:
                over = np.flatnonzero(moved >= move)
                if not len(over):
                    return []
                i = int(over[0])
                quiet = np.flatnonzero(moved[:i] <= QUIET_DEG)
                self._onset = float(t[quiet[-1]]) if len(quiet) else float(t[0])
                self.state, self._crossed_at = OUT, float(t[i])
            if self.state == OUT:
                after = t >= self._crossed_at
                low = np.flatnonzero(after & (moved < back))
                if not len(low):
                    return []
                self.state, self._back_at = BACK, float(t[low[0]])
            if self.state == BACK:
                settled = self._back_at + RETURN_HOLD_S
                again = np.flatnonzero((t > self._back_at) & (t <= settled) & (moved >= back))
                if len(again):
                    self.state = OUT
                    self._crossed_at = float(t[again[0]])
                    continue
                if t[-1] >= settled:
                    return self._done(settled, "")
                return []

    def end(self, now: float) -> list[str]:
        """The data ends: a movement seen going out keeps its span; the rest are not done."""
        if self.movement is None or self.state == WAITING:
            return []
        self.unsettled.append(self.movement)
        say = self._done(now, "the test ended before it came back to the start")
        self.queue, self.movement = [], None
        return say

    def _done(self, end: float, why: str) -> list[str]:
        start = max(self.t0, self._onset - ONSET_LEAD_S)
        self.spans.append((start, end, self.movement))
        text = f"{self.movement.replace('_', ' ')} done" + (f" ({why})" if why else "") + "."
        return [text] + self._next(end)


def _circular_mean(deg: np.ndarray) -> float:
    rad = np.radians(deg)
    return float(np.degrees(np.arctan2(np.sin(rad).mean(), np.cos(rad).mean())))


def guide_notes(guide: MobilityGuide) -> list[str]:
    notes = [f"{m.replace('_', ' ')} skipped: {why}" for m, why in guide.skipped]
    return notes + [f"{m.replace('_', ' ')}: not seen back at the start before the test ended"
                    for m in guide.unsettled]
