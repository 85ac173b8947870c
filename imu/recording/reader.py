"""Reading a session file: metadata, decoded samples per sensor, events, and what was lost.

Notifications are read in rowid windows (arrival order) and decoded on read, so a better
decoder improves old recordings. A window that SQLite reports as damaged is split until the
readable rows around the damage are recovered; what could not be read is recorded in
`Integrity` instead of raising, so a file cut in half still gives its intact prefix.
"""

from __future__ import annotations

import heapq
import math
import queue
import sqlite3
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, NamedTuple

import numpy as np

from imu.protocols import make_decoder
from imu.recording.schema import (
    SCHEMA, SessionFileError, check_session_header, check_wal, connect_read_only, from_json,
    header_expected_bytes, header_page_size,
)
from imu.samples import DecodeStats, LinkEvent, Notification, NotificationColumns, SampleBlock

WINDOW_ROWS = 16_384  # notifications per read (5.5 min of two 100 Hz sensors): vectorised, small working set
FIRST_WINDOW_ROWS = 4_096  # growing windows start here (about 80 s of two 100 Hz sensors)
SMALL_TABLE_WINDOW = 4_096


class Annotation(NamedTuple):
    id: int
    t_start: float
    t_end: float
    label: str
    source: str


class EventRecord(NamedTuple):
    id: int
    t_start: float
    t_end: float | None
    kind: str
    data: dict | None


class CalibrationRecord(NamedTuple):
    id: int
    host_time_s: float
    data: dict
    accepted: bool  # data["ok"], True when the attempt does not say


@dataclass
class Integrity:
    """What the file held and what of it could be read."""

    file_bytes: int
    expected_bytes: int | None  # size the SQLite header announces (None: not known)
    closed_cleanly: bool  # the writer's final "closed" meta row is present
    notifications_written: int | None = None  # highest notification id ever assigned
    notifications_read: int = 0
    damaged_rows: int = 0  # notifications read but with unusable content (dropped)
    lost_id_ranges: list[tuple[int, int]] = field(default_factory=list)  # inclusive id ranges
    unreadable_tables: list[str] = field(default_factory=list)  # tables with rows lost
    problems: list[str] = field(default_factory=list)

    @property
    def notifications_lost(self) -> int:
        return sum(hi - lo + 1 for lo, hi in self.lost_id_ranges)

    @property
    def missing_bytes(self) -> int:
        return 0 if self.expected_bytes is None else max(0, self.expected_bytes - self.file_bytes)

    @property
    def complete(self) -> bool:
        return not (self.lost_id_ranges or self.unreadable_tables or self.problems or self.damaged_rows)

    def summary(self) -> str:
        if self.complete:
            state = "complete" if self.closed_cleanly else (
                "not closed: cut short (the recorder was stopped without closing it) or still being "
                "written; complete up to its last commit")
            return f"session file {state}: {self.notifications_read} notifications"
        parts = [f"{self.notifications_read} notifications read"]
        if self.lost_id_ranges:
            parts.append(f"{self.notifications_lost} unreadable")
        if self.damaged_rows:
            parts.append(f"{self.damaged_rows} damaged rows dropped")
        if self.missing_bytes:
            parts.append(f"file {self.missing_bytes} bytes shorter than its header says")
        if self.unreadable_tables:
            parts.append(f"rows lost in {', '.join(self.unreadable_tables)}")
        return "session file damaged: " + "; ".join(parts + self.problems)

    def _lose(self, table: str, lo: int, hi: int) -> None:
        if table == "notifications":  # keep the ranges sorted and disjoint (replay re-reads them)
            merged: list[tuple[int, int]] = []
            for a, b in sorted([*self.lost_id_ranges, (lo, hi)]):
                if merged and a <= merged[-1][1] + 1:
                    merged[-1] = (merged[-1][0], max(merged[-1][1], b))
                else:
                    merged.append((a, b))
            self.lost_id_ranges = merged
        elif table not in self.unreadable_tables:
            self.unreadable_tables.append(table)


@dataclass
class Session:
    path: Path
    metadata: dict
    sensors: dict[str, dict]  # location -> id, location, device, mode, address, name, firmware, details
    blocks: dict[str, SampleBlock]  # location -> decoded samples, arrival order
    stats: dict[str, DecodeStats]
    decoders: dict[str, object]  # location -> the decoder after the whole stream (time sync, device events)
    link_events: list[LinkEvent]
    calibrations: list[CalibrationRecord]  # every attempt, in order
    events: list[EventRecord]
    annotations: list[Annotation]
    integrity: Integrity

    @property
    def calibration(self) -> dict | None:
        """The last accepted calibration, or None."""
        accepted = [c for c in self.calibrations if c.accepted]
        return accepted[-1].data if accepted else None


