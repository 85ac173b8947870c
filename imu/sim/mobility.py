"""Scenarios for issue 13 items 2 and 4: a thoracic mobility test and a desk day with posture
resets done without guidance, each with the truth the features are checked on.

`mobility`: standing calibration, then flexion, extension, side bending left and right and
rotation left and right, once each, in the order `imu live --test mobility` asks for them;
each movement goes out to the wearer's end range, holds it about 3 s and comes back to
standing tall, with a rest between. The wearer has a known left/right asymmetry in side
bending and in rotation (e.g. thoracic rotation left 35 deg, right 28 deg), the side chosen
by the seed. Phases are labelled `mobility_<movement>`.

`desk_resets`: desk work (sitting calibration, slouches, a walk) with four posture resets of
three kinds (the guided routine done alone, thoracic extensions over the chair back, a
standing back-bend) and decoys that are not resets: leaning back in the chair with a
neutral spine, overhead side stretches, a seated twist, a forward stretch and a yawn-arch
(thoracic extension held about a second).

Truth (what the features are compared with): `mobility_truth()` gives, per movement, the
true range of each angle the test reports: the extreme of the wearer's true angle within the
movement's phase in the movement's direction, from its value at the phase's start; for the
trunk's rotation against the room, the change of the thoracic segment's heading from the
phase's start. `resets_truth()` gives the spans of the resets and of the decoys.
"""

from __future__ import annotations

import numpy as np

from imu.sim.script import Script, ScriptBuilder, script_rng

MOVEMENTS = ("flexion", "extension", "side_bend_left", "side_bend_right", "rotation_left",
             "rotation_right")
MOBILITY_PHASE_LABELS = tuple(f"mobility_{m}" for m in MOVEMENTS)
RESET_KINDS = ("reset_routine", "reset_thoracic", "reset_standing")
DECOY_KINDS = ("recline", "side_stretch", "seated_twist", "forward_stretch", "yawn_arch")
RESET_PHASE_LABELS = RESET_KINDS + DECOY_KINDS


# --- the mobility test --------------------------------------------------------------------

def mobility_targets(r: np.random.Generator) -> dict[str, dict]:
    """Channel targets at the end range of each movement, asymmetric between the sides."""
    def sided(big: float, small: float, bigger_left: bool) -> tuple[float, float]:
        return (big, small) if bigger_left else (small, big)

    lat_left, lat_right = sided(1.0, r.uniform(0.70, 0.82), bool(r.integers(2)))
    lumbar_lat, thoracic_lat = r.uniform(15, 20), r.uniform(13, 18)
    rot_big = r.uniform(33, 38)
    rot_left, rot_right = sided(rot_big, rot_big - r.uniform(6, 9), bool(r.integers(2)))
    lumbar_rot = r.uniform(4, 7)
    return {
        "flexion": dict(pelvic_tilt=r.uniform(40, 50), lumbar_flex=r.uniform(35, 45),
                        thoracic_flex=r.uniform(18, 28)),
        "extension": dict(pelvic_tilt=-r.uniform(8, 12), lumbar_flex=-r.uniform(15, 22),
                          thoracic_flex=-r.uniform(8, 14)),
        "side_bend_left": dict(lumbar_lat=-lumbar_lat * lat_left, thoracic_lat=-thoracic_lat * lat_left,
                               pelvic_list=2.0),
        "side_bend_right": dict(lumbar_lat=lumbar_lat * lat_right, thoracic_lat=thoracic_lat * lat_right,
                                pelvic_list=-2.0),
        # rotation right +; the pelvis turns a little with it (heading: left turn +)
        "rotation_left": dict(thoracic_rot=-rot_left, lumbar_rot=-lumbar_rot, heading=r.uniform(5, 10)),
        "rotation_right": dict(thoracic_rot=rot_right, lumbar_rot=lumbar_rot, heading=-r.uniform(5, 10)),
    }


def build_mobility(r: np.random.Generator, duration_s: float | None, sacral: bool):
    b = ScriptBuilder(r)
    b.standing = True
    b.calibration()
    b.neutral("stand", 8.0)
    targets = mobility_targets(r)
    for movement in MOVEMENTS:
        out_s, hold_s, back_s = r.uniform(2.0, 2.5), r.uniform(2.5, 3.5), r.uniform(2.0, 2.5)
        label = f"mobility_{movement}"
        b.hold(label, out_s + hold_s, out_s, sway=0.5, **targets[movement])
        b.hold(label, back_s + 0.5, back_s, sway=0.5)
        b.neutral("stand", r.uniform(5.5, 6.5), transition_s=0.5)
    end = b.t + 5.0 if duration_s is None else max(duration_s, b.t + 1.0)
    b.neutral("stand", end - b.t)
    return b.build("mobility", sacral), {"commanded": targets}


