"""What the core produces for a session: angles on one timeline, events, and their quality.

Reports, exports, replay and the dashboard read this; none of them recompute it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from imu.core.context import context_codes, context_labels
from imu.profile import Thresholds
from imu.samples import DecodeStats

# angle names of docs/architecture.md section 3
ANGLE_NAMES = (
    "thoracic_flexion", "thoracic_lateral_bend", "thoracic_axial_rotation",
    "lumbar_flexion", "lumbar_lateral_bend", "lumbar_axial_rotation",
    "lumbar_inclination", "lumbar_lateral_inclination",
    "trunk_inclination", "trunk_lateral_inclination",
)
SAGITTAL_ANGLES = ("thoracic_flexion", "lumbar_flexion", "lumbar_inclination", "trunk_inclination")
LATERAL_ANGLES = (
    "thoracic_lateral_bend", "lumbar_lateral_bend",
    "lumbar_lateral_inclination", "trunk_lateral_inclination",
)
# short-window quantities: high-passed relative heading, never alerted on (docs/architecture.md section 3)
ROTATION_ANGLES = ("thoracic_axial_rotation", "lumbar_axial_rotation")


@dataclass
class SlouchEpisode:
    start_s: float  # crossing of the enter threshold
    end_s: float | None  # crossing below the exit threshold; None while it lasts
    peak_deg: float
    counted_at_s: float  # when it had been held long enough to count
    open_at_end: bool = False  # still going when the data ended (end_s is then the last sample)

    @property
    def duration_s(self) -> float | None:
        return None if self.end_s is None else self.end_s - self.start_s


@dataclass
class Alert:
    t: float  # session time the alert is due
    episode_start_s: float
    angle: str
    value_deg: float  # the angle at the alert moment
    held_s: float  # how long the episode has lasted
    number: int  # 1 for the first alert of an episode, 2 for the first repeat, ...

    @property
    def reason(self) -> str:
        return (f"{self.angle.replace('_', ' ')} {self.value_deg:.0f} deg from neutral "
                f"for {self.held_s:.0f} s")


@dataclass
class CalibrationReport:
    ok: bool
    # "good" (bends gave every axis, sign verified), "fair" (accepted with a weakness the
    # reasons name), "nominal" (no bends: axes from the declared mounting), "unverified"
    # (angles given, but which way is forward could not be established), "failed"
    quality: str
    reasons: list[str]
    neutral: tuple[float, float] | None = None  # (start_s, end_s) of the still window
    bends: list[tuple[float, float]] = field(default_factory=list)
    details: dict = field(default_factory=dict)  # per sensor: still spread, bend size, axis fit
    # which way is forward: "verified" (the declared mounting, not contradicted by the
    # movements), "probable" (the movements alone), "unverified" (conflicting or no evidence)
    sagittal_sign: str = "unverified"
    dropped: dict[str, str] = field(default_factory=dict)  # sensor -> why it gives no angles
    # when a session holds several calibrations: each one's stretch of the session and grade
    stretches: list[dict] = field(default_factory=list)


@dataclass
class SensorQuality:
    location: str
    device: str
    rate_hz: float
    samples: int
    stats: DecodeStats
    clock_residual_ms: float | None = None  # alignment residual (lower envelope fit)
    clock_drift_ppm: float | None = None
    battery_pct: float | None = None


@dataclass
class Analysis:
    t: np.ndarray  # (n,) session seconds on the analysis grid
    angles: dict[str, np.ndarray]  # name -> (n,) degrees from neutral, NaN where unknown
    valid: np.ndarray  # (n,) bool: every sensor had data and no motor vibration
    # (n,) uint8 codes into imu.core.context.CONTEXT_LABELS ("unknown", "still", "moving",
    # "uncalibrated"), one byte a sample; labels given are turned into codes. As labels:
    # `context_labels`
    context: np.ndarray
    episodes: list[SlouchEpisode]  # counted episodes only (held >= slouch_min_duration_s)
    alerts: list[Alert]
    calibration: CalibrationReport
    sensors: dict[str, SensorQuality]
    thresholds: Thresholds
    duration_s: float
    annotations: list[tuple[float, float, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what could not be measured, plainly
    events: list[dict] = field(default_factory=list)  # every pipeline event, live vocabulary

    def __post_init__(self) -> None:
        if getattr(self.context, "dtype", None) == np.uint8:
            return  # codes already: an array, or a series read by stretches (imu.core.columns)
        self.context = context_codes(np.asarray(self.context))

    @property
    def context_labels(self) -> np.ndarray:
        """The context as a label array (object; its elements are the table's few strings)."""
        return context_labels(self.context)
