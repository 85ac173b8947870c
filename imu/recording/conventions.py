"""Which conventions a recording follows, judged from gravity, and putting it right.

The project's conventions (docs/data-formats.md): quaternion sensor -> earth with z up,
scalar first; acceleration is specific force, +1 g upward at rest, in g; angular rate in
deg/s. Other recorders differ, and it shows in the data:

- units: |acc| at rest is about 1 (g) or about 9.8 (m/s^2);
- quaternion direction and acceleration sign: rotating the measured acceleration into the
  earth frame gives +z on average only under the right pair of (q or conj(q), +acc or
  -acc); the other pairs give -z or a vector off the vertical (the wearer's tilt varies);
- rate units: the rotation the quaternion (or, without one, the accelerometer's tilt)
  shows between samples agrees with the integrated rate in deg/s, or is 57 times larger
  when the rate was in rad/s.

A convention the mapping states is used as stated (a disagreement with the data is noted);
one left to detection is corrected when the evidence is clear and said so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from imu import quat as Q
from imu.samples import TimedSamples

STANDARD_GRAVITY = 9.80665
RAD = 180.0 / np.pi
AGREEMENT_MIN = 0.9  # mean vertical component of the rotated unit acceleration
DIRECTION_MARGIN = 0.05  # q and conj(q) closer than this: the sensor stayed near level
WRONG_DIRECTION_MAX = 0.5  # the rejected direction must agree this little with the vertical
MOVING_DPS = 10.0  # rotation rate (deg/s) of samples used to compare rate units
MIN_MOVING = 20
TILT_WINDOW_S = 0.5
QUIET_G = 0.05
EVIDENCE_BLOCKS, EVIDENCE_BLOCK = 40, 1000  # samples judged in a long recording
MAX_RAD_S = 35.0  # a trunk does not turn at 2000 deg/s


@dataclass
class Detected:
    acc_scale: float = 1.0  # multiply acc by this (unit and sign)
    gyro_scale: float = 1.0
    conjugate: bool = False
    notes: list[str] = field(default_factory=list)


def check_conventions(location: str, s: TimedSamples, stated: dict[str, str]) -> tuple[TimedSamples, list[str]]:
    """The samples in the project's conventions, and one note per finding."""
    found = detect(location, s, stated)
    acc = None if s.acc is None else s.acc * found.acc_scale
    gyro = None if s.gyro is None else s.gyro * found.gyro_scale
    quat = Q.conjugate(s.quat) if found.conjugate else s.quat
    return TimedSamples(s.t, quat, acc, gyro, s.vibrating), found.notes


def detect(location: str, s: TimedSamples, stated: dict[str, str]) -> Detected:
    # damaged rows (a zero or infinite reading) give NaN below, and every test here counts
    # only finite values: no numpy warning for the user to read
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return _detect(location, s, stated)


def _detect(location: str, s: TimedSamples, stated: dict[str, str]) -> Detected:
    out = Detected()
    s = _evidence(s)
    if s.acc is not None:
        _acc_unit(location, s.acc, stated.get("acc_unit"), out)
    has_quat = np.isfinite(s.quat).all(axis=1)
    if s.acc is not None and has_quat.sum() >= 10:
        _direction_and_sign(location, s.quat[has_quat], s.acc[has_quat] * out.acc_scale, stated, out)
    elif s.acc is not None and stated.get("acc_sign") == "gravity":
        out.acc_scale = -out.acc_scale
    if s.gyro is not None:
        _gyro_unit(location, s, has_quat, out.conjugate, stated.get("gyro_unit"), out)
    return out