# --- the desk day with resets and decoys ----------------------------------------------------

def _reset_routine(b: ScriptBuilder) -> None:
    """The guided routine done alone: extension, upright hold (chin tuck), thoracic extension."""
    r = b.rng
    b.hold("reset_routine", 2.0 + r.uniform(4, 6), 2.0, pelvic_tilt=-6.0, lumbar_flex=-r.uniform(8, 12),
           thoracic_flex=-r.uniform(13, 17))
    b.hold("reset_routine", 1.5 + r.uniform(7, 9), 1.5, sway=0.3)
    b.hold("reset_routine", 2.0 + r.uniform(4, 6), 2.0, pelvic_tilt=-4.0, lumbar_flex=-2.0,
           thoracic_flex=-r.uniform(15, 20))
    b.hold("reset_routine", 2.0, 2.0)


def _reset_thoracic(b: ScriptBuilder) -> None:
    """Three thoracic extensions over the chair back."""
    r = b.rng
    for _ in range(3):
        b.hold("reset_thoracic", 1.5 + r.uniform(3.5, 5), 1.5, thoracic_flex=-r.uniform(13, 19),
               lumbar_flex=-r.uniform(0, 3), pelvic_tilt=-3.0)
        b.hold("reset_thoracic", 1.5 + r.uniform(2, 3), 1.5)


def _reset_standing(b: ScriptBuilder) -> None:
    """Stand up, two standing back-bends (hands on the lower back), sit down."""
    r = b.rng
    b.stand_up()
    for _ in range(2):
        b.hold("reset_standing", 2.0 + r.uniform(4, 5), 2.0, pelvic_tilt=-r.uniform(6, 10),
               lumbar_flex=-r.uniform(12, 18), thoracic_flex=-r.uniform(11, 16))
        b.hold("reset_standing", 2.0 + r.uniform(1.5, 2.5), 2.0)
    b.sit_down()


def _decoy(b: ScriptBuilder, kind: str) -> None:
    r = b.rng
    if kind == "recline":  # leaning back in the chair, the spine neutral
        b.hold(kind, r.uniform(12, 30), 2.0, pelvic_tilt=-r.uniform(14, 20), lumbar_flex=r.uniform(-2, 3),
               thoracic_flex=r.uniform(-3, 3))
    elif kind == "side_stretch":  # arms overhead, bending to each side
        for side in (-1.0, 1.0):
            b.hold(kind, 1.8 + r.uniform(4, 6), 1.8, thoracic_lat=side * r.uniform(12, 17),
                   lumbar_lat=side * r.uniform(8, 12), thoracic_flex=-r.uniform(1, 4))
        b.hold(kind, 2.0, 1.8)
    elif kind == "seated_twist":
        for side in (-1.0, 1.0):
            b.hold(kind, 1.8 + r.uniform(4, 6), 1.8, thoracic_rot=side * r.uniform(20, 30),
                   lumbar_rot=side * r.uniform(3, 6), thoracic_flex=r.uniform(-3, 2))
        b.hold(kind, 2.0, 1.8)
    elif kind == "forward_stretch":
        b.hold(kind, 2.0 + r.uniform(4, 6), 2.0, pelvic_tilt=r.uniform(35, 45),
               lumbar_flex=r.uniform(25, 35), thoracic_flex=r.uniform(20, 30))
        b.hold(kind, 2.0, 2.0)
    elif kind == "yawn_arch":  # an arch held about a second: no reset
        b.hold(kind, 0.6 + r.uniform(0.5, 0.8), 0.6, thoracic_flex=-r.uniform(12, 16), lumbar_flex=-3.0)
        b.hold(kind, 1.0, 0.8)
    else:
        raise ValueError(f"unknown decoy {kind!r}")


