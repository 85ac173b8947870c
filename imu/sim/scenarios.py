"""Scenarios for the simulated wearer, by name: desk work, the smoke test, activity, and
those registered from other modules (activities, real people's calibrations).

Each scenario builds a keyframe script (`imu.sim.script`) from a random generator. A module
with more scenarios builds them with `imu.sim.script` only (never importing this module, which
imports it to register them) and adds them to `_BUILDERS` and `SCENARIOS` in its `register`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

# Script and its builder are re-exported: tests and older scenario code import them from here
from imu.sim.script import CHANNEL_INDEX, CHANNELS, Script, ScriptBuilder, fill_work  # noqa: F401

PHASE_LABELS = (
    "calibrate_neutral", "calibrate_bend", "sit", "stand", "slouch", "short_slouch",
    "lean", "reach", "walk", "run",
)


# --- scenarios ------------------------------------------------------------------------------

DESK_DEFAULT_S = 20 * 60.0
DESK_BLOCK_S = 1150.0  # working time that holds one set of the episodes below
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
    fill_work(b, events, work_s, mean_gap_s=25.0)
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
    fill_work(b, events, work_s, mean_gap_s=0.0, min_gap_s=min_gap_s)
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

# issue 13 scenarios (lifts and hinges, sitting with breaks) live in imu.sim.training
from imu.sim import training as _training  # noqa: E402

_training.register(_BUILDERS, SCENARIOS)
PHASE_LABELS = PHASE_LABELS + _training.TRAINING_PHASE_LABELS
# issue 13 scenarios (the thoracic mobility test, posture resets with decoys) live in imu.sim.mobility
from imu.sim import mobility as _mobility  # noqa: E402

_mobility.register(_BUILDERS, SCENARIOS)
PHASE_LABELS = PHASE_LABELS + _mobility.MOBILITY_PHASE_LABELS + _mobility.RESET_PHASE_LABELS
