"""What a live session shows and sends: the status line and event lines (or JSON lines),
instructions for the wearer, the alert sinks (terminal, desktop, buzz), the step sinks (the
dashboard, the LSL outlet) and, at the end, the report.

A broken display must never stop the recording: a step sink that fails is switched off with
one line; library warnings are shown as whole lines, never written across the status line.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TextIO

from imu.live.sinks import BuzzAlertSink, DesktopAlertSink, TerminalAlertSink, stderr_note
from imu.live.status import StatusLine, clock, describe_event, status_parts
from imu.runner import ALERT_EVENTS, AlertSink, finish_sinks

JSONL_EVENTS = ("calibration", "slouch_start", "slouch_end", "alert", "gap", "reconnect",
                "sitting_break_due", "sitting_bout", "sitting_break", "lift", "lift_cue",
                "posture_reset", "posture_reset_guided", "mobility_test",  # issue 13
                "carry_graded", "run_graded")


class LiveOutputs:
    def __init__(self, options, out: TextIO) -> None:
        self.o = options
        self.out = out  # events and the status line (default stdout)
        self.status_line: StatusLine | None = None  # once the session records
        self.alert_sinks: list = []
        # sinks (imu.runner.Sink: step(update), optional finish()); each alert sink is one of
        # them through an imu.runner.AlertSink
        self.step_sinks: list = []
        self._log_handler: logging.Handler | None = None

    def open(self, hub, sensor_specs: dict, analysis_rate_hz: float) -> None:
        """The status line and the sinks, once the sensors are connected."""
        o = self.o
        self.status_line = StatusLine(self.out, enabled=not (o.jsonl or o.quiet))
        if not o.jsonl:  # library warnings as whole lines, never written across the status line
            self._log_handler = _LineLogHandler(self.status_line.message)
            logging.getLogger().addHandler(self._log_handler)
            self.alert_sinks.append(TerminalAlertSink(self.status_line.message))
        if o.desktop:
            self.alert_sinks.append(DesktopAlertSink(self.note))
        if o.buzz:
            self.alert_sinks.append(BuzzAlertSink(hub))
        self.step_sinks += [AlertSink(sink.alert, ALERT_EVENTS) for sink in self.alert_sinks]
        if o.lsl:
            try:
                from imu.lsl import LslSink

                self.step_sinks.append(LslSink(sensor_specs, grid_rate_hz=analysis_rate_hz))
            except Exception as err:  # no liblsl here: keep recording, say why once
                self.note(f"LSL outlet unavailable ({type(err).__name__}: {err})")
        if o.dashboard_sink is not None:
            self.step_sinks.append(o.dashboard_sink)

    # -- events and steps ------------------------------------------------------------------------
    def events(self, events: list[dict]) -> None:
        """Event lines (or JSON lines) and alerts, in the order the events were emitted."""
        from imu.replay import event_json

        for event in events:
            if self.o.jsonl:
                if event["event"] in JSONL_EVENTS:
                    self.out.write(event_json(event) + "\n")
            elif event["event"] not in ("calibration",) + ALERT_EVENTS:  # the guide says calibrations
                self.status_line.message(describe_event(event))
        if self.o.jsonl and events:
            self.out.flush()

    def show_status(self, now: float, angles: dict, status: dict, slouches: int,
                    open_slouch_from: float | None, calibrated: bool) -> None:
        self.status_line.show(now, lambda: status_parts(
            now, angles, status, slouches, open_slouch_from,
            "" if calibrated else "calibrating: follow the instructions"))

    # -- words for the user ------------------------------------------------------------------------
    def say(self, text: str, t: float) -> None:
        """An instruction for the wearer."""
        line = f"[{clock(t):>7}] {text}"
        if self.o.jsonl:
            print(line, file=sys.stderr, flush=True)
        else:
            self.status_line.message(line)

    def note(self, text: str) -> None:
        if self.o.jsonl or self.status_line is None:
            stderr_note(text)
        else:
            self.status_line.message(f"imu: {text}")

    def message(self, text: str) -> None:
        """A line of its own (above the status line)."""
        if self.status_line is None:
            stderr_note(text)
        else:
            self.status_line.message(text)

    # -- the end -------------------------------------------------------------------------------------
    async def close_sinks(self) -> None:
        for sink in self.alert_sinks:
            close = getattr(sink, "close", None)
            if close is not None:
                await close()
        finish_sinks(self.step_sinks)

    def close_display(self) -> None:
        if self._log_handler is not None:
            logging.getLogger().removeHandler(self._log_handler)
            self._log_handler = None
        if self.status_line is not None:
            self.status_line.close()

    def write_report(self, session_path: Path) -> dict | None:
        """The report next to the session file; the paths written, or None (said why)."""
        from imu.report.make import make_report

        out_dir = Path(str(session_path) + ".report")
        try:
            paths = make_report(session_path, out_dir, quiet=self.o.jsonl or self.o.quiet)
        except Exception as err:  # the recording is safe; the report can be made again
            self.note(f"report not written ({type(err).__name__}: {err}); "
                      f"run `imu report {session_path}`")
            return None
        self.note(f"report: {paths.get('report.html', out_dir)}")
        return paths


class _LineLogHandler(logging.Handler):
    """WARNING and above from any library, one line each through the status line's message()
    (without a handler, Python would write them to stderr across the status line)."""

    def __init__(self, write) -> None:
        super().__init__(logging.WARNING)
        self.write = write

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = " ".join(record.getMessage().split())
            self.write(f"imu: {record.levelname.lower()} from {record.name}: {text}")
        except Exception:  # a broken log line must never stop the recording
            self.handleError(record)
