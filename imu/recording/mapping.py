"""An import mapping: how someone else's table reads as the interchange format.

A small TOML (or JSON) file, every key optional (docs/data-formats.md shows them all):

    sensor = "lumbar"              # the file holds one sensor and has no sensor column
    [columns]                      # interchange name = the file's column name
    time_s = "timestamp"
    sensor = "device"
    quat = ["q0", "q1", "q2", "q3"]    # or qw = "...", qx = ... one by one
    ax = "{sensor}_acc_x"          # {sensor}: a wide table, one column per sensor
    [units]
    time = "ms"                    # s, ms, us, ns, datetime (clock text)
    acc = "m/s^2"                  # g, m/s^2, auto
    gyro = "rad/s"                 # deg/s, rad/s, auto
    [quaternion]
    order = "xyzw"                 # of `quat` above: wxyz or xyzw
    direction = "earth_to_sensor"  # sensor_to_earth, earth_to_sensor, auto
    [acceleration]
    sign = "gravity"               # specific_force (+1 g up at rest), gravity (-1 g), auto
    [sensors]                      # the file's sensor name = a location or an alias
    "DOT 1" = "T2"
    back = "lower_back"

"auto" (the default) lets the reader detect the convention from the data and say what it
found. Names of sensors not listed are still resolved through the anatomical aliases.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from imu.errors import UserError
from imu.recording.locations import resolve_location
from imu.samples import LOCATIONS

CANONICAL = ("time_s", "sensor", "qw", "qx", "qy", "qz", "ax", "ay", "az", "gx", "gy", "gz", "label")
QUAT = ("qw", "qx", "qy", "qz")
TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
ACC_UNITS = ("auto", "g", "m/s^2")
GYRO_UNITS = ("auto", "deg/s", "rad/s")
DIRECTIONS = ("auto", "sensor_to_earth", "earth_to_sensor")
SIGNS = ("auto", "specific_force", "gravity")
WIDE = "{sensor}"

if TYPE_CHECKING:
    import pandas as pd


class MappingError(UserError, ValueError):
    """A mapping that cannot be used; the message names the key."""


@dataclass
class ImportMapping:
    columns: dict[str, str] = field(default_factory=dict)  # interchange name -> file column
    sensors: dict[str, str] = field(default_factory=dict)  # file sensor name -> location
    sensor: str | None = None  # the one location of a file without a sensor column
    time_unit: str = "s"
    acc_unit: str = "auto"
    gyro_unit: str = "auto"
    quat_direction: str = "auto"
    acc_sign: str = "auto"
    source: str = "defaults"  # where it came from, for messages

    @property
    def wide(self) -> bool:
        return any(WIDE in c for c in self.columns.values())

    def location_for(self, name: str) -> str | None:
        """The location a file's sensor name stands for (explicit entries first)."""
        for given, target in self.sensors.items():
            if given.strip().lower() == name.strip().lower():
                return resolve_location(target)
        return resolve_location(name)

    def file_column(self, name: str) -> str:
        return self.columns.get(name, name)

    def to_interchange(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The file's table with interchange column names (wide tables stacked to long)."""
        import pandas as pd  # here, not above: a session file's report never reads a table

        frame = frame.rename(columns=lambda c: str(c).strip())
        if self.wide:
            return self._stack(frame)
        lower = {str(c).lower(): c for c in frame.columns}
        out = {}
        for name in CANONICAL:
            wanted = self.columns.get(name)
            column = frame.get(wanted) if wanted is not None else frame.get(lower.get(name))
            if wanted is not None and column is None:
                raise MappingError(f"{self.source}: column {wanted!r} (for {name}) is not in the file; "
                                   f"it has {', '.join(map(str, frame.columns[:20]))}")
            if column is not None:
                out[name] = column
        if self.sensor is not None and "sensor" not in out:
            out["sensor"] = pd.Series(self.sensor, index=frame.index, dtype="category")
        table = pd.DataFrame(out)
        self._scale_time(table)
        return table

    def _stack(self, frame: pd.DataFrame) -> pd.DataFrame:
        import pandas as pd

        names = list(self.sensors)
        if not names:
            raise MappingError(f"{self.source}: a wide table ({WIDE} in a column name) needs its sensors "
                               "listed under [sensors]")
        shared = {k: v for k, v in self.columns.items() if WIDE not in v}
        parts = []
        for name in names:
            part = {}
            for key, pattern in self.columns.items():
                column = pattern.replace(WIDE, name)
                if column not in frame:
                    raise MappingError(f"{self.source}: column {column!r} (for {key} of sensor {name!r}) "
                                       "is not in the file")
                part[key] = frame[column]
            if "time_s" not in shared and "time_s" not in part and "time_s" in frame:
                part["time_s"] = frame["time_s"]
            part["sensor"] = pd.Series(name, index=frame.index)
            if "label" not in part and "label" in frame:
                part["label"] = frame["label"]
            part = pd.DataFrame(part)
            # a row where this sensor has no cell at all is another sensor's (or rate's) row, not damage
            values = [k for k in part.columns if k not in ("time_s", "sensor", "label")]
            empty = part[values].isna().all(axis=1) if values else pd.Series(False, index=part.index)
            parts.append(part[~empty])
        table = pd.concat(parts, ignore_index=True)
        table["sensor"] = table["sensor"].astype("category")
        self._scale_time(table)
        return table

    def _scale_time(self, table: pd.DataFrame) -> None:
        import pandas as pd

        if "time_s" not in table or self.time_unit == "s":
            return
        if self.time_unit == "datetime":  # clock text such as 2024-03-05 09:10:11.250: POSIX seconds
            stamps = pd.to_datetime(table["time_s"], errors="coerce", utc=True, format="mixed")
            seconds = (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
            table["time_s"] = seconds.where(stamps.notna())
            return
        table["time_s"] = pd.to_numeric(table["time_s"], errors="coerce") * TIME_UNITS[self.time_unit]

    def stated(self) -> dict[str, str]:
        """The conventions the mapping fixes (not left to detection)."""
        return {k: v for k, v in (("acc_unit", self.acc_unit), ("gyro_unit", self.gyro_unit),
                                  ("quat_direction", self.quat_direction), ("acc_sign", self.acc_sign))
                if v != "auto"}


def load_mapping(path: str | Path) -> ImportMapping:
    """Read a TOML or JSON mapping file; one clear line for anything wrong in it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise MappingError(f"{path}: cannot read the mapping ({err})") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as err:
        kind = "JSON" if path.suffix.lower() == ".json" else "TOML"
        raise MappingError(f"{path}: not a readable {kind} mapping ({err})") from None
    return mapping_from_dict(data, str(path))


def mapping_from_dict(data: dict, source: str = "mapping") -> ImportMapping:
    if not isinstance(data, dict):
        raise MappingError(f"{source}: a mapping is a table of keys")
    known = {"columns", "units", "quaternion", "acceleration", "sensors", "sensor"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise MappingError(f"{source}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    columns = dict(_table(data, "columns", source))
    quaternion = _table(data, "quaternion", source)
    order = str(quaternion.get("order", "wxyz")).lower()
    if order not in ("wxyz", "xyzw"):
        raise MappingError(f"{source}: quaternion.order must be wxyz or xyzw, got {order!r}")
    if "quat" in columns:
        quat = columns.pop("quat")
        if not (isinstance(quat, list) and len(quat) == 4):
            raise MappingError(f"{source}: columns.quat must list four column names")
        names = QUAT if order == "wxyz" else QUAT[1:] + QUAT[:1]
        columns.update(zip(names, quat))
    for group in ("acc", "gyro"):  # acc = ["x", "y", "z"] as a shorthand
        if group in columns:
            values = columns.pop(group)
            if not (isinstance(values, list) and len(values) == 3):
                raise MappingError(f"{source}: columns.{group} must list three column names")
            columns.update(zip([group[0] + a for a in "xyz"], values))
    bad = sorted(set(columns) - set(CANONICAL))
    if bad:
        raise MappingError(f"{source}: columns.{bad[0]} is not an interchange column "
                           f"({', '.join(CANONICAL)}, or quat/acc/gyro lists)")
    if not all(isinstance(v, str) for v in columns.values()):
        raise MappingError(f"{source}: every entry of [columns] is a column name (text)")
    units = _table(data, "units", source)
    mapping = ImportMapping(
        columns=columns,
        sensors={str(k): str(v) for k, v in _table(data, "sensors", source).items()},
        sensor=data.get("sensor"),
        time_unit=_choice(units, "time", "s", tuple(TIME_UNITS) + ("datetime",), source, "units"),
        acc_unit=_choice(units, "acc", "auto", ACC_UNITS, source, "units", {"m/s2": "m/s^2", "ms2": "m/s^2", "m/s²": "m/s^2"}),
        gyro_unit=_choice(units, "gyro", "auto", GYRO_UNITS, source, "units", {"dps": "deg/s", "rads": "rad/s"}),
        quat_direction=_choice(quaternion, "direction", "auto", DIRECTIONS, source, "quaternion"),
        acc_sign=_choice(_table(data, "acceleration", source), "sign", "auto", SIGNS, source, "acceleration"),
        source=source,
    )
    for name, target in list(mapping.sensors.items()) + ([("sensor", mapping.sensor)] if mapping.sensor else []):
        location = resolve_location(target)
        if location is None:
            raise MappingError(f"{source}: sensor {name!r} maps to {target!r}, which is no body location "
                               f"({', '.join(LOCATIONS)} or a vertebra / region alias such as T4, L1, pelvis)")
    if mapping.sensor:
        mapping.sensor = resolve_location(mapping.sensor)
    return mapping


def _table(data: dict, key: str, source: str) -> dict:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise MappingError(f"{source}: [{key}] must be a table")
    return value


def _choice(table: dict, key: str, default: str, allowed: tuple, source: str, section: str,
            aliases: dict | None = None) -> str:
    value = str(table.get(key, default)).strip().lower().replace(" ", "")
    value = (aliases or {}).get(value, value)
    if value not in allowed:
        raise MappingError(f"{source}: {section}.{key} must be one of {', '.join(allowed)}, got {table.get(key)!r}")
    return value


def with_pairs(mapping: ImportMapping | None, columns: list[str] = (), sensors: list[str] = ()) -> ImportMapping | None:
    """A mapping with NAME=VALUE pairs from the command line laid over it (or alone)."""
    if not columns and not sensors:
        return mapping
    data: dict = {}
    for key, pairs in (("columns", columns), ("sensors", sensors)):
        for pair in pairs:
            name, sep, value = pair.partition("=")
            if not sep or not name.strip() or not value.strip():
                raise MappingError(f"--{key[:-1]} takes NAME=VALUE, got {pair!r}")
            data.setdefault(key, {})[name.strip()] = value.strip()
    given = mapping_from_dict(data, "command line")
    if mapping is None:
        return given
    return replace(mapping, columns={**mapping.columns, **given.columns},
                   sensors={**mapping.sensors, **given.sensors})
