"""Scenarios with what real people do during a calibration, each with its truth.

Real recordings showed calibrations that the tidy `desk` script never exercises:
- the "still" neutral sways by a few degrees and is still for about a second, not three;
- the wearer leans back during the bend phase, or holds postures instead of bending;
- a sensor is stuck on rotated 180 deg in the plane of the back (arrow pointing down);
- there are no bends at all;
- seated side-bending barely moves a sacral sensor (the third sensor "disagrees").

Each builder returns the keyframe script and a truth dictionary (`calibration_truth()`
rebuilds it from the seed); the scripts register in `imu.sim.scenarios` like the others.
The truth angles of the session are the usual ones (zero = all channels 0): a neutral that
sways away from zero is calibrated with that offset, exactly as for a real person.
"""

from __future__ import annotations

import numpy as np

from imu.sim.script import Script, ScriptBuilder, fill_work, script_rng

CALIBRATION_PHASE_LABELS = ("posture_flexed", "posture_extended", "posture_side_bent", "lean_back")
WORK_S = 240.0  # desk work after the calibration, enough for one alerting slouch


def swaying_neutral(b: ScriptBuilder, duration_s: float, label: str = "calibrate_neutral",
                    drift_deg: float = 4.0, still_s: tuple[float, float] = (0.9, 1.4)) -> None:
    """Upright, but fidgeting: small posture shifts (about 1 s each) with ~1 s still between,
    the posture drifting by up to `drift_deg` over the span (real people: 2-14 deg over 15 s)."""
    r = b.rng
    end = b.t + duration_s
    while end - b.t > 0.5:
        move = r.uniform(0.7, 1.0)
        hold = min(move + r.uniform(*still_s), end - b.t)
        b.hold(label, hold, move, sway=1.0,
               pelvic_tilt=r.uniform(-0.5, 0.5) * drift_deg,
               lumbar_flex=r.uniform(-0.3, 0.3) * drift_deg,
               thoracic_flex=r.uniform(-0.5, 0.5) * drift_deg,
               thoracic_lat=r.uniform(-0.3, 0.3) * drift_deg,
               lumbar_lat=r.uniform(-0.2, 0.2) * drift_deg)


def bend_forward(b: ScriptBuilder, depth: float = 1.0) -> None:
    r = b.rng
    down = r.uniform(1.8, 2.2)
    b.hold("calibrate_bend", down + r.uniform(0.3, 0.6), down, sway=0.3,
           pelvic_tilt=depth * r.uniform(18, 26), lumbar_flex=depth * r.uniform(12, 18),
           thoracic_flex=depth * r.uniform(8, 13))
    up = r.uniform(1.8, 2.2)
    b.hold("calibrate_bend", up + r.uniform(0.8, 1.2), up, sway=0.3)


def lean_back(b: ScriptBuilder, label: str = "calibrate_bend") -> None:
    """A slow, long backward movement (stretching, leaning on the backrest), back again:
    longer than a forward bend, but not as far."""
    r = b.rng
    back = r.uniform(2.5, 3.0)
    b.hold(label, back + r.uniform(4.0, 6.0), back, sway=0.3,
           pelvic_tilt=-r.uniform(9, 13), lumbar_flex=-r.uniform(4, 7), thoracic_flex=-r.uniform(3, 5))
    up = r.uniform(2.0, 2.5)
    b.hold(label, up + r.uniform(0.8, 1.2), up, sway=0.3)


def held_postures(b: ScriptBuilder) -> None:
    """A posture protocol instead of bends: flexed, extended, side-bent left and right, each
    held a few seconds, back to upright in between (as seated-posture studies record)."""
    r = b.rng
    poses = [
        ("posture_flexed", dict(pelvic_tilt=r.uniform(15, 22), lumbar_flex=r.uniform(12, 18),
                                thoracic_flex=r.uniform(15, 25))),
        ("posture_extended", dict(pelvic_tilt=-r.uniform(5, 8), lumbar_flex=-r.uniform(5, 8),
                                  thoracic_flex=-r.uniform(6, 10))),
        ("posture_side_bent", dict(lumbar_lat=r.uniform(10, 14), thoracic_lat=r.uniform(10, 16),
                                   pelvic_list=r.uniform(0, 2))),
        ("posture_side_bent", dict(lumbar_lat=-r.uniform(10, 14), thoracic_lat=-r.uniform(10, 16),
                                   pelvic_list=-r.uniform(0, 2))),
    ]
    for label, pose in poses:
        move = r.uniform(1.5, 2.2)
        b.hold(label, move + r.uniform(5.0, 7.0), move, sway=0.6, **pose)
        back = r.uniform(1.5, 2.2)
        swaying_neutral(b, back + r.uniform(3.0, 4.0), label="sit", drift_deg=2.0)


def side_bends(b: ScriptBuilder, count: int = 3) -> None:
    """Seated side-bending: the spine bends sideways, the pelvis stays on the chair."""
    r = b.rng
    for k in range(count):
        side = 1.0 if k % 2 == 0 else -1.0
        move = r.uniform(1.8, 2.2)
        b.hold("posture_side_bent", move + r.uniform(1.0, 2.0), move, sway=0.3,
               lumbar_lat=side * r.uniform(12, 18), thoracic_lat=side * r.uniform(12, 20),
               pelvic_list=side * r.uniform(0.0, 1.0))
        back = r.uniform(1.8, 2.2)
        b.hold("sit", back + r.uniform(1.0, 1.5), back, sway=0.5)


