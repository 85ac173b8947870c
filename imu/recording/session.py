"""Session file: one SQLite file per session (docs/architecture.md section 6). This module writes it.

The live loop must never wait for the disk, so `SessionWriter` only puts rows on a queue;
a background thread inserts them in batches and commits at least every `COMMIT_INTERVAL_S`
(WAL mode, synchronous=NORMAL: a killed process loses at most the uncommitted batch, and
the file still opens). Reading lives in `imu.recording.reader`.
"""

from __future__ import annotations

import datetime as _dt
import os
import queue
import sqlite3
import threading
import time
from pathlib import Path

from imu import __version__
from imu.recording.reader import (  # re-exported: one import site for the session file
    Annotation, CalibrationRecord, EventRecord, Integrity, Session, SessionReader,
    iter_notifications, read_session,
)
from imu.recording.schema import (
    SCHEMA, SCHEMA_SQL, SessionFileError, check_session_header, check_time, to_json,
)
from imu.samples import LOCATIONS, Notification

COMMIT_INTERVAL_S = 0.25  # a batch is committed this long after its first row arrived
MAX_BATCH_ROWS = 50_000  # bounds one transaction, so a burst never delays commits long
SENSOR_FIELDS = ("location", "device", "mode", "address", "name", "firmware", "details")

__all__ = [
    "Annotation", "CalibrationRecord", "EventRecord", "Integrity", "Session", "SessionFileError",
    "SessionReader", "SessionWriteError", "SessionWriter", "annotate", "iter_notifications",
    "read_session",
]


class SessionWriteError(RuntimeError):
    """The background writer failed (disk full, file removed, ...); raised on the next call."""


_STOP = object()
_INSERT = {
    "notification": "INSERT INTO notifications(sensor_id, host_time, payload) VALUES (?, ?, ?)",
    "link_event": "INSERT INTO link_events(sensor_id, host_time, kind) VALUES (?, ?, ?)",
    "calibration": "INSERT INTO calibrations(host_time, data) VALUES (?, ?)",
    "event": "INSERT INTO events(t_start, t_end, kind, data) VALUES (?, ?, ?, ?)",
    "annotation": "INSERT INTO annotations(t_start, t_end, label, source) VALUES (?, ?, ?, ?)",
    "meta": "INSERT INTO meta(key, value) VALUES (?, ?)",
}