def build_desk_resets(r: np.random.Generator, duration_s: float | None, sacral: bool):
    duration_s = 20 * 60.0 if duration_s is None else duration_s
    b = ScriptBuilder(r)
    b.calibration()
    plan = (["reset_routine", "reset_thoracic", "reset_standing", "reset_routine"]
            + ["recline", "side_stretch", "seated_twist", "forward_stretch", "yawn_arch", "yawn_arch",
               "recline", "side_stretch"]
            + ["slouch", "slouch", "slouch", "walk"])
    order = [plan[i] for i in r.permutation(len(plan))]
    # a reset needs its minute: never two resets back to back without desk work between
    work_s = duration_s - b.t
    if work_s < 15 * 60.0:
        raise ValueError(f"scenario 'desk_resets' needs at least {b.t + 900.0:.0f} s, got {duration_s:g} s")
    gap_s = (work_s - 420.0) / (len(order) + 1)  # about 7 min of events, sitting between
    spans = []
    for item in order:
        b.neutral("sit", gap_s * r.uniform(0.8, 1.2))
        start = b.t
        if item == "walk":
            b.stand_up()
            b.gait("walk", r.uniform(60, 90))
            b.sit_down()
        elif item == "slouch":
            b.slouch(r.uniform(40, 80))
            b.neutral("sit", 3.0)
        elif item == "reset_routine":
            _reset_routine(b)
        elif item == "reset_thoracic":
            _reset_thoracic(b)
        elif item == "reset_standing":
            _reset_standing(b)
        else:
            _decoy(b, item)
        if item in RESET_KINDS or item in DECOY_KINDS:
            spans.append({"kind": item, "reset": item in RESET_KINDS, "start_s": start, "end_s": b.t})
    b.neutral("sit", max(duration_s - b.t, 5.0))
    return b.build("desk_resets", sacral), {"spans": spans}


def build_guided_reset(r: np.random.Generator, duration_s: float | None, sacral: bool):
    """Sitting calibration, then the reset routine as `imu live --reset` asks for it."""
    b = ScriptBuilder(r)
    b.calibration()
    b.neutral("sit", 8.0)
    start = b.t
    _reset_routine(b)
    spans = [{"kind": "reset_routine", "reset": True, "start_s": start, "end_s": b.t}]
    end = b.t + 20.0 if duration_s is None else max(duration_s, b.t + 5.0)
    b.neutral("sit", end - b.t)
    return b.build("guided_reset", sacral), {"spans": spans}


# --- registration and truth ------------------------------------------------------------------

BUILDERS = {
    "mobility": (build_mobility, True),
    "desk_resets": (build_desk_resets, False),
    "guided_reset": (build_guided_reset, False),
}
DESCRIPTIONS = {
    "mobility": "about 2.5 min standing: calibration, then the thoracic mobility test (flexion, "
                "extension, side bending left and right, rotation left and right) with a known "
                "left/right asymmetry; three sensors",
    "desk_resets": "20 min of desk work with four posture resets done without guidance (the "
                   "routine, thoracic extensions, a standing back-bend) and decoys that are not "
                   "resets (reclining, side stretches, a twist, a forward stretch, yawn-arches)",
    "guided_reset": "about 90 s seated: calibration, then the posture reset routine (extension, "
                    "upright hold, thoracic extension) as `imu live --reset` asks for it",
}


def register(builders: dict, descriptions: dict) -> None:
    """Add these scenarios to imu.sim.scenarios' tables (scripts only)."""
    for name, (fn, sacral) in BUILDERS.items():
        builders[name] = ((lambda f: lambda r, d, s: f(r, d, s)[0])(fn), sacral)
        descriptions[name] = DESCRIPTIONS[name]


def _extra(scenario: str, duration_s: float | None, seed: int) -> dict:
    fn, sacral = BUILDERS[scenario]
    return fn(script_rng(seed), duration_s, sacral)[1]


def resets_truth(duration_s: float | None, seed: int, scenario: str = "desk_resets") -> dict:
    """{"resets": [{kind, start_s, end_s}], "decoys": [...]} of scenario desk_resets (or
    guided_reset)."""
    spans = _extra(scenario, duration_s, seed)["spans"]
    return {"resets": [s for s in spans if s["reset"]], "decoys": [s for s in spans if not s["reset"]]}


def mobility_truth(truth) -> dict:
    """movement -> {angle name: true range (deg)} from a simulated session's Truth (see the
    module docstring), and "commanded" asymmetries for the report's reader."""
    from imu import anatomy
    from imu.core.mobility import ANGLES, DIRECTION

    out: dict = {}
    for start, end, label in truth.phases:
        if not label.startswith("mobility_"):
            continue
        movement = label.removeprefix("mobility_")
        inside = (truth.t >= start) & (truth.t < end)
        sign = DIRECTION[movement]
        ranges = {}
        for segment, names in ANGLES[movement].items():
            for name in names:
                if name == "trunk_rotation":
                    heading = anatomy.heading_deg(truth.quats["thoracic"][inside])
                    values = (heading - heading[0] + 180.0) % 360.0 - 180.0
                    values = -values  # heading: left turn +; rotation: right +
                elif name in truth.angles:
                    values = truth.angles[name][inside]
                    values = values - values[0]  # from the upright start, as the test measures
                else:
                    continue
                ranges[name] = float(np.max(sign * values))
        out[movement] = {"start_s": float(start), "end_s": float(end), "ranges": ranges}
    return out
