"""calibrate(): neutral, optional bends, per-sensor axes with their sign, and the grade.

Per sensor the medio-lateral axis comes from the bends when the sensor bent enough about
one axis, else from the face of its housing (see `direction`); a sensor with neither is
dropped with the reason, and the others are kept. The grade says what the calibration can
be trusted for: "good" only when the bends gave every axis and the sign is verified.
"""

from __future__ import annotations

import numpy as np

from imu import anatomy as A
from imu import quat as Q
from imu.core.calibrate import bends as B
from imu.core.calibrate import direction as D
from imu.core.calibrate.model import (SIGN_ORDER, Calibration, CalibrationError, mean_quat,
                                      tilt_between, to_anatomical_earth, unit, up_in_sensor)
from imu.core.calibrate.neutral import find_neutral, labelled_neutral
from imu.core.result import CalibrationReport
from imu.profile import Thresholds

JOINT_SENSORS = {"thoracic_flexion": ("thoracic", "lumbar"), "lumbar_flexion": ("lumbar", "sacral")}
INCLINATION_OF = {"thoracic": "trunk", "lumbar": "lumbar", "sacral": "sacral"}


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return 0.0
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def _find_neutral(t, quats_e, thr, neutral_window, search):
    if neutral_window is not None:
        return labelled_neutral(t, quats_e, neutral_window, thr)
    lo, hi = search
    region = np.flatnonzero((t >= lo) & (t <= min(hi, lo + thr.calibration_search_s)))
    if len(region) < 3:
        raise CalibrationError(f"no sensor data between {lo:.1f} and {hi:.1f} s to calibrate on")
    sel = slice(region[0], region[-1] + 1)
    found = find_neutral(t[sel], {k: v[sel] for k, v in quats_e.items()}, thr, min_s=thr.neutral_min_s)
    if found is None:
        raise CalibrationError(
            f"no still neutral found: no {thr.neutral_min_s:g} s in which every sensor was still "
            f"(turning under {thr.still_max_rate_dps:g} deg/s) between {t[region[0]]:.0f} and "
            f"{t[region[-1]]:.0f} s")
    return region[0] + found[0], region[0] + found[1]


def _sagittal_reference(excursions, loc: str, face, up) -> np.ndarray:
    """The medio-lateral axis that sorts `loc`'s excursions into bends and side bends: the
    axis of its largest excursion (people bend forward further than sideways), unless the
    housing's face says that one was a side bend; then the face's own axis."""
    biggest = max(excursions, key=lambda x: x.tilt_deg[loc]).axis[loc]
    if face is None:
        return biggest
    from_face = unit(np.cross(face, up))
    if np.isfinite(biggest).all() and abs(float(biggest @ from_face)) >= np.cos(np.radians(50.0)):
        return biggest
    return from_face


def _lumbar_max(quats_e, mounting, headings, windows) -> dict:
    """The largest lumbar angles reached in the bends: the wearer's own maximum, against
    which a lumbar slump is judged (lumbar_flexion needs the sacral sensor)."""
    def segment(loc):
        q = np.concatenate([quats_e[loc][a:b] for a, b in windows])
        return Q.multiply(q, Q.conjugate(mounting[loc]))

    lumbar = segment("lumbar")
    out = {"lumbar_inclination": round(float(np.nanmax(A.inclination(lumbar)[:, 0])), 2)}
    if "sacral" in mounting:
        # each sensor has its own heading reference: line the sacrum up with the lumbar
        # segment as at neutral before taking the relative rotation (as AngleComputer does)
        sacral = Q.multiply(A.heading_quat(headings["lumbar"] - headings["sacral"]), segment("sacral"))
        rel = Q.multiply(Q.conjugate(sacral), lumbar)
        out["lumbar_flexion"] = round(float(np.nanmax(A.joint_angles(rel)[:, 0])), 2)
    return out


