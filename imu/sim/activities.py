"""Scenarios for issue 5: running with lean drift, loaded carries (steady and breaking down)
and the torso endurance holds, each with the truth the stability metrics are checked on.

Every builder returns the keyframe script and a truth dictionary; `imu.sim.scenarios`
registers the scripts, and `stability_truth()` rebuilds the dictionary from the same seed
(the script stream of `imu.sim.session`), so `attach_stability_truth()` can put it into
`Truth.metadata["stability"]` of any simulated session.

Truth definitions (what the metrics are compared with):
- activities: the scenario's walk / run / carry / hold phases, start_s and end_s.
- cadence_spm: 60 x the commanded step rate.
- runs: trunk lean = mean true trunk_inclination over the run (calibration is standing, so
  it is relative to the standing neutral); lean drift = mean over the last fifth of the run
  minus mean over the first fifth (same windows as imu.core.running).
- carries: kind, steady or breaking down, and the moment the breakdown began (start of the
  commanded drift or range growth).
- holds: kind and the moment form fails: the commanded deviation from the hold posture
  crosses 10 deg (it then stays beyond it).
"""

from __future__ import annotations

import numpy as np

from imu.sim.script import CHANNEL_INDEX, Script, ScriptBuilder, script_rng

CARRY_KINDS = ("carry_farmer", "carry_suitcase_left", "carry_suitcase_right", "carry_front")
HOLD_KINDS = ("hold_flexor", "hold_extensor", "hold_side_bridge_right", "hold_side_bridge_left",
              "hold_plank", "hold_bird_dog")
ACTIVITY_PHASE_LABELS = CARRY_KINDS + HOLD_KINDS + ("setup",)
FAIL_DEVIATION_DEG = 10.0  # the product default the hold truth is stated against

# hold postures (channel targets) and the channel that fails, with its direction
_HOLD_POSE = {
    "hold_flexor": dict(pelvic_tilt=-30.0),  # sitting, trunk reclined 60 deg from the floor
    "hold_extensor": dict(pelvic_tilt=85.0),  # Biering-Sorensen: prone, trunk unsupported
    "hold_side_bridge_right": dict(pelvic_list=70.0),  # on the right elbow, body rising 20 deg
    "hold_side_bridge_left": dict(pelvic_list=-70.0),
    "hold_plank": dict(pelvic_tilt=78.0),  # forearm plank
    "hold_bird_dog": dict(pelvic_tilt=86.0),  # on all fours
}
_HOLD_FAIL = {
    "hold_flexor": ("pelvic_tilt", -1.0),  # the trunk sinks back
    "hold_extensor": ("lumbar_flex", +1.0),  # the unsupported trunk sinks (flexion)
    "hold_side_bridge_right": ("pelvic_list", -1.0),  # hip drop
    "hold_side_bridge_left": ("pelvic_list", +1.0),
    "hold_plank": ("lumbar_flex", -1.0),  # hips sag: lumbar extension
    "hold_bird_dog": ("lumbar_rot", +1.0),  # the pelvis rolls under the lifted leg
}
_HOLD_NOMINAL_S = {"hold_flexor": (60, 90), "hold_extensor": (55, 85),
                   "hold_side_bridge_right": (35, 50), "hold_side_bridge_left": (35, 50),
                   "hold_plank": (45, 70), "hold_bird_dog": (30, 45)}


def _walk_gait(r: np.random.Generator) -> dict:
    return dict(step_hz=r.uniform(1.8, 2.0), speed=r.uniform(1.2, 1.45), osc_tilt=1.5, osc_flex=1.0,
                osc_list=r.uniform(2.5, 4), osc_yaw=r.uniform(4, 7), osc_lat=r.uniform(2, 4),
                osc_rot=r.uniform(4, 7), bounce_m=r.uniform(0.02, 0.03), fore_aft_m=0.01,
                side_m=0.02, pelvic_tilt=r.uniform(2, 5))


def _run_gait(r: np.random.Generator) -> dict:
    return dict(step_hz=r.uniform(2.7, 3.0), speed=r.uniform(2.8, 3.5), osc_tilt=2.5, osc_flex=2.0,
                osc_list=r.uniform(3, 5), osc_yaw=r.uniform(6, 9), osc_lat=r.uniform(3, 5),
                osc_rot=r.uniform(6, 9), bounce_m=r.uniform(0.035, 0.045), fore_aft_m=0.015,
                side_m=0.015, pelvic_tilt=r.uniform(5.5, 7.0), lumbar_flex=r.uniform(0.5, 1.5),
                thoracic_flex=r.uniform(0.0, 1.0))


