"""Who a session belongs to, and when it started: from what the recording says about itself.

Session files: the live loop stores the person's profile name (`profile`), the local wall
clock at the start (`started_local`), and the file itself its creation time (`created_utc`);
a cohort may add a `group`. Interchange CSVs carry no metadata: their start is known only
when their time column holds Unix wall-clock seconds, and their person only from the folder
they sit in when the user asks for that (`--person-from-folder`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from imu.recording.csv_import import REQUIRED
from imu.report.overview import local_time

SESSION_SUFFIXES = (".imu",)
FINGERPRINT_CHUNK = 1 << 20
EPOCH_MIN_S = 946_684_800.0  # 2000-01-01: smaller times are not Unix wall-clock seconds


def is_interchange_csv(path: Path) -> bool:
    """A CSV whose header names the interchange columns (a report's events.csv is not one)."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as f:
            header = f.readline()
    except OSError:
        return True  # let the analysis report why it cannot be read
    names = {c.strip().lower() for c in header.split(",")}
    return set(REQUIRED) <= names


def fingerprint(path: Path) -> str:
    """A content hash of the whole file (cheap next to analysing it)."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while chunk := f.read(FINGERPRINT_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def identity(path: Path, person_from_folder: bool = False) -> dict:
    """person, group, start (naive local wall clock), start_source, recorded_as."""
    if path.suffix.lower() == ".csv":
        out = _csv_identity(path)
    else:
        out = _session_identity(path)
    if not out["person"] and person_from_folder:
        out["person"] = path.parent.name
    return out


def _session_identity(path: Path) -> dict:
    from imu.recording.reader import SessionReader

    with SessionReader(path) as reader:
        meta = reader.metadata
    person = meta.get("profile") or meta.get("person") or None
    start, source = _whole_seconds(local_time(meta.get("started_local"), naive_is_local=True)), "recorded"
    if start is None:
        start, source = _whole_seconds(local_time(meta.get("created_utc"), naive_is_local=False)), "file created"
    return {"person": None if person is None else str(person),
            "group": None if meta.get("group") is None else str(meta["group"]),
            "start": start, "start_source": source if start is not None else "unknown",
            "recorded_as": str(meta.get("source") or "session")}


def _csv_identity(path: Path) -> dict:
    try:
        head = pd.read_csv(path, usecols=lambda c: c.strip().lower() == "time_s", nrows=1000,
                           encoding="utf-8-sig")
        times = pd.to_numeric(head.iloc[:, 0], errors="coerce").to_numpy(float)
        times = times[np.isfinite(times)]
    except (ValueError, IndexError, OSError):
        times = np.empty(0)
    start = None
    if len(times) and np.median(times) > EPOCH_MIN_S:
        start = dt.datetime.fromtimestamp(float(times.min())).replace(microsecond=0)
    return {"person": None, "group": None, "start": start,
            "start_source": "csv wall clock" if start is not None else "unknown",
            "recorded_as": "csv"}


def _whole_seconds(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else value.replace(microsecond=0)
