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


# the movements of the thoracic mobility test, in the order the guide asks for them (issue 13);
# each is annotated "mobility_<movement>"
MOBILITY_MOVEMENTS = ("flexion", "extension", "side_bend_left", "side_bend_right",
                      "rotation_left", "rotation_right")
RESET_LABELS = ("posture_reset", "posture_reset_partial")  # guided posture resets (issue 13)


def known_labels() -> tuple[str, ...]:
    """Labels the analysis acts on: calibration windows, carries (graded), torso holds, the
    movements of a mobility test and guided posture resets."""
    return (*CALIBRATION_LABELS, *CARRY_LABELS, *sorted(HOLD_ALIASES),
            *(f"mobility_{m}" for m in MOBILITY_MOVEMENTS), *RESET_LABELS)