def _ramp(b: ScriptBuilder, label: str, duration_s: float, base: dict, change: dict,
          pieces_s: float = 10.0, first_transition_s: float = 1.5) -> None:
    """`duration_s` of `label` whose targets move from `base` to `base + change` along
    consecutive keyframes (a smooth, nearly linear ramp)."""
    n = max(1, int(round(duration_s / pieces_s)))
    piece = duration_s / n
    for k in range(n):
        frac = (k + 1) / n
        targets = dict(base)
        for key, delta in change.items():
            targets[key] = targets.get(key, 0.0) + delta * frac
        b.hold(label, piece, first_transition_s if k == 0 else piece, **targets)


def _standing_start(r: np.random.Generator) -> ScriptBuilder:
    b = ScriptBuilder(r)
    b.standing = True
    b.calibration()
    b.neutral("stand", 10.0)
    return b


# --- running with lean drift --------------------------------------------------------------

def build_run_drift(r: np.random.Generator, duration_s: float | None, sacral: bool):
    duration_s = 420.0 if duration_s is None else duration_s
    b = _standing_start(r)
    work = duration_s - b.t - 10.0
    if work < 120.0:
        raise ValueError(f"scenario 'run_drift' needs at least {b.t + 130.0:.0f} s, got {duration_s:g} s")
    walk_s, run_s = 0.17 * work, 0.66 * work
    walk = _walk_gait(r)
    b.hold("walk", walk_s, 1.5, **walk)
    run = _run_gait(r)
    drift = r.uniform(4.0, 7.0)
    steady = 0.15 * run_s  # lean steady first, then it creeps forward (fatigue)
    b.hold("run", steady, 1.5, **run)
    _ramp(b, "run", run_s - steady, run, {"pelvic_tilt": 0.6 * drift, "thoracic_flex": 0.4 * drift},
          first_transition_s=10.0)
    b.hold("walk", walk_s, 1.5, **walk)
    b.neutral("stand", max(duration_s - b.t, 5.0))
    script = b.build("run_drift", sacral)
    truth = {"commanded_lean_drift_deg": drift,
             "cadence_spm": {"walk": 60 * walk["step_hz"], "run": 60 * run["step_hz"]}}
    return script, truth


# --- carries ------------------------------------------------------------------------------

def _carry_gait(kind: str, walk: dict) -> dict:
    g = dict(walk)
    g["step_hz"] = walk["step_hz"] + 0.06  # loaded: a little quicker, shorter steps
    g["speed"] = walk["speed"] - 0.15
    if kind == "carry_farmer":
        g.update(osc_list=0.8 * walk["osc_list"], osc_lat=0.8 * walk["osc_lat"], thoracic_flex=1.0)
    elif kind in ("carry_suitcase_left", "carry_suitcase_right"):
        away = 1.0 if kind == "carry_suitcase_left" else -1.0  # lean away from the load
        g.update(lumbar_lat=3.0 * away, thoracic_lat=2.0 * away, pelvic_list=-0.8 * away)
    else:  # front: leaning back against the load
        g.update(thoracic_flex=-3.0, pelvic_tilt=walk["pelvic_tilt"] - 2.0)
    return g


def _breakdown_change(kind: str, r: np.random.Generator) -> dict:
    if kind == "carry_farmer":  # the frontal-plane sway grows
        return {"osc_list": r.uniform(2.5, 3.5) * 2.0, "osc_lat": r.uniform(0.8, 1.2)}
    if kind in ("carry_suitcase_left", "carry_suitcase_right"):  # collapses toward the load
        toward = -1.0 if kind == "carry_suitcase_left" else 1.0
        size = r.uniform(7.0, 9.5)
        change = {"lumbar_lat": toward * 0.6 * size, "thoracic_lat": toward * 0.4 * size}
        if kind == "carry_suitcase_right":
            change["osc_list"] = 2.0
        return change
    size = r.uniform(7.0, 9.5)  # front: the backward lean deepens
    return {"thoracic_flex": -0.6 * size, "pelvic_tilt": -0.4 * size}


