"""The CSV interchange format: read and write (docs/data-formats.md).

Long format, one row per sensor sample, with a header line:

    time_s, sensor, qw, qx, qy, qz [, ax, ay, az] [, gx, gy, gz] [, label]

time_s is session time in seconds, sensor a body location (thoracic, lumbar, sacral, or an
alias such as T4 or pelvis), q* a scalar-first unit quaternion sensor -> earth (renormalised
on read), a* acceleration in g (+1 g up at rest), g* angular rate in deg/s. A sensor that
sends no orientation leaves q* empty (or the file has no q* columns) and gives a* and g*:
the pipeline's own AHRS orients it. Other columns are ignored, so a session export reads
back as interchange. An import mapping (imu.recording.mapping) reads other layouts, units
and conventions. Damaged rows are dropped and counted per sensor with their reason; rows of
sensors that are no body location are counted and reported.
"""

from __future__ import annotations

import csv
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from imu.errors import UserError
from imu.recording.conventions import check_conventions
from imu.recording.mapping import ImportMapping, MappingError
from imu.samples import LOCATIONS, DecodeStats, TimedSamples

REQUIRED = ("time_s", "sensor", "qw", "qx", "qy", "qz")
QUAT = REQUIRED[2:]
MAX_START_S = 86_400.0  # times starting later than a day are not on the session timeline
MAX_LEAP_S = 86_400.0  # rows further than this from a sensor's typical time are damage
ACC = ("ax", "ay", "az")
GYRO = ("gx", "gy", "gz")
NORM_TOLERANCE = 0.05


class InterchangeError(UserError, ValueError):
    """A file that cannot be read as interchange CSV; the message names the problem."""


@dataclass
class Interchange:
    samples: dict[str, TimedSamples]  # location -> samples, time increasing
    labels: list[tuple[float, float, str]]  # (start_s, end_s, label), by start
    stats: dict[str, DecodeStats]  # location -> rows kept and dropped (with reasons)
    rejected: DecodeStats = field(default_factory=DecodeStats)  # rows of no known sensor, bad lines
    time_offset_s: float = 0.0  # subtracted from the file's times when they were not session times
    notes: list[str] = field(default_factory=list)  # what was read how: aliases, detected conventions

    @property
    def dropped_rows(self) -> int:
        return self.rejected.bad_samples + sum(s.bad_samples for s in self.stats.values())


def read_interchange_csv(path: str | Path, mapping: ImportMapping | None = None) -> Interchange:
    """Read an interchange CSV, or any table that `mapping` says how to read."""
    path = Path(path)
    mapping = mapping or ImportMapping()
    header = _check_file(path)
    separator = _separator(header)
    raw_names = [c.strip() for c in header.split(separator)]
    text_names = {mapping.columns.get(k, k).lower() for k in ("sensor", "label")}
    text_cols = {raw: str for raw in raw_names if raw.lower() in text_names}
    # all columns are parsed (not usecols): only then does pandas notice lines with extra fields
    lines = _data_lines_if_quoted(path)
    try:
        frame, bad_lines = _read_table(path, text_cols, separator, csv.QUOTE_MINIMAL)
        swallowed = lines is not None and len(frame) + bad_lines < lines
    except pd.errors.ParserError:  # a quote never closed: the parser gives up at the end of file
        swallowed = True
    if swallowed:
        # a stray quote opened a field that ate the lines up to the next quote: read quotes as
        # plain text instead, so that every line stays a row (and a damaged one is counted)
        frame, bad_lines = _read_table(path, text_cols, separator, csv.QUOTE_NONE)
        frame.columns = [str(c).strip('"') for c in frame.columns]
        for column in frame.columns:
            if not pd.api.types.is_numeric_dtype(frame[column]):
                frame[column] = frame[column].map(lambda v: v.strip('"') if isinstance(v, str) else v)
    rejected = DecodeStats(bad_samples=bad_lines)
    if bad_lines:
        rejected.errors["wrong number of fields"] = bad_lines
    if lines is not None and len(frame) + bad_lines < lines:
        lost = lines - len(frame) - bad_lines
        rejected.bad_samples += lost
        rejected.errors["lines lost inside an unclosed quote"] = lost
    _check_duplicates(path, raw_names, mapping)
    try:
        table = mapping.to_interchange(frame)
    except MappingError as err:
        raise InterchangeError(f"{path}: {err}") from None
    return interchange_from_table(table, rejected, path, mapping, header)


