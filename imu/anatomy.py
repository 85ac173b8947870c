"""Anatomical conventions shared by the core and the simulated wearer (docs/architecture.md section 3).

Frames
- Sensor earth frame: what a device quaternion maps into; z up, heading arbitrary and
  different per sensor (six-axis fusion), e.g. ENU.
- Anatomical earth frame "E": x forward (arbitrary heading), y up, z right, the ISB body
  axes of a person standing upright. `SENSOR_EARTH_TO_E` converts between the two.
- Segment frame (ISB): x anterior, y superior, z right.

Joint angles of a distal segment relative to a proximal one use the Z-X-Y Cardan sequence
R_rel = Rz(-flexion) * Rx(lateral_bend) * Ry(-axial_rotation), with flexion positive when
the top of the distal segment tips forward, lateral bend positive to the right, axial
rotation positive when the front turns right. The same decomposition of a segment against
its own heading frame gives its inclination against gravity.
"""

from __future__ import annotations

import numpy as np

from imu import quat as Q

# The two rotations below are written out as Q.from_matrix gives them, bit for bit (a test
# checks): computing them at import would load scipy.spatial for every program that imports this.

# rotation taking sensor-earth (z up) coordinates to E (y up): E.x = x, E.y = z, E.z = -y;
# Q.from_matrix([[1, 0, 0], [0, 0, 1], [0, -1, 0]])
SENSOR_EARTH_TO_E = np.array([0.7071067811865475, -0.7071067811865475, -0.0, -0.0])

# nominal mounting (firmware_notes/placement.md): sensor x -> right, y -> superior,
# z -> posterior (out of the back). Columns: sensor axes in segment coordinates;
# Q.from_matrix([[0, 0, -1], [0, 1, 0], [1, 0, 0]])
NOMINAL_SENSOR_IN_SEGMENT = np.array([0.7071067811865475, -0.0, -0.7071067811865475, -0.0])

UP = np.array([0.0, 1.0, 0.0])


def _axis_quat(axis: int, angle_deg: np.ndarray) -> np.ndarray:
    angle = np.asarray(angle_deg, dtype=float)
    out = np.zeros(angle.shape + (4,))
    half = np.radians(angle) / 2.0
    out[..., 0] = np.cos(half)
    out[..., 1 + axis] = np.sin(half)
    return out


def joint_rotation(flexion, lateral_bend, axial_rotation) -> np.ndarray:
    """Quaternion of a distal segment in its proximal segment's frame, from angles in deg."""
    return Q.multiply(
        Q.multiply(_axis_quat(2, -np.asarray(flexion, float)), _axis_quat(0, lateral_bend)),
        _axis_quat(1, -np.asarray(axial_rotation, float)),
    )


def joint_angles(q_rel: np.ndarray) -> np.ndarray:
    """(..., 3) flexion, lateral bend, axial rotation in degrees from a relative quaternion."""
    return _zxy_angles(q_rel, axial=True)


def _zxy_angles(q_rel: np.ndarray, axial: bool) -> np.ndarray:
    """The Z-X-Y decomposition: flexion and lateral bend, then axial rotation if asked."""
    return np.stack(zxy_parts(Q.parts(q_rel), axial), axis=-1)


def zxy_parts(q_rel, axial: bool) -> tuple:
    """`_zxy_angles` of quaternions given by their components (imu.quat.parts): a tuple of
    the angle arrays (flexion, lateral bend[, axial rotation]) rather than one stack."""
    w, x, y, z = q_rel
    # the five rotation-matrix entries the Z-X-Y decomposition needs
    m01, m11 = 2 * (x * y - w * z), 1 - 2 * (x * x + z * z)
    m21 = 2 * (y * z + w * x)
    lateral = np.degrees(np.arcsin(np.clip(m21, -1.0, 1.0)))
    flexion = -np.degrees(np.arctan2(-m01, m11))
    if not axial:
        return flexion, lateral
    m20, m22 = 2 * (x * z - w * y), 1 - 2 * (x * x + y * y)
    axial_rotation = -np.degrees(np.arctan2(-m20, m22))
    return flexion, lateral, axial_rotation


def heading_deg(q_seg_e: np.ndarray) -> np.ndarray:
    """Heading (twist about the vertical) of segment orientations in frame E, degrees."""
    q = np.asarray(q_seg_e, dtype=float)
    return np.degrees(2.0 * np.arctan2(q[..., 2], q[..., 0]))


def heading_quat(angle_deg: np.ndarray) -> np.ndarray:
    return _axis_quat(1, angle_deg)


def heading_parts(angle_deg: np.ndarray) -> tuple:
    """`heading_quat` as components (imu.quat.parts); its zero x and z are the number 0.0."""
    half = np.radians(np.asarray(angle_deg, dtype=float)) / 2.0  # as _axis_quat computes it
    return np.cos(half), 0.0, np.sin(half), 0.0


def remove_heading(q_seg_e: np.ndarray, heading: np.ndarray | None = None) -> np.ndarray:
    """The swing part of a segment orientation: its tilt against gravity, heading removed.

    heading: `heading_deg(q_seg_e)`, when the caller has it already."""
    heading = heading_deg(q_seg_e) if heading is None else heading
    return Q.multiply(heading_quat(-heading), q_seg_e)


def inclination(q_seg_e: np.ndarray, heading: np.ndarray | None = None) -> np.ndarray:
    """(..., 2) sagittal and lateral inclination of segments against gravity, degrees.

    heading: `heading_deg(q_seg_e)`, when the caller has it already."""
    heading = heading_deg(q_seg_e) if heading is None else heading
    return np.stack(inclination_parts(Q.parts(q_seg_e), heading), axis=-1)


def inclination_parts(q_seg_e, heading: np.ndarray) -> tuple:
    """`inclination` of segments given by their components (imu.quat.parts) and their
    `heading_deg`: the sagittal and the lateral inclination as two arrays."""
    swing = Q.multiply_parts(heading_parts(-heading), q_seg_e)
    return zxy_parts(swing, axial=False)
