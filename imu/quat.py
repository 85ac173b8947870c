"""Quaternion helpers. Every quaternion in this project is scalar first: (w, x, y, z).

scipy's Rotation is scalar last; `to_rotation` and `from_rotation` are the only place
where that order is converted. All functions accept one quaternion (4,) or a stack (n, 4).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

IDENTITY = np.array([1.0, 0.0, 0.0, 0.0])


def normalize(q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=float)
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def conjugate(q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=float)
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a * b (apply b first, then a, when rotating vectors)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vector(s) v by quaternion(s) q (frame-to-frame: sensor -> earth)."""
    q = np.asarray(q, dtype=float)
    v = np.asarray(v, dtype=float)
    w = q[..., :1]
    u = q[..., 1:]
    t = 2.0 * np.cross(u, v)
    return v + w * t + np.cross(u, t)


def to_rotation(q: np.ndarray) -> Rotation:
    q = np.asarray(q, dtype=float)
    return Rotation.from_quat(np.roll(q, -1, axis=-1))


def from_rotation(r: Rotation) -> np.ndarray:
    q = np.roll(r.as_quat(), 1, axis=-1)
    # one hemisphere (w >= 0) so equal rotations compare equal
    return np.where(q[..., :1] < 0, -q, q)


def from_matrix(m: np.ndarray) -> np.ndarray:
    return from_rotation(Rotation.from_matrix(m))


def to_matrix(q: np.ndarray) -> np.ndarray:
    return to_rotation(q).as_matrix()


def from_axis_angle(axis: np.ndarray, angle_deg: np.ndarray) -> np.ndarray:
    axis = np.asarray(axis, dtype=float)
    axis = axis / np.linalg.norm(axis, axis=-1, keepdims=True)
    half = np.radians(np.asarray(angle_deg, dtype=float))[..., None] / 2.0
    return np.concatenate([np.cos(half), np.sin(half) * axis], axis=-1)


def angle_between_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation angle taking a to b, in degrees."""
    d = np.abs(np.sum(normalize(a) * normalize(b), axis=-1))
    return np.degrees(2.0 * np.arccos(np.clip(d, 0.0, 1.0)))


def nlerp(a: np.ndarray, b: np.ndarray, frac: np.ndarray) -> np.ndarray:
    """Normalised linear interpolation on the shorter arc (accurate for nearby samples)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    sign = np.where(np.sum(a * b, axis=-1, keepdims=True) < 0, -1.0, 1.0)
    frac = np.asarray(frac, dtype=float)[..., None]
    return normalize((1.0 - frac) * a + frac * sign * b)
