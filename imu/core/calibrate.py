"""Calibration: each sensor's vertical, flexion axis and neutral (DESIGN section 4).

1. Neutral: a window of at least `neutral_still_s` where every sensor is still. Gravity in
   each sensor's frame is its segment's superior (y) axis; the window is every angle's zero.
2. Flexion axis: the principal axis of angular velocity during two or three forward bends,
   made orthogonal to the vertical, is the segment's medio-lateral (z) axis. That also fixes
   each segment's heading, so sensors with different heading references line up. Without
   bends, the nominal mounting (firmware_notes/placement.md) gives the z axis instead.
3. Quality gate: refused, with reasons, when the wearer was not still, the bends were too
   small, or the sensors disagree (a bend that tilts a segment sideways more than forward
   means that segment's axis is wrong).

Input is the analysis grid: times and per-sensor quaternions (sensor -> sensor earth, z up).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from imu import anatomy as A
from imu import quat as Q
from imu.core.context import lagged_angular_speed, trailing_mean
from imu.core.result import CalibrationReport
from imu.profile import Thresholds


@dataclass
class Calibration:
    mounting: dict[str, np.ndarray]  # location -> quaternion: sensor axes in segment coordinates
    neutral_heading_deg: dict[str, float]  # heading of each calibrated segment at neutral
    applies_from_s: float  # angles are measured from this session time on
    report: CalibrationReport = field(default_factory=lambda: CalibrationReport(False, "failed", []))

    def to_dict(self) -> dict:
        r = self.report
        return {
            "mounting": {k: [float(x) for x in v] for k, v in self.mounting.items()},
            "neutral_heading_deg": {k: float(v) for k, v in self.neutral_heading_deg.items()},
            "applies_from_s": float(self.applies_from_s),
            "ok": r.ok, "quality": r.quality, "reasons": list(r.reasons),
            "neutral": list(r.neutral) if r.neutral else None,
            "bends": [list(b) for b in r.bends], "details": r.details,
        }

    @staticmethod
    def from_dict(data: dict) -> "Calibration":
        report = CalibrationReport(
            bool(data["ok"]), data["quality"], list(data["reasons"]),
            tuple(data["neutral"]) if data.get("neutral") else None,
            [tuple(b) for b in data.get("bends", [])], data.get("details", {}),
        )
        return Calibration(
            {k: np.asarray(v, float) for k, v in data["mounting"].items()},
            {k: float(v) for k, v in data["neutral_heading_deg"].items()},
            float(data["applies_from_s"]), report,
        )


class CalibrationError(ValueError):
    """Calibration refused; the message gives the reasons."""


def to_anatomical_earth(q_sensor: np.ndarray) -> np.ndarray:
    return Q.multiply(A.SENSOR_EARTH_TO_E, q_sensor)


def angular_speed_dps(t: np.ndarray, q: np.ndarray, smooth_s: float = 0.5) -> np.ndarray:
    """Angular speed of a sensor over the trailing `smooth_s`; NaN where nothing is known."""
    if len(t) < 2:
        return np.zeros(len(t))
    rate = 1.0 / np.median(np.diff(t))
    speed = lagged_angular_speed(q[:0], q, rate)
    return trailing_mean(np.empty(0), speed, max(int(round(smooth_s * rate)), 1))


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) index pairs of True runs, end exclusive."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return list(zip(edges[::2], edges[1::2]))


def tilt_between(q: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Angle between the vertical seen by a sensor and a reference (heading ignored), deg.

    Only the vertical matters for the neutral; heading wanders with each sensor's fusion.
    """
    up = Q.rotate(Q.conjugate(q), A.UP)
    ref_up = Q.rotate(Q.conjugate(ref), A.UP)
    return np.degrees(np.arccos(np.clip(np.sum(up * ref_up, axis=-1), -1.0, 1.0)))


def _close_small_gaps(mask: np.ndarray, max_gap: int) -> np.ndarray:
    """Fill False runs of at most max_gap samples that lie between True runs."""
    out = mask.copy()
    for a, b in _runs(~mask):
        if 0 < a and b < len(mask) and b - a <= max_gap:
            out[a:b] = True
    return out


def _mean_quat(q: np.ndarray) -> np.ndarray:
    """Average of nearby quaternions (sign-aligned mean, renormalised)."""
    q = q[~np.isnan(q).any(axis=1)]
    signs = np.where(q @ q[0] < 0, -1.0, 1.0)
    return Q.normalize((q * signs[:, None]).mean(axis=0))


