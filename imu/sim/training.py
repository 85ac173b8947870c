"""Scenarios for issue 13: lifts and hinges of known form, and long sitting with breaks.

Every builder returns the keyframe script and a truth dictionary; `imu.sim.scenarios`
registers the scripts and `training_truth()` rebuilds the dictionary from the same seed (the
script stream of `imu.sim.session`), adding what only the simulated angles can tell.

Lift styles (channel targets at the bottom of the bend, imu.sim.wearer conventions):
- hinge: the hips do the work (pelvic tilt 55-75 deg), the lumbar spine stays near neutral
  (0-8 deg), the upper back flat;
- stoop: a rounded lower back (lumbar flexion 32-42 deg) over little hip flexion (15-30 deg);
- suitcase: a hinge with one hand at the side: the trunk bends sideways toward the load.

Truth definitions (what the lift metrics are compared with):
- a lift spans from the start of its bend keyframe to the end of its return transition;
- its lumbar share is the change of true `lumbar_flexion` over the change of true
  `lumbar_inclination` from the second before the bend to the moment of peak true trunk
  inclination (the definition imu.core.lifts measures);
- rounded: a stoop (expected grade "stoop"); not rounded: hinge and suitcase ("hinge").
- sitting bouts: from the start of a sit-down (the session start for the first) to the
  start of the stand-up that begins a break; a walk shorter than the break minimum
  (60 s) is an interruption inside the bout. Breaks: from that stand-up to the next sit-down.
"""

from __future__ import annotations

import numpy as np

from imu.sim.realpeople import swaying_neutral
from imu.sim.script import ScriptBuilder, script_rng

LIFT_STYLES = ("hinge", "stoop", "suitcase")
TRAINING_PHASE_LABELS = ("lift_hinge", "lift_stoop", "lift_suitcase", "lift_return")
BREAK_MIN_S = 60.0  # the profile's default sitting_break_min_s, which the truth is stated for
BASELINE_S = 1.0


def _lift(b: ScriptBuilder, style: str) -> dict:
    """One bend-and-return from standing; returns its truth entry."""
    r = b.rng
    if style == "hinge":
        pose = dict(pelvic_tilt=r.uniform(55, 75), lumbar_flex=r.uniform(0, 8),
                    thoracic_flex=r.uniform(0, 8))
    elif style == "stoop":
        pose = dict(pelvic_tilt=r.uniform(15, 30), lumbar_flex=r.uniform(32, 42),
                    thoracic_flex=r.uniform(15, 25))
    else:  # suitcase: the load on one side, the trunk bends toward it on the way down
        side = float(r.choice([-1.0, 1.0]))
        pose = dict(pelvic_tilt=r.uniform(50, 65), lumbar_flex=r.uniform(0, 8),
                    thoracic_flex=r.uniform(0, 6), lumbar_lat=side * r.uniform(5, 10),
                    thoracic_lat=side * r.uniform(3, 8), pelvic_list=side * r.uniform(1, 3))
    start = b.t
    down, hold, up = r.uniform(1.0, 1.6), r.uniform(0.4, 1.0), r.uniform(1.0, 1.6)
    b.hold(f"lift_{style}", down + hold, down, sway=0.5, **pose)
    b.hold("lift_return", up + 0.3, up, sway=0.5)
    return {"style": style, "start_s": start, "end_s": start + down + hold + up,
            "rounded": style == "stoop", "commanded": {k: round(v, 2) for k, v in pose.items()}}