def interchange_from_table(frame: pd.DataFrame, rejected: DecodeStats, path: str | Path,
                           mapping: ImportMapping | None = None, header: str | None = None) -> Interchange:
    """Validate a table with interchange column names (any reader's output) into samples."""
    mapping = mapping or ImportMapping()
    _check_columns(path, list(frame.columns), header)
    numeric_cols = [c for c in ("time_s",) + QUAT + ACC + GYRO if c in frame.columns]
    values, non_numeric = {}, np.zeros(len(frame), dtype=bool)
    for col in numeric_cols:
        raw = frame[col]
        if raw.dtype.kind in "fiu":
            values[col] = raw.to_numpy(dtype=float)
        else:  # junk in the column: it was read as text
            converted = pd.to_numeric(raw, errors="coerce")
            non_numeric |= (converted.isna() & raw.notna()).to_numpy()
            values[col] = converted.to_numpy(dtype=float)
    sensor_ids, sensor_names = _clean_codes(frame["sensor"], str.lower)
    locations, notes = _sensor_locations(path, sensor_names, mapping)
    counts = np.bincount(sensor_ids + 1, minlength=len(sensor_names) + 1)  # +1: missing is -1
    for code, name in enumerate(sensor_names):
        if locations[code] is None and counts[code + 1]:
            rejected.errors[f"unknown sensor {name!r}"] = int(counts[code + 1])
            notes.append(f"{int(counts[code + 1])} rows of sensor {name!r} not read: it names no trunk location "
                         f"({', '.join(LOCATIONS)}, or an alias such as T4, L1, pelvis); "
                         "give it one in an import mapping ([sensors])")
    if counts[0]:
        rejected.errors["missing sensor"] = int(counts[0])
    rejected.bad_samples += int(sum(counts[c + 1] for c, loc in enumerate(locations) if loc is None) + counts[0])

    n = len(frame)
    has_quat = "qw" in values
    quat = np.column_stack([values[c] for c in QUAT]) if has_quat else np.full((n, 4), np.nan)
    time_s = values["time_s"]
    # session time starts near 0; a file stamped with wall-clock or uptime seconds is moved there
    finite_t = time_s[np.isfinite(time_s)]
    typical = float(np.median(finite_t[:1000])) if len(finite_t) else 0.0
    near = finite_t[np.abs(finite_t - typical) < MAX_LEAP_S]  # a damaged outlier cannot set it
    offset = float(near.min()) if abs(typical) > MAX_START_S and len(near) else 0.0
    time_s = time_s - offset
    # a row with no quaternion at all but acceleration (and rate, or no rate at all) is a raw
    # sample: the AHRS orients it
    raw = np.isnan(quat).all(axis=1)
    raw &= np.isfinite(np.column_stack([values[c] for c in ACC])).all(axis=1) if "ax" in values else False
    if "gx" in values:
        gyro_cells = np.column_stack([values[c] for c in GYRO])
        raw &= np.isfinite(gyro_cells).all(axis=1) | np.isnan(gyro_cells).all(axis=1)
    missing = ~np.isfinite(time_s) | (~np.isfinite(quat).all(axis=1) & ~raw)
    norm = np.linalg.norm(quat, axis=1)
    with np.errstate(invalid="ignore"):
        non_unit = ~raw & ~(np.abs(norm - 1.0) <= NORM_TOLERANCE)
    # first failing reason wins, in this order
    reasons = [("non-numeric", non_numeric), ("NaN", missing), ("non-unit quaternion", non_unit)]
    if "label" in frame:
        label_ids, label_names = _clean_codes(frame["label"], lambda x: x)
    else:
        label_ids, label_names = None, []

    samples, stats, runs = {}, {}, []
    for location in LOCATIONS:
        codes = [c for c, loc in enumerate(locations) if loc == location]
        rows = np.flatnonzero(np.isin(sensor_ids, codes)) if codes else []
        if len(rows) == 0:
            continue
        st = DecodeStats(notifications=len(rows))
        ok = np.ones(len(rows), dtype=bool)
        for reason, bad in reasons:
            hit = ok & bad[rows]
            if hit.any():
                st.errors[reason] = int(hit.sum())
                ok &= ~hit
        ok &= _count_time_order(time_s[rows], ok, st)
        keep = rows[ok]
        st.samples, st.bad_samples = len(keep), len(rows) - len(keep)
        stats[location] = st
        if len(keep) == 0:
            continue
        q = quat[keep] / norm[keep, None]
        found = TimedSamples(time_s[keep], q, _optional(values, ACC, keep), _optional(values, GYRO, keep))
        samples[location], said = check_conventions(location, found, mapping.stated())
        notes += said
        if raw[keep].all() and found.gyro is not None:
            notes.append(f"{location}: no quaternion in the file; oriented by the pipeline's AHRS "
                         "from acceleration and angular rate")
        elif raw[keep].any() and found.gyro is None:
            notes.append(f"{location}: acceleration only (no angular rate, no quaternion): oriented from "
                         "gravity alone, which follows inclination with about 0.3 s lag, not fast movements "
                         "nor rotation about the vertical")
        if label_ids is not None:
            runs += [(a, b, label_names[code]) for a, b, code in _label_runs(time_s[keep], label_ids[keep])]
    if not samples and not stats:
        unknown = [n for n, loc in zip(sensor_names, locations) if loc is None][:5]
        named = f"; it names {', '.join(map(repr, unknown))}: give each a location in an import mapping" if unknown else ""
        raise InterchangeError(f"no rows of a known sensor ({', '.join(LOCATIONS)}) in {path}{named}")
    return Interchange(samples, _merge_runs(runs), stats, rejected, offset, notes)