class SessionReader:
    """An open session file (read-only). Use as a context manager, or call `close()`."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        check_session_header(self.path)
        self._copy: tempfile.TemporaryDirectory | None = None
        size, page_size = self.path.stat().st_size, header_page_size(self.path)
        readable = self.path
        if size % page_size:
            readable = self._whole_pages_copy(size - size % page_size)
        self._conn = connect_read_only(readable)
        try:
            self._check_tables()
            self.integrity = Integrity(size, header_expected_bytes(self.path), False)
            if size % page_size:
                self._problem(f"file ends inside a page: its last {size % page_size} bytes ignored")
            wal = check_wal(self.path)
            if wal is not None and wal.is_damaged:
                self._problem(f"write-ahead log damaged: {wal.damaged} of its {wal.frames} frames cannot be "
                              "read, so the recording's later part is missing")
            self.metadata = self._read_metadata()
            self.integrity.closed_cleanly = "closed" in self.metadata
            self.sensors = self._read_sensors()
            self._sensor_locations = {info["id"]: loc for loc, info in self.sensors.items()}
            self.integrity.notifications_written = self._highest_notification_id()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> "SessionReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()
        if self._copy is not None:
            self._copy.cleanup()
            self._copy = None

    def _whole_pages_copy(self, length: int) -> Path:
        """A cut file's last, partial page reads as zero-filled rows, not as an error: read a
        copy that stops at the last whole page instead (only damaged files pay for the copy)."""
        if length == 0:
            raise SessionFileError(f"session file cut inside its first page: {self.path}")
        self._copy = tempfile.TemporaryDirectory(prefix="imu-session-")
        target = Path(self._copy.name) / self.path.name
        with open(self.path, "rb") as src, open(target, "wb") as dst:
            while length:
                chunk = src.read(min(length, 1 << 24))
                dst.write(chunk)
                length -= len(chunk)
        return target

    def read(self) -> Session:
        blocks, stats, decoders = self.decode()
        return Session(
            self.path, self.metadata, self.sensors, blocks, stats, decoders,
            self.link_events(), self.calibrations(), self.events(), self.annotations(), self.integrity,
        )

    def decode(self) -> tuple[dict[str, SampleBlock], dict[str, DecodeStats], dict[str, object]]:
        """Decode every sensor's notifications, window by window with one stateful decoder each.

        The decoders keep their unwrap state between calls, so this equals one call per sensor
        with all its payloads, while holding only one window of raw bytes at a time.
        """
        decoders, parts = {}, {}
        for location, info in self.sensors.items():
            try:
                decoders[location] = make_decoder(info["device"], info["mode"])
            except ValueError as err:
                raise SessionFileError(f"cannot decode sensor {location!r}: {err}") from None
            parts[location] = []
        for rows in self._notification_windows():
            by_sensor: dict[int, tuple[list[bytes], list[float]]] = {}
            for _, sensor_id, host_time, payload in rows:
                if type(payload) is not bytes or not _finite_time(host_time):
                    self.integrity.damaged_rows += 1  # a row SQLite returned with broken content
                    continue
                payloads, times = by_sensor.setdefault(sensor_id, ([], []))
                payloads.append(payload)
                times.append(host_time)
            for sensor_id, (payloads, times) in by_sensor.items():
                location = self._sensor_locations.get(sensor_id)
                if location is None:
                    self._problem(f"{len(payloads)} notifications of unknown sensor id {sensor_id}")
                    continue
                parts[location].append(decoders[location].decode(payloads, np.asarray(times)))
        blocks = {loc: SampleBlock.concat(p) for loc, p in parts.items()}
        return blocks, {loc: d.stats for loc, d in decoders.items()}, decoders

    def iter_notifications(self, start_s: float = 0.0) -> Iterator[Notification | LinkEvent]:
        """Notifications and link events with host time >= start_s, in host-time order."""
        streams = [(e for e in self.link_events() if e.host_time_s >= start_s)]
        for location, info in self.sensors.items():
            streams.append(self._sensor_stream(location, info["id"], start_s))
        return heapq.merge(*streams, key=lambda item: item.host_time_s)

    def iter_batches(self, start_s: float = 0.0, ahead: int = 2) -> Iterator[list[NotificationColumns | LinkEvent]]:
        """`_batches`, read by a worker thread up to `ahead` batches before the consumer
        (0: in the caller's thread). SQLite and numpy release the GIL for much of a window's
        reading, so on two cores the read overlaps the pipeline's work on the batch before."""
        if ahead <= 0:
            return self._batches(start_s)
        return _read_ahead(lambda: self._batches(start_s), ahead)

    def _batches(self, start_s: float) -> Iterator[list[NotificationColumns | LinkEvent]]:
        """The notifications of iter_notifications, a storage window at a time, as columns.

        Each window is read once and split by sensor with numpy, so every batch holds one
        NotificationColumns per sensor (its notifications in host-time order, ready for its
        decoder) and the link events where they fall: a link event splits the window at its
        time. Across sensors the order within a batch is not merged: each sensor has its own
        decoder and clock, so only the link events' places matter. Windows start small and
        grow, so reading just the start of a session (the calibration's search) stays cheap.
        """
        known = np.array(sorted(self._sensor_locations), dtype=np.int64)
        locations = [self._sensor_locations[sid] for sid in known.tolist()]
        events = sorted((e for e in self.link_events() if e.host_time_s >= start_s),
                        key=lambda e: e.host_time_s)
        for rows in self._notification_windows("sensor_id, host_time, payload", growing=True,
                                               with_id=True):
            if not rows:
                continue
            _, sids, times, payloads = zip(*rows)
            if (set(map(type, payloads)) != {bytes} or set(map(type, times)) != {float}
                    or set(map(type, sids)) != {int} or not np.isfinite(times).all()):
                good = [r for r in rows if type(r[3]) is bytes and _finite_time(r[2]) and type(r[1]) is int]
                self.integrity.damaged_rows += len(rows) - len(good)
                if not good:
                    continue
                _, sids, times, payloads = zip(*good)
            sensor_ids = np.fromiter(sids, dtype=np.int64, count=len(sids))
            host = np.fromiter(times, dtype=float, count=len(times))
            # a row of a sensor the file does not list has no decoder: counted as damaged
            self.integrity.damaged_rows += int((~np.isin(sensor_ids, known)).sum())
            per_sensor = []
            for sid, location in zip(known.tolist(), locations):
                idx = np.flatnonzero((sensor_ids == sid) & (host >= start_s))
                if not len(idx):
                    continue
                if np.any(np.diff(host[idx]) < 0):  # stored in arrival order: rarely needed
                    idx = idx[np.argsort(host[idx], kind="stable")]
                per_sensor.append((location, host[idx], [payloads[i] for i in idx.tolist()]))
            batch: list[NotificationColumns | LinkEvent] = []
            last = max((h[-1] for _, h, _ in per_sensor), default=-np.inf)
            while events and events[0].host_time_s <= last:
                cut_at = events.pop(0)
                rest = []
                for location, h, p in per_sensor:
                    cut = int(np.searchsorted(h, cut_at.host_time_s, side="right"))
                    if cut:
                        batch.append(_columns(location, h[:cut], p[:cut]))
                    if cut < len(h):
                        rest.append((location, h[cut:], p[cut:]))
                batch.append(cut_at)
                per_sensor = rest
            batch += [_columns(location, h, p) for location, h, p in per_sensor]
            if batch:
                yield batch
        if events:
            yield list(events)

    def link_events(self) -> list[LinkEvent]:
        rows = self._small_table("link_events", "sensor_id, host_time, kind")
        usable = [LinkEvent(self._sensor_locations[sid], t, kind) for sid, t, kind in rows
                  if sid in self._sensor_locations and _finite_time(t) and isinstance(kind, str)]
        if len(usable) < len(rows):
            self._problem(f"{len(rows) - len(usable)} link events of an unknown sensor or without a valid time ignored")
        return usable

    def calibrations(self) -> list[CalibrationRecord]:
        rows = self._small_table("calibrations", "id, host_time, data")
        out = []
        for cid, t, text in rows:
            data = from_json(text)
            if not isinstance(data, dict) or not _finite_time(t):
                self._problem(f"calibration record {cid} is not readable: ignored")
                continue
            out.append(CalibrationRecord(cid, t, data, bool(data.get("ok", True))))
        return out

    def events(self) -> list[EventRecord]:
        rows = self._small_table("events", "id, t_start, t_end, kind, data")
        usable = [EventRecord(i, a, b, kind, from_json(data)) for i, a, b, kind, data in rows
                  if _finite_time(a) and (b is None or _finite_time(b)) and isinstance(kind, str)]
        if len(usable) < len(rows):
            self._problem(f"{len(rows) - len(usable)} recorded events without valid times ignored")
        return usable

    def annotations(self) -> list[Annotation]:
        rows = self._small_table("annotations", "id, t_start, t_end, label, source")
        usable = [Annotation(i, float(a), float(b), label, source) for i, a, b, label, source in rows
                  if _finite_time(a) and _finite_time(b) and a <= b and isinstance(label, str)]
        if len(usable) < len(rows):
            self._problem(f"{len(rows) - len(usable)} annotations without valid times or label ignored")
        return usable

    # ---- reading around damage --------------------------------------------------------------

    def _rows(self, table: str, sql: str, lo: int, hi: int, params: tuple = (),
              min_span: int = 1) -> list[tuple]:
        """Rows with lo <= rowid < hi; a damaged range is halved until min_span, then recorded lost."""
        try:
            return self._conn.execute(sql, (lo, hi, *params)).fetchall()
        except sqlite3.DatabaseError:
            if hi - lo <= min_span:
                self.integrity._lose(table, lo, hi - 1)
                return []
            mid = (lo + hi) // 2
            return (self._rows(table, sql, lo, mid, params, min_span)
                    + self._rows(table, sql, mid, hi, params, min_span))

    def _notification_windows(self, columns: str = "id, sensor_id, host_time, payload",
                              where: str = "", params: tuple = (),
                              growing: bool = False, with_id: bool = False) -> Iterator[list[tuple]]:
        """Windows of rows in id order. Pages by the last id read (keyset), so sparse ids (a
        damaged or hostile sequence counter of 1e12) cost nothing; where a page cannot be read,
        it falls back to fixed id windows that bisect the damage. growing: the first windows
        are small and double up to WINDOW_ROWS (a reader that stops early reads little).
        with_id: each row starts with its id (saves copying every row without it)."""
        keyset = (f"SELECT id, {columns} FROM notifications WHERE id >= ? AND id <= ? {where} "
                  f"ORDER BY id LIMIT ?")
        ranged = (f"SELECT {'id, ' if with_id else ''}{columns} FROM notifications "
                  f"WHERE id >= ? AND id < ? {where} ORDER BY id")
        last = self.integrity.notifications_written or 0
        counting = not where  # the full scan is the one that fills the integrity report
        lo = 1
        size = min(FIRST_WINDOW_ROWS, WINDOW_ROWS) if growing else WINDOW_ROWS
        while lo <= last:
            try:
                page = self._conn.execute(keyset, (lo, last, *params, size)).fetchall()
            except sqlite3.DatabaseError:
                hi = min(lo + size, last + 1)
                rows = self._rows("notifications", ranged, lo, hi, params,
                                  min_span=max(1, (hi - lo) // 512))
                lo = hi
            else:
                rows = page if with_id else [row[1:] for row in page]
                lo = page[-1][0] + 1 if len(page) == size else last + 1
            size = min(2 * size, WINDOW_ROWS)
            if counting:
                self.integrity.notifications_read += len(rows)
            yield rows

    def _sensor_stream(self, location: str, sensor_id: int, start_s: float) -> Iterator[Notification]:
        for rows in self._notification_windows("host_time, payload", "AND sensor_id = ? AND host_time >= ?",
                                               (sensor_id, start_s)):
            for host_time, payload in rows:
                if type(payload) is bytes and _finite_time(host_time):
                    yield Notification(location, host_time, payload)

    def _small_table(self, table: str, columns: str) -> list[tuple]:
        sql = f"SELECT {columns} FROM {table} WHERE rowid >= ? AND rowid < ? ORDER BY rowid"
        try:
            return self._conn.execute(f"SELECT {columns} FROM {table} ORDER BY rowid").fetchall()
        except sqlite3.DatabaseError:
            pass
        try:
            last = self._conn.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0] or 0
        except sqlite3.DatabaseError:
            last = max(SMALL_TABLE_WINDOW, self.integrity.file_bytes // 64)  # rows are >= 64 bytes
        rows = []
        for lo in range(1, last + 1, SMALL_TABLE_WINDOW):
            rows += self._rows(table, sql, lo, min(lo + SMALL_TABLE_WINDOW, last + 1),
                               min_span=SMALL_TABLE_WINDOW // 64)
        if table not in self.integrity.unreadable_tables:
            self.integrity.unreadable_tables.append(table)  # the full read failed: rows are missing
        return rows

    def _problem(self, text: str) -> None:
        if text not in self.integrity.problems:
            self.integrity.problems.append(text)

    # ---- opening checks ------------------------------------------------------------------------

    def _check_tables(self) -> None:
        try:
            names = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as err:
            raise SessionFileError(f"session file schema unreadable ({err}): {self.path}") from None
        if "meta" not in names:
            raise SessionFileError(f"not an imu session file (an SQLite database without a meta table): {self.path}")
        missing = [t for t in ("sensors", "notifications", "link_events", "calibrations", "events",
                               "annotations") if t not in names]
        if missing:
            raise SessionFileError(f"not an imu session file (missing table {', '.join(missing)}): {self.path}")

    def _read_metadata(self) -> dict:
        rows = self._small_table("meta", "key, value")
        metadata = {key: from_json(value) for key, value in rows}
        schema = metadata.get("schema")
        if schema is None:
            raise SessionFileError(f"session metadata unreadable or without a schema key: {self.path}")
        if schema != SCHEMA:
            raise SessionFileError(f"unsupported session schema {schema!r} (this version reads {SCHEMA}): {self.path}")
        return metadata

    def _read_sensors(self) -> dict[str, dict]:
        rows = self._small_table("sensors", "id, location, device, mode, address, name, firmware, details")
        if "sensors" in self.integrity.unreadable_tables or not rows:
            raise SessionFileError(f"session sensor table unreadable or empty: {self.path}")
        sensors = {}
        for sid, location, device, mode, address, name, firmware, details in rows:
            if not isinstance(location, str) or not isinstance(device, str):
                self._problem(f"sensor row {sid!r} has no usable location or device: ignored")
                continue
            if location in sensors:
                self._problem(f"two sensors recorded at {location} (ids {sensors[location]['id']} and {sid}): "
                              f"the second one's data is ignored")
                continue
            sensors[location] = {"id": sid, "location": location, "device": device, "mode": from_json(mode),
                                 "address": address, "name": name, "firmware": firmware,
                                 "details": _as_dict(from_json(details))}
        return sensors

    def _highest_notification_id(self) -> int:
        try:
            row = self._conn.execute("SELECT seq FROM sqlite_sequence WHERE name='notifications'").fetchone()
            if row is not None:
                return int(row[0])
        except sqlite3.DatabaseError:
            pass
        try:
            return int(self._conn.execute("SELECT max(id) FROM notifications").fetchone()[0] or 0)
        except sqlite3.DatabaseError:
            self._problem("highest notification id unknown; read up to the file size")
            return self.integrity.file_bytes // 16  # a notification row takes more than 16 bytes


def _columns(location: str, host: np.ndarray, payloads: list[bytes]) -> NotificationColumns:
    """One sensor's notifications as columns (the location array shares one string)."""
    return NotificationColumns(np.full(len(host), location, dtype=object), host, payloads)


_DONE = object()


def _read_ahead(make_items, ahead: int) -> Iterator:
    """The items of make_items(), produced in a worker thread at most `ahead` in advance.
    The worker has stopped (and no longer touches the reader) when this generator ends,
    whether it ran out, raised, or the consumer stopped early."""
    items: queue.Queue = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def work() -> None:
        source = make_items()
        try:
            for item in source:
                if stop.is_set():
                    break
                items.put((item, None))
        except BaseException as err:  # raised again in the consumer's thread
            items.put((_DONE, err))
            return
        finally:
            source.close()
        items.put((_DONE, None))

    worker = threading.Thread(target=work, name="imu-session-read", daemon=True)
    worker.start()
    try:
        while True:
            item, err = items.get()
            if item is _DONE:
                if err is not None:
                    raise err
                return
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a worker waiting to put
            try:
                items.get(timeout=0.05)
            except queue.Empty:
                pass
        worker.join()


def read_session(path: str | Path) -> Session:
    """Everything in a session file, decoded; raises SessionFileError for a non-session."""
    with SessionReader(path) as reader:
        return reader.read()


def _as_dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _finite_time(value) -> bool:
    """A stored time SQLite gave back as a finite number (damage can make it text or inf)."""
    return type(value) in (float, int) and math.isfinite(value)


def iter_batches(path: str | Path, start_s: float = 0.0) -> Iterator[list[NotificationColumns | LinkEvent]]:
    """Replay and report source: host-time ordered batches of notifications and link events."""
    reader = SessionReader(path)
    try:
        yield from reader.iter_batches(start_s)
    finally:
        reader.close()


def iter_notifications(path: str | Path, start_s: float = 0.0) -> Iterator[Notification | LinkEvent]:
    """Replay source: notifications and link events in host-time order, read in batches."""
    reader = SessionReader(path)
    try:
        yield from reader.iter_notifications(start_s)
    finally:
        reader.close()