def _build_carries(r: np.random.Generator, duration_s: float | None, sacral: bool, breaking: bool, name: str):
    duration_s = 480.0 if duration_s is None else duration_s
    b = _standing_start(r)
    walk = _walk_gait(r)
    overhead = b.t + 4 * 16.0 + 10.0
    if duration_s - overhead < 4 * 40.0 + 30.0:
        raise ValueError(f"scenario {name!r} needs at least {overhead + 190.0:.0f} s, got {duration_s:g} s")
    unloaded_s = min(60.0, 0.15 * (duration_s - overhead))
    carry_s = (duration_s - overhead - unloaded_s) / 4
    b.hold("walk", unloaded_s, 1.5, **walk)
    carries = []
    for kind in CARRY_KINDS:
        b.neutral("stand", 4.0)
        b.hold("setup", 4.0, 2.0)  # pick up the load
        b.standing = True
        g = _carry_gait(kind, walk)
        start = b.t
        length = carry_s * r.uniform(0.9, 1.0)
        entry = {"kind": kind, "start_s": start, "end_s": start + length, "breakdown": breaking,
                 "breakdown_at_s": None}
        if breaking:
            onset = r.uniform(0.5, 0.65) * length
            ramp_s = r.uniform(12.0, 18.0)
            b.hold(kind, onset, 1.5, **g)
            change = _breakdown_change(kind, r)
            after = dict(g)
            for key, delta in change.items():
                after[key] = after.get(key, 0.0) + delta
            b.hold(kind, length - onset, ramp_s, **after)
            entry["breakdown_at_s"] = start + onset
        else:
            # a steady carry still wanders a little: slow drift of 1 deg or so
            drift = {"lumbar_lat": r.uniform(-1.0, 1.0), "thoracic_flex": r.uniform(-1.0, 1.0)}
            _ramp(b, kind, length, g, drift, pieces_s=length / 2)
        carries.append(entry)
        b.hold("setup", 4.0, 2.0)  # put it down
        b.neutral("stand", 4.0)
    b.neutral("stand", max(duration_s - b.t, 5.0))
    return b.build(name, sacral), {"carries": carries, "cadence_spm": {"walk": 60 * walk["step_hz"]}}


def build_carries(r, duration_s, sacral):
    return _build_carries(r, duration_s, sacral, False, "carries")


def build_carries_breakdown(r, duration_s, sacral):
    return _build_carries(r, duration_s, sacral, True, "carries_breakdown")


# --- holds --------------------------------------------------------------------------------

def build_holds(r: np.random.Generator, duration_s: float | None, sacral: bool):
    """McGill's four tests (flexor, extensor, side bridges) plus plank and bird dog, each
    held until form fails: the failing channel ramps 16 deg over 6 s, the wearer stops 3 s
    after the 10-deg crossing."""
    duration_s = 480.0 if duration_s is None else duration_s
    nominal = {k: r.uniform(*v) for k, v in _HOLD_NOMINAL_S.items()}
    b = _standing_start(r)
    per_hold_overhead = 3.0 + 3.0 + 8.0 + 3.0  # setup in, post-failure, recover, rest
    overhead = b.t + len(HOLD_KINDS) * per_hold_overhead + 1.0
    scale = (duration_s - overhead) / sum(nominal.values())
    if scale * min(nominal.values()) < 12.0:
        raise ValueError(f"scenario 'holds' needs at least "
                         f"{overhead + 12.0 * sum(nominal.values()) / min(nominal.values()):.0f} s, "
                         f"got {duration_s:g} s")
    ramp_s, size = 6.0, 16.0
    cross = ramp_s * np.arccos(1.0 - 2.0 * FAIL_DEVIATION_DEG / size) / np.pi
    holds = []
    for kind in HOLD_KINDS:
        pose = dict(_HOLD_POSE[kind], sway=0.5)
        b.hold("setup", 3.0, 3.0, **pose)
        b.standing = False
        start = b.t
        fail_after = scale * nominal[kind]  # time until form fails
        onset = fail_after - cross
        b.hold(kind, onset, 0.5, **pose)
        channel, sign = _HOLD_FAIL[kind]
        failed = dict(pose)
        failed[channel] = failed.get(channel, 0.0) + sign * size
        b.hold(kind, cross + 3.0, ramp_s, **failed)
        holds.append({"kind": kind, "start_s": start, "end_s": b.t, "failure_at_s": start + fail_after,
                      "time_to_failure_s": fail_after})
        b.hold("setup", 3.0, 3.0)
        b.standing = True
        b.neutral("stand", 8.0)
    b.neutral("stand", max(duration_s - b.t, 1.0))
    return b.build("holds", sacral), {"holds": holds}


