"""Session time for people: m:ss, or h:mm:ss from an hour (one definition for every output)."""

from __future__ import annotations

import math


def clock(seconds: float) -> str:
    """Whole elapsed seconds as m:ss or h:mm:ss; never "19:60" (seconds are floored, not
    rounded up past a minute boundary)."""
    total = int(math.floor(max(0.0, float(seconds)) + 1e-6))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
