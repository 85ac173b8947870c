"""Scenarios for the simulated wearer: what the person does, as a script of keyframes.

A script is a list of keyframes. Each keyframe sets target values for every motion channel
(joint angles, heading, gait amplitudes, ...) and a transition time: from its start the
channels move from the previous targets to the new ones along a raised cosine, then hold.
Phases are the labelled spans the truth reports (`sit`, `slouch`, `walk`, ...); one phase may
hold several keyframes (the bends of a calibration, the turns of a walk).

All randomness (timings, amplitudes) comes from the generator passed in, so one seed gives
one script. `imu.sim.wearer` turns a script into orientations and accelerations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

# Motion channels. Angles in degrees (imu.anatomy conventions: flexion +, right bend +, right
# rotation +), heights and oscillation amplitudes in metres, speed in m/s, step rate in Hz.
POSTURE_CHANNELS = (
    "pelvic_tilt", "pelvic_list",  # pelvis (sacral segment) against gravity: forward tilt +, right list +
    "lumbar_flex", "lumbar_lat", "lumbar_rot",  # lumbar segment relative to the pelvis
    "thoracic_flex", "thoracic_lat", "thoracic_rot",  # thoracic segment relative to the lumbar one
    "heading",  # pelvis heading about the vertical, left turn +
)
GAIT_CHANNELS = (
    "step_hz", "speed",  # step rate and forward walking speed
    "osc_tilt", "osc_flex",  # pelvic tilt and spinal flexion oscillation at the step rate, deg
    "osc_list", "osc_yaw", "osc_lat", "osc_rot",  # stride-rate oscillations, deg
    "bounce_m", "fore_aft_m", "side_m",  # trunk translation at step / stride rate
)
OTHER_CHANNELS = ("hip_height", "sway")  # hip height above the seat (m); sway scale
CHANNELS = POSTURE_CHANNELS + GAIT_CHANNELS + OTHER_CHANNELS
CHANNEL_INDEX = {name: i for i, name in enumerate(CHANNELS)}

STANDING_HIP_HEIGHT_M = 0.45  # hip rise from sitting to standing; only its change matters
DEFAULT_STEP_HZ = 1.9

PHASE_LABELS = (
    "calibrate_neutral", "calibrate_bend", "sit", "stand", "slouch", "short_slouch",
    "lean", "reach", "walk", "run",
)


@dataclass(frozen=True)
class Keyframe:
    start_s: float
    transition_s: float
    targets: dict[str, float]  # channels not named keep their defaults (0; sway 1)
    label: str


@dataclass(frozen=True)
class Script:
    """Keyframes of a scenario, as arrays for vectorised evaluation."""

    name: str
    duration_s: float
    starts: np.ndarray  # (K,) keyframe start times, increasing, starts[0] == 0
    transitions: np.ndarray  # (K,) raised-cosine transition time into each keyframe
    targets: np.ndarray  # (K, C) channel targets, columns in CHANNELS order
    labels: list[str]  # (K,) phase label of each keyframe
    sacral: bool  # whether the scenario wears a sacral sensor by default
    # sensors stuck on rotated in the plane of the back (about the skin normal), degrees;
    # 180 is a housing with its arrow pointing down the spine
    mounting_roll_deg: dict = field(default_factory=dict)

    def phases(self) -> list[tuple[float, float, str]]:
        """Labelled spans: consecutive keyframes with one label merge into one phase."""
        out: list[tuple[float, float, str]] = []
        ends = np.append(self.starts[1:], self.duration_s)
        for start, end, label in zip(self.starts, ends, self.labels):
            if out and out[-1][2] == label:
                out[-1] = (out[-1][0], float(end), label)
            else:
                out.append((float(start), float(end), label))
        return out


class ScriptBuilder:
    """Appends keyframes one after the other; the current posture carries over."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.t = 0.0
        self.keyframes: list[Keyframe] = []
        self.heading = 0.0
        self.standing = False

    def hold(self, label: str, duration_s: float, transition_s: float, **targets: float) -> None:
        targets.setdefault("heading", self.heading)
        targets.setdefault("hip_height", STANDING_HIP_HEIGHT_M if self.standing else 0.0)
        transition_s = min(transition_s, duration_s)
        self.keyframes.append(Keyframe(self.t, transition_s, targets, label))
        self.t += duration_s

    # --- postures -------------------------------------------------------------------------

    def neutral(self, label: str, duration_s: float, transition_s: float = 1.5, **extra: float) -> None:
        """Sitting or standing tall: every joint angle 0 (the calibrated neutral)."""
        self.hold(label, duration_s, transition_s, **extra)

    def calibrate_neutral(self, duration_s: float = 5.0) -> None:
        self.neutral("calibrate_neutral", duration_s, transition_s=1.0, sway=0.3)

    def calibrate_bends(self, count: int = 3) -> None:
        """Slow forward bends from the hips and spine together, back to neutral each time."""
        r = self.rng
        for _ in range(count):
            down = r.uniform(1.8, 2.2)
            self.hold("calibrate_bend", down + r.uniform(0.3, 0.6), down, sway=0.3,
                      pelvic_tilt=r.uniform(18, 26), lumbar_flex=r.uniform(12, 18),
                      thoracic_flex=r.uniform(8, 13))
            up = r.uniform(1.8, 2.2)
            self.hold("calibrate_bend", up + r.uniform(0.8, 1.2), up, sway=0.3)

    def calibration(self, bends: int = 3) -> None:
        label = "stand" if self.standing else "sit"
        self.neutral(label, 2.0, transition_s=0.5)
        self.calibrate_neutral(5.0 + self.rng.uniform(0.0, 1.0))
        self.calibrate_bends(bends)
        self.calibrate_neutral(5.0 + self.rng.uniform(0.0, 1.0))

    def slouch(self, duration_s: float, label: str = "slouch") -> None:
        """Thoracic flexion with a lumbar slump, the pelvis rolling back."""
        r = self.rng
        self.hold(label, duration_s, r.uniform(1.0, 2.5) if label == "slouch" else 1.0,
                  thoracic_flex=r.uniform(20, 35), lumbar_flex=r.uniform(10, 20),
                  pelvic_tilt=-r.uniform(5, 12), thoracic_lat=r.uniform(-3, 3),
                  thoracic_rot=r.uniform(-3, 3))

    def short_slouch(self, duration_s: float) -> None:
        self.slouch(min(duration_s, 4.0), label="short_slouch")

    def lean(self, duration_s: float) -> None:
        """Whole-trunk lean from the hips with a neutral spine: never a slouch."""
        r = self.rng
        self.hold("lean", duration_s, r.uniform(1.5, 2.5), pelvic_tilt=r.uniform(20, 40),
                  lumbar_flex=r.uniform(-2, 2), thoracic_flex=r.uniform(-2, 3))

    def reach(self, duration_s: float) -> None:
        """A lean with a sideways bend and a twist, e.g. for something on the desk's side."""
        r = self.rng
        side = r.choice([-1.0, 1.0])
        self.hold("reach", duration_s, r.uniform(1.0, 1.5), pelvic_tilt=r.uniform(15, 30),
                  pelvic_list=side * r.uniform(0, 4), lumbar_lat=side * r.uniform(3, 8),
                  thoracic_lat=side * r.uniform(5, 12), lumbar_rot=side * r.uniform(3, 8),
                  thoracic_rot=side * r.uniform(8, 20), thoracic_flex=r.uniform(0, 6))

    def stand_up(self) -> None:
        self.hold("stand", 1.2, 1.0, pelvic_tilt=self.rng.uniform(30, 40), hip_height=0.15)
        self.standing = True
        self.neutral("stand", self.rng.uniform(2.0, 4.0), transition_s=1.2)

    def sit_down(self) -> None:
        self.hold("sit", 1.2, 1.0, pelvic_tilt=self.rng.uniform(25, 35), hip_height=0.15)
        self.standing = False
        self.neutral("sit", self.rng.uniform(2.0, 4.0), transition_s=1.2)

    # --- gait -------------------------------------------------------------------------------

    def gait(self, label: str, duration_s: float, *, return_heading: bool = True) -> None:
        """Walking or running with turns; the heading comes back at the end if asked."""
        r = self.rng
        if label == "walk":
            g = dict(step_hz=r.uniform(1.8, 2.0), speed=r.uniform(1.2, 1.45), osc_tilt=1.5,
                     osc_flex=1.0, osc_list=r.uniform(2.5, 4), osc_yaw=r.uniform(4, 7),
                     osc_lat=r.uniform(2, 4), osc_rot=r.uniform(4, 7),
                     bounce_m=r.uniform(0.02, 0.03), fore_aft_m=0.01, side_m=0.02,
                     pelvic_tilt=r.uniform(2, 5))
        else:  # run: forward lean of about 8 degrees, mostly from the hips
            g = dict(step_hz=r.uniform(2.7, 3.0), speed=r.uniform(2.8, 3.5), osc_tilt=2.5,
                     osc_flex=2.0, osc_list=r.uniform(3, 5), osc_yaw=r.uniform(6, 9),
                     osc_lat=r.uniform(3, 5), osc_rot=r.uniform(6, 9),
                     bounce_m=r.uniform(0.035, 0.045), fore_aft_m=0.015, side_m=0.015,
                     pelvic_tilt=r.uniform(5.5, 7.0), lumbar_flex=r.uniform(0.5, 1.5),
                     thoracic_flex=r.uniform(0.0, 1.0))
        start_heading, end_t = self.heading, self.t + duration_s
        turn_s = 2.0 if label == "walk" else 3.0
        first = True
        while True:
            remaining = end_t - self.t
            straight = r.uniform(8.0, 20.0)
            if remaining < straight + 2 * turn_s + 4.0:
                break
            self.hold(label, straight, 1.5 if first else turn_s, **g, heading=self.heading)
            first = False
            self.heading += r.choice([-1.0, 1.0]) * r.uniform(60, 180)
        if return_heading and not first:
            # turn back to where the walk began, the shorter way round
            self.heading -= (self.heading - start_heading + 180.0) % 360.0 - 180.0
        self.hold(label, max(end_t - self.t, 1.0), 1.5 if first else turn_s, **g, heading=self.heading)

    def build(self, name: str, sacral: bool, mounting_roll_deg: dict | None = None) -> Script:
        defaults = np.zeros(len(CHANNELS))
        defaults[CHANNEL_INDEX["sway"]] = 1.0
        targets = np.tile(defaults, (len(self.keyframes), 1))
        for k, frame in enumerate(self.keyframes):
            for key, value in frame.targets.items():
                targets[k, CHANNEL_INDEX[key]] = value
        # the step rate holds its last gait value between walks so that gait phases ramp
        # only in amplitude, never in frequency from zero
        step = targets[:, CHANNEL_INDEX["step_hz"]]
        last = next((s for s in step if s > 0), DEFAULT_STEP_HZ)
        for k in range(len(step)):
            last = step[k] = step[k] if step[k] > 0 else last
        return Script(
            name=name, duration_s=self.t,
            starts=np.array([f.start_s for f in self.keyframes]),
            transitions=np.array([f.transition_s for f in self.keyframes]),
            targets=targets, labels=[f.label for f in self.keyframes], sacral=sacral,
            mounting_roll_deg=dict(mounting_roll_deg or {}),
        )