def _separator(header: str) -> str:
    """Comma, unless the header line plainly uses semicolons or tabs instead."""
    if "," in header:
        return ","
    return max(("\t", ";"), key=header.count) if ("\t" in header or ";" in header) else ","


def _sensor_locations(path, names: list[str], mapping: ImportMapping) -> tuple[list[str | None], list[str]]:
    """The location of each distinct sensor name, and a note for each alias read."""
    locations = [mapping.location_for(name) for name in names]
    notes = [f"sensor {name!r} read as {loc}" for name, loc in zip(names, locations)
             if loc is not None and name.strip().lower() != loc]
    for location in LOCATIONS:
        same = [n for n, loc in zip(names, locations) if loc == location]
        if len(same) > 1:
            raise InterchangeError(f"{path}: sensors {', '.join(map(repr, same))} all read as {location}; "
                                   "say which is which in an import mapping ([sensors])")
    return locations, notes


def write_interchange_csv(path: str | Path, samples: dict[str, TimedSamples],
                          labels: list[tuple[float, float, str]] | None = None) -> None:
    """Write samples (and labels as a per-row column) in the interchange format."""
    interchange_frame(samples, labels).to_csv(path, index=False, float_format="%.10g")


def interchange_frame(samples: dict[str, TimedSamples],
                      labels: list[tuple[float, float, str]] | None = None,
                      extra: dict[str, dict[str, np.ndarray]] | None = None) -> pd.DataFrame:
    """The interchange rows as a DataFrame, sorted by time; extra: location -> column -> values."""
    unknown = set(samples) - set(LOCATIONS)
    if unknown:
        raise ValueError(f"unknown sensor location(s) {', '.join(sorted(unknown))}; known: {', '.join(LOCATIONS)}")
    has_acc = any(s.acc is not None for s in samples.values())
    has_gyro = any(s.gyro is not None for s in samples.values())
    parts = []
    for location in LOCATIONS:
        s = samples.get(location)
        if s is None or len(s) == 0:
            continue
        cols = {"time_s": np.asarray(s.t, float), "sensor": np.full(len(s), location)}
        cols.update(zip(("qw", "qx", "qy", "qz"), np.asarray(s.quat, float).T))
        for names, arr, wanted in ((ACC, s.acc, has_acc), (GYRO, s.gyro, has_gyro)):
            if wanted:
                arr = np.full((len(s), 3), np.nan) if arr is None else np.asarray(arr, float)
                cols.update(zip(names, arr.T))
        for name, column in (extra or {}).get(location, {}).items():
            cols[name] = column
        parts.append(pd.DataFrame(cols))
    if not parts:
        raise ValueError("no samples to write")
    frame = pd.concat(parts, ignore_index=True).sort_values("time_s", kind="stable", ignore_index=True)
    frame["sensor"] = frame["sensor"].astype("category")
    if labels:
        frame["label"] = label_column(frame["time_s"].to_numpy(), labels)
    return frame


def label_column(t: np.ndarray, labels: list[tuple[float, float, str]]) -> np.ndarray:
    """Per-sample label: the last listed label whose [start, end] holds the sample, else ''."""
    out = np.full(len(t), "", dtype=object)
    for start, end, label in labels:
        out[(t >= start) & (t <= end)] = label
    return out


