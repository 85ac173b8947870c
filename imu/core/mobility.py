"""The thoracic mobility test: ranges per segment and left/right asymmetry (issue 13 item 4).

Arrays and labelled spans in, ranges out. Each span holds one movement (flexion, extension,
side bending left or right, rotation left or right) from standing or sitting tall, out to
the wearer's end range and back. A range is the furthest the angle went in the movement's
direction, measured from where it was in the first half second of the span (the wearer's
upright start), after a 0.3 s moving median so that one noisy sample cannot make a range.

Segments and the angle each one is measured with (docs/architecture.md section 3):
- thoracic: `thoracic_flexion`, `thoracic_lateral_bend`, `thoracic_axial_rotation` (the
  thoracic sensor relative to the lumbar one);
- lumbar: `lumbar_flexion` and `lumbar_lateral_bend` with a sacral sensor; without one,
  `lumbar_inclination` / `lumbar_lateral_inclination`, which include the hips and are
  labelled so; `lumbar_axial_rotation` only with a sacral sensor;
- trunk: `trunk_inclination`, `trunk_lateral_inclination` and `trunk_rotation`, the thoracic
  segment's turn against the room (hips and feet included).

Rotation: the pipeline tracks the relative heading of two sensors with a slow average, which
would eat into a rotation held for seconds. Here the relative heading is fixed at the span's
start instead (a short-window quantity, as the architecture asks) and the rotation is the
Z-X-Y axial angle of the distal segment against the proximal one turned by that heading.
Without the segment orientations of both sensors a rotation is not measurable, and says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from imu import anatomy as A
from imu import quat as Q
from imu.labels import MOBILITY_MOVEMENTS

MOVEMENTS = MOBILITY_MOVEMENTS
DIRECTION = {"flexion": 1.0, "extension": -1.0, "side_bend_left": -1.0, "side_bend_right": 1.0,
             "rotation_left": -1.0, "rotation_right": 1.0}
SEGMENTS = ("thoracic", "lumbar", "trunk")
_SAGITTAL = {"thoracic": ("thoracic_flexion",), "lumbar": ("lumbar_flexion", "lumbar_inclination"),
             "trunk": ("trunk_inclination",)}
_FRONTAL = {"thoracic": ("thoracic_lateral_bend",),
            "lumbar": ("lumbar_lateral_bend", "lumbar_lateral_inclination"),
            "trunk": ("trunk_lateral_inclination",)}
_ROTATION = {"thoracic": ("thoracic_axial_rotation",), "lumbar": ("lumbar_axial_rotation",),
             "trunk": ("trunk_rotation",)}
# movement -> segment -> angle names, the first available one is used
ANGLES = {"flexion": _SAGITTAL, "extension": _SAGITTAL, "side_bend_left": _FRONTAL,
          "side_bend_right": _FRONTAL, "rotation_left": _ROTATION, "rotation_right": _ROTATION}
ROTATION_PAIRS = {"thoracic_axial_rotation": ("thoracic", "lumbar"),
                  "lumbar_axial_rotation": ("lumbar", "sacral")}
ANGLE_WORDS = {"lumbar_inclination": "lumbar inclination (lumbar spine with the hips: no sacral sensor)",
               "lumbar_lateral_inclination": "lumbar lateral inclination (with the pelvis: no sacral sensor)",
               "trunk_rotation": "trunk rotation against the room (hips and feet included)"}
REFERENCE_S = 0.5  # the upright start of a span the range is measured from
SMOOTH_S = 0.3  # moving median before the extreme is taken
MAX_MISSING = 0.2  # a span missing more of its samples than this is not measured
ROTATION_MAX_S = 20.0  # a rotation span longer than this is not measured: heading drift (our choice)
EVEN_DEG = 3.0  # sides closer than this are even: the accuracy the test is held to (our choice)
PAIRS = {"side_bend": ("side_bend_left", "side_bend_right"), "rotation": ("rotation_left", "rotation_right")}


@dataclass
class SegmentRange:
    angle: str | None  # the angle it was measured with
    range_deg: float | None  # None: not measured, see note
    note: str = ""

    def to_dict(self) -> dict:
        return {"angle": self.angle, "range_deg": None if self.range_deg is None else round(self.range_deg, 1),
                "note": self.note}


@dataclass
class MovementResult:
    movement: str
    start_s: float | None
    end_s: float | None
    ranges: dict[str, SegmentRange] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"start_s": None if self.start_s is None else round(self.start_s, 2),
                "end_s": None if self.end_s is None else round(self.end_s, 2),
                "ranges": {seg: r.to_dict() for seg, r in self.ranges.items()}}


@dataclass
class MobilityResult:
    movements: dict[str, MovementResult]
    asymmetry: dict[str, dict[str, dict]]  # side_bend / rotation -> segment -> numbers
    notes: list[str] = field(default_factory=list)

    def range_of(self, movement: str, segment: str) -> float | None:
        m = self.movements.get(movement)
        return None if m is None or segment not in m.ranges else m.ranges[segment].range_deg

    def to_dict(self) -> dict:
        return {"movements": {k: v.to_dict() for k, v in self.movements.items()},
                "asymmetry": self.asymmetry, "notes": list(self.notes)}


def rotation_from_start(distal: np.ndarray, proximal: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Axial rotation (deg) of `distal` against `proximal` (segment -> E quaternions), their
    relative heading fixed at its circular mean over the `reference` rows."""
    heading = A.heading_deg(distal[reference]) - A.heading_deg(proximal[reference])
    finite = np.isfinite(heading)
    if not finite.any():
        return np.full(len(distal), np.nan)
    rad = np.radians(heading[finite])
    offset = float(np.degrees(np.arctan2(np.sin(rad).mean(), np.cos(rad).mean())))
    aligned = Q.multiply(A.heading_quat(np.full(len(proximal), offset)), proximal)
    return A.joint_angles(Q.multiply(Q.conjugate(aligned), distal))[:, 2]


