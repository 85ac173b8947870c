"""The simulated wearer: a kinematic trunk driven by a scenario script.

Pelvis (sacral segment) in the anatomical earth frame E: heading about the vertical, then
pelvic tilt and list; lumbar = pelvis * joint_rotation(lumbar angles); thoracic = lumbar *
joint_rotation(thoracic angles). Every convention comes from `imu.anatomy`.

Everything is a function of session time that can be evaluated at any instants (each sensor
samples on its own clock): keyframe channels with raised-cosine transitions, gait
oscillations whose phase is the integral of the step rate, and a smooth random sway. Linear
acceleration comes from finite differences of positions (hip path, bounce and sway, and the
lever arm of each sensor on its segment chain); angular rate from those of orientations.
"""

from __future__ import annotations

import numpy as np

from imu import anatomy
from imu import quat as Q
from imu.sim.script import CHANNEL_INDEX, Script

GRAVITY_MS2 = 9.81
G_VEC_E = np.array([0.0, -GRAVITY_MS2, 0.0])  # gravity in E (y up)
SEGMENTS = ("sacral", "lumbar", "thoracic")
DIFF_STEP_S = 1e-3  # finite-difference step for rates and accelerations

# where things sit (m), each in its parent segment's frame (x anterior, y superior, z right)
L5S1_IN_PELVIS = np.array([-0.05, 0.12, 0.0])  # lumbar chain origin, from the hip centre
T12_IN_LUMBAR = np.array([0.0, 0.20, 0.0])  # thoracic chain origin, from L5/S1
SENSOR_IN_SEGMENT_M = {
    "sacral": np.array([-0.10, 0.10, 0.0]),  # from the hip centre, on the skin over S1/S2
    "lumbar": np.array([-0.08, 0.15, 0.0]),  # from L5/S1, over T12-L2
    "thoracic": np.array([-0.08, 0.25, 0.0]),  # from T12, over T1-T4
}

_SWAY_CHANNELS = ("pelvic_tilt", "pelvic_list", "lumbar_flex", "lumbar_lat", "lumbar_rot",
                  "thoracic_flex", "thoracic_lat", "thoracic_rot", "heading")
_SWAY_STD_DEG = np.array([0.2, 0.15, 0.15, 0.1, 0.15, 0.25, 0.15, 0.2, 0.5])
_SWAY_TERMS = 3


def _smooth_step(x: np.ndarray) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(x, 0.0, 1.0))


