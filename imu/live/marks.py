"""Marking carries during `imu live`: the wearer (or a coach) presses a key.

f farmer, l suitcase left, r suitcase right, c front carry, each followed by Enter, starts a
carry; Enter alone (or any other line) ends it. Each finished carry is recorded as an
annotation with source "key", which the report grades like one added with `imu annotate`.
"""

from __future__ import annotations

from typing import Callable

CARRY_KEYS = {"f": "carry_farmer", "l": "carry_suitcase_left", "r": "carry_suitcase_right",
              "c": "carry_front"}
HELP = "carry keys: f farmer, l / r suitcase left / right, c front carry, then Enter; Enter ends it"


class CarryMarker:
    def __init__(self, annotate: Callable[[float, float, str, str], None]):
        self.annotate = annotate  # (t_start, t_end, label, source)
        self.open: tuple[str, float] | None = None

    def key(self, text: str, t: float) -> str | None:
        """Handle one typed line at session time t; returns what to tell the user."""
        if self.open is not None:
            return self.close(t)
        label = CARRY_KEYS.get(text.strip().lower())
        if label is None:
            return HELP if text.strip() else None
        self.open = (label, t)
        return f"{label.replace('_', ' ')} started at {t:.1f} s: press Enter when it ends"

    def close(self, t: float) -> str | None:
        """End an open carry (also at the end of the session)."""
        if self.open is None:
            return None
        label, start = self.open
        self.open = None
        if t <= start:
            return None
        self.annotate(start, t, label, "key")
        return f"{label.replace('_', ' ')} marked {start:.1f}-{t:.1f} s"
