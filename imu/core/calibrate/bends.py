"""Excursions from the neutral, and which of them are bends in the sagittal plane.

An excursion is a stretch where some sensor tilts away from its neutral vertical and comes
back. Only excursions that plausibly are deliberate bends count: they start after the
neutral, come back (a posture change that simply stays is not a bend), last no longer than
`bend_max_s` (a held slouch or a walk is not a bend), reach half the minimum bend, and
follow each other closely, as a calibration's movements do (the day's slouches and leans
come later, after a pause).

Each excursion turns each sensor about some horizontal axis. Forward and backward bends
turn it about the medio-lateral axis, side bends about the antero-posterior one; excursions
whose axis is more than `SAGITTAL_MAX_DEG` away from the reference medio-lateral axis
(the mounting's, or else the largest excursion's) are left out of the flexion axis, so a
posture protocol with side bends still gives a clean axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import find_peaks, peak_widths

from imu import quat as Q
from imu.core.calibrate.model import runs, tilt_between, unit, up_in_sensor
from imu.profile import Thresholds

SAGITTAL_MAX_DEG = 35.0  # an excursion's tilt axis within this of the medio-lateral one


@dataclass
class Excursion:
    start: int
    peak: int  # sample of the largest tilt of the most-moving sensor
    end: int  # exclusive
    tilt_deg: dict[str, float]  # each sensor's largest tilt from its neutral vertical
    axis: dict[str, np.ndarray]  # each sensor's tilt axis at its peak (sensor coordinates, unit)
    up_at_peak: dict[str, np.ndarray]  # earth up in sensor coordinates at each sensor's peak


def find_bends(t, quats_e, neutral_q, after: int, thr: Thresholds, allowed=None):
    """Candidate excursions after index `after`: (start, peak, end) index triples, and the
    tilt course of the most-moving sensor. `allowed` (a boolean mask) restricts the search,
    e.g. to spans labelled as bends. An excursion still going at the end has end == len(t)."""
    # tilt only: turning on the spot (walking, a swivel chair) changes heading, not tilt;
    # the most-moving sensor decides, so a pelvis that stays on the chair does not hide a bend
    deviation = np.max(np.nan_to_num(
        [tilt_between(quats_e[loc], neutral_q[loc]) for loc in quats_e], nan=0.0), axis=0)
    deviation[:after] = 0.0
    if allowed is not None:
        deviation[~allowed] = 0.0
    bends = []
    for a, b in runs(deviation > thr.bend_min_deg * 0.25):
        peak = a + int(np.argmax(deviation[a:b]))
        if deviation[peak] >= thr.bend_min_deg * 0.5:
            bends.append((a, peak, b))
    return bends, deviation


def find_excursions(t, quats_e, neutral_q, after: int, thr: Thresholds, allowed=None):
    """Tilt excursions after index `after` as (start, peak, end) index triples: peaks of the
    most-moving sensor's tilt that reach half the minimum bend and drop back by half of it
    on both sides, so a sway that never settles still parts one bend from the next. The
    window runs between the points where the tilt has come three quarters of the way back
    to the higher side's base; `allowed` restricts the search as in `find_bends`."""
    _, deviation = find_bends(t, quats_e, neutral_q, after, thr, allowed)
    half = thr.bend_min_deg * 0.5
    peaks, props = find_peaks(np.concatenate([[0.0], deviation, [0.0]]), height=half, prominence=half)
    peaks = peaks - 1
    if not len(peaks):
        return []
    n = len(deviation)
    right_base = props["right_bases"] - 1
    _, _, left, right = peak_widths(deviation, peaks, rel_height=0.75, prominence_data=(
        props["prominences"], np.clip(props["left_bases"] - 1, 0, n - 1), np.clip(right_base, 0, n - 1)))
    out = []
    for p, lo, hi, rb in zip(peaks, left, right, right_base):
        end = min(int(np.ceil(hi)) + 1, len(t))
        if rb >= n and deviation[p:].min() > deviation[p] - half:
            end = len(t)  # only the padding brought it back: it never came back in the data
        out.append((int(np.floor(lo)), int(p), end))
    return out


def plausible_bends(t, triples, thr: Thresholds, stop: int, labelled: bool,
                    neutral_end_s: float) -> list[tuple[int, int, int]]:
    """Excursions that come back before `stop`, last at most bend_max_s and follow each other
    as a calibration's bends do: the first within bend_start_max_s of the neutral, each next
    within bend_gap_max_s of the one before (labelled bends: only the first rule applies)."""
    out = []
    last_end = neutral_end_s
    for a, p, b in triples:
        if b >= stop:
            break  # did not come back: a posture change, not a bend
        if labelled:
            out.append((a, p, b))
            continue
        gap = t[a] - last_end
        if gap > (thr.bend_start_max_s if not out else thr.bend_gap_max_s):
            break  # the calibration's movements are over: the rest is the wearer's day
        last_end = t[b - 1]
        if t[b - 1] - t[a] <= thr.bend_max_s:  # longer: a held slouch, lean or walk
            out.append((a, p, b))
    return out


def describe(quats_e, neutral_q, triples) -> list[Excursion]:
    out = []
    for a, p, b in triples:
        tilt, axis, up_peak = {}, {}, {}
        for loc, q in quats_e.items():
            course = np.nan_to_num(tilt_between(q[a:b], neutral_q[loc]), nan=-1.0)
            k = a + int(np.argmax(course))
            tilt[loc] = float(max(course.max(), 0.0))
            up0 = up_in_sensor(neutral_q[loc])
            up1 = up_in_sensor(q[k])
            up_peak[loc] = up1
            cross = np.cross(up0, up1)
            axis[loc] = unit(cross) if np.linalg.norm(cross) > 1e-6 else np.full(3, np.nan)
        out.append(Excursion(a, p, b, tilt, axis, up_peak))
    return out


def sagittal(excursions: list[Excursion], loc: str, reference: np.ndarray) -> list[bool]:
    """Which excursions turned `loc` about (nearly) the reference medio-lateral axis."""
    limit = np.cos(np.radians(SAGITTAL_MAX_DEG))
    return [bool(np.isfinite(e.axis[loc]).all() and abs(float(e.axis[loc] @ reference)) >= limit)
            for e in excursions]


def flexion_axis(t, q_sensor_e, windows, lag_s: float = 0.2):
    """Principal axis of angular velocity (sensor frame) over the windows, and its planarity
    (share of the angular velocity's energy about that axis).

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
