"""All thresholds in one editable profile, stamped into every output.

Defaults and their sources: docs/trunk-science.md. A user edits a JSON file holding any subset of these
keys; unknown keys are refused so that a typo never silently falls back to a default.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path


@dataclass(frozen=True)
class Thresholds:
    # analysis grid
    analysis_rate_hz: float = 100.0
    max_interpolation_gap_s: float = 0.1  # never interpolate across more than a few samples
    # calibration (DESIGN section 4)
    neutral_still_s: float = 3.0
    still_max_rate_dps: float = 5.0  # angular speed below which a sensor counts as still
    moving_min_rate_dps: float = 12.0  # trailing-second angular speed that means "moving"
    still_max_spread_deg: float = 2.0  # tilt spread within the neutral window
    bend_min_deg: float = 20.0  # a forward bend must tilt each segment at least this far
    bends_required: int = 2
    calibration_search_s: float = 180.0  # look for neutral and bends within this span
    sensor_agreement_min: float = 0.8  # bend time-course correlation and axis planarity
    # slouch (DESIGN section 5)
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
    # carries and running (DESIGN section 5; issue 5)
    carry_lateral_drift_deg: float = 5.0
    carry_range_growth: float = 0.5
    carry_baseline_fraction: float = 0.2
    carry_lean_max_deg: float = 10.0
    carry_range_ratio_max: float = 1.5  # per-stride lateral / rotation range vs unloaded walking
    hold_deviation_deg: float = 10.0
    hold_deviation_s: float = 1.0
    hold_baseline_s: float = 3.0
    # activity context and sensor checks (issue 5)
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


def thresholds_from_dict(data: dict) -> Thresholds:
    known = {f.name: f for f in fields(Thresholds)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"unknown threshold(s) in profile: {', '.join(unknown)}")
    values = {}
    for key, value in data.items():
        default = getattr(Thresholds(), key)
        try:
            values[key] = tuple(float(v) for v in value) if isinstance(default, tuple) else type(default)(value)
        except (TypeError, ValueError):
            raise ValueError(f"threshold {key} must be {type(default).__name__}, got {value!r}") from None
    thresholds = Thresholds(**values)
    if thresholds.slouch_exit_deg >= thresholds.slouch_enter_deg:
        raise ValueError("slouch_exit_deg must be below slouch_enter_deg (hysteresis)")
    return thresholds


def thresholds_to_dict(thresholds: Thresholds) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(thresholds).items()}
