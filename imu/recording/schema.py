"""The session file's SQLite schema and the helpers the writer and reader share.

Every table is append-only (triggers refuse UPDATE and DELETE), so a recorded fact is
never rewritten: later facts go in new rows. JSON columns hold plain JSON text.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sqlite3
import struct
from pathlib import Path
from urllib.parse import quote

from imu.jsonvalues import plain

from imu.errors import UserError

SCHEMA = "imu.session/1"
SQLITE_MAGIC = b"SQLite format 3\x00"

TABLES = ("meta", "sensors", "notifications", "link_events", "calibrations", "events", "annotations")

SCHEMA_SQL = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sensors(
    id INTEGER PRIMARY KEY, location TEXT UNIQUE NOT NULL, device TEXT NOT NULL,
    mode TEXT, address TEXT, name TEXT, firmware TEXT, details TEXT);
CREATE TABLE notifications(
    id INTEGER PRIMARY KEY AUTOINCREMENT, sensor_id INTEGER NOT NULL,
    host_time REAL NOT NULL, payload BLOB NOT NULL);
CREATE TABLE link_events(
    id INTEGER PRIMARY KEY, sensor_id INTEGER NOT NULL, host_time REAL NOT NULL, kind TEXT NOT NULL);
CREATE TABLE calibrations(id INTEGER PRIMARY KEY, host_time REAL NOT NULL, data TEXT NOT NULL);
CREATE TABLE events(
    id INTEGER PRIMARY KEY, t_start REAL NOT NULL, t_end REAL, kind TEXT NOT NULL, data TEXT);
CREATE TABLE annotations(
    id INTEGER PRIMARY KEY, t_start REAL NOT NULL, t_end REAL NOT NULL,
    label TEXT NOT NULL, source TEXT NOT NULL);
""" + "".join(
    f"CREATE TRIGGER {t}_no_{op.lower()} BEFORE {op} ON {t} "
    f"BEGIN SELECT RAISE(ABORT, 'session files are append-only'); END;\n"
    for t in TABLES for op in ("UPDATE", "DELETE")
)
# AUTOINCREMENT on notifications keeps the highest id in sqlite_sequence, a one-page table
# near the start of the file: a cut file still tells how many notifications it once held.


class SessionFileError(UserError, ValueError):
    """A path that is not a readable session file; the message names the problem in one line."""


def check_session_header(path: Path) -> None:
    """Refuse, with a one-line reason, anything that cannot be a session file."""
    if not path.exists():
        raise SessionFileError(f"no such session file: {path}")
    if not path.is_file():
        raise SessionFileError(f"not a file: {path}")
    size = path.stat().st_size
    if size == 0:
        raise SessionFileError(f"empty file, not a session: {path}")
    with open(path, "rb") as f:
        head = f.read(100)
    if len(head) < 100 and SQLITE_MAGIC.startswith(head[:16]):
        raise SessionFileError(f"session file cut inside its SQLite header ({size} bytes): {path}")
    if not head.startswith(SQLITE_MAGIC):
        raise SessionFileError(f"not a session file (not an SQLite database): {path}")
    if len(head) < 100:
        raise SessionFileError(f"session file cut inside its SQLite header ({size} bytes): {path}")


def header_page_size(path: Path) -> int:
    with open(path, "rb") as f:
        head = f.read(100)
    page_size = int.from_bytes(head[16:18], "big")
    return 65536 if page_size == 1 else page_size


def header_expected_bytes(path: Path) -> int | None:
    """Database size the SQLite header announces (None when the header's count is stale)."""
    with open(path, "rb") as f:
        head = f.read(100)
    page_size = header_page_size(path)
    change_counter = head[24:28]
    valid_for = head[92:96]
    pages = int.from_bytes(head[28:32], "big")
    if pages == 0 or change_counter != valid_for:
        return None
    return pages * page_size


def connect_read_only(path: Path) -> sqlite3.Connection:
    """Open for reading without changing the file; a cut file still opens.

    writable_schema lets SQLite open a file shorter than its header says (it otherwise
    refuses the whole file); the connection is read-only, so nothing is ever written.
    """
    # quoted: "#", "?" and "%" in a file name are URI syntax, not part of the name otherwise
    uri = f"file:{quote(path.resolve().as_posix())}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        conn.execute("PRAGMA writable_schema=ON")
        conn.execute("SELECT name FROM sqlite_master").fetchall()
    except sqlite3.DatabaseError as err:
        raise SessionFileError(f"not a readable session file ({err}): {path}") from None
    return conn


def to_json(value) -> str:
    """JSON text for metadata, calibrations and event data (numpy values and dataclasses too;
    NaN kept: the file stores what it was given)."""
    return json.dumps(plain(value, keep_nan=True), allow_nan=True, separators=(",", ":"))


def from_json(text):
    return None if text is None else json.loads(text)


def check_time(name: str, value) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number of seconds, got {value}")
    return value


WAL_MAGIC = (0x377F0682, 0x377F0683)  # checksum words little- or big-endian


@dataclasses.dataclass
class WalCheck:
    """What a session's write-ahead log holds beside the file (SQLite's WAL format)."""

    frames: int  # whole frames in the log
    usable: int  # frames SQLite will read: the valid prefix up to its last commit
    damaged: int  # frames of the current log generation past the first bad one (lost to readers)

    @property
    def is_damaged(self) -> bool:
        return self.damaged > 1  # one torn frame is what a kill mid-write leaves


def check_wal(path: Path) -> WalCheck | None:
    """Walk the -wal beside a session file the way SQLite does, counting frames that SQLite
    will silently ignore: a damaged log otherwise reads as a shorter, healthy recording."""
    wal = Path(str(path) + "-wal")
    try:
        data = wal.read_bytes()
    except OSError:
        return None
    if len(data) < 32:
        return None
    magic, _, page_size, _, salt1, salt2, c1, c2 = struct.unpack(">8I", data[:32])
    if magic not in WAL_MAGIC or page_size < 512 or page_size & (page_size - 1):
        return WalCheck(0, 0, max(0, (len(data) - 32) // 512))  # header unreadable: nothing usable
    order = ">" if magic & 1 else "<"
    s = _wal_checksum(data[:24], 0, 0, order)
    frame = 24 + page_size
    count = (len(data) - 32) // frame
    if s != (c1, c2):
        return WalCheck(count, 0, count)
    usable, valid, damaged = 0, True, 0
    for i in range(count):
        at = 32 + i * frame
        page, commit, fs1, fs2, fc1, fc2 = struct.unpack(">6I", data[at:at + 24])
        current = (fs1, fs2) == (salt1, salt2)
        if valid and current:
            s = _wal_checksum(data[at + 24:at + frame], *_wal_checksum(data[at:at + 8], *s, order), order)
            if s == (fc1, fc2):
                usable = i + 1 if commit else usable
                continue
        valid = False
        damaged += current  # stale frames of an earlier generation are normal leftovers
    return WalCheck(count, usable, damaged)


def _wal_checksum(chunk: bytes, s0: int, s1: int, order: str) -> tuple[int, int]:
    words = struct.unpack(f"{order}{len(chunk) // 4}I", chunk)
    for x0, x1 in zip(words[::2], words[1::2]):
        s0 = (s0 + x0 + s1) & 0xFFFFFFFF
        s1 = (s1 + x1 + s0) & 0xFFFFFFFF
    return s0, s1