def find_neutral(t, quats_e, thr: Thresholds, start_s: float = 0.0):
    """First window of at least neutral_still_s in which every sensor is still.

    The ends of a still run are trimmed while any sensor tilts more than the allowed spread
    from the run's central second, so the slow start or end of a movement never enters the
    neutral, while sway inside it does not split it.
    """
    still = np.ones(len(t), dtype=bool)
    for q in quats_e.values():
        still &= angular_speed_dps(t, q) < thr.still_max_rate_dps  # NaN (unknown) is not still
    still &= t >= start_s
    dt = np.median(np.diff(t))
    half = max(int(round(0.5 / dt)), 1)
    still = _close_small_gaps(still, int(round(0.3 / dt)))  # a lost packet is not a movement
    for a, b in _runs(still):
        if (b - a) * dt < thr.neutral_still_s:
            continue
        mid = (a + b) // 2
        drift = np.zeros(b - a)
        for q in quats_e.values():
            ref = _mean_quat(q[max(mid - half, a):mid + half])
            drift = np.maximum(drift, np.nan_to_num(tilt_between(q[a:b], ref), nan=0.0))
        # cut inside the gate's limit, so the window's own spread passes the gate
        within = np.flatnonzero(drift <= 0.75 * thr.still_max_spread_deg)
        if len(within):
            a, b = a + int(within[0]), a + int(within[-1]) + 1
        if (b - a) * dt >= thr.neutral_still_s:
            return a, b
    return None


def find_bends(t, quats_e, neutral_q, after: int, thr: Thresholds, allowed=None):
    """Forward-bend excursions after the neutral window: (start, peak, end) indices.

    `allowed` (a boolean mask) restricts the search, e.g. to spans labelled as bends."""
    # tilt only: turning on the spot (walking, a swivel chair) changes heading, not tilt
    deviation = np.min(
        [tilt_between(quats_e[loc], neutral_q[loc]) for loc in quats_e], axis=0
    )  # the least-moving sensor must move too
    deviation = np.where(np.isnan(deviation), 0.0, deviation)
    deviation[:after] = 0.0
    if allowed is not None:
        deviation[~allowed] = 0.0
    bends = []
    for a, b in _runs(deviation > thr.bend_min_deg * 0.25):
        peak = a + int(np.argmax(deviation[a:b]))
        if deviation[peak] >= thr.bend_min_deg * 0.5:
            bends.append((a, peak, b))
    return bends, deviation


