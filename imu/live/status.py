"""The terminal status line: clock, posture state, angles, slouch count, sensors.

The line is built from parts in order of importance and fitted to the terminal's width:
parts that do not fit are shortened, then dropped, so it never wraps (an 80-column
terminal shows clock, state, angles and sensors). On a TTY it is redrawn in place
(carriage return, then erase to the end of the line), a few times a second of wall time;
otherwise (a pipe, a log file) a plain line is printed every `every_s` session seconds.
Colour only on a TTY and never when NO_COLOR is set (https://no-color.org).
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import time
from typing import TextIO

from imu.timefmt import clock

SHORT = {"thoracic": "T", "lumbar": "L", "sacral": "S"}
ERASE_TO_END = "\x1b[K"
STYLES = {"bad": "\x1b[1;31m", "warn": "\x1b[33m", "good": "\x1b[32m", "dim": "\x1b[2m"}
RESET = "\x1b[0m"


def _last(values) -> float | None:
    if values is None or not len(values):
        return None
    v = float(values[-1])
    return v if math.isfinite(v) else None


def _deg(v: float | None) -> str:
    return "--" if v is None else f"{round(v) + 0:+d}°"  # + 0: no "-0"


def sensor_text(location: str, s: dict, detail: int) -> tuple[str, str]:
    """(text, style) of one sensor: detail 2 rate, loss and battery; 1 the state; 0 a letter."""
    short = SHORT.get(location, location[:1].upper())
    if not s.get("connected", True):
        return (f"{location} reconnecting" if detail else f"{short}✗"), "bad"
    if detail == 0:
        return f"{short}✓", "good"
    if detail == 1:
        return f"{location} ok", "good"
    text = f"{short} {s.get('rate_hz', 0):.0f}Hz"
    if s.get("loss_pct"):
        text += f" {s['loss_pct']:.1f}%lost"
    battery = s.get("battery_pct")
    if battery is not None:
        text += f" {battery:.0f}%bat"
    return text, ("warn" if (battery is not None and battery < 15) or s.get("loss_pct", 0) > 5 else "good")


def status_parts(t: float, angles: dict, status: dict[str, dict], slouch_count: int,
                 slouching_since: float | None, stage: str = "") -> dict[str, list[tuple[str, str]]]:
    """The status as named parts in display order; each lists (text, style) variants, longest
    first, and `fit` picks the variants that fit the width."""
    thor = _last(angles.get("thoracic_flexion"))
    lumb = _last(angles.get("lumbar_flexion"))
    lumb_name = "lumb" if lumb is not None else "lumb.incl"
    if lumb is None:
        lumb = _last(angles.get("lumbar_inclination"))
    trunk = _last(angles.get("trunk_inclination"))
    parts: dict[str, list[tuple[str, str]]] = {"clock": [(clock(t), "")]}
    if stage:
        parts["state"] = [(stage, "warn"), (stage.split(":")[0], "warn")]
    elif slouching_since is not None:
        parts["state"] = [(f"SLOUCHING {clock(t - slouching_since)}", "bad"), ("SLOUCH", "bad")]
    else:
        parts["state"] = [("no slouch", "good")]
    if not stage:
        parts["angles"] = [
            (f"thoracic {_deg(thor)} {lumb_name} {_deg(lumb)} trunk {_deg(trunk)}", ""),
            (f"T {_deg(thor)} L {_deg(lumb)} trunk {_deg(trunk)}", ""),
            (f"T {_deg(thor)}", "")]
        word = "slouch" if slouch_count == 1 else "slouches"
        parts["count"] = [(f"{slouch_count} {word}", ""), (f"{slouch_count}×", "")]
    if status:
        variants = []
        for detail in (2, 1, 0):
            texts = [sensor_text(loc, s, detail) for loc, s in status.items()]
            style = "bad" if any(st == "bad" for _, st in texts) else (
                "warn" if any(st == "warn" for _, st in texts) else "good")
            variants.append((" ".join(x for x, _ in texts), style))
        parts["sensors"] = variants
    return parts


# which parts give way first: sensors, then angles, then the count, then the state
SHRINK_ORDER = ("sensors", "angles", "count", "state")


def fit(parts: dict[str, list[tuple[str, str]]], width: int, sep: str = " · "
        ) -> list[tuple[str, str]]:
    """One variant of each part, in the dict's order, keeping the line within width.

    Every part starts at its longest variant. While the line is too long, parts step down
    to shorter variants in SHRINK_ORDER (each one all the way before the next); only then
    are parts dropped, in the same order. The clock is always kept, cut to the width if
    it must be.
    """
    choice = dict.fromkeys(parts, 0)

    def chosen():
        return [parts[k][c] for k, c in choice.items() if c < len(parts[k])]

    def length(items):
        return sum(len(x) for x, _ in items) + len(sep) * max(0, len(items) - 1)

    order = [k for k in SHRINK_ORDER if k in parts]
    for key in order:  # shorter variants first
        while length(chosen()) > width and choice[key] < len(parts[key]) - 1:
            choice[key] += 1
    for key in order:  # then drop whole parts
        if length(chosen()) > width:
            choice[key] = len(parts[key])
    items = chosen()
    if length(items) > width:
        items = [(items[0][0][:width], items[0][1])]
    return items


def format_status(t: float, angles: dict, status: dict[str, dict], slouch_count: int,
                  slouching_since: float | None = None, stage: str = "", width: int = 80) -> str:
    """The status line as plain text, at most `width` characters."""
    return " · ".join(x for x, _ in fit(status_parts(t, angles, status, slouch_count,
                                                        slouching_since, stage), width))


def use_colour(stream: TextIO) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)()) and "NO_COLOR" not in os.environ \
        and os.environ.get("TERM") != "dumb"


class StatusLine:
    def __init__(self, stream: TextIO | None = None, enabled: bool = True, every_s: float = 30.0,
                 min_wall_s: float = 0.2, width: int | None = None) -> None:
        self.stream = stream or sys.stdout
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.colour = use_colour(self.stream)
        self.every_s, self.min_wall_s = every_s, min_wall_s
        self._fixed_width = width
        self._last_wall = -math.inf
        self._last_t = -math.inf
        self._drawn = False

    @property
    def width(self) -> int:
        """Columns to fill: one less than the terminal's, so the cursor never wraps."""
        if self._fixed_width is not None:
            return self._fixed_width
        if not self.tty:
            return 120
        return max(20, shutil.get_terminal_size((80, 24)).columns - 1)

    def render(self, parts) -> str:
        items = fit(parts, self.width)
        if not self.colour:
            return " · ".join(x for x, _ in items)
        return " · ".join(f"{STYLES[s]}{x}{RESET}" if s in STYLES else x for x, s in items)

    def show(self, t: float, parts_fn) -> None:
        """Show the line for session time t; `parts_fn()` builds its parts only when shown
        (a list of parts as `status_parts` gives, or a plain string)."""
        if not self.enabled:
            return
        if self.tty:
            now = time.monotonic()
            if now - self._last_wall < self.min_wall_s:
                return
            self._last_wall = now
            self.stream.write("\r" + self._text(parts_fn()) + ERASE_TO_END)
            self._drawn = True
            self.stream.flush()
        elif t - self._last_t >= self.every_s:
            self._last_t = t
            self.stream.write(self._text(parts_fn()) + "\n")
            self.stream.flush()

    def _text(self, parts) -> str:
        if isinstance(parts, str):
            return parts[: self.width]
        return self.render(parts)

    def message(self, text: str) -> None:
        """A line of its own (an instruction, an alert) that the status line must not eat."""
        if self.tty and self._drawn:
            self.stream.write("\r" + ERASE_TO_END)
            self._drawn = False
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        """Remove the status line: the session's closing messages follow on a clean line."""
        if self.tty and self._drawn and self.enabled:
            self.stream.write("\r" + ERASE_TO_END)
            self.stream.flush()
            self._drawn = False