def angle_trust(sensors: dict[str, str], sign: str) -> dict[str, str]:
    """Each angle the kept sensors give, and how far to trust it (`sensors`: location ->
    where its axis came from, "bends" or "mounting")."""
    out = {}
    names = [(f"{INCLINATION_OF[loc]}_inclination", f"{INCLINATION_OF[loc]}_lateral_inclination",
              (loc,)) for loc in sensors]
    names += [(j, j.replace("flexion", "lateral_bend"), pair) for j, pair in JOINT_SENSORS.items()
              if all(p in sensors for p in pair)]
    for sagittal, lateral, used in names:
        if sign == "unverified":
            out[sagittal] = out[lateral] = "sign unverified: forward and backward may be swapped"
            continue
        out[sagittal] = "trusted" if sign == "verified" else "sign probable (from the movements only)"
        if all(sensors[u] == "bends" for u in used):
            out[lateral] = out[sagittal]
        else:
            out[lateral] = ("approximate: axis from the sensor's mounting, so a housing tilted on "
                            "the skin mixes up to a quarter of the flexion into this angle")
    return out


def calibrate(t, quats, thr: Thresholds, neutral_window=None, bend_windows=None, *,
              bends: bool = True, mounting_declared: bool = True,
              search: tuple[float, float] | None = None) -> Calibration:
    """Find (or use the given) neutral and bend windows and build the calibration.

    `neutral_window` / `bend_windows` are (start_s, end_s) pairs, e.g. from labels; without
    them the windows are detected (within `search`, e.g. `--calibration FROM:TO`).
    `bends=False` says the data hold no calibration bends: axes from the mounting only.
    `mounting_declared` says the sensors' axes are the documented ones (our own devices),
    so the face of each housing is evidence of which way is forward.
    Raises CalibrationError when no neutral exists; otherwise the report says whether the
    gate passed and what each angle can be trusted for.
    """
    t = np.asarray(t, float)
    search = search or (float(t[0]) if len(t) else 0.0, np.inf)
    quats_e = {loc: to_anatomical_earth(q) for loc, q in quats.items()}
    n0, n1 = _find_neutral(t, quats_e, thr, neutral_window, search)
    reasons, notes, details = [], [], {loc: {} for loc in quats_e}
    neutral_q = {loc: mean_quat(q[n0:n1]) for loc, q in quats_e.items()}
    for loc, q in quats_e.items():
        valid = q[n0:n1][np.isfinite(q[n0:n1]).all(axis=1)]
        spread = float(np.max(tilt_between(valid, neutral_q[loc]))) if len(valid) else np.inf
        details[loc]["neutral_spread_deg"] = round(spread, 2)
        if spread > thr.still_max_spread_deg:
            reasons.append(f"{loc} sensor was not still during the neutral ({spread:.1f} deg of movement)")

    used = _sagittal_bends(t, quats_e, neutral_q, n1, search, thr, bend_windows, reasons, notes) if bends else []
    use_bends = len(used) >= thr.bends_required
    if not use_bends:
        details["bends"] = (f"{len(used)} forward bend(s) found, {thr.bends_required} needed"
                            if bends else "no bends in this recording (told so)")
        used = []
    windows = [(e.start, e.end) for e in used]
    bent = {loc: bool(used) and max(e.tilt_deg[loc] for e in used) >= thr.bend_min_deg / 2
            for loc in quats_e}
    for loc in quats_e:
        if used:
            details[loc]["bend_deg"] = round(max(e.tilt_deg[loc] for e in used), 1)
    disagreement: list[str] = []
    dropped = _disagreeing(quats_e, neutral_q, windows, bent, thr, details, disagreement)
    if disagreement and bend_windows is None:
        # found, not labelled: the wearer's own movements, not calibration bends
        notes.append("the movements after the neutral were not calibration bends ("
                     + disagreement[0].removeprefix("sensors disagree: ") + ")")
        details["bends"] = "movements after the neutral were not bends"
        used, windows, bent = [], [], {loc: False for loc in quats_e}
    else:
        reasons += disagreement

    mounting, headings, decisions, source = {}, {}, {}, {}
    for loc, q in quats_e.items():
        if loc in dropped:
            continue
        mounting[loc], source[loc], decisions[loc] = _sensor_frame(
            loc, t, q, neutral_q[loc], used, bent[loc], mounting_declared, thr, details[loc], notes)
        headings[loc] = float(A.heading_deg(Q.multiply(neutral_q[loc], Q.conjugate(mounting[loc]))))
    _signs_from_agreement(quats_e, mounting, decisions, windows, details)

    for loc, why in dropped.items():
        notes.append(f"{loc} sensor left out: {why}")
    if not mounting:
        reasons.append("no sensor could be calibrated")
    sign = max((d.status for d in decisions.values()), key=SIGN_ORDER.index, default="unverified")
    notes += [d.reason for d in decisions.values() if d.reason]
    if used and "lumbar" in mounting:
        details["lumbar_max_deg"] = _lumbar_max(quats_e, mounting, headings, windows)

    ok = not reasons
    if not ok:
        quality = "failed"
    elif sign == "unverified":
        quality = "unverified"
    elif not used:
        quality = "nominal" if sign == "verified" else "fair"
        notes.insert(0, f"no forward bends ({details['bends']}): each sensor's flexion axis "
                        "comes from its mounting (the face of the housing out of the back)")
    else:
        worst = min((details[loc].get("axis_planarity", 0.0) for loc in mounting), default=0.0)
        weak = dropped or any(s != "bends" for s in source.values()) or sign != "verified"
        quality = "good" if worst >= 0.9 and not weak else "fair"
    if ok:
        details["angles"] = angle_trust(source, sign)
    last = max([n1 - 1] + [e.end - 1 for e in used])
    report = CalibrationReport(
        ok, quality, reasons + notes if not ok else notes, (float(t[n0]), float(t[n1 - 1])),
        [(float(t[e.start]), float(t[e.end - 1])) for e in used], details, sign, dropped,
    )
    return Calibration(mounting, headings, float(t[last]), report, (float(t[n0]), float(t[last])))