def _evidence(s: TimedSamples) -> TimedSamples:
    """Runs of consecutive samples spread over the recording, enough to judge by: a long
    file is judged on EVIDENCE_BLOCKS blocks (a pair across two blocks spans a pause and is
    never compared, see _rate_ratio)."""
    if len(s) <= 2 * EVIDENCE_BLOCKS * EVIDENCE_BLOCK:  # blocks then stand apart
        return s
    starts = np.linspace(0, len(s) - EVIDENCE_BLOCK, EVIDENCE_BLOCKS).astype(int)
    index = (starts[:, None] + np.arange(EVIDENCE_BLOCK)).ravel()
    pick = lambda a: None if a is None else a[index]  # noqa: E731
    return TimedSamples(s.t[index], s.quat[index], pick(s.acc), pick(s.gyro))


def _acc_unit(location: str, acc: np.ndarray, stated: str | None, out: Detected) -> None:
    norm = np.linalg.norm(acc, axis=1)
    typical = float(np.nanmedian(norm)) if np.isfinite(norm).any() else np.nan
    evidence = "g" if 0.6 <= typical <= 1.6 else "m/s^2" if 6.0 <= typical <= 16.0 else None
    if stated:
        out.acc_scale = 1.0 / STANDARD_GRAVITY if stated == "m/s^2" else 1.0
        if evidence and evidence != stated:
            out.notes.append(f"{location}: acceleration stated in {stated} but its median magnitude is "
                             f"{typical:.2f}, which looks like {evidence}; used as stated")
        return
    if evidence == "m/s^2":
        out.acc_scale = 1.0 / STANDARD_GRAVITY
        out.notes.append(f"{location}: acceleration detected in m/s^2 (median magnitude {typical:.2f}); "
                         "converted to g")
    elif evidence is None and np.isfinite(typical):
        out.notes.append(f"{location}: acceleration units unclear (median magnitude {typical:.2f}, "
                         "neither about 1 g nor 9.8 m/s^2); read as g")


def _direction_and_sign(location: str, quat: np.ndarray, acc: np.ndarray, stated: dict, out: Detected) -> None:
    unit = acc / np.linalg.norm(acc, axis=1, keepdims=True)
    ok = np.isfinite(unit).all(axis=1)
    if ok.sum() < 10:
        return
    up_plain = float(np.mean(Q.rotate(quat[ok], unit[ok])[:, 2]))
    up_conj = float(np.mean(Q.rotate(Q.conjugate(quat[ok]), unit[ok])[:, 2]))
    scores = {(False, 1): up_plain, (False, -1): -up_plain, (True, 1): up_conj, (True, -1): -up_conj}
    (conj, sign), best = max(scores.items(), key=lambda kv: kv[1])
    clear = best >= AGREEMENT_MIN
    other = scores[(not conj, sign)]
    # the other direction must be plainly wrong, not merely a little worse: a sensor worn on
    # the back tilts far from level, so there the wrong direction misses the vertical widely
    direction_clear = clear and other <= WRONG_DIRECTION_MAX
    direction_unsure = clear and not direction_clear and (conj or best - other < DIRECTION_MARGIN)
    said_direction = stated.get("quat_direction")
    said_sign = stated.get("acc_sign")
    # direction
    if said_direction:
        out.conjugate = said_direction == "earth_to_sensor"
        if direction_clear and conj != out.conjugate:
            out.notes.append(f"{location}: quaternion direction stated as {said_direction}, but gravity agrees "
                             f"with the opposite ({best:.2f} vs {scores[(out.conjugate, sign)]:.2f}); used as stated")
    elif direction_clear and conj:
        out.conjugate = True
        out.notes.append(f"{location}: quaternion detected as earth-to-sensor (its conjugate maps the "
                         f"acceleration to up, agreement {best:.2f} vs {scores[(False, sign)]:.2f}); conjugated")
    elif direction_unsure:
        out.notes.append(f"{location}: quaternion direction not verifiable from gravity (agreement "
                         f"{scores[(False, sign)]:.2f} as sensor-to-earth, {scores[(True, sign)]:.2f} as "
                         "earth-to-sensor); read as sensor-to-earth")
    # sign
    if said_sign:
        if said_sign == "gravity":
            out.acc_scale = -out.acc_scale
        if clear and (sign < 0) != (said_sign == "gravity"):
            out.notes.append(f"{location}: acceleration sign stated as {said_sign}, but gravity shows the "
                             "opposite; used as stated")
    elif clear and sign < 0:
        out.acc_scale = -out.acc_scale
        out.notes.append(f"{location}: acceleration detected as the gravity vector (-1 g up at rest); "
                         "negated to specific force (+1 g up)")
    if not clear and not (said_direction and said_sign):
        out.notes.append(f"{location}: quaternion and acceleration do not agree on the vertical under any "
                         f"convention (best {best:.2f}); read as stated or as the project's conventions")