def _lifting(r: np.random.Generator, duration_s: float | None, sacral: bool, name: str,
             styles: tuple[str, ...], fidget: bool = False):
    duration_s = 300.0 if duration_s is None else duration_s
    b = ScriptBuilder(r)
    b.standing = True
    b.calibration()
    b.neutral("stand", 6.0)
    per_lift = 14.0
    count = int((duration_s - b.t - 10.0) // per_lift)
    if count < 2:
        raise ValueError(f"scenario {name!r} needs at least {b.t + 10.0 + 2 * per_lift:.0f} s, "
                         f"got {duration_s:g} s")
    plan = [styles[i % len(styles)] for i in range(count)]
    plan = [plan[i] for i in r.permutation(count)]
    lifts = []
    def stand(seconds):
        if fidget:  # shifting weight, drifting a few degrees, still for about a second
            swaying_neutral(b, seconds, label="stand")
        else:
            b.neutral("stand", seconds)

    for k, style in enumerate(plan):
        lifts.append(_lift(b, style))
        if k % 3 == 1:  # carry it a few steps before the next one
            stand(r.uniform(1.5, 2.5))
            b.gait("walk", r.uniform(6.0, 8.0))
        stand(r.uniform(3.0, 5.0))
    b.neutral("stand", max(duration_s - b.t, 5.0))
    return b.build(name, sacral), {"lifts": lifts}


def build_lifting_hinge(r, d, s):
    return _lifting(r, d, s, "lifting_hinge", ("hinge",))


def build_lifting_stoop(r, d, s):
    return _lifting(r, d, s, "lifting_stoop", ("stoop",))


def build_lifting_suitcase(r, d, s):
    return _lifting(r, d, s, "lifting_suitcase", ("suitcase",))


def build_lifting_mixed(r, d, s):
    return _lifting(r, d, s, "lifting_mixed", LIFT_STYLES)


def build_lifting_fidget(r, d, s):
    return _lifting(r, d, s, "lifting_fidget", LIFT_STYLES, fidget=True)


# --- sitting with breaks ---------------------------------------------------------------------

def _seated_work(b: ScriptBuilder, duration_s: float) -> None:
    """Desk work for `duration_s`: sitting tall between slouches, leans and reaches."""
    r = b.rng
    end = b.t + duration_s
    while end - b.t > 70.0:
        b.neutral("sit", r.uniform(20.0, 50.0))
        kind = r.choice(["slouch", "lean", "reach"])
        getattr(b, kind)(r.uniform(5.0, 15.0) if kind != "slouch" else r.uniform(20.0, 40.0))
    b.neutral("sit", max(end - b.t, 1.0))


def build_sitting_breaks(r: np.random.Generator, duration_s: float | None, sacral: bool):
    """Three sitting bouts with two walking breaks between them, and one walk too short to
    be a break in the middle bout. Default 2 h (bouts of about 35 min)."""
    duration_s = 7200.0 if duration_s is None else duration_s
    b = ScriptBuilder(r)
    b.calibration()
    breaks_s = [r.uniform(90.0, 150.0), r.uniform(90.0, 150.0)]
    short_s = r.uniform(15.0, 25.0)
    overhead = b.t + sum(breaks_s) + short_s + 3 * 12.0 + 30.0
    work = duration_s - overhead
    if work < 3 * 100.0:
        raise ValueError(f"scenario 'sitting_breaks' needs at least {overhead + 300.0:.0f} s, "
                         f"got {duration_s:g} s")
    shares = r.uniform(0.28, 0.4, 3)
    bouts_s = work * shares / shares.sum()
    bouts, breaks, interruptions = [], [], []
    start = 0.0
    for k in range(3):
        if k == 1:  # the middle bout holds a walk too short to be a break
            _seated_work(b, bouts_s[k] / 2)
            a = b.t
            b.stand_up()
            b.gait("walk", short_s)
            interruptions.append({"start_s": a, "end_s": b.t})
            b.sit_down()
            _seated_work(b, bouts_s[k] / 2)
        else:
            _seated_work(b, bouts_s[k])
        if k == 2:
            break
        up = b.t
        bouts.append({"start_s": start, "end_s": up})
        b.stand_up()
        b.gait("walk", breaks_s[k])
        start = b.t
        breaks.append({"start_s": up, "end_s": start})
        b.sit_down()
    b.neutral("sit", max(duration_s - b.t, 10.0))
    bouts.append({"start_s": start, "end_s": b.t, "open_at_end": True})
    return b.build("sitting_breaks", sacral), {"sitting_bouts": bouts, "breaks": breaks,
                                               "interruptions": interruptions}


# --- registration and truth ------------------------------------------------------------------

BUILDERS = {
    "lifting_hinge": (build_lifting_hinge, True),
    "lifting_stoop": (build_lifting_stoop, True),
    "lifting_suitcase": (build_lifting_suitcase, True),
    "lifting_mixed": (build_lifting_mixed, True),
    "lifting_fidget": (build_lifting_fidget, True),
    "sitting_breaks": (build_sitting_breaks, False),
}
DESCRIPTIONS = {
    "lifting_hinge": "5 min standing: calibration, then lifts from the floor as good hip hinges "
                     "(lumbar spine near neutral), some carried a few steps; three sensors",
    "lifting_stoop": "the lifting scenario with every lift a stoop: a rounded lower back",
    "lifting_suitcase": "the lifting scenario with suitcase deadlifts: a hinge bending toward "
                        "the load in one hand",
    "lifting_mixed": "hinges, stoops and suitcase deadlifts in random order",
    "lifting_fidget": "the mixed lifts of a real person: between lifts the wearer shifts and "
                      "drifts a few degrees, still for about a second at a time",
    "sitting_breaks": "2 h of desk work: three sitting bouts of about 35 min, two walking breaks "
                      "of 1.5-2.5 min and a walk too short to be a break; `duration` scales it",
}


def register(builders: dict, descriptions: dict) -> None:
    """Add these scenarios to imu.sim.scenarios' tables (scripts only)."""
    for name, (fn, sacral) in BUILDERS.items():
        builders[name] = ((lambda f: lambda r, d, s: f(r, d, s)[0])(fn), sacral)
        descriptions[name] = DESCRIPTIONS[name]


def sitting_truth_from_phases(phases: list[tuple[float, float, str]], duration_s: float) -> dict:
    """Sitting bouts and breaks of any scenario that starts seated (desk, smoke): up from the
    start of a stand-up ("stand" before "walk") to the next sit-down ("sit"); a break when
    that lasts BREAK_MIN_S or more, else an interruption inside the bout."""
    if not phases or phases[0][2] not in ("sit", "calibrate_neutral"):
        return {}
    ups = []
    for k, (start, _, label) in enumerate(phases[:-1]):
        if label == "stand" and phases[k + 1][2] == "walk":
            down = next((s for s, _, lab in phases[k + 1:] if lab == "sit"), duration_s)
            ups.append((start, down))
    breaks = [{"start_s": a, "end_s": b} for a, b in ups if b - a >= BREAK_MIN_S]
    short = [{"start_s": a, "end_s": b} for a, b in ups if b - a < BREAK_MIN_S]
    bouts, start = [], 0.0
    for br in breaks:
        bouts.append({"start_s": start, "end_s": br["start_s"]})
        start = br["end_s"]
    if start < duration_s:
        bouts.append({"start_s": start, "end_s": duration_s, "open_at_end": True})
    return {"sitting_bouts": bouts, "breaks": breaks, "interruptions": short}


def training_truth(sim) -> dict:
    """The lift and sitting truth of a SimulatedSession (see the module docstring)."""
    if sim.scenario not in BUILDERS:
        out = sitting_truth_from_phases(sim.truth.phases, sim.duration_s)
        sim.truth.metadata["training"] = out
        return out
    fn, default_sacral = BUILDERS[sim.scenario]
    _, out = fn(script_rng(sim.seed), sim.duration_s, default_sacral)
    truth = sim.truth
    for lift in out.get("lifts", []):
        inside = (truth.t >= lift["start_s"]) & (truth.t <= lift["end_s"])
        before = (truth.t >= lift["start_s"] - BASELINE_S) & (truth.t < lift["start_s"])
        k = np.flatnonzero(inside)[np.argmax(truth.angles["trunk_inclination"][inside])]
        lift["peak_s"] = float(truth.t[k])
        lift["trunk_inclination_peak_deg"] = float(truth.angles["trunk_inclination"][k])
        d_lf = truth.angles["lumbar_flexion"][k] - np.median(truth.angles["lumbar_flexion"][before])
        d_li = truth.angles["lumbar_inclination"][k] - np.median(truth.angles["lumbar_inclination"][before])
        lift["lumbar_share"] = float(d_lf / d_li)
        lift["lumbar_flexion_deg"] = float(truth.angles["lumbar_flexion"][k])
    sim.truth.metadata["training"] = out
    return out
