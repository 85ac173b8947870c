"""Annotation labels the analysis acts on (a session file's annotations, a CSV's label column).

The vocabulary is shared by the session file (which refuses unknown labels in `imu annotate`)
and the core (which grades carries and holds and calibrates on the calibration spans), so it
sits below both.
"""

from __future__ import annotations

CALIBRATION_LABELS = ("calibrate_neutral", "calibrate_bend")
CARRY_LABELS = ("carry_farmer", "carry_suitcase_left", "carry_suitcase_right", "carry_front")
# torso-hold label (and its aliases) -> the hold it grades
HOLD_ALIASES = {
    "hold_plank": "plank", "plank": "plank",
    "hold_side_bridge_left": "side_bridge_left", "side_bridge_left": "side_bridge_left",
    "hold_side_bridge_right": "side_bridge_right", "side_bridge_right": "side_bridge_right",
    "hold_bird_dog": "bird_dog", "bird_dog": "bird_dog",
    "hold_extensor": "extensor", "extensor_hold": "extensor", "biering_sorensen": "extensor",
    "sorensen": "extensor", "hold_flexor": "flexor", "flexor_hold": "flexor",
}


def known_labels() -> tuple[str, ...]:
    """Labels the analysis acts on: calibration windows, carries (graded) and torso holds."""
    return (*CALIBRATION_LABELS, *CARRY_LABELS, *sorted(HOLD_ALIASES))
