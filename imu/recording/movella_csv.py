"""Movella DOT app CSV exports: one file per sensor, read as interchange samples.

An export starts with a few header lines ("sep=,", "DeviceTag:,<tag>", "FirmwareVersion:",
"AppVersion:", "SyncStatus:", "OutputRate:,60Hz", "FilterProfile:", "Measurement Mode:",
"StartTime:,2023-05-04 10:11:12.345 +0200", a copyright line, an empty line), then a
column line starting with PacketCounter,SampleTimeFine. SampleTimeFine is the device clock
in microseconds (it wraps at 2^32); Quat_W..Quat_Z is sensor -> local earth (ENU, z up),
Euler_X..Euler_Z are roll, pitch, yaw in degrees (Z-Y-X, earth fixed); Acc_* is in m/s^2
and Gyr_* in deg/s. Which columns there are depends on the measurement mode.

Sensors name themselves by DeviceTag (the tag set in the app); the location comes from the
mapping's [sensors] (keyed by tag or file name), else from the tag read as an alias (a
sensor tagged "T4" or "pelvis" needs no mapping). Synchronised sensors share SampleTimeFine;
unsynchronised ones are placed by their StartTime, and the report says so.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from imu import quat as Q
from imu.recording.csv_import import Interchange, InterchangeError, interchange_from_table
from imu.recording.mapping import ImportMapping
from imu.samples import DecodeStats

COLUMN_LINE = "PacketCounter,SampleTimeFine"
HEADER_LINES_MAX = 30
CLOCK_WRAP_US = 2**32


def is_dot_export(path: Path) -> bool:
    """True for a CSV whose first lines look like a DOT app export."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as f:
            head = [f.readline() for _ in range(HEADER_LINES_MAX)]
    except OSError:
        return False
    return any(line.startswith(COLUMN_LINE) for line in head) and any(
        line.startswith(("DeviceTag:", "sep=")) for line in head)


def dot_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() == ".csv" and is_dot_export(p))


def read_dot_exports(path: str | Path, mapping: ImportMapping | None = None) -> Interchange:
    """One export, or every export in a folder, on one session timeline."""
    path = Path(path)
    mapping = mapping or ImportMapping()
    files = dot_files(path) if path.is_dir() else [path]
    if not files:
        raise InterchangeError(f"{path}: no Movella DOT CSV exports in this folder")
    exports = [_read_one(f) for f in files]
    synced = all(e["synced"] for e in exports) or len(exports) == 1
    notes = []
    if synced:
        origin = min(e["device_s"][0] for e in exports if len(e["device_s"]))
        for e in exports:
            e["table"]["time_s"] = e["device_s"] - origin
    else:
        starts = [e["start"] for e in exports]
        if any(s is None for s in starts):
            raise InterchangeError(f"{path}: the exports are not synchronised and some have no StartTime; "
                                   "synchronise the sensors in the DOT app, or export one sensor per report")
        origin = min(starts)
        for e in exports:
            e["table"]["time_s"] = (e["start"] - origin) + (e["device_s"] - e["device_s"][0])
        notes.append("the DOT sensors were not synchronised: their files are lined up by start time "
                     "(to tens of milliseconds), so relative angles are less exact")
    table = pd.concat([e["table"] for e in exports], ignore_index=True)
    names = {e["name"]: e for e in exports}
    # the mapping may name a sensor by its tag or by its file name
    renamed = dict(mapping.sensors)
    for name, e in names.items():
        for key in (e["file"].stem, e["file"].name):
            if key in mapping.sensors:
                renamed[name] = mapping.sensors[key]
    wanted = ImportMapping(sensors=renamed, acc_unit=mapping.acc_unit if mapping.acc_unit != "auto" else "m/s^2",
                           gyro_unit=mapping.gyro_unit if mapping.gyro_unit != "auto" else "deg/s",
                           quat_direction=mapping.quat_direction, acc_sign=mapping.acc_sign,
                           source=mapping.source)
    rejected = DecodeStats()
    data = interchange_from_table(table, rejected, path, wanted)
    for e in exports:
        location = wanted.location_for(e["name"])
        if e["lost"] and location in data.stats:
            data.stats[location].lost_samples += e["lost"]
            notes.append(f"{location} (DOT {e['name']!r}): {e['lost']} samples missing by PacketCounter")
    data.notes = notes + data.notes
    return data


