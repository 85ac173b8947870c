"""All thresholds in one editable profile, stamped into every output.

Defaults and their sources: docs/trunk-science.md. A user edits a JSON file holding any subset of these
keys; unknown keys are refused so that a typo never silently falls back to a default.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path


@dataclass(frozen=True)
class Thresholds:
    # analysis grid
    analysis_rate_hz: float = 100.0
    # never interpolate across more than a few samples: a gap is bridged when it is at most
    # this long, or at most this many of the sensor's own sample periods (5-10 Hz sensors)
    max_interpolation_gap_s: float = 0.1
    max_interpolation_gap_periods: float = 3.0
    # calibration (docs/architecture.md section 4)
    neutral_still_s: float = 3.0  # what the live guide asks for before the bends
    neutral_min_s: float = 1.0  # shortest neutral found in data (real people: ~1 s still)
    neutral_window_s: float = 8.0  # longest neutral window used (more averages out noise)
    neutral_trim_s: float = 0.5  # cut from each end of a labelled neutral span
    still_max_rate_dps: float = 5.0  # angular speed below which a sensor counts as still
    moving_min_rate_dps: float = 12.0  # trailing-second angular speed that means "moving"
    still_max_spread_deg: float = 2.0  # tilt spread within the neutral window
    bend_min_deg: float = 20.0  # a forward bend must tilt each segment at least this far
    bends_required: int = 2
    bend_max_s: float = 20.0  # an unlabelled excursion held longer is a posture, not a bend
    bend_start_max_s: float = 30.0  # the first bend starts within this of the neutral's end
    bend_gap_max_s: float = 10.0  # and each next one within this of the one before
    flexion_asymmetry_min: float = 1.5  # forward reach over backward that tells forward
    face_max_elevation_deg: float = 60.0  # housing face tilted further up/down: no evidence
    calibration_search_s: float = 180.0  # look for neutral and bends within this span
    sensor_agreement_min: float = 0.8  # bend time-course correlation and axis planarity
    # slouch (docs/architecture.md section 5)
    slouch_signal: str = "thoracic_flexion"
    slouch_enter_deg: float = 15.0
    slouch_exit_deg: float = 8.0
    slouch_min_duration_s: float = 5.0
    alert_after_s: float = 30.0
    alert_repeat_s: float = 60.0
    lumbar_slump_fraction: float = 0.70
    # exposure zones (ISO 11226 / EN 1005-4; docs/trunk-science.md): trunk inclination,
    # back curvature (thoracic relative to lumbar), lateral; sagittal angles down to
    # -zone_neutral_band_deg count as neutral (sensor error, not extension)
    sagittal_zones_deg: tuple[float, float] = (20.0, 60.0)
    curvature_zones_deg: tuple[float, float] = (20.0, 40.0)
    zone_neutral_band_deg: float = 5.0
    lateral_zones_deg: tuple[float, float] = (10.0, 20.0)
    # static bouts (EN 1005-1)
    static_band_deg: float = 1.5
    static_min_s: float = 4.0
    # relative heading between sensors is tracked with this time constant; axial rotation
    # is therefore a short-window quantity
    heading_time_constant_s: float = 30.0
    # carries and running (docs/architecture.md section 5)
    carry_lateral_drift_deg: float = 5.0
    carry_range_growth: float = 0.5
    carry_baseline_fraction: float = 0.2
    carry_lean_max_deg: float = 10.0
    carry_range_ratio_max: float = 1.5  # per-stride lateral / rotation range vs unloaded walking
    hold_deviation_deg: float = 10.0
    hold_deviation_s: float = 1.0
    hold_baseline_s: float = 3.0
    # activity context and sensor checks
    running_cadence_min_spm: float = 145.0
    gait_min_regularity: float = 0.5
    gait_min_amplitude_deg: float = 0.5  # std of the band-passed sagittal inclination
    gait_min_amplitude_g: float = 0.04  # std of the band-passed acceleration magnitude
    still_max_std_deg: float = 1.0  # sagittal and lateral inclination std in a still window
    slip_jump_deg: float = 8.0  # a sensor's neutral jumping this far: slipped or came off
    sensor_stopped_std_deg: float = 0.3
    sensor_moving_std_deg: float = 1.0
    # running grade
    run_lean_max_deg: float = 12.0
    run_lean_drift_max_deg: float = 3.0
    run_lateral_range_max_deg: float = 12.0
    run_rotation_range_max_deg: float = 25.0
    run_step_regularity_min: float = 0.6
    run_symmetry_tolerance: float = 0.15  # |1 - Ad1/Ad2| above this is asymmetric
    # issue 13 items 1 and 3 (docs/trunk-science.md section 10): sitting bouts and movement
    # breaks; lifts and hinges. All are our choices unless the page cites a source.
    sitting_break_after_s: float = 1800.0  # remind after 30 min seated without a break
    sitting_break_repeat_s: float = 600.0  # then every 10 min while the bout goes on
    sitting_break_min_s: float = 60.0  # up and walking this long ends a bout: a break
    lift_enter_deg: float = 20.0  # a bend starts above this inclination (ISO 11226 edge)
    lift_exit_deg: float = 15.0  # and ends below this one (hysteresis)
    lift_min_peak_deg: float = 45.0  # shallower bends are leans, sit-downs and stand-ups
    lift_max_s: float = 20.0  # a bend held longer is a posture, not a lift
    lift_min_bend_deg: float = 15.0  # less lumbo-pelvic bend: the lumbar share is noise
    lift_hinge_share_max: float = 0.30  # lumbar share of the bend for a hip hinge
    lift_stoop_share_min: float = 0.50  # lumbar share from which the lift is a stoop
    lift_rounded_lumbar_deg: float = 30.0  # lumbar flexion that rounds the back whatever the share
    # posture resets and the thoracic mobility test (issue 13 items 2 and 4; docs/trunk-science.md,
    # "Posture resets and the thoracic mobility test"; all our choice): a reset is thoracic extension (thoracic_flexion at or below
    # -reset_extension_deg, ending above -reset_exit_deg) held reset_hold_s in one go; holds
    # within reset_merge_s of each other are one routine; the issue asks for 3 a day
    reset_extension_deg: float = 10.0
    reset_exit_deg: float = 7.0
    reset_hold_s: float = 3.0
    reset_merge_s: float = 45.0
    resets_per_day_target: int = 3
    mobility_move_deg: float = 12.0  # the mobility guide sees a movement once it passes this
    mobility_timeout_s: float = 30.0  # and gives up on one not seen within this

    def gait_floor(self, is_acc: bool) -> float:
        """The step-band amplitude a gait signal must reach: g for an acceleration
        magnitude, degrees for an inclination."""
        return self.gait_min_amplitude_g if is_acc else self.gait_min_amplitude_deg


def load_thresholds(path: str | Path | None) -> Thresholds:
    """Defaults, overridden by the keys of a JSON profile file when one is given."""
    if path is None:
        return Thresholds()
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a readable JSON profile ({err})") from None
    if isinstance(data, dict) and isinstance(data.get("thresholds"), dict):
        data = data["thresholds"]
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a profile is a JSON object of thresholds, e.g. {{\"slouch_enter_deg\": 20}}")
    try:
        return thresholds_from_dict(data)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


# Ranges that every threshold must satisfy: (low, high, low inclusive). Any numeric threshold
# not listed here must be finite and positive. A zero or absurd value is not a preference: it
# freezes the alert loop (alert_repeat_s 0), blows up the grid (analysis_rate_hz 1e5) or
# silently disables a check, so it is refused with the key named.
_RANGES = {
    "analysis_rate_hz": (5.0, 1000.0, True),
    "max_interpolation_gap_s": (0.0, 10.0, False),
    "bends_required": (0, 10, True),
    "calibration_search_s": (0.0, 86_400.0, False),
    "sensor_agreement_min": (0.0, 1.0, True),
    "slouch_enter_deg": (0.0, 90.0, False),
    "slouch_exit_deg": (-90.0, 90.0, True),
    "slouch_min_duration_s": (0.0, 86_400.0, True),
    "alert_after_s": (0.0, 86_400.0, True),
    "alert_repeat_s": (1.0, 86_400.0, True),
    "lumbar_slump_fraction": (0.0, 1.0, False),
    "heading_time_constant_s": (0.1, 86_400.0, True),
    "carry_baseline_fraction": (0.0, 1.0, False),
    "gait_min_regularity": (0.0, 1.0, True),
    "run_step_regularity_min": (0.0, 1.0, True),
    "run_symmetry_tolerance": (0.0, 10.0, True),
    "running_cadence_min_spm": (1.0, 600.0, True),
    "sitting_break_after_s": (1.0, 86_400.0, True),
    "sitting_break_repeat_s": (1.0, 86_400.0, True),
    "sitting_break_min_s": (1.0, 3_600.0, True),
    "lift_enter_deg": (1.0, 90.0, True),
    "lift_exit_deg": (0.0, 90.0, True),
    "lift_min_peak_deg": (1.0, 150.0, True),
    "lift_max_s": (1.0, 600.0, True),
    "lift_hinge_share_max": (0.0, 1.0, True),
    "lift_stoop_share_min": (0.0, 1.0, False),
    "reset_extension_deg": (0.0, 90.0, False),
    "reset_exit_deg": (0.0, 90.0, False),
    "resets_per_day_target": (1, 100, True),
    "mobility_move_deg": (2.0, 90.0, True),
}
SLOUCH_SIGNALS = ("thoracic_flexion", "lumbar_flexion", "trunk_inclination", "lumbar_inclination")
_ANGLE_LIMIT_DEG = 180.0  # no threshold in degrees can exceed half a turn


def thresholds_from_dict(data: dict) -> Thresholds:
    if not isinstance(data, dict):
        raise ValueError(f"thresholds must be an object of key: value, got {type(data).__name__}")
    known = {f.name: f for f in fields(Thresholds)}
    unknown = sorted(set(map(str, data)) - set(known))
    if unknown:
        raise ValueError(f"unknown threshold(s) in profile: {', '.join(unknown)}")
    values = {key: _coerce(key, value, getattr(Thresholds(), key)) for key, value in data.items()}
    thresholds = Thresholds(**values)
    validate_thresholds(thresholds)
    return thresholds


def _coerce(key: str, value, default):
    """The value in the default's type; JSON numbers only for numbers (no bools, no text)."""
    def number(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"threshold {key} must be a number, got {v!r}")
        return v

    if isinstance(default, tuple):
        if not isinstance(value, (list, tuple)) or len(value) != len(default):
            raise ValueError(f"threshold {key} must be a list of {len(default)} numbers, got {value!r}")
        return tuple(float(number(v)) for v in value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ValueError(f"threshold {key} must be text, got {value!r}")
        return value
    value = number(value)
    if not math.isfinite(value):
        raise ValueError(f"threshold {key} must be a finite number, got {value!r}")
    if isinstance(default, int) and float(value) != int(value):
        raise ValueError(f"threshold {key} must be a whole number, got {value!r}")
    return type(default)(value)


def validate_thresholds(thr: Thresholds) -> None:
    """Raise ValueError naming the first threshold that is not finite, out of range, or
    inconsistent with another."""
    for f in fields(Thresholds):
        value = getattr(thr, f.name)
        if isinstance(value, str):
            continue
        for v in (value if isinstance(value, tuple) else (value,)):
            if not math.isfinite(v):
                raise ValueError(f"threshold {f.name} must be a finite number, got {v!r}")
        if isinstance(value, tuple):
            if not (0 < value[0] < value[1] <= _ANGLE_LIMIT_DEG):
                raise ValueError(f"threshold {f.name} must be two increasing angles in (0, 180] deg, got {list(value)}")
            continue
        low, high, inclusive = _RANGES.get(f.name, (0.0, math.inf, False))
        if f.name.endswith("_deg") and f.name not in _RANGES:
            high = _ANGLE_LIMIT_DEG
        if value > high or value < low or (value == low and not inclusive):
            shown = f"{'[' if inclusive else '('}{low:g}, {high:g}]"
            raise ValueError(f"threshold {f.name} must be in {shown}, got {value!r}")
    if thr.slouch_signal not in SLOUCH_SIGNALS:
        raise ValueError(f"threshold slouch_signal must be one of {', '.join(SLOUCH_SIGNALS)}, got {thr.slouch_signal!r}")
    if thr.slouch_exit_deg >= thr.slouch_enter_deg:
        raise ValueError("slouch_exit_deg must be below slouch_enter_deg (hysteresis)")
    if thr.reset_exit_deg >= thr.reset_extension_deg:
        raise ValueError("reset_exit_deg must be below reset_extension_deg (hysteresis)")
    if thr.moving_min_rate_dps < thr.still_max_rate_dps:
        raise ValueError("moving_min_rate_dps must not be below still_max_rate_dps")
    if thr.lift_exit_deg >= thr.lift_enter_deg:
        raise ValueError("lift_exit_deg must be below lift_enter_deg (hysteresis)")
    if thr.lift_min_peak_deg < thr.lift_enter_deg:
        raise ValueError("lift_min_peak_deg must not be below lift_enter_deg")
    if thr.lift_hinge_share_max >= thr.lift_stoop_share_min:
        raise ValueError("lift_hinge_share_max must be below lift_stoop_share_min")
    if thr.sensor_moving_std_deg <= thr.sensor_stopped_std_deg:
        raise ValueError("sensor_moving_std_deg must be above sensor_stopped_std_deg")


def thresholds_to_dict(thresholds: Thresholds) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(thresholds).items()}