def _sagittal_bends(t, quats_e, neutral_q, n1, search, thr, bend_windows, reasons, notes) -> list:
    """The plausible excursions after the neutral that bend the trunk forward or back (at most
    six, the largest), or [] when they are too small to give an axis."""
    stop = int(np.searchsorted(t, min(t[n1 - 1] + thr.calibration_search_s, search[1]), side="right"))
    allowed = None
    if bend_windows is not None:
        allowed = np.zeros(stop, dtype=bool)
        for s, e in bend_windows:
            allowed |= (t[:stop] >= s) & (t[:stop] <= e)
    head = {k: v[:stop] for k, v in quats_e.items()}
    found = B.find_excursions(t[:stop], head, neutral_q, n1, thr, allowed)
    plausible = B.plausible_bends(t, found, thr, stop, bend_windows is not None, float(t[n1 - 1]))
    excursions = B.describe(head, neutral_q, plausible)
    ups = {loc: up_in_sensor(neutral_q[loc]) for loc in quats_e}
    used = []
    for e in excursions:
        lead = max(e.tilt_deg, key=e.tilt_deg.get)  # the most-moving sensor classifies it
        face = D.face_anterior(ups[lead], thr)
        if B.sagittal([e], lead, _sagittal_reference(excursions, lead, face, ups[lead]))[0]:
            used.append(e)
    if len(used) < len(excursions):
        notes.append(f"{len(excursions) - len(used)} side bend(s) or twist(s) left out of the flexion axis")
    used = sorted(sorted(used, key=lambda e: -max(e.tilt_deg.values()))[:6], key=lambda e: e.start)
    most = max((max(e.tilt_deg.values()) for e in used), default=0.0)
    if used and most < thr.bend_min_deg:
        if bend_windows is not None:
            reasons.append(f"the forward bends reached only {most:.0f} deg (needs {thr.bend_min_deg:.0f})")
        else:
            notes.append(f"movements after the neutral reached only {most:.0f} deg, too small "
                         f"for a flexion axis (needs {thr.bend_min_deg:.0f})")
            return []
    return used