# --- registration and truth ----------------------------------------------------------------

BUILDERS = {
    "run_drift": (build_run_drift, True),
    "carries": (build_carries, False),
    "carries_breakdown": (build_carries_breakdown, False),
    "holds": (build_holds, True),
}
DESCRIPTIONS = {
    "run_drift": "about 7 min standing: calibration, walking, running whose forward lean creeps "
                 "up 4-7 deg, walking; three sensors",
    "carries": "8 min: calibration, unloaded walking, then farmer, suitcase left, suitcase right "
               "and front carries, all steady (carry phases labelled carry_*)",
    "carries_breakdown": "the carries scenario with every carry breaking down half-way: lateral "
                         "sway growing (farmer), collapse toward the load (suitcases), deepening "
                         "backward lean (front)",
    "holds": "about 8 min: calibration, then flexor, Biering-Sorensen extensor, right and left side "
             "bridge, plank and bird dog holds, each until form fails; three sensors",
}


def register(builders: dict, descriptions: dict) -> None:
    """Add these scenarios to imu.sim.scenarios' tables (scripts only)."""
    for name, (fn, sacral) in BUILDERS.items():
        builders[name] = ((lambda f: lambda r, d, s: f(r, d, s)[0])(fn), sacral)
        descriptions[name] = DESCRIPTIONS[name]


def stability_truth(scenario: str, duration_s: float, seed: int, truth=None, script: Script | None = None) -> dict:
    """The metric truth of a simulated session (see the module docstring). `truth` (the
    session's Truth) adds activities and the true lean and lean drift of each run; `script`
    (the wearer's) adds the commanded cadence of each gait phase."""
    out: dict = {"scenario": scenario}
    if scenario in BUILDERS:
        fn, default_sacral = BUILDERS[scenario]
        _, extra = fn(script_rng(seed), duration_s, default_sacral)
        out.update(extra)
    if truth is None:
        return out
    phases = truth.phases
    kinds = {"walk": "walking", "run": "running"}
    out["activities"] = [{"kind": kinds.get(k, k), "start_s": float(s), "end_s": float(e)}
                         for s, e, k in phases if k in kinds or k in CARRY_KINDS]
    cadence = {}
    if script is not None:
        ends = np.append(script.starts[1:], script.duration_s)
        step = script.targets[:, CHANNEL_INDEX["step_hz"]]
        for s, e, k in phases:
            if k in kinds or k in CARRY_KINDS:
                inside = (script.starts >= s - 1e-9) & (ends <= e + 1e-9)
                cadence[(s, e)] = float(60.0 * np.median(step[inside]))
        for a in out["activities"]:
            a["cadence_spm"] = cadence.get((a["start_s"], a["end_s"]))
    runs = []
    for s, e, k in phases:
        if k != "run":
            continue
        inside = (truth.t >= s) & (truth.t < e)
        lean = truth.angles["trunk_inclination"]
        fifth = (e - s) / 5.0
        first = inside & (truth.t < s + fifth)
        last = inside & (truth.t >= e - fifth)
        runs.append({"start_s": float(s), "end_s": float(e),
                     "trunk_lean_mean_deg": float(lean[inside].mean()),
                     "lean_drift_deg": float(lean[last].mean() - lean[first].mean()),
                     "cadence_spm": cadence.get((s, e))})
    out["runs"] = runs
    return out


def attach_stability_truth(sim) -> dict:
    """Put stability_truth() of a SimulatedSession into sim.truth.metadata["stability"]."""
    script = sim._wearer.script if sim._wearer is not None else None
    info = stability_truth(sim.scenario, sim.duration_s, sim.seed, sim.truth, script)
    sim.truth.metadata["stability"] = info
    return info


def label_annotations(truth) -> list[tuple[float, float, str]]:
    """The carry and hold phases as the wearer would mark them with `imu annotate`."""
    return [(float(s), float(e), k) for s, e, k in truth.phases if k in CARRY_KINDS + HOLD_KINDS]