def _read_table(path: Path, text_cols: dict, separator: str, quoting: int) -> tuple[pd.DataFrame, int]:
    """The parsed table and how many lines pandas skipped for a wrong number of fields."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = pd.read_csv(path, dtype=text_cols, skipinitialspace=True, on_bad_lines="warn",
                            low_memory=False, encoding="utf-8-sig", sep=separator, quoting=quoting)
    return frame, sum(str(w.message).count("Skipping line") for w in caught)


def _data_lines_if_quoted(path: Path) -> int | None:
    """Non-blank lines after the header, counted only in a file with quotes (None without):
    only a quote can make the parser join lines, and counting costs a pass over the file."""
    data = path.read_bytes()
    if b'"' not in data:
        return None
    return len(re.findall(rb"(?m)^[ \t\r]*[^ \t\r\n]", data)) - 1


def _check_file(path: Path) -> str:
    """The header line; refuses missing, empty and binary files."""
    if not path.exists():
        raise InterchangeError(f"no such file: {path}")
    if not path.is_file():
        raise InterchangeError(f"not a file: {path}")
    with open(path, "rb") as f:
        head = f.read(65536)
    if not head.strip():
        raise InterchangeError(f"empty file, no CSV header: {path}")
    if b"\x00" in head:
        raise InterchangeError(f"binary file, not CSV text: {path}")
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        if len(head) == 65536:  # a multibyte character may be cut at the read boundary
            text = head[:-4].decode("utf-8-sig", errors="strict")
        else:
            raise InterchangeError(f"not UTF-8 text, not a CSV file: {path}") from None
    return text.splitlines()[0]


def _check_duplicates(path: Path, raw_names: list[str], mapping: ImportMapping) -> None:
    used = {c.lower() for c in mapping.columns.values()} | {c.lower() for c in REQUIRED + ACC + GYRO + ("label",)}
    lowered = [c.lower() for c in raw_names]
    duplicated = sorted({c for c in lowered if lowered.count(c) > 1 and c and c in used})
    if duplicated:
        raise InterchangeError(f"duplicated column(s) {', '.join(duplicated)} in {path}")


def _check_columns(path, columns: list[str], header: str | None) -> None:
    shown = header or ",".join(columns)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    needs = f"(header line: {shown!r}; needs {', '.join(REQUIRED)}, or ax..az [gx..gz] instead of q* for raw-only sensors)"
    missing = [c for c in REQUIRED[:2] if c not in columns]
    quat_present = [c for c in QUAT if c in columns]
    raw_present = all(c in columns for c in ACC)
    if quat_present and len(quat_present) < 4 or not quat_present and not raw_present:
        missing += [c for c in QUAT if c not in columns]
    if missing:
        raise InterchangeError(f"missing required column(s) {', '.join(missing)} in {path} {needs}")
    for group in (ACC, GYRO):
        present = [c for c in group if c in columns]
        if present and len(present) < 3:
            absent = [c for c in group if c not in columns]
            raise InterchangeError(f"incomplete column group in {path}: has {', '.join(present)} "
                                   f"but not {', '.join(absent)}")


def _count_time_order(t: np.ndarray, ok: np.ndarray, stats: DecodeStats) -> np.ndarray:
    """Keep rows whose time exceeds every earlier valid time of the same sensor.

    A time more than a day away from the sensor's typical time is damage, not a pause (and
    would make the analysis grid huge): it is dropped first, so it cannot hide what follows.
    """
    finite = ok & np.isfinite(t)
    typical = np.median(t[finite]) if finite.any() else 0.0
    leap = ok & (np.abs(t - typical) > MAX_LEAP_S)
    valid_t = np.where(ok & ~leap, t, -np.inf)
    previous_max = np.concatenate([[-np.inf], np.maximum.accumulate(valid_t)[:-1]])
    backwards = ok & ~leap & (t < previous_max)
    duplicate = ok & ~leap & (t == previous_max)
    for reason, hit in (("time going backwards", backwards), ("duplicate time", duplicate),
                        ("time more than a day from the rest", leap)):
        if hit.any():
            stats.errors[reason] = int(hit.sum())
    return ~(backwards | duplicate | leap)


def _clean_codes(column: pd.Series, normalise) -> tuple[np.ndarray, list[str]]:
    """Integer code per row (-1 for missing or blank) and the distinct cleaned names.

    Works on the categories, not on millions of row strings.
    """
    cat = column.astype("category")
    cleaned = [normalise(str(c).strip()) for c in cat.cat.categories]
    names = list(dict.fromkeys(n for n in cleaned if n))
    remap = np.array([names.index(n) if n else -1 for n in cleaned] + [-1], dtype=np.int64)
    return remap[cat.cat.codes.to_numpy().astype(np.int64)], names  # code -1 picks the last entry


def _optional(values: dict, names: tuple[str, ...], keep: np.ndarray) -> np.ndarray | None:
    if names[0] not in values:
        return None
    arr = np.column_stack([values[c][keep] for c in names])
    return None if np.isnan(arr).all() else arr


def _label_runs(t: np.ndarray, codes: np.ndarray) -> list[tuple[float, float, int]]:
    """Runs of consecutive equal label codes of one sensor (-1, no label, is not a run)."""
    change = np.flatnonzero(codes[1:] != codes[:-1]) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(codes)]]) - 1
    return [(float(t[a]), float(t[b]), int(codes[a])) for a, b in zip(starts, ends) if codes[a] >= 0]


def _merge_runs(runs: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """Union of overlapping runs with the same label (the same run seen by several sensors)."""
    merged: list[list] = []
    for start, end, label in sorted(runs, key=lambda r: (r[2], r[0])):
        if merged and merged[-1][2] == label and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end, label])
    return sorted((a, b, lab) for a, b, lab in merged)