def _disagreeing(quats_e, neutral_q, windows, bent, thr, details, reasons) -> dict[str, str]:
    """Sensors that bent, but not with the others: dropped with the reason when the others
    agree among themselves; with no such majority the calibration is refused."""
    moving = [loc for loc in quats_e if bent[loc]]
    if not windows or len(moving) < 2:
        return {}
    courses = {loc: np.concatenate([tilt_between(quats_e[loc][a:b], neutral_q[loc]) for a, b in windows])
               for loc in moving}
    for loc in moving:
        details[loc]["bend_correlation"] = round(max(
            _correlation(courses[loc], courses[o]) for o in moving if o != loc), 3)
    loose = [loc for loc in moving if details[loc]["bend_correlation"] < thr.sensor_agreement_min]
    if loose and len(moving) - len(loose) < 2:  # no majority to say which one is wrong
        first, rest = loose[-1], [m for m in moving if m != loose[-1]]
        reasons.append(f"sensors disagree: the {first} sensor did not bend with the "
                       f"{' and '.join(rest)} sensor (correlation {details[first]['bend_correlation']:.2f})")
        return {}
    return {loc: (f"did not bend with the other sensors (correlation "
                  f"{details[loc]['bend_correlation']:.2f}): loose or on the wrong body part")
            for loc in loose}


def _sensor_frame(loc, t, q, neutral, used, bent, declared, thr, details, notes):
    """One sensor's mounting (segment axes in sensor coordinates), where its medio-lateral axis
    came from ("bends", "mounting" or "assumed") and the decision on its sign."""
    up = up_in_sensor(neutral)
    face = D.face_anterior(up, thr)
    windows = [(e.start, e.end) for e in used]
    axis = None
    if windows and bent:
        axis, planarity = B.flexion_axis(t, q, windows)
        details["axis_planarity"] = round(planarity, 3)
        if planarity < thr.sensor_agreement_min:
            notes.append(f"{loc} sensor turned about no single axis during the bends "
                         f"(planarity {planarity:.2f})")
            axis = None
    elif windows:
        notes.append(f"{loc} sensor bent only {details['bend_deg']:.0f} deg "
                     f"(needs {thr.bend_min_deg / 2:.0f} for its own axis)")
    if axis is not None:
        z, source = unit(axis - np.dot(axis, up) * up), "bends"
    elif face is not None:
        z, source = unit(np.cross(face, up)), "mounting"
    else:  # the nominal axes as a last resort (sensor x to the right); the sign says so
        z, source = unit(np.array([1.0, 0.0, 0.0]) - up[0] * up), "assumed"
    anterior = np.cross(up, z)
    forward, backward = D.motion_extent([e.up_at_peak[loc] for e in used], anterior)
    decision = D.decide(loc, anterior, face, declared, forward, backward, thr)
    if decision.sign < 0:
        z, anterior = -z, -anterior
    details.update(axis_from=source, sagittal_sign=decision.status, sign_evidence=decision.evidence)
    segment_in_sensor = np.column_stack([anterior, up, z])  # columns: segment axes, sensor coords
    return Q.from_matrix(segment_in_sensor.T), source, decision


def _signs_from_agreement(quats_e, mounting, decisions, windows, details) -> None:
    """A sensor whose sign is not verified is checked against a verified one's sagittal tilt
    in the bends: moving with it makes an unverified sign probable, against it makes a
    probable sign unverified."""
    known = [loc for loc, d in decisions.items() if d.status == "verified"]
    if not known or not windows:
        return
    ref = known[0]

    def course(loc):
        return D.sagittal_course(quats_e[loc], windows, Q.rotate(Q.conjugate(mounting[loc]), [1.0, 0, 0]))

    for loc, d in decisions.items():
        if d.status == "verified":
            continue
        agree = D.agreement_sign(course(loc), course(ref))
        if agree is None:
            continue
        d.evidence["agreement"] = f"{'moves with' if agree > 0 else 'moves against'} the {ref} sensor"
        if agree > 0 and d.status == "unverified" and d.evidence.get("movement") != "disagrees":
            d.status, d.reason = "probable", f"{loc} sensor: forward taken from the {ref} sensor it bends with"
        elif agree < 0 and d.status == "probable":
            d.status, d.reason = "unverified", f"{loc} sensor: tilts against the {ref} sensor in the bends"
        details[loc]["sagittal_sign"] = d.status