# --- scenarios ------------------------------------------------------------------------------

DESK_DEFAULT_S = 20 * 60.0
DESK_BLOCK_S = 1150.0  # working time that holds one set of the episodes below
MIN_SIT_GAP_S = 6.0
SMOKE_DEFAULT_S = 135.0


def _desk_block(r: np.random.Generator) -> list[tuple[str, float]]:
    """One block of desk work: (event, duration). A > 30 s slouch first so that even a
    shortened session sees an alert; then the rest in random order, the walk in the middle."""
    events = [("slouch", r.uniform(35, 60))]
    others = [("slouch", r.uniform(20, 30)), ("slouch", r.uniform(40, 80)),
              ("slouch", r.uniform(95, 120)), ("slouch", r.uniform(30, 45))]
    others += [("short_slouch", r.uniform(2, 4)) for _ in range(4)]
    others += [("lean", r.uniform(5, 20)) for _ in range(4)]
    others += [("reach", r.uniform(2.5, 5)) for _ in range(3)]
    order = [others[i] for i in r.permutation(len(others))]
    middle = len(order) // 2
    return events + order[:middle] + [("walk", r.uniform(60, 120))] + order[middle:]


def _fill(b: ScriptBuilder, events: list[tuple[str, float]], work_s: float, mean_gap_s: float,
          min_gap_s: float = MIN_SIT_GAP_S) -> None:
    """Play events separated by sitting-tall gaps so that they fill `work_s` seconds."""
    r = b.rng
    kept, used = [], 0.0
    for event in events:
        cost = event[1] + (12.0 if event[0] == "walk" else 0.0) + mean_gap_s
        if used + cost > work_s:
            break
        kept.append(event)
        used += cost
    busy = sum(d + (12.0 if e == "walk" else 0.0) for e, d in kept)
    free = work_s - busy - min_gap_s * (len(kept) + 1)
    if free < 0:
        raise ValueError(f"{work_s:.0f} s of working time is too short for {len(kept)} events")
    gaps = min_gap_s + free * r.dirichlet(np.ones(len(kept) + 1))
    end = b.t + work_s
    for (event, duration), gap in zip(kept, gaps):
        b.neutral("sit", gap)
        if event == "walk":
            b.stand_up()
            b.gait("walk", duration)
            b.sit_down()
        else:
            getattr(b, event)(duration)
    # the last gap absorbs what the estimates above got wrong, so the script ends on time
    b.neutral("sit", max(end - b.t, min_gap_s))


