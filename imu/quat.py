"""Quaternion helpers. Every quaternion in this project is scalar first: (w, x, y, z).

scipy's Rotation is scalar last; `to_rotation` and `from_rotation` are the only place
where that order is converted. All functions accept one quaternion (4,) or a stack (n, 4).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # scipy.spatial costs half a second to import: only the functions below need it
    from scipy.spatial.transform import Rotation

IDENTITY = np.array([1.0, 0.0, 0.0, 0.0])


def normalize(q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=float)
    if q.shape[-1:] != (4,):
        return q / np.linalg.norm(q, axis=-1, keepdims=True)
    return q / np.sqrt(sum_of_four(q * q))[..., None]


def sum_of_four(x: np.ndarray) -> np.ndarray:
    """x[..., 0] + x[..., 1] + x[..., 2] + x[..., 3], added in that order: numpy's own order for
    four terms (so the same bits as np.sum over the last axis), without the cost of its
    reduction over a short axis, which was most of a long report's gridding."""
    return ((x[..., 0] + x[..., 1]) + x[..., 2]) + x[..., 3]


def conjugate(q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=float)
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a * b (apply b first, then a, when rotating vectors)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    out = np.empty(np.broadcast_shapes(a.shape, b.shape))
    for k, part in enumerate(multiply_parts(parts(a), parts(b))):
        out[..., k] = part
    return out


# --- quaternions as their four components -------------------------------------------------
# A stack of quaternions (n, 4) holds each component every 32 bytes; arithmetic on such
# strided columns costs about twice what it costs on contiguous ones. A long chain of
# products (the angles of every grid step) therefore runs on the components themselves,
# with the same arithmetic, so the same values bit for bit.

def parts(q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The components (w, x, y, z) of quaternion(s), as views (no copy)."""
    w, x, y, z = np.moveaxis(np.asarray(q, dtype=float), -1, 0)
    return w, x, y, z


def from_parts(components) -> np.ndarray:
    """Quaternions (..., 4) from their components (w, x, y, z), stored component by
    component: `parts` of the result are contiguous again."""
    return np.moveaxis(np.stack(np.broadcast_arrays(*components)), 0, -1)


def multiply_parts(a, b) -> tuple:
    """`multiply` on components: a and b are (w, x, y, z), each an array or a number (a
    constant quaternion's components, or 0.0 for a component known to be zero, give the
    same values as the arrays they stand for)."""
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return (aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw)


def normalize_parts(q) -> tuple:
    """`normalize` on components (the same sum of squares, in the same order)."""
    w, x, y, z = q
    norm = np.sqrt(((w * w + x * x) + y * y) + z * z)
    return w / norm, x / norm, y / norm, z / norm


def angle_between_unit_parts(a, b) -> np.ndarray:
    """`angle_between_unit` on components; the dot product is added in numpy's order for a
    sum over four terms, as np.sum(a * b, axis=-1) adds it."""
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    d = np.abs(((aw * bw + ax * bx) + ay * by) + az * bz)
    return np.degrees(2.0 * np.arccos(np.clip(d, 0.0, 1.0)))


def conjugate_parts(q) -> tuple:
    """`conjugate` on components (the same multiplications by 1 and -1)."""
    w, x, y, z = q
    return w * 1.0, x * -1.0, y * -1.0, z * -1.0


def rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vector(s) v by quaternion(s) q (frame-to-frame: sensor -> earth)."""
    q = np.asarray(q, dtype=float)
    v = np.asarray(v, dtype=float)
    w = q[..., :1]
    u = q[..., 1:]
    t = 2.0 * np.cross(u, v)
    return v + w * t + np.cross(u, t)


def to_rotation(q: np.ndarray) -> Rotation:
    from scipy.spatial.transform import Rotation

    q = np.asarray(q, dtype=float)
    return Rotation.from_quat(np.roll(q, -1, axis=-1))


def from_rotation(r: Rotation) -> np.ndarray:
    q = np.roll(r.as_quat(), 1, axis=-1)
    # one hemisphere (w >= 0) so equal rotations compare equal
    return np.where(q[..., :1] < 0, -q, q)


def from_matrix(m: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return from_rotation(Rotation.from_matrix(m))


def to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) of unit quaternions; NaN quaternions give NaN matrices."""
    w, x, y, z = np.moveaxis(np.asarray(q, dtype=float), -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        axis=-2,
    )


def from_axis_angle(axis: np.ndarray, angle_deg: np.ndarray) -> np.ndarray:
    axis = np.asarray(axis, dtype=float)
    axis = axis / np.linalg.norm(axis, axis=-1, keepdims=True)
    half = np.radians(np.asarray(angle_deg, dtype=float))[..., None] / 2.0
    return np.concatenate([np.cos(half), np.sin(half) * axis], axis=-1)


def angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation angle taking a to b, in degrees."""
    return angle_between_unit(normalize(a), normalize(b))


def angle_between_unit(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`angle_between` of quaternions already normalised (by `normalize`), in degrees."""
    return angle_between_unit_parts(parts(a), parts(b))


def nlerp(a: np.ndarray, b: np.ndarray, frac: np.ndarray) -> np.ndarray:
    """Normalised linear interpolation on the shorter arc (accurate for nearby samples)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    sign = np.where(sum_of_four(a * b)[..., None] < 0, -1.0, 1.0)
    frac = np.asarray(frac, dtype=float)[..., None]
    return normalize((1.0 - frac) * a + frac * sign * b)


def to_rotvec(q: np.ndarray) -> np.ndarray:
    """Rotation vectors (radians) of unit quaternions; NaN in, NaN out."""
    q = np.asarray(q, dtype=float)
    q = np.where(q[..., :1] < 0, -q, q)
    v = q[..., 1:]
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(norm, q[..., :1])
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(norm > 1e-12, angle / norm, 2.0)
    return v * scale