def describe_event(event: dict) -> str:
    kind, t = event["event"], event["t"]
    if kind == "calibration":
        verdict = "accepted" if event["ok"] else "refused"
        why = f": {'; '.join(event['reasons'])}" if event["reasons"] else ""
        text = f"calibration {verdict} ({event['quality']}){why}"
    elif kind == "slouch_start":
        text = f"slouching since {clock(event['start_s'])}"
    elif kind == "slouch_end":
        text = (f"slouch over: {event['end_s'] - event['start_s']:.0f} s, "
                f"peak {event['peak_deg']:.0f} deg")
    elif kind == "gap":
        text = f"{event['sensor']} sensor lost; reconnecting ..."
    elif kind == "reconnect":
        text = f"{event['sensor']} sensor back after {event.get('gap_s', 0):.1f} s"
    elif kind == "sitting_break_due":  # issue 13: sitting bouts, breaks and lifts
        text = f"time to move: seated {event['seated_s'] / 60:.0f} min without a break"
    elif kind == "sitting_bout" and event.get("confirmed") is False:  # no sit-down or stand-up seen
        text = (f"{event['duration_s'] / 60:.0f} min without walking since {clock(event['start_s'])} "
                "(sitting or standing: no sit-down or stand-up was seen)")
    elif kind == "sitting_bout":
        text = f"sitting bout over: {event['duration_s'] / 60:.0f} min since {clock(event['start_s'])}"
    elif kind == "sitting_break":
        text = f"break of {event['duration_s'] / 60:.1f} min up and moving"
    elif kind == "lift":
        share = event.get("lumbar_share")
        text = (f"lift: {event['grade']}, trunk {event.get('trunk_inclination_peak_deg') or 0:.0f} deg"
                + (f", lumbar share {100 * share:.0f} %" if share is not None else ""))
    elif kind == "lift_cue":
        text = f"lift: {event['reason']}"
    elif kind == "posture_reset":
        text = f"posture reset counted (upper back extended {event.get('extension_deg', 0):.0f} deg)"
    elif kind == "posture_reset_guided":
        text = ("guided posture reset completed" if event.get("completed")
                else "guided posture reset not completed: " + ", ".join(event.get("steps_seen", [])) + " seen")
    elif kind == "mobility_test":
        text = f"mobility test measured ({event.get('movements_done', 0)} of 6 movements)"
    elif kind in ("carry_graded", "run_graded"):
        what = event.get("kind", "run").replace("_", " ")
        why = f": {'; '.join(event['reasons'])}" if event.get("reasons") else ""
        so_far = " (so far)" if event.get("provisional") else ""
        text = (f"{what} {clock(event['start_s'])}-{clock(event['end_s'])} "
                f"graded {event['grade']}{so_far}{why}")
    else:
        text = kind
    return f"[{clock(t):>7}] {text}"