def _desk(r: np.random.Generator, duration_s: float | None, sacral: bool, name: str) -> Script:
    duration_s = DESK_DEFAULT_S if duration_s is None else duration_s
    b = ScriptBuilder(r)
    b.calibration()
    work_s = duration_s - b.t
    if work_s < 60.0:
        raise ValueError(f"scenario {name!r} needs at least {b.t + 60.0:.0f} s, got {duration_s:g} s")
    events: list[tuple[str, float]] = []
    for _ in range(int(np.ceil(work_s / DESK_BLOCK_S))):
        events += _desk_block(r)
    _fill(b, events, work_s, mean_gap_s=25.0)
    return b.build(name, sacral)


def _smoke(r: np.random.Generator, duration_s: float | None, sacral: bool) -> Script:
    duration_s = SMOKE_DEFAULT_S if duration_s is None else duration_s
    b = ScriptBuilder(r)
    b.calibration()
    events = [("slouch", r.uniform(33, 37)), ("short_slouch", r.uniform(2, 4)),
              ("lean", r.uniform(5, 8)), ("reach", r.uniform(3, 5)), ("walk", r.uniform(10, 12))]
    work_s = duration_s - b.t
    min_gap_s = 4.0
    need = sum(d + (12.0 if e == "walk" else 0.0) for e, d in events) + min_gap_s * (len(events) + 1)
    if work_s < need:
        raise ValueError(f"scenario 'smoke' needs at least {b.t + need:.0f} s, got {duration_s:g} s")
    _fill(b, events, work_s, mean_gap_s=0.0, min_gap_s=min_gap_s)
    return b.build("smoke", sacral)


