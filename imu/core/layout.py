"""Sensor layouts: what one, two or three trunk sensors can measure, and why not the rest.

Pure. A layout is the set of worn locations (thoracic, lumbar, sacral). Every measure the
reports give is listed with the sensors it needs; a layout that lacks them gets the measure
marked not measured, with the reason in plain words. The slouch signal follows the layout:
thoracic_flexion (the upper spine against the lumbar sensor) needs both back sensors; the
consumer-trainer layout, one upper-back sensor, falls back to trunk_inclination (that
sensor against gravity), which is less specific: a lean from the hips with a straight back
reads as a slouch too. A lower-back sensor alone cannot see the upper back at all.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

SPECIFIC_SLOUCH = "thoracic_flexion"
UPPER_BACK_SLOUCH = "trunk_inclination"
LESS_SPECIFIC_NOTE = (
    "slouch events use trunk_inclination (the upper-back sensor against gravity): with no "
    "lower-back sensor the spine's own bend (thoracic_flexion) cannot be measured, so a lean "
    "forward from the hips with a straight back also counts as a slouch")

NAMES = {
    frozenset({"thoracic"}): "one upper-back sensor",
    frozenset({"lumbar"}): "one lower-back sensor",
    frozenset({"sacral"}): "one sacral sensor",
    frozenset({"thoracic", "lumbar"}): "upper and lower back",
    frozenset({"lumbar", "sacral"}): "lower back and sacrum",
    frozenset({"thoracic", "sacral"}): "upper back and sacrum",
    frozenset({"thoracic", "lumbar", "sacral"}): "upper back, lower back and sacrum",
}

# measure -> (sensor sets, any of which gives it; what it is, for the reason)
MEASURES = {
    "slouch (thoracic_flexion)": ([{"thoracic", "lumbar"}], "the upper spine against the lower-back sensor"),
    "slouch (trunk_inclination, less specific)": ([{"thoracic"}], "the upper-back sensor against gravity"),
    "lumbar_flexion": ([{"lumbar", "sacral"}], "the lumbar spine against the sacral sensor"),
    "trunk_inclination": ([{"thoracic"}], "the upper-back sensor against gravity"),
    "lumbar_inclination": ([{"lumbar"}], "the lower-back sensor against gravity"),
    "axial rotation": ([{"thoracic", "lumbar"}, {"lumbar", "sacral"}], "one sensor's heading against another's"),
    "activity, steps and cadence": ([{"thoracic"}, {"lumbar"}, {"sacral"}], "any trunk sensor's rhythm"),
    "running grade (lean, drift, sway)": ([{"thoracic"}], "the upper trunk's lean and sway"),
    "carry grade (lateral bend, drift)": ([{"thoracic"}], "the upper trunk's lateral lean"),
    "sensor slip detection": ([{"thoracic", "lumbar"}, {"lumbar", "sacral"}],
                              "a step in one sensor's angle against another's"),
    "sensor came-off detection": ([{"thoracic", "lumbar"}], "one sensor lying still while another walks"),
}


@dataclass
class Layout:
    worn: frozenset[str]

    @property
    def name(self) -> str:
        return NAMES.get(self.worn, ", ".join(sorted(self.worn)) or "no sensor")

    def gives(self, measure: str) -> bool:
        needs, _ = MEASURES[measure]
        return any(need <= self.worn for need in needs)

    def measures(self) -> dict[str, str | None]:
        """measure -> None when this layout gives it, else the reason it cannot."""
        out = {}
        for measure, (needs, what) in MEASURES.items():
            if self.gives(measure):
                out[measure] = None
                continue
            if measure.startswith("slouch (trunk") and self.gives("slouch (thoracic_flexion)"):
                out[measure] = "not needed: thoracic_flexion, the specific signal, is measured"
                continue
            missing = min((need - self.worn for need in needs), key=len)
            out[measure] = (f"needs {' and '.join(sorted(missing))} sensor{'s' if len(missing) > 1 else ''} "
                            f"({what}); worn: {', '.join(sorted(self.worn)) or 'none'}")
        return out

    def slouch_signal(self, configured: str) -> str:
        """The slouch signal this layout can give for the configured one."""
        if configured == SPECIFIC_SLOUCH and not self.gives("slouch (thoracic_flexion)") \
                and self.gives("slouch (trunk_inclination, less specific)"):
            return UPPER_BACK_SLOUCH
        return configured


def layout_of(locations) -> Layout:
    return Layout(frozenset(locations))


def thresholds_for_layout(thresholds, locations):
    """The thresholds with the slouch signal this layout can give (unchanged when it can give
    the configured one)."""
    signal = layout_of(locations).slouch_signal(thresholds.slouch_signal)
    return thresholds if signal == thresholds.slouch_signal else replace(thresholds, slouch_signal=signal)