def _read_one(path: Path) -> dict:
    meta, column_row = {}, None
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        for i in range(HEADER_LINES_MAX):
            line = f.readline()
            if line.startswith(COLUMN_LINE):
                column_row = i
                break
            key, _, rest = line.partition(":,")
            if rest:
                meta[key.strip()] = rest.split(",")[0].strip()
    if column_row is None:
        raise InterchangeError(f"{path}: no PacketCounter,SampleTimeFine column line in the first "
                               f"{HEADER_LINES_MAX} lines; not a Movella DOT export")
    frame = pd.read_csv(path, skiprows=column_row, skipinitialspace=True, on_bad_lines="skip", low_memory=False)
    frame = frame.loc[:, [c for c in frame.columns if not str(c).startswith("Unnamed")]]
    fine = pd.to_numeric(frame["SampleTimeFine"], errors="coerce").to_numpy(float)
    counter = pd.to_numeric(frame["PacketCounter"], errors="coerce").to_numpy(float)
    device_s = _unwrap_us(fine) * 1e-6
    name = meta.get("DeviceTag") or path.stem
    table = pd.DataFrame({"sensor": name}, index=frame.index)
    table["sensor"] = table["sensor"].astype("category")
    if {"Quat_W", "Quat_X", "Quat_Y", "Quat_Z"} <= set(frame):
        for c in "wxyz":
            table["q" + c] = frame[f"Quat_{c.upper()}"]
    elif {"Euler_X", "Euler_Y", "Euler_Z"} <= set(frame):
        from scipy.spatial.transform import Rotation  # slow to import: only Euler-only exports need it

        euler = frame[["Euler_Z", "Euler_Y", "Euler_X"]].apply(pd.to_numeric, errors="coerce").to_numpy(float)
        quat = np.full((len(frame), 4), np.nan)
        ok = np.isfinite(euler).all(axis=1)
        quat[ok] = Q.from_rotation(Rotation.from_euler("ZYX", euler[ok], degrees=True))
        table[["qw", "qx", "qy", "qz"]] = quat
    for prefix, names in (("Acc", "a"), ("Gyr", "g")):
        if {f"{prefix}_X", f"{prefix}_Y", f"{prefix}_Z"} <= set(frame):
            for axis in "xyz":
                table[names + axis] = frame[f"{prefix}_{axis.upper()}"]
    if "qw" not in table and "ax" not in table:
        raise InterchangeError(f"{path}: this DOT export has neither orientation (Quat_*, Euler_*) nor "
                               "Acc_* and Gyr_*; export with a measurement mode that has them")
    steps = np.diff(counter[np.isfinite(counter)])
    lost = int(np.sum(np.clip(steps[(steps > 1) & (steps < 2**31)] - 1, 0, None)))
    return {"file": path, "name": name, "table": table, "device_s": device_s, "lost": lost,
            "synced": meta.get("SyncStatus", "").lower() == "synced", "start": _start_time(meta.get("StartTime"))}


def _unwrap_us(fine: np.ndarray) -> np.ndarray:
    """SampleTimeFine unwrapped across its 2^32 microsecond wrap (NaN rows stay NaN)."""
    out = fine.copy()
    ok = np.isfinite(fine)
    values = fine[ok]
    wraps = np.concatenate([[0], np.cumsum(np.diff(values) < -CLOCK_WRAP_US / 2)])
    out[ok] = values + wraps * float(CLOCK_WRAP_US)
    return out


def _start_time(text: str | None) -> float | None:
    """StartTime as POSIX seconds ('2023-05-04 10:11:12.345 +0200'), None if absent or odd."""
    if not text:
        return None
    for fmt in ("%Y-%m-%d %H:%M:%S.%f %z", "%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M:%S.%f"):
        try:
            return datetime.strptime(text.strip(), fmt).timestamp()
        except ValueError:
            continue
    return None
