"""The terminal status line: angles, exposure zone, slouch count, per-sensor rate, loss, battery.

On a TTY one line is rewritten in place with \\r (at most a few times a second of wall
time); otherwise (a pipe, a log file) a plain line is printed every `every_s` session
seconds. With --jsonl stdout carries events only, so the status goes nowhere.
"""

from __future__ import annotations

import math
import sys
import time
from typing import TextIO

SHORT = {"thoracic": "T", "lumbar": "L", "sacral": "S"}


def sagittal_zone(value: float | None, zones: tuple[float, float]) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    a = abs(value)
    return f"0-{zones[0]:g}" if a < zones[0] else (f"{zones[0]:g}-{zones[1]:g}" if a < zones[1] else f">{zones[1]:g}")


def _last(values) -> float | None:
    if values is None or not len(values):
        return None
    v = float(values[-1])
    return v if math.isfinite(v) else None


def _deg(v: float | None) -> str:
    return "  --" if v is None else f"{v:+4.0f}"


def format_status(t: float, angles: dict, status: dict[str, dict], slouch_count: int,
                  slouching: bool, zones: tuple[float, float], stage: str = "") -> str:
    thor = _last(angles.get("thoracic_flexion"))
    lumb = _last(angles.get("lumbar_flexion"))
    if lumb is None:
        lumb = _last(angles.get("lumbar_inclination"))
    trunk = _last(angles.get("trunk_inclination"))
    parts = [f"{int(t // 60):02d}:{t % 60:04.1f}"]
    if stage:
        parts.append(stage)
    else:
        parts.append(f"thor {_deg(thor)} lumb {_deg(lumb)} trunk {_deg(trunk)} deg "
                     f"zone {sagittal_zone(trunk, zones)}")
        parts.append(f"slouch {slouch_count}{' NOW' if slouching else ''}")
    sensors = []
    for loc, s in status.items():
        if not s.get("connected", True):
            sensors.append(f"{SHORT.get(loc, loc)} LOST")
            continue
        battery = s.get("battery_pct")
        text = f"{SHORT.get(loc, loc)} {s.get('rate_hz', 0):.0f}Hz"
        if s.get("loss_pct"):
            text += f" {s['loss_pct']:.1f}%lost"
        if battery is not None:
            text += f" {battery:.0f}%bat"
        sensors.append(text)
    parts.append(" | ".join(sensors))
    return "  ".join(parts)


class StatusLine:
    def __init__(self, stream: TextIO | None = None, enabled: bool = True, every_s: float = 30.0,
                 min_wall_s: float = 0.2) -> None:
        self.stream = stream or sys.stdout
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every_s, self.min_wall_s = every_s, min_wall_s
        self._last_wall = -math.inf
        self._last_t = -math.inf
        self._width = 0

    def show(self, t: float, text_fn) -> None:
        """Show the line for session time t; `text_fn()` builds it only when shown."""
        if not self.enabled:
            return
        if self.tty:
            now = time.monotonic()
            if now - self._last_wall < self.min_wall_s:
                return
            self._last_wall = now
            text = text_fn()
            pad = max(0, self._width - len(text))
            self._width = len(text)
            self.stream.write("\r" + text + " " * pad)
            self.stream.flush()
        elif t - self._last_t >= self.every_s:
            self._last_t = t
            self.stream.write(text_fn() + "\n")
            self.stream.flush()

    def message(self, text: str) -> None:
        """A line of its own (an instruction, an alert) that the status line must not eat."""
        if self.tty and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self._width = 0
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self._width and self.enabled:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0


def describe_event(event: dict) -> str:
    kind, t = event["event"], event["t"]
    if kind == "calibration":
        verdict = "accepted" if event["ok"] else "refused"
        why = f": {'; '.join(event['reasons'])}" if event["reasons"] else ""
        text = f"calibration {verdict} ({event['quality']}){why}"
    elif kind == "slouch_start":
        text = f"slouching since {event['start_s']:.1f} s"
    elif kind == "slouch_end":
        text = f"slouch over: {event['end_s'] - event['start_s']:.0f} s, peak {event['peak_deg']:.0f} deg"
    elif kind == "gap":
        text = f"{event['sensor']} sensor lost; reconnecting ..."
    elif kind == "reconnect":
        text = f"{event['sensor']} sensor back after {event.get('gap_s', 0):.1f} s"
    else:
        text = kind
    return f"[{t:7.1f} s] {text}"