def _work(b: ScriptBuilder, work_s: float) -> None:
    """Desk work after the calibration: an alerting slouch, a short one, a lean, a reach."""
    r = b.rng
    events = [("slouch", r.uniform(38, 50)), ("short_slouch", r.uniform(2, 4)), ("lean", r.uniform(6, 12)),
              ("slouch", r.uniform(15, 25)), ("reach", r.uniform(3, 5))]
    fill_work(b, events, work_s, mean_gap_s=15.0)


def _start(r: np.random.Generator) -> ScriptBuilder:
    b = ScriptBuilder(r)
    b.neutral("sit", 2.0, transition_s=0.5)
    return b


# --- scenarios -------------------------------------------------------------------------------

def build_backward(r, duration_s, sacral):
    """Swaying neutral; in the bend phase a long lean back among the forward bends."""
    b = _start(r)
    swaying_neutral(b, 12.0)
    bend_forward(b)
    lean_back(b)
    bend_forward(b)
    swaying_neutral(b, 6.0)
    return _finish(b, "cal_backward", duration_s, sacral), {"bends": True}


def build_rotated(r, duration_s, sacral):
    """The thoracic sensor stuck on upside down (180 deg in the plane of the back), a swaying
    neutral and no bends: only the mounting can tell which way is forward."""
    b = _start(r)
    swaying_neutral(b, 10.0)
    return _finish(b, "cal_rotated", duration_s, sacral, roll={"thoracic": 180.0}), {"bends": False}


def build_rotated_backward(r, duration_s, sacral):
    """Both at once: upside-down lumbar sensor and a lean back among the forward bends."""
    b = _start(r)
    swaying_neutral(b, 10.0)
    lean_back(b)
    bend_forward(b)
    bend_forward(b)
    swaying_neutral(b, 6.0)
    return _finish(b, "cal_rotated_backward", duration_s, sacral, roll={"lumbar": 180.0}), {"bends": True}


def build_postures(r, duration_s, sacral):
    """Held flexed / extended / side-bent postures instead of bends."""
    b = _start(r)
    swaying_neutral(b, 10.0)
    held_postures(b)
    return _finish(b, "cal_postures", duration_s, sacral), {"bends": True}


def build_short_still(r, duration_s, sacral):
    """Nobody keeps still for 3 s: fidgeting with about 1 s still at a time, drifting 8 deg,
    then forward bends; no labels are needed to find it."""
    b = _start(r)
    swaying_neutral(b, 15.0, drift_deg=8.0)
    bend_forward(b)
    bend_forward(b)
    swaying_neutral(b, 5.0, drift_deg=8.0)
    return _finish(b, "cal_short_still", duration_s, sacral), {"bends": True}


def build_no_bends(r, duration_s, sacral):
    """A swaying neutral and straight to work: no bends in the file at all."""
    b = _start(r)
    swaying_neutral(b, 10.0)
    return _finish(b, "cal_no_bends", duration_s, sacral), {"bends": False}


def build_side_bending(r, duration_s, sacral):
    """Seated: neutral, forward bends, then side-bending that leaves the sacral sensor almost
    still (the third sensor that used to refuse the whole calibration)."""
    b = _start(r)
    swaying_neutral(b, 8.0)
    side_bends(b)
    bend_forward(b, depth=0.8)
    bend_forward(b, depth=0.8)
    side_bends(b, 2)
    swaying_neutral(b, 5.0)
    return _finish(b, "cal_side_bending", duration_s, sacral), {"bends": True}


def _finish(b: ScriptBuilder, name: str, duration_s, sacral: bool, roll: dict | None = None) -> Script:
    calibration_s = b.t
    work_s = WORK_S if duration_s is None else duration_s - b.t
    if work_s < 120.0:
        raise ValueError(f"scenario {name!r} needs at least {calibration_s + 120.0:.0f} s, got {duration_s:g} s")
    _work(b, work_s)
    return b.build(name, sacral, mounting_roll_deg=roll or {})


BUILDERS = {
    "cal_backward": (build_backward, False),
    "cal_rotated": (build_rotated, False),
    "cal_rotated_backward": (build_rotated_backward, False),
    "cal_postures": (build_postures, False),
    "cal_short_still": (build_short_still, False),
    "cal_no_bends": (build_no_bends, False),
    "cal_side_bending": (build_side_bending, True),
}
DESCRIPTIONS = {
    "cal_backward": "about 5 min seated: a swaying neutral, then forward bends with a long lean back "
                    "among them, then desk work",
    "cal_rotated": "about 5 min seated: thoracic sensor mounted upside down (180 deg in the plane of "
                   "the back), swaying neutral, no bends, desk work",
    "cal_rotated_backward": "the lumbar sensor upside down and a lean back before the forward bends",
    "cal_postures": "held flexed, extended and side-bent postures instead of bends, then desk work",
    "cal_short_still": "fidgeting neutral (still about 1 s at a time, drifting 8 deg), forward "
                       "bends, desk work; meant to be analysed without labels",
    "cal_no_bends": "a swaying neutral and no bends at all, then desk work",
    "cal_side_bending": "seated side-bending around two forward bends, three sensors: the sacral "
                        "sensor barely moves during the side bends",
}


def register(builders: dict, descriptions: dict) -> None:
    """Add these scenarios to imu.sim.scenarios' tables (scripts only)."""
    for name, (fn, sacral) in BUILDERS.items():
        builders[name] = ((lambda f: lambda r, d, s: f(r, d, s)[0])(fn), sacral)
        descriptions[name] = DESCRIPTIONS[name]


def calibration_truth(scenario: str, duration_s: float | None, seed: int) -> dict:
    """What the scenario's calibration should find: bends or not, and rotated mountings."""
    fn, sacral = BUILDERS[scenario]
    script, extra = fn(script_rng(seed), duration_s, sacral)
    return {"scenario": scenario, "mounting_roll_deg": dict(script.mounting_roll_deg), **extra}