class Wearer:
    """Kinematics of one simulated person following `script`; randomness from `rng`
    (only the sway: the script already holds the timings and amplitudes)."""

    def __init__(self, script: Script, rng: np.random.Generator):
        self.script = script
        s = script
        self._starts = s.starts
        self._trans = np.maximum(s.transitions, 1e-9)
        self._cur = s.targets
        self._prev = np.vstack([s.targets[:1], s.targets[:-1]])
        # step-rate integral at each keyframe start, for the gait phase
        col = CHANNEL_INDEX["step_hz"]
        span = np.diff(s.starts)
        cur, prev = self._cur[:-1, col], self._prev[:-1, col]
        pieces = prev * span + (cur - prev) * (span - np.minimum(s.transitions[:-1], span) / 2)
        self._step_cum = np.concatenate([[0.0], np.cumsum(pieces)])
        # sway: a few random sinusoids per channel, scaled to the wanted standard deviation
        n = len(_SWAY_CHANNELS)
        self._sway_w = 2 * np.pi * rng.uniform(0.02, 0.3, n * _SWAY_TERMS)
        self._sway_phase = rng.uniform(0, 2 * np.pi, n * _SWAY_TERMS)
        self._sway_amp = _SWAY_STD_DEG / np.sqrt(_SWAY_TERMS / 2)

    # --- channels ---------------------------------------------------------------------------

    def _locate(self, t: np.ndarray):
        idx = np.clip(np.searchsorted(self._starts, t, side="right") - 1, 0, len(self._starts) - 1)
        x = np.clip((t - self._starts[idx]) / self._trans[idx], 0.0, 1.0)
        return idx, x

    def channels(self, t: np.ndarray) -> np.ndarray:
        """(n, C) channel values at times t (script.CHANNELS order)."""
        idx, x = self._locate(np.asarray(t, float))
        prev = self._prev[idx]
        return prev + (self._cur[idx] - prev) * _smooth_step(x)[:, None]

    def step_phase(self, t: np.ndarray) -> np.ndarray:
        """Gait phase in radians: 2 pi times the integral of the step rate."""
        t = np.asarray(t, float)
        idx, x = self._locate(t)
        col = CHANNEL_INDEX["step_hz"]
        prev, delta = self._prev[idx, col], self._cur[idx, col] - self._prev[idx, col]
        tau, T = t - self._starts[idx], self._trans[idx]
        ramp = np.where(x < 1.0, T * (x / 2 - np.sin(np.pi * x) / (2 * np.pi)), tau - T / 2)
        return 2 * np.pi * (self._step_cum[idx] + prev * tau + delta * ramp)

    def _sway(self, t: np.ndarray) -> np.ndarray:
        terms = np.sin(np.outer(t, self._sway_w) + self._sway_phase)
        return terms.reshape(len(t), -1, _SWAY_TERMS).sum(axis=2) * self._sway_amp

    def angles(self, t: np.ndarray) -> dict[str, np.ndarray]:
        """Commanded angles (deg) including gait oscillation and sway, plus the motion
        channels the positions need."""
        t = np.asarray(t, float)
        c = self.channels(t)
        ch = {name: c[:, i] for name, i in CHANNEL_INDEX.items()}
        phi = self.step_phase(t)
        stride = phi / 2
        sway = self._sway(t) * ch["sway"][:, None]
        out = {name: ch[name] + sway[:, i] for i, name in enumerate(_SWAY_CHANNELS)}
        # gait: pelvis tilts with each step, lists and yaws with each stride; the spine bends
        # against the list and the thorax counter-rotates against the pelvis
        out["pelvic_tilt"] += ch["osc_tilt"] * np.sin(phi)
        out["pelvic_list"] += ch["osc_list"] * np.sin(stride)
        out["heading"] += ch["osc_yaw"] * np.sin(stride)
        out["lumbar_lat"] -= ch["osc_lat"] * np.sin(stride)
        out["thoracic_lat"] -= 0.5 * ch["osc_lat"] * np.sin(stride)
        out["lumbar_rot"] -= 0.4 * ch["osc_rot"] * np.sin(stride)
        out["thoracic_rot"] -= 0.6 * ch["osc_rot"] * np.sin(stride)
        out["lumbar_flex"] += ch["osc_flex"] * np.sin(phi + 0.5)
        out["thoracic_flex"] += 0.5 * ch["osc_flex"] * np.sin(phi + 1.0)
        out["base_heading"] = ch["heading"]
        for name in ("speed", "hip_height", "bounce_m", "fore_aft_m", "side_m"):
            out[name] = ch[name]
        out["step_phase"] = phi
        return out

    # --- orientations -----------------------------------------------------------------------

    @staticmethod
    def _segments(a: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        zero = np.zeros_like(a["heading"])
        pelvis = Q.multiply(anatomy.heading_quat(a["heading"]),
                            anatomy.joint_rotation(a["pelvic_tilt"], a["pelvic_list"], zero))
        lumbar = Q.multiply(pelvis, anatomy.joint_rotation(a["lumbar_flex"], a["lumbar_lat"], a["lumbar_rot"]))
        thoracic = Q.multiply(lumbar, anatomy.joint_rotation(
            a["thoracic_flex"], a["thoracic_lat"], a["thoracic_rot"]))
        return {"sacral": pelvis, "lumbar": lumbar, "thoracic": thoracic}

    def segment_quats(self, t: np.ndarray) -> dict[str, np.ndarray]:
        """Segment -> E orientation of sacral (pelvis), lumbar and thoracic segments, (n, 4)."""
        return self._segments(self.angles(t))

    # --- positions and sensor signals -------------------------------------------------------

    @staticmethod
    def _heading_dirs(heading_deg: np.ndarray):
        h = np.radians(heading_deg)
        forward = np.stack([np.cos(h), np.zeros_like(h), -np.sin(h)], axis=-1)
        right = np.stack([np.sin(h), np.zeros_like(h), np.cos(h)], axis=-1)
        return forward, right

    def _sensor_point(self, location: str, a: dict[str, np.ndarray], seg: dict[str, np.ndarray]):
        """Position of a sensor site in E (m), without the hip's walking path, and the
        hip's path velocity (m/s); the path itself never matters, only its changes."""
        phi = a["step_phase"]
        forward, right = self._heading_dirs(a["base_heading"])
        hip = (a["hip_height"] + a["bounce_m"] * np.cos(phi))[:, None] * anatomy.UP
        hip = hip + (a["fore_aft_m"] * np.sin(phi))[:, None] * forward
        hip = hip + (a["side_m"] * np.sin(phi / 2))[:, None] * right
        if location == "sacral":
            point = hip + Q.rotate(seg["sacral"], SENSOR_IN_SEGMENT_M["sacral"])
        else:
            point = hip + Q.rotate(seg["sacral"], L5S1_IN_PELVIS)
            if location == "lumbar":
                point = point + Q.rotate(seg["lumbar"], SENSOR_IN_SEGMENT_M["lumbar"])
            else:
                point = point + Q.rotate(seg["lumbar"], T12_IN_LUMBAR)
                point = point + Q.rotate(seg["thoracic"], SENSOR_IN_SEGMENT_M["thoracic"])
        return point, a["speed"][:, None] * forward

    def sensor_kinematics(self, location: str, mounting: np.ndarray, t: np.ndarray):
        """True signals of a sensor mounted on `location` with orientation `mounting`
        (sensor in segment) at times t: sensor->E quaternions (n, 4), angular rate in the
        sensor frame (deg/s, (n, 3)) and specific force in the sensor frame (g, (n, 3)).
        A still sensor reads +1 g along its up direction."""
        if location not in SEGMENTS:
            raise ValueError(f"unknown sensor location {location!r}; known: {', '.join(SEGMENTS)}")
        t = np.asarray(t, float)
        n, h = len(t), DIFF_STEP_S
        stacked = np.concatenate([t - h, t, t + h])
        a = self.angles(stacked)
        seg = self._segments(a)
        q = Q.multiply(seg[location], mounting)
        point, velocity = self._sensor_point(location, a, seg)
        q_before, q_now, q_after = q[:n], q[n:2 * n], q[2 * n:]
        dq = (q_after - q_before) / (2 * h)
        gyro = np.degrees(2 * Q.multiply(Q.conjugate(q_now), dq)[:, 1:])
        acc_lin = (velocity[2 * n:] - velocity[:n]) / (2 * h)
        acc_lin = acc_lin + (point[2 * n:] - 2 * point[n:2 * n] + point[:n]) / h**2
        specific_force = Q.rotate(Q.conjugate(q_now), acc_lin - G_VEC_E) / GRAVITY_MS2
        return q_now, gyro, specific_force


def truth_angles(quats: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The named output angles (docs/architecture.md section 3) from segment orientations in E."""
    def rel(distal: str, proximal: str) -> np.ndarray:
        return anatomy.joint_angles(Q.multiply(Q.conjugate(quats[proximal]), quats[distal]))

    thoracic = rel("thoracic", "lumbar")
    lumbar = rel("lumbar", "sacral")
    out = {}
    for prefix, values in (("thoracic", thoracic), ("lumbar", lumbar)):
        out[f"{prefix}_flexion"] = values[:, 0]
        out[f"{prefix}_lateral_bend"] = values[:, 1]
        out[f"{prefix}_axial_rotation"] = values[:, 2]
    for name, segment in (("lumbar", "lumbar"), ("trunk", "thoracic"), ("sacral", "sacral")):
        inc = anatomy.inclination(quats[segment])
        out[f"{name}_inclination"] = inc[:, 0]
        out[f"{name}_lateral_inclination"] = inc[:, 1]
    return out


def slouch_episodes(t: np.ndarray, signal: np.ndarray, enter_deg: float, exit_deg: float,
                    min_duration_s: float) -> list[dict]:
    """Episodes by the hysteresis rule: start where the signal crosses `enter_deg` upwards,
    end where it next falls below `exit_deg` (linear interpolation between samples), kept
    when they last `min_duration_s` or longer. An episode open at the end ends there."""
    t = np.asarray(t, float)
    x = np.asarray(signal, float)
    enters = np.flatnonzero(x >= enter_deg)
    exits = np.flatnonzero(x < exit_deg)
    episodes, pos = [], 0
    while True:
        k = np.searchsorted(enters, pos)
        if k == len(enters):
            break
        s = int(enters[k])
        m = np.searchsorted(exits, s)
        e = int(exits[m]) if m < len(exits) else len(x)
        start = t[s]
        if s > 0:
            start = t[s - 1] + (enter_deg - x[s - 1]) / (x[s] - x[s - 1]) * (t[s] - t[s - 1])
        end = t[-1]
        if e < len(x):
            end = t[e - 1] + (x[e - 1] - exit_deg) / (x[e - 1] - x[e]) * (t[e] - t[e - 1])
        if end - start >= min_duration_s:
            episodes.append({"start_s": float(start), "end_s": float(end),
                             "peak_deg": float(np.max(x[s:e]))})
        pos = e
    return episodes
