"""XDF files recorded from Lab Streaming Layer (LabRecorder), read as interchange samples.

Every numeric stream is one sensor: its channels become columns by their labels, its time
stamps (LSL clock, clock offsets applied by pyxdf) the time. The project's own outlets
(imu.lsl) need no mapping: an "Orientation" stream named "<prefix>-<location>" with
channels "<location>_qw".."<location>_qz". Streams of other recorders are read through an
import mapping: [columns] names channel labels, [sensors] names streams. The derived
"Angles" stream and text streams (markers) are not sensor samples and are skipped, saying so.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from imu.recording.csv_import import Interchange, InterchangeError, interchange_from_table
from imu.recording.locations import resolve_location
from imu.recording.mapping import ImportMapping
from imu.samples import DecodeStats

OWN_QUAT = ("qw", "qx", "qy", "qz")


def read_xdf(path: str | Path, mapping: ImportMapping | None = None) -> Interchange:
    import pyxdf

    path = Path(path)
    mapping = mapping or ImportMapping()
    log = logging.getLogger("pyxdf")
    level = log.level
    log.setLevel(logging.ERROR)  # its warnings (e.g. no clock offsets) are not the user's business
    try:
        # time stamps as recorded: dejittering assumes no sample was lost, which is not so on BLE
        streams, _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    except Exception as err:  # pyxdf raises many kinds on a damaged or foreign file
        raise InterchangeError(f"{path}: not a readable XDF file ({type(err).__name__}: {err})") from None
    finally:
        log.setLevel(level)
    tables, notes = [], []
    for stream in streams:
        info = stream["info"]
        name = _first(info, "name") or f"stream {_first(info, 'stream_id')}"
        kind = (_first(info, "type") or "").strip()
        values = stream["time_series"]
        if kind.lower() == "angles" or name.endswith("-angles"):
            notes.append(f"XDF stream {name!r} holds derived angles, not sensor samples: not read")
            continue
        if not isinstance(values, np.ndarray) or values.dtype.kind not in "fiu":
            notes.append(f"XDF stream {name!r} ({kind or 'no type'}) is not numeric sensor data: not read")
            continue
        if len(values) == 0:
            continue
        labels = _channel_labels(info, values.shape[1])
        table = pd.DataFrame(values.astype(float), columns=labels)
        sensor = _own_location(name, kind, labels)
        if sensor is not None:
            table = table.rename(columns={f"{sensor}_{c}": c for c in OWN_QUAT})
        table.insert(0, "time_s", np.asarray(stream["time_stamps"], float))
        table.insert(1, "sensor", sensor or name)
        tables.append(table)
    if not tables:
        raise InterchangeError(f"{path}: no numeric sensor stream in this XDF file")
    frame = pd.concat(tables, ignore_index=True)
    frame = frame.rename(columns={"time_s": "__time", "sensor": "__sensor"})
    origin = float(np.nanmin(frame["__time"])) if np.isfinite(frame["__time"]).any() else 0.0
    frame["__time"] -= origin  # LSL clock (seconds since the recorder's boot) -> session time
    mapped = ImportMapping(columns=dict(mapping.columns, time_s="__time", sensor="__sensor"),
                           sensors=mapping.sensors, acc_unit=mapping.acc_unit, gyro_unit=mapping.gyro_unit,
                           quat_direction=mapping.quat_direction, acc_sign=mapping.acc_sign, source=mapping.source)
    data = interchange_from_table(mapped.to_interchange(frame), DecodeStats(), path, mapped)
    data.notes = notes + data.notes
    data.time_offset_s = origin
    return data


def _first(info: dict, key: str):
    value = info.get(key)
    return value[0] if isinstance(value, list) and value else value


def _channel_labels(info: dict, count: int) -> list[str]:
    try:
        channels = info["desc"][0]["channels"][0]["channel"]
        labels = [str(c["label"][0]) for c in channels]
    except (KeyError, IndexError, TypeError):
        labels = []
    if len(labels) != count or len(set(labels)) != count:
        labels = [f"ch{i}" for i in range(count)]
    return labels


def _own_location(name: str, kind: str, labels: list[str]) -> str | None:
    """The location of one of the project's own Orientation outlets, else None."""
    if kind != "Orientation" or "-" not in name:
        return None
    location = resolve_location(name.rsplit("-", 1)[1])
    if location and labels == [f"{name.rsplit('-', 1)[1]}_{c}" for c in OWN_QUAT]:
        return location
    return None