def _gyro_unit(location: str, s: TimedSamples, has_quat: np.ndarray, conjugate: bool, stated: str | None,
               out: Detected) -> None:
    ratio = _rate_ratio(s, has_quat, conjugate)
    evidence = None
    if ratio is not None:
        if 0.2 <= ratio <= 3.0:
            evidence = "deg/s"
        elif 0.2 * RAD <= ratio <= 3.0 * RAD:
            evidence = "rad/s"
    if stated:
        out.gyro_scale = RAD if stated == "rad/s" else 1.0
        if evidence and evidence != stated:
            out.notes.append(f"{location}: angular rate stated in {stated}, but the rotation it integrates to "
                             f"looks like {evidence}; used as stated")
        return
    if evidence == "rad/s":
        out.gyro_scale = RAD
        out.notes.append(f"{location}: angular rate detected in rad/s (orientation changes {ratio:.0f} times "
                         "faster than the rate read as deg/s); converted to deg/s")


def _rate_ratio(s: TimedSamples, has_quat: np.ndarray, conjugate: bool) -> float | None:
    """Rotation seen in orientation (or accelerometer tilt) over the rate as given, integrated."""
    gyro = np.linalg.norm(s.gyro, axis=1)
    if has_quat.mean() > 0.5:
        q = Q.conjugate(s.quat) if conjugate else s.quat
        step, ends_ok = 1, has_quat
        seen_deg = Q.angle_between(q[step:], q[:-step])
        rate = gyro
    elif s.acc is not None:
        # tilt of gravity over about half a second, between samples near 1 g, against the rate
        # across gravity: linear acceleration and noise are smaller than the tilt over that span
        unit = s.acc / np.linalg.norm(s.acc, axis=1, keepdims=True)
        period = np.median(np.diff(s.t)) if len(s.t) > 1 else np.nan
        step = max(1, int(round(TILT_WINDOW_S / period))) if period > 0 else 1
        if len(s.t) <= step:
            return None
        ends_ok = np.abs(np.linalg.norm(s.acc, axis=1) - np.nanmedian(np.linalg.norm(s.acc, axis=1))) < QUIET_G
        seen_deg = np.degrees(np.arccos(np.clip((unit[step:] * unit[:-step]).sum(axis=1), -1, 1)))
        rate = np.linalg.norm(np.cross(s.gyro, unit), axis=1)
    else:
        return None
    if len(s.t) <= step:
        return None
    # the given rate integrated over each span (trapezoid), in the same units as seen_deg
    dt = np.diff(s.t)
    area = np.concatenate([[0.0], np.cumsum(0.5 * (rate[1:] + rate[:-1]) * dt)])
    given_deg = area[step:] - area[:-step]
    span = s.t[step:] - s.t[:-step]
    ok = ends_ok[step:] & ends_ok[:-step] & np.isfinite(seen_deg) & np.isfinite(given_deg) & (span > 0)
    ok &= span < 4 * step * np.median(dt)  # not across a pause
    moving = ok & (seen_deg / np.where(span > 0, span, np.inf) > MOVING_DPS)
    if moving.sum() < MIN_MOVING or not (given_deg[moving] > 0).any():
        return None
    if np.percentile(gyro[np.isfinite(gyro)], 99) > MAX_RAD_S:
        return 1.0  # rates this large are no trunk motion in rad/s
    return float(np.median(seen_deg[moving]) / max(np.median(given_deg[moving]), 1e-9))
