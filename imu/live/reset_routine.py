"""The guided posture reset in `imu live` (issue 13 item 2): `--reset`, or `p` then Enter.

Three steps, each watched on the calibrated angles and passed when held long enough:
1. extension: lean back, hands on the lower back (the trunk or the upper back at least
   `reset_extension_deg` behind neutral for `reset_hold_s`);
2. chin tuck and upright hold: sit or stand tall (trunk within UPRIGHT_DEG of neutral, the
   upper back not slouched and not arched) for UPRIGHT_HOLD_S;
3. thoracic extension over the chair back (`thoracic_flexion` at least `reset_extension_deg`
   behind neutral for `reset_hold_s`; without a lumbar sensor the trunk's lean back stands in).
A step not passed within STEP_TIMEOUT_S is left out and the routine goes on. At the end the
routine is recorded as an annotation, `posture_reset` when every step was seen, else
`posture_reset_partial` (source "guide"), so the report knows which resets were guided; a
`posture_reset_guided` event goes to the live outputs. `ResetRoutine` is pure; `GuidedResets`
is its edge in the live session.
"""

from __future__ import annotations

import numpy as np

from imu.profile import Thresholds

UPRIGHT_DEG = 10.0  # trunk within this of neutral counts as upright (our choice)
UPRIGHT_HOLD_S = 6.0  # the wearer is asked for 10 s; 6 s of it is enough to pass
STEP_TIMEOUT_S = 30.0
STEPS = ("extension", "upright_hold", "thoracic_extension")
SAY = {
    "extension": "Posture reset 1/3, extension: hands on your lower back, lean back gently and hold "
                 "about 5 seconds, then come back up.",
    "upright_hold": "2/3, chin tuck and upright hold: sit (or stand) tall, draw your chin straight "
                    "back and hold for 10 seconds.",
    "thoracic_extension": "3/3, thoracic extension: arch your upper back over the chair back (or hands "
                          "behind your head, elbows wide) and hold about 5 seconds.",
}
COMPLETE_LABEL, PARTIAL_LABEL = "posture_reset", "posture_reset_partial"


class ResetRoutine:
    """Pure: fed calibrated angles step by step; says what to do next."""

    def __init__(self, thresholds: Thresholds):
        self.thr = thresholds
        self.step: str | None = None
        self.seen: list[str] = []
        self.missed: list[str] = []
        self.start_s: float | None = None
        self.end_s: float | None = None
        self._queue = list(STEPS)

    @property
    def active(self) -> bool:
        return self.step is not None

    @property
    def completed(self) -> bool:
        return self.seen == list(STEPS)

    def begin(self, now: float) -> list[str]:
        self.start_s = now
        return self._next(now)

    def _next(self, now: float) -> list[str]:
        self.step = self._queue.pop(0) if self._queue else None
        if self.step is None:
            self.end_s = now
            if self.completed:
                return ["Posture reset done. Well done."]
            return [f"Posture reset over; not seen: {', '.join(s.replace('_', ' ') for s in self.missed)}."]
        self._t0 = now
        self._run_start: float | None = None
        return [SAY[self.step]]

    def _passing(self, angles: dict, n: int) -> np.ndarray:
        thr = self.thr
        nan = np.full(n, np.nan)
        trunk = np.asarray(angles.get("trunk_inclination", nan), float)
        upper = np.asarray(angles.get("thoracic_flexion", nan), float)
        if self.step == "extension":
            return (trunk <= -thr.reset_extension_deg) | (upper <= -thr.reset_extension_deg)
        if self.step == "upright_hold":
            ok = np.abs(trunk) <= UPRIGHT_DEG
            if "thoracic_flexion" in angles:
                ok &= (upper < thr.slouch_exit_deg) & (upper > -thr.reset_exit_deg)
            return ok
        signal = upper if "thoracic_flexion" in angles else trunk
        return signal <= -thr.reset_extension_deg

    def update(self, t: np.ndarray, angles: dict, now: float) -> list[str]:
        say: list[str] = []
        t = np.asarray(t, float)
        while self.step is not None:
            keep = t >= self._t0
            need = UPRIGHT_HOLD_S if self.step == "upright_hold" else self.thr.reset_hold_s
            passing = self._passing({k: np.asarray(v)[keep] for k, v in angles.items()}, int(keep.sum()))
            done_at = self._held(t[keep], passing, need)
            if done_at is not None:
                self.seen.append(self.step)
                say.append("Good.")
                say += self._next(done_at)
                continue
            if now - self._t0 > STEP_TIMEOUT_S:
                self.missed.append(self.step)
                say.append(f"{self.step.replace('_', ' ')} not seen; going on.")
                say += self._next(self._t0 + STEP_TIMEOUT_S)
                continue
            break
        return say

    def _held(self, t: np.ndarray, passing: np.ndarray, need: float) -> float | None:
        """The moment the current step has been passing for `need` seconds in one go."""
        for i in range(len(t)):
            if passing[i]:
                if self._run_start is None:
                    self._run_start = float(t[i])
                if t[i] - self._run_start >= need:
                    return float(t[i])
            else:
                self._run_start = None
        return None


class GuidedResets:
    """The routine inside `imu live`: at the start (after calibration) with --reset, and
    whenever the wearer types p and Enter."""

    def __init__(self, thresholds: Thresholds, at_start: bool = False):
        self.thr = thresholds
        self.pending = at_start
        self.routine: ResetRoutine | None = None
        self.count = 0

    def request(self) -> str:
        if self.routine is not None and self.routine.active:
            return "a posture reset is already under way"
        self.pending = True
        return "posture reset: starting"

    def step(self, session, out, now: float) -> list[dict]:
        if session.calibration is None:
            return []
        if self.pending and (self.routine is None or not self.routine.active):
            self.pending = False
            self.routine = ResetRoutine(self.thr)
            for line in self.routine.begin(now):
                session.say(line, now)
        if self.routine is None or not self.routine.active or not out.angles:
            return []
        for line in self.routine.update(out.t, out.angles, now):
            session.say(line, now)
        return [] if self.routine.active else [self._record(session)]

    def close(self, session, now: float) -> None:
        """The session ends during a routine: keep what was done as a partial one."""
        if self.routine is not None and self.routine.active:
            self.routine.missed += [self.routine.step] + self.routine._queue
            self.routine.step, self.routine._queue, self.routine.end_s = None, [], now
            session.recording.add_event(self._record(session))

    def _record(self, session) -> dict:
        r = self.routine
        label = COMPLETE_LABEL if r.completed else PARTIAL_LABEL
        if r.end_s > r.start_s:
            session.writer.add_annotation(r.start_s, r.end_s, label, "guide")
        self.count += int(r.completed)
        return {"event": "posture_reset_guided", "t": float(r.end_s), "start_s": float(r.start_s),
                "end_s": float(r.end_s), "completed": r.completed, "steps_seen": list(r.seen),
                "guided_today": self.count}
