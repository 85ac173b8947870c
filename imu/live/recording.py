"""The session file of a live session: everything is recorded the moment it arrives.

Notifications and link events that arrive while the sensors connect, before the file can be
opened (its metadata names the sensors), wait in a queue and are written first. The writer
only enqueues (a background thread commits), so recording never holds the event loop up.
Live events, calibration attempts and carry marks are recorded beside the notifications.
A failing disk stops the session rather than losing data.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Callable

from imu import __version__
from imu.profile import Thresholds, thresholds_to_dict
from imu.jsonvalues import plain
from imu.samples import LinkEvent, Notification


class LiveRecording:
    def __init__(self, path: Path, note: Callable[[str], None], on_failure: Callable[[str], None]) -> None:
        self.path = path
        self.note = note  # one line for the user
        self.on_failure = on_failure  # called with a reason when the file cannot be written
        self.writer = None  # imu.recording.session.SessionWriter, once open
        self.notifications = 0  # written
        self.stopping = False  # at the end of the session write failures are not news
        self._unwritten: list[Notification | LinkEvent] = []

    @property
    def is_open(self) -> bool:
        return self.writer is not None

    def open(self, sensors: list[dict], thresholds: Thresholds, profile: str, options) -> None:
        """Create the file (never over an existing one) and write what arrived before it."""
        from imu.recording.session import SessionWriter

        metadata = {"software": f"imu {__version__}", "thresholds": thresholds_to_dict(thresholds),
                    "source": "virtual" if options.virtual is not None else "live",
                    "profile": profile, "speed": options.speed,
                    "started_local": _dt.datetime.now().isoformat()}
        if options.virtual is not None:
            metadata["virtual"] = options.virtual or "desk"
            metadata["seed"] = options.seed
        self.writer = SessionWriter(self.path, metadata, sensors)
        for item in self._unwritten:
            self._write(item)
        self._unwritten = []

    def add(self, item: Notification | LinkEvent) -> None:
        """Record an item now, or as soon as the file is open."""
        if self.writer is not None:
            self._write(item)
        else:
            self._unwritten.append(item)

    def _write(self, item: Notification | LinkEvent) -> None:
        from imu.recording.session import SessionWriteError

        try:
            if isinstance(item, Notification):
                self.writer.add_notification(item.sensor, item.host_time_s, item.payload)
                self.notifications += 1
            else:
                self.writer.add_link_event(item.sensor, item.host_time_s, item.kind)
        except SessionWriteError as err:  # disk full, file removed: stop rather than lose data
            if not self.stopping:
                self.note(str(err))
                self.on_failure("recording failed")

    def add_calibration(self, record: dict, t: float) -> None:
        """A calibration attempt (accepted or refused), or one reused from the profile."""
        self.writer.add_calibration(record, t)

    def add_annotation(self, t_start: float, t_end: float, label: str, source: str) -> None:
        self.writer.add_annotation(t_start, t_end, label, source)

    def add_event(self, event: dict) -> None:
        """A live event with its span; calibrations are recorded as attempts instead."""
        kind = event["event"]
        if kind == "calibration":
            return
        t_start, t_end = event["t"], None
        if kind == "slouch_end":
            t_start, t_end = event["start_s"], event["end_s"]
        elif kind == "reconnect":
            t_start, t_end = event["t"] - event.get("gap_s", 0.0), event["t"]
        try:
            self.writer.add_event(kind, float(t_start), None if t_end is None else float(t_end),
                                  plain(event))
        except ValueError as err:
            self.note(f"event not recorded ({err})")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