class SessionWriter:
    """Records one session to a new file; every `add_*` call returns at once.

    metadata: JSON-able facts known at the start (subject, thresholds, placement, ...), one
        meta row per key. sensors: dicts with at least `location` and `device`, optionally
        mode, address, name, firmware and details (a dict).
    """

    def __init__(self, path: str | Path, metadata: dict, sensors: list[dict]):
        self.path = Path(path)
        if self.path.exists():
            raise SessionFileError(f"refusing to overwrite existing file: {self.path}")
        if not self.path.parent.is_dir():
            raise SessionFileError(f"directory does not exist: {self.path.parent}")
        if not os.access(self.path.parent, os.W_OK):
            raise SessionFileError(f"cannot write {self.path}: the folder {self.path.parent} "
                                   "is read-only for you")
        meta_rows = _metadata_rows(metadata)
        sensor_rows = _sensor_rows(sensors)
        self._sensor_ids = {row[1]: row[0] for row in sensor_rows}
        self._meta_keys = {key for key, _ in meta_rows}
        try:
            self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as err:
            raise SessionFileError(f"cannot create {self.path}: {err}") from None
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript("BEGIN;" + SCHEMA_SQL)  # schema, meta, sensors: one transaction
            self._conn.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", meta_rows)
            self._conn.executemany(
                "INSERT INTO sensors(id, location, device, mode, address, name, firmware, details)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", sensor_rows)
            self._conn.execute("COMMIT")
        except BaseException as err:
            self._conn.close()
            for leftover in (self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm")):
                leftover.unlink(missing_ok=True)
            if isinstance(err, sqlite3.OperationalError):  # read-only medium, disk full
                raise SessionFileError(f"cannot create {self.path}: {err}") from None
            raise
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._closed = False
        self._notifications = 0
        self._thread = threading.Thread(target=self._run, name=f"session-writer:{self.path.name}",
                                        daemon=True)
        self._thread.start()

    # ---- the live loop's side: validate, enqueue, return ---------------------------------

    def add_notification(self, sensor: str, host_time_s: float, payload: bytes) -> None:
        self._put("notification", [(self._sensor_id(sensor), float(host_time_s), bytes(payload))])

    def add_notifications(self, notifications: list[Notification]) -> None:
        rows = [(self._sensor_id(n.sensor), float(n.host_time_s), bytes(n.payload))
                for n in notifications]
        if rows:
            self._put("notification", rows)

    def add_link_event(self, sensor: str, host_time_s: float, kind: str) -> None:
        self._put("link_event", [(self._sensor_id(sensor), check_time("host_time_s", host_time_s),
                                  _text("kind", kind))])

    def add_calibration(self, data: dict, host_time_s: float) -> None:
        """One calibration attempt; `data["ok"]` False marks a refused one (kept all the same)."""
        self._put("calibration", [(check_time("host_time_s", host_time_s), to_json(data))])

    def add_event(self, kind: str, t_start: float, t_end: float | None, data: dict | None = None) -> None:
        t_end = None if t_end is None else check_time("t_end", t_end)
        self._put("event", [(check_time("t_start", t_start), t_end, _text("kind", kind),
                             None if data is None else to_json(data))])

    def add_annotation(self, t_start: float, t_end: float, label: str, source: str = "user") -> None:
        self._put("annotation", [_annotation_row(t_start, t_end, label, source)])

    def add_metadata(self, key: str, value) -> None:
        """A fact learned during the session; a key already recorded is never rewritten."""
        key = _text("metadata key", key)
        if key in self._meta_keys:
            raise ValueError(f"metadata key {key!r} is already recorded (session files are append-only)")
        self._meta_keys.add(key)
        self._put("meta", [(key, to_json(value))])

    def close(self) -> None:
        """Flush, commit and finish the file; closing twice is harmless."""
        if self._closed:
            return
        self._closed = True
        if self._error is None:
            closed = {"utc": _utc_now(), "notifications": self._notifications}
            self._queue.put(("meta", [("closed", to_json(closed))]))
        self._queue.put(_STOP)
        self._thread.join()
        if self._error is not None:
            raise SessionWriteError(f"recording to {self.path} failed: {self._error}") from self._error

    def __enter__(self) -> "SessionWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _sensor_id(self, sensor: str) -> int:
        try:
            return self._sensor_ids[sensor]
        except KeyError:
            raise ValueError(f"unknown sensor {sensor!r}; this session records "
                             f"{', '.join(self._sensor_ids)}") from None

    def _put(self, kind: str, rows: list[tuple]) -> None:
        if self._error is not None:
            raise SessionWriteError(f"recording to {self.path} failed: {self._error}") from self._error
        if self._closed:
            raise SessionWriteError(f"session writer for {self.path} is closed")
        if kind == "notification":
            self._notifications += len(rows)
        self._queue.put((kind, rows))

    # ---- the background thread: batch, insert, commit -----------------------------------

    def _run(self) -> None:
        stop = False
        try:
            while not stop:
                item = self._queue.get()
                deadline = time.monotonic() + COMMIT_INTERVAL_S
                batch: dict[str, list[tuple]] = {}
                count = 0
                while True:
                    if item is _STOP:
                        stop = True
                        break
                    kind, rows = item
                    batch.setdefault(kind, []).extend(rows)
                    count += len(rows)
                    remaining = deadline - time.monotonic()
                    if count >= MAX_BATCH_ROWS or remaining <= 0:
                        break
                    try:
                        item = self._queue.get(timeout=remaining)
                    except queue.Empty:
                        break
                self._write(batch)
            self._finish()
        except BaseException as err:  # surfaced to the caller on its next call
            self._error = err
        finally:
            self._conn.close()

    def _write(self, batch: dict[str, list[tuple]]) -> None:
        if not batch:
            return
        self._conn.execute("BEGIN")
        for kind, rows in batch.items():
            self._conn.executemany(_INSERT[kind], rows)
        self._conn.execute("COMMIT")

    def _finish(self) -> None:
        """Fold the WAL into the file so a finished session is one self-contained file."""
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        try:
            self._conn.execute("PRAGMA journal_mode=DELETE")
        except sqlite3.OperationalError:
            pass  # another connection (imu annotate) has it open: WAL stays, equally valid


END_TOLERANCE_S = 1.0  # an annotation may end this long after the last notification


def known_labels() -> tuple[str, ...]:
    """Labels the analysis acts on: calibration windows, carries (graded), torso holds, the
    movements of a mobility test and guided posture resets (issue 13)."""
    from imu.core.activity import CARRY_LABELS, HOLD_ALIASES
    from imu.core.mobility import MOVEMENTS

    return ("calibrate_neutral", "calibrate_bend", *CARRY_LABELS, *sorted(HOLD_ALIASES),
            *(f"mobility_{m}" for m in MOVEMENTS), "posture_reset", "posture_reset_partial")


def annotate(path: str | Path, t_start: float, t_end: float, label: str, source: str = "user") -> None:
    """Append one annotation to an existing session file (also while it is being recorded).

    Refused with one line: a label the analysis does not know (the known ones are listed),
    a span outside the recording, or an exact duplicate of an annotation already there.
    """
    path = Path(path)
    row = _annotation_row(t_start, t_end, label, source)
    check_session_header(path)
    known = known_labels()
    if row[0] < 0:
        raise ValueError(f"the span starts at {row[0]:g} s, before the recording (0 s)")
    if label not in known:
        raise ValueError(f"unknown label {label!r}; known labels: {', '.join(known)}")
    with SessionReader(path) as reader:  # validates that it is a session, not just any SQLite file
        existing = {(a.t_start, a.t_end, a.label) for a in reader.annotations()}
    if (row[0], row[1], row[2]) in existing:
        raise ValueError(f"{path} already has {label} from {row[0]:g} to {row[1]:g} s")
    conn = sqlite3.connect(path, timeout=10.0, isolation_level=None)
    try:
        last = conn.execute("SELECT host_time FROM notifications ORDER BY id DESC LIMIT 1").fetchone()
        end_s = float(last[0]) if last else 0.0
        if row[1] > end_s + END_TOLERANCE_S:
            raise ValueError(f"the span {row[0]:g}-{row[1]:g} s ends after the recording "
                             f"({end_s:.1f} s long)")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(_INSERT["annotation"], row)
        conn.execute("COMMIT")
    except sqlite3.DatabaseError as err:
        raise SessionFileError(f"cannot annotate {path}: {err}") from None
    finally:
        conn.close()


def _annotation_row(t_start, t_end, label, source) -> tuple:
    t_start, t_end = check_time("t_start", t_start), check_time("t_end", t_end)
    if t_end < t_start:
        raise ValueError(f"annotation ends ({t_end}) before it starts ({t_start})")
    return (t_start, t_end, _text("label", label), _text("source", source))


def _text(name: str, value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def _metadata_rows(metadata: dict) -> list[tuple[str, str]]:
    if not isinstance(metadata, dict):
        raise ValueError(f"session metadata must be a dict, got {type(metadata).__name__}")
    for reserved in ("schema", "created_utc", "closed"):
        if reserved in metadata:
            raise ValueError(f"metadata key {reserved!r} is reserved for the session file itself")
    rows = [("schema", to_json(SCHEMA)), ("created_utc", to_json(_utc_now()))]
    metadata = {"software": f"imu {__version__}", **metadata}
    rows += [(_text("metadata key", key), to_json(value)) for key, value in metadata.items()]
    return rows


def _sensor_rows(sensors: list[dict]) -> list[tuple]:
    from imu.protocols import DEVICES, make_decoder

    if not sensors:
        raise ValueError("a session needs at least one sensor")
    rows, seen = [], set()
    for number, info in enumerate(sensors, start=1):
        unknown = set(info) - set(SENSOR_FIELDS)
        if unknown:
            raise ValueError(f"sensor {number}: unknown field(s) {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(SENSOR_FIELDS)}")
        location, device = info.get("location"), info.get("device")
        if location not in LOCATIONS:
            raise ValueError(f"sensor {number}: location {location!r} is not one of {', '.join(LOCATIONS)}")
        if location in seen:
            raise ValueError(f"sensor {number}: location {location!r} appears twice")
        if device not in DEVICES:
            raise ValueError(f"sensor {number}: unknown device {device!r}; known: {', '.join(DEVICES)}")
        try:  # a mode the decoder refuses would make the recording unreadable: refuse it now
            make_decoder(device, info.get("mode"))
        except ValueError as err:
            raise ValueError(f"sensor {number} ({location}): {err}") from None
        seen.add(location)
        details = info.get("details") or {}
        if not isinstance(details, dict):
            raise ValueError(f"sensor {number}: details must be a dict")
        rows.append((number, location, device, to_json(info.get("mode")),
                     *(None if info.get(k) is None else str(info[k]) for k in ("address", "name", "firmware")),
                     to_json(details)))
    return rows
