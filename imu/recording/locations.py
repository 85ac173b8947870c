"""Sensor names people use, read as the project's body locations.

The three locations are `thoracic` (upper thoracic, C7 to T4), `lumbar` (thoracolumbar
junction, T12 to L2) and `sacral` (L4 to S2, the pelvis). Recordings name their sensors by
vertebra ("T4", "L5", "C7/T1", "L4/5"), by region ("upper back", "lower_back", "pelvis") or
by the project's own names. Vertebrae are assigned to the nearest location's span:
C7-T8 thoracic, T9-L3 lumbar, L4-S5 and the coccyx sacral; the neck (C1-C6) and names that
say nothing clear about the spine ("trunk", "waist", "hip", "mid back") are no location
(None), so their rows are reported rather than guessed.
"""

from __future__ import annotations

import re

from imu.samples import LOCATIONS

REGIONS = {
    "thoracic": ("thoracic", "thorax", "upper back", "upperback", "upper trunk", "upper spine",
                 "back upper", "upper thoracic", "thoracic spine", "t spine", "tspine"),
    "lumbar": ("lumbar", "lower back", "lowerback", "low back", "lowback", "back lower", "thoracolumbar",
               "lumbar spine", "l spine", "lspine"),
    "sacral": ("sacral", "sacrum", "pelvis", "pelvic", "sacroiliac", "lumbosacral", "tailbone", "coccyx"),
}
_REGION_OF = {name: loc for loc, names in REGIONS.items() for name in names}
_LEVEL = re.compile(r"^([ctls])(\d{1,2})$")
_SPAN = {"c": (1, 8), "t": (1, 12), "l": (1, 5), "s": (1, 5)}  # C8 is a nerve root, near C7/T1


def _normal(name: str) -> str:
    """Lower case, separators as single spaces: 'Lower_Back' and 'lower-back' read alike."""
    return " ".join(re.sub(r"[_\-.:]+", " ", str(name).strip().lower()).split())


def _level_location(region: str, number: int) -> str | None:
    low, high = _SPAN[region]
    if not low <= number <= high:
        return None
    if region == "c":
        return "thoracic" if number >= 7 else None
    if region == "t":
        return "thoracic" if number <= 8 else "lumbar"
    if region == "l":
        return "lumbar" if number <= 3 else "sacral"
    return "sacral"


def vertebra_location(text: str) -> str | None:
    """'T4' -> thoracic; 'C7/T1', 'L4-5', 'L5S1' -> the location of the upper level named."""
    compact = text.replace(" ", "")
    match = re.match(r"^([ctls])(\d{1,2})(?:(?:/|-|)([ctls])?(\d{1,2}))?$", compact)
    if not match:
        return None
    return _level_location(match.group(1), int(match.group(2)))


def resolve_location(name: str) -> str | None:
    """The body location a sensor name stands for, or None when it names none."""
    text = _normal(name)
    if text in LOCATIONS:
        return text
    if text in _REGION_OF:
        return _REGION_OF[text]
    found = vertebra_location(text)
    if found:
        return found
    # a name with the region or level inside it: "DOT upper back", "sensor_T4", "imu-L5"
    hits = {loc for phrase, loc in _REGION_OF.items() if re.search(rf"\b{re.escape(phrase)}\b", text)}
    hits |= {loc for word in re.findall(r"\b[ctls]\d{1,2}\b", text) if (loc := vertebra_location(word))}
    return hits.pop() if len(hits) == 1 else None