def _flexion_axis(t, q_sensor_e, windows, lag_s: float = 0.2):
    """Principal axis of angular velocity (sensor frame) over the bend windows.

    Velocity comes from the rotation over `lag_s` rather than from consecutive samples, so
    per-sample sensor noise does not swamp a slow bend.
    """
    lag = max(int(round(lag_s / np.median(np.diff(t)))), 1)
    omegas = []
    for a, b in windows:
        q = q_sensor_e[a:b]
        if len(q) <= lag:
            continue
        inc = Q.multiply(Q.conjugate(q[:-lag]), q[lag:])  # sensor-frame rotation over the lag
        rotvec = Q.to_rotvec(inc) / (t[a + lag:b] - t[a:b - lag])[:, None]
        omegas.append(rotvec[np.isfinite(rotvec).all(axis=1)])
    w = np.concatenate(omegas) if omegas else np.empty((0, 3))
    if len(w) < 5:
        return None, 0.0
    eigval, eigvec = np.linalg.eigh(w.T @ w)
    planarity = float(eigval[-1] / max(eigval.sum(), 1e-12))
    return eigvec[:, -1], planarity


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


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return 0.0
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def calibrate(t, quats, thr: Thresholds, neutral_window=None, bend_windows=None) -> Calibration:
    """Find (or use the given) neutral and bend windows and build the calibration.

    `neutral_window` / `bend_windows` are (start_s, end_s) pairs, e.g. from CSV labels or the
    guided live calibration; without them the windows are detected. Raises CalibrationError
    when no still neutral exists; otherwise returns a Calibration whose report says whether
    the gate passed.
    """
    quats_e = {loc: to_anatomical_earth(q) for loc, q in quats.items()}
    if neutral_window is not None:
        sel = np.flatnonzero((t >= neutral_window[0]) & (t <= neutral_window[1]))
        found = (sel[0], sel[-1] + 1) if len(sel) else None
    else:
        search = t <= t[0] + thr.calibration_search_s if len(t) else t
        found = find_neutral(t[search], {k: v[search] for k, v in quats_e.items()}, thr)
    if found is None:
        raise CalibrationError(
            f"no still neutral found: nobody stood or sat still for {thr.neutral_still_s:g} s")
    n0, n1 = found
    reasons, details = [], {loc: {} for loc in quats_e}
    neutral_q = {loc: _mean_quat(q[n0:n1]) for loc, q in quats_e.items()}
    for loc, q in quats_e.items():
        valid = q[n0:n1][~np.isnan(q[n0:n1]).any(axis=1)]
        spread = float(np.max(tilt_between(valid, neutral_q[loc]))) if len(valid) else np.inf
        details[loc]["neutral_spread_deg"] = round(spread, 2)
        if spread > thr.still_max_spread_deg:
            reasons.append(f"{loc} sensor was not still during the neutral ({spread:.1f} deg of movement)")

    limit = t <= t[n1 - 1] + thr.calibration_search_s
    allowed = None
    if bend_windows is not None:
        allowed = np.zeros(int(limit.sum()), dtype=bool)
        for s, e in bend_windows:
            allowed |= (t[limit] >= s) & (t[limit] <= e)
    bends, _ = find_bends(t[limit], {k: v[limit] for k, v in quats_e.items()},
                          neutral_q, n1, thr, allowed)
    bends = bends[:3]

    mounting, headings = {}, {}
    use_bends = len(bends) >= thr.bends_required
    windows = [(a, b) for a, _, b in bends]
    for loc, q in quats_e.items():
        up = Q.rotate(Q.conjugate(neutral_q[loc]), A.UP)  # segment y axis in sensor coordinates
        axis, planarity = (None, 0.0)
        if use_bends:
            axis, planarity = _flexion_axis(t, q, windows)
            details[loc]["axis_planarity"] = round(planarity, 3)
            peak = max(float(np.nanmax(tilt_between(q[a:b], neutral_q[loc]))) for a, b in windows)
            details[loc]["bend_deg"] = round(peak, 1)
            # the pelvis tilts less than the spine above it: each sensor needs half the
            # minimum for its axis, the most-bent one the full minimum (checked below)
            if peak < thr.bend_min_deg / 2:
                reasons.append(f"{loc} sensor bent only {peak:.0f} deg (needs {thr.bend_min_deg / 2:.0f})")
        if axis is None:
            axis = Q.rotate(Q.conjugate(A.NOMINAL_SENSOR_IN_SEGMENT), [0.0, 0.0, 1.0])
        z = axis - np.dot(axis, up) * up
        z /= np.linalg.norm(z)
        x = np.cross(up, z)
        if use_bends:
            # during a forward bend earth-up, seen from the segment, tips backwards (-x)
            a, p, b = max(bends, key=lambda w: w[1] - w[0])
            peak_idx = a + int(np.nanargmax(tilt_between(q[a:b], neutral_q[loc])))
            up_at_peak = Q.rotate(Q.conjugate(q[peak_idx]), A.UP)
            if np.dot(up_at_peak, x) > 0:
                z, x = -z, -x
        segment_in_sensor = np.column_stack([x, up, z])  # columns: segment axes, sensor coords
        mounting[loc] = Q.from_matrix(segment_in_sensor.T)
        headings[loc] = float(A.heading_deg(Q.multiply(neutral_q[loc], Q.conjugate(mounting[loc]))))

    if use_bends:
        # the sensors must bend together, each about one axis; otherwise one sits loose or wrong
        courses = {loc: np.concatenate([tilt_between(q[a:b], neutral_q[loc]) for a, b in windows])
                   for loc, q in quats_e.items()}
        locs = list(courses)
        for other in locs[1:]:
            r = _correlation(courses[locs[0]], courses[other])
            details[other]["bend_correlation"] = round(r, 3)
            if r < thr.sensor_agreement_min:
                reasons.append(f"sensors disagree: the {other} sensor did not bend with the "
                               f"{locs[0]} sensor (correlation {r:.2f})")
        for loc in locs:
            planarity = details[loc].get("axis_planarity", 1.0)
            if planarity < thr.sensor_agreement_min:
                reasons.append(f"sensors disagree: the {loc} sensor turned about no single axis "
                               f"during the bends (planarity {planarity:.2f})")
    else:
        reasons_soft = f"{len(bends)} forward bend(s) found, {thr.bends_required} needed"
        details["bends"] = reasons_soft

    if use_bends:
        most = max(d.get("bend_deg", 0.0) for d in details.values() if isinstance(d, dict))
        if most < thr.bend_min_deg:
            reasons.append(f"the forward bends reached only {most:.0f} deg (needs {thr.bend_min_deg:.0f})")
    if use_bends and "lumbar" in mounting:
        details["lumbar_max_deg"] = _lumbar_max(quats_e, mounting, headings, windows)

    ok = not reasons
    if not ok:
        quality = "failed"
    elif not use_bends:
        quality = "nominal"
    else:
        worst = min(d.get("axis_planarity", 1.0) for d in details.values() if isinstance(d, dict))
        quality = "good" if worst >= 0.9 else "fair"
    if ok and not use_bends:
        reasons = [f"no forward bends ({details['bends']}): nominal sensor mounting used for the flexion axis"]
    applies_from = t[max([n1 - 1] + [b - 1 for _, _, b in bends])]
    report = CalibrationReport(
        ok, quality, reasons, (float(t[n0]), float(t[n1 - 1])),
        [(float(t[a]), float(t[b - 1])) for a, _, b in bends], details,
    )
    return Calibration(mounting, headings, float(applies_from), report)