def heading_change(segment: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Turn of a segment against the room (deg, right +) from its heading over `reference`."""
    heading = A.heading_deg(segment)
    ref = heading[reference]
    ref = ref[np.isfinite(ref)]
    if not len(ref):
        return np.full(len(segment), np.nan)
    rad = np.radians(ref)
    start = np.degrees(np.arctan2(np.sin(rad).mean(), np.cos(rad).mean()))
    return -((heading - start + 180.0) % 360.0 - 180.0)  # heading: left turn +


def movement_range(t: np.ndarray, values: np.ndarray, direction: float) -> tuple[float | None, str]:
    """(range in the movement's direction from the span's start, note); None when the data
    cannot carry one."""
    values = np.asarray(values, float)
    if not len(values) or np.isnan(values).mean() > MAX_MISSING:
        return None, "not measured: the sensors' data has gaps during this movement"
    rate = (len(t) - 1) / (t[-1] - t[0]) if len(t) > 1 and t[-1] > t[0] else 1.0
    reference = values[t < t[0] + REFERENCE_S]
    reference = reference[np.isfinite(reference)]
    if not len(reference):
        return None, "not measured: no data at the movement's start"
    import pandas as pd  # here, not at the top: every report imports this module, few hold a test

    window = max(1, int(round(SMOOTH_S * rate)))
    smooth = pd.Series(values).rolling(window, center=True, min_periods=max(1, window // 2)).median()
    moved = direction * (smooth.to_numpy() - float(np.median(reference)))
    if not np.isfinite(moved).any():
        return None, "not measured: no data"
    return max(0.0, float(np.nanmax(moved))), ""


def _values(name: str, t: np.ndarray, angles: dict, segments: dict):
    """(values or None, why not) of one angle over a span."""
    reference = t < t[0] + REFERENCE_S
    if name in ROTATION_PAIRS:
        distal, proximal = ROTATION_PAIRS[name]
        if distal in segments and proximal in segments:
            return rotation_from_start(segments[distal], segments[proximal], reference), ""
        if proximal == "sacral":
            return None, ("not measurable without a sacral sensor: the lumbar sensor's turn cannot "
                          "be told from the hips or feet turning")
        return None, ("not measurable: needs a thoracic and a lumbar sensor; one sensor cannot tell "
                      "a twist of the spine from turning the whole body")
    if name == "trunk_rotation":
        if "thoracic" in segments:
            return heading_change(segments["thoracic"], reference), ""
        return None, "not measurable: no thoracic sensor"
    if name in angles:
        return angles[name], ""
    return None, ""


def _why_missing(movement: str, segment: str) -> str:
    if segment == "thoracic":
        return "not measurable: needs a thoracic and a lumbar sensor (the upper back relative to the lower)"
    if segment == "lumbar":
        return "not measurable: no lumbar sensor"
    return "not measurable: no thoracic sensor"


def measure_mobility(t: np.ndarray, angles: dict[str, np.ndarray], spans: list[tuple[float, float, str]],
                     segments: dict[str, np.ndarray] | None = None) -> MobilityResult:
    """Ranges of every movement in `spans` ((start_s, end_s, movement); a movement given
    twice keeps its larger range) and the left/right asymmetry of each segment.

    t: (n,) session seconds; angles: name -> (n,) degrees (the pipeline's, from the
    calibrated neutral); segments: location -> (n, 4) segment -> anatomical earth
    orientation (AngleComputer.segments), needed for rotation."""
    t = np.asarray(t, float)
    segments = segments or {}
    movements: dict[str, MovementResult] = {}
    for start, end, movement in spans:
        if movement not in ANGLES:
            raise ValueError(f"unknown movement {movement!r}; known: {', '.join(MOVEMENTS)}")
        rows = (t >= start) & (t <= end)
        result = MovementResult(movement, float(start), float(end))
        for segment, names in ANGLES[movement].items():
            chosen, why = None, ""
            for name in names:
                values, reason = _values(name, t[rows], {k: v[rows] for k, v in angles.items() if k in names},
                                         {k: v[rows] for k, v in segments.items()})
                if values is not None:
                    chosen = (name, values)
                    break
                why = why or reason
            if chosen is None:
                result.ranges[segment] = SegmentRange(None, None, why or _why_missing(movement, segment))
                continue
            if movement.startswith("rotation") and end - start > ROTATION_MAX_S:
                result.ranges[segment] = SegmentRange(chosen[0], None, (
                    f"not measured: the rotation took {end - start:.0f} s, longer than {ROTATION_MAX_S:g} s, "
                    "over which the sensors' headings drift too far (no magnetometer)"))
                continue
            if rows.sum() < 3:
                result.ranges[segment] = SegmentRange(chosen[0], None, "not measured: too few samples")
                continue
            value, note = movement_range(t[rows], chosen[1], DIRECTION[movement])
            result.ranges[segment] = SegmentRange(chosen[0], value, note or ANGLE_WORDS.get(chosen[0], ""))
        before = movements.get(movement)
        if before is None or _total(result) > _total(before):
            movements[movement] = result
    for movement in MOVEMENTS:
        movements.setdefault(movement, MovementResult(movement, None, None, {
            seg: SegmentRange(None, None, "not done: the movement was not seen") for seg in SEGMENTS}))
    return MobilityResult(movements, asymmetry(movements))


def _total(m: MovementResult) -> float:
    return sum(r.range_deg for r in m.ranges.values() if r.range_deg is not None)


def asymmetry(movements: dict[str, MovementResult]) -> dict[str, dict[str, dict]]:
    """side_bend / rotation -> segment -> left, right, difference (right - left), larger side."""
    out: dict[str, dict[str, dict]] = {}
    for pair, (left_key, right_key) in PAIRS.items():
        out[pair] = {}
        for segment in SEGMENTS:
            left = movements[left_key].ranges.get(segment)
            right = movements[right_key].ranges.get(segment)
            if left is None or right is None or left.range_deg is None or right.range_deg is None:
                out[pair][segment] = {"left_deg": None, "right_deg": None, "difference_deg": None,
                                      "larger": None, "percent": None,
                                      "note": "not measured on both sides"}
                continue
            diff = right.range_deg - left.range_deg
            big = max(left.range_deg, right.range_deg)
            larger = "even" if abs(diff) < EVEN_DEG else ("right" if diff > 0 else "left")
            out[pair][segment] = {"left_deg": round(left.range_deg, 1), "right_deg": round(right.range_deg, 1),
                                  "difference_deg": round(diff, 1), "larger": larger,
                                  "percent": round(100.0 * abs(diff) / big, 0) if big > 0 else None,
                                  "note": "" if larger != "even" else f"within {EVEN_DEG:g} deg: even"}
    return out


class MobilityRecorder:
    """Collects what `measure_mobility` needs, step by step (live) or over a recording
    (only inside `keep` spans, so a long session stays small)."""

    def __init__(self, keep: list[tuple[float, float]] | None = None):
        self.keep = keep
        self._t: list[np.ndarray] = []
        self._angles: dict[str, list[np.ndarray]] = {}
        self._segments: dict[str, list[np.ndarray]] = {}
        self._n = 0

    def add(self, t: np.ndarray, angles: dict[str, np.ndarray], segments: dict[str, np.ndarray]) -> None:
        t = np.asarray(t, float)
        if not len(t):
            return
        rows = np.ones(len(t), bool)
        if self.keep is not None:
            rows = np.zeros(len(t), bool)
            for a, b in self.keep:
                rows |= (t >= a) & (t <= b)
            if not rows.any():
                return
        for store, data, width in ((self._angles, angles, None), (self._segments, segments, 4)):
            for name, values in data.items():
                parts = store.setdefault(name, [])
                have = sum(len(p) for p in parts)
                if have < self._n:  # appeared late: NaN before
                    parts.append(np.full((self._n - have,) + (() if width is None else (width,)), np.nan))
                parts.append(np.asarray(values, float)[rows])
        self._t.append(t[rows])
        self._n += int(rows.sum())

    def arrays(self) -> tuple[np.ndarray, dict, dict]:
        t = np.concatenate(self._t) if self._t else np.empty(0)

        def joined(store, width):
            out = {}
            for name, parts in store.items():
                v = np.concatenate(parts)
                if len(v) < len(t):
                    v = np.concatenate([v, np.full((len(t) - len(v),) + (() if width is None else (width,)), np.nan)])
                out[name] = v
            return out
        return t, joined(self._angles, None), joined(self._segments, 4)

    def measure(self, spans: list[tuple[float, float, str]]) -> MobilityResult:
        t, angles, segments = self.arrays()
        return measure_mobility(t, angles, spans, segments)