def _activity(r: np.random.Generator, duration_s: float | None, sacral: bool) -> Script:
    """Standing calibration, then walking, running and walking again (issue 5 builds on it)."""
    duration_s = 10 * 60.0 if duration_s is None else duration_s
    b = ScriptBuilder(r)
    b.standing = True
    b.calibration()
    work_s = duration_s - b.t - 20.0
    if work_s < 60.0:
        raise ValueError(f"scenario 'activity' needs at least {b.t + 80.0:.0f} s, got {duration_s:g} s")
    b.neutral("stand", 10.0)
    b.gait("walk", 0.3 * work_s)
    b.gait("run", 0.4 * work_s)
    b.gait("walk", 0.3 * work_s)
    b.neutral("stand", 10.0)
    return b.build("activity", sacral)


ScenarioFn = Callable[[np.random.Generator, "float | None", bool], Script]

_BUILDERS: dict[str, tuple[ScenarioFn, bool]] = {
    "desk": (lambda r, d, s: _desk(r, d, s, "desk"), False),
    "desk_sacral": (lambda r, d, s: _desk(r, d, s, "desk_sacral"), True),
    "smoke": (_smoke, False),
    "activity": (_activity, True),
}

SCENARIOS: dict[str, str] = {
    "desk": "20 min of desk work (default): sitting calibration (neutral, 3 bends, neutral), "
            "slouches of 20-120 s, short slouches, forward leans, reaches, a walk break; "
            "thoracic and lumbar sensors. `duration` scales the working part.",
    "desk_sacral": "the desk scenario with a sacral sensor as well",
    "smoke": "135 s: calibration, one long slouch, a short slouch, a lean, a reach, a short walk",
    "activity": "10 min standing: calibration, walking, running about 8 deg forward lean, walking; "
                "thoracic, lumbar and sacral sensors",
}


# issue 5 scenarios (running with lean drift, carries, holds) live in imu.sim.activities
from imu.sim import activities as _activities  # noqa: E402  (it needs ScriptBuilder above)

_activities.register(_BUILDERS, SCENARIOS)
PHASE_LABELS = PHASE_LABELS + _activities.ACTIVITY_PHASE_LABELS

# issue 8 scenarios (what real people do during a calibration) live in imu.sim.realpeople
from imu.sim import realpeople as _realpeople  # noqa: E402

_realpeople.register(_BUILDERS, SCENARIOS)
PHASE_LABELS = PHASE_LABELS + _realpeople.CALIBRATION_PHASE_LABELS


def build_script(name: str, duration_s: float | None, rng: np.random.Generator,
                 sacral: bool | None = None) -> Script:
    """The keyframe script of scenario `name`; ValueError for an unknown name or duration."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    if duration_s is not None and not (np.isfinite(duration_s) and duration_s > 0):
        raise ValueError(f"duration must be a positive number of seconds, got {duration_s!r}")
    builder, default_sacral = _BUILDERS[name]
    return builder(rng, duration_s, default_sacral if sacral is None else bool(sacral))

# issue 13 scenarios (the thoracic mobility test, posture resets with decoys) live in imu.sim.mobility
from imu.sim import mobility as _mobility  # noqa: E402

_mobility.register(_BUILDERS, SCENARIOS)
PHASE_LABELS = PHASE_LABELS + _mobility.MOBILITY_PHASE_LABELS + _mobility.RESET_PHASE_LABELS
