"""Data in on the user's terms: raw-only sensors, import mappings, conventions detected from
gravity, sensor aliases, Movella DOT exports and XDF, all against the simulated truth."""

from __future__ import annotations

import struct

import numpy as np
import pandas as pd
import pytest

from imu import anatomy
from imu import quat as Q
from imu.analysis import _new_pipeline, _steps, open_source
from imu.cli import main
from imu.recording.csv_import import InterchangeError, read_interchange_csv
from imu.recording.locations import resolve_location
from imu.recording.xdf import read_xdf
from imu.recording.mapping import MappingError, load_mapping, mapping_from_dict
from imu.sim import simulate, to_interchange_csv

G = 9.80665


@pytest.fixture(scope="module")
def desk():
    return simulate("desk", 120, seed=5)


@pytest.fixture(scope="module")
def reference(desk, tmp_path_factory):
    """The session as the project's own interchange CSV, read back: what every other layout must give."""
    path = tmp_path_factory.mktemp("ref") / "desk.csv"
    to_interchange_csv(desk, path, labels=False)
    return pd.read_csv(path), read_interchange_csv(path)


def _grid_quat(source, location):
    pipeline = _new_pipeline(source, None)
    t, quat = [], []
    for out in _steps(source, pipeline):
        t.append(out.t)
        quat.append(out.grid.quat[location])
    return np.concatenate(t), np.concatenate(quat)


def _tilt_error_deg(session, location, t, quat):
    """Angle between measured and true 'up' in the sensor frame (heading does not matter)."""
    truth = session.true_sensor_orientation(location, t)
    measured = Q.rotate(Q.conjugate(quat), [0.0, 0.0, 1.0])
    true = Q.rotate(Q.conjugate(truth), anatomy.UP)
    return np.degrees(np.arccos(np.clip((measured * true).sum(axis=1), -1, 1)))


# --- raw-only sensors -------------------------------------------------------------------
@pytest.mark.parametrize("layout", ["no quaternion columns", "empty quaternion cells"])
def test_raw_only_csv_is_oriented_by_the_ahrs_from_the_first_second(desk, tmp_path, layout):
    """Issue 8: such a CSV failed with "no usable sensor rows"; the AHRS start-up swing
    (tens of degrees in the first second) must not reach the angles either."""
    path = tmp_path / "raw.csv"
    if layout == "no quaternion columns":
        to_interchange_csv(desk, path, quaternion_columns=False)
    else:
        to_interchange_csv(desk, path, raw_only={"thoracic", "lumbar"})
    source = open_source(path)
    assert set(source.timed) == {"thoracic", "lumbar"}
    assert any("AHRS" in n for n in source.notes)
    t, quat = _grid_quat(source, "thoracic")
    ok = np.isfinite(quat).all(axis=1)
    assert ok.mean() > 0.98 and t[ok][0] < 0.6
    error = _tilt_error_deg(desk, "thoracic", t[ok], quat[ok])
    first = t[ok] < 3.0
    assert error[first].max() < 3.0
    assert np.percentile(error, 95) < 4.0


def test_a_sensor_with_neither_quaternion_nor_raw_data_is_refused_by_row(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("time_s,sensor,ax,ay,az,gx,gy,gz\n0,lumbar,0,0,1,0,0,0\n0.01,lumbar,,,,,,\n"
                    "0.02,lumbar,0,0,1,0,0,0\n")
    data = read_interchange_csv(path)
    assert data.stats["lumbar"].errors == {"NaN": 1} and len(data.samples["lumbar"]) == 2


# --- mapping, units and conventions -----------------------------------------------------
def _foreign_wide(frame: pd.DataFrame) -> pd.DataFrame:
    """The reference rows as another lab would store them: one row per time (the lumbar
    sensor's samples joined to the nearest thoracic time is not needed: each sensor keeps
    its own rows, the other's cells empty), ms, m/s^2 with gravity sign, rad/s, xyzw,
    earth-to-sensor quaternion, vertebra names."""
    out = pd.DataFrame({"Time (ms)": frame["time_s"] * 1000.0})
    names = {"thoracic": "T4", "lumbar": "L1"}
    for location, name in names.items():
        mine = frame["sensor"] == location
        conj = Q.conjugate(frame.loc[:, ["qw", "qx", "qy", "qz"]].to_numpy())
        for i, c in enumerate("xyzw"):
            out[f"{name} q{i}"] = np.where(mine, conj[:, "wxyz".index(c)], np.nan)
        for axis in "xyz":
            out[f"{name} acc {axis}"] = np.where(mine, -frame[f"a{axis}"] * G, np.nan)
            out[f"{name} gyro {axis}"] = np.where(mine, np.radians(frame[f"g{axis}"]), np.nan)
    return out


WIDE_MAPPING = """
[columns]
time_s = "Time (ms)"
quat = ["{sensor} q0", "{sensor} q1", "{sensor} q2", "{sensor} q3"]
acc = ["{sensor} acc x", "{sensor} acc y", "{sensor} acc z"]
gyro = ["{sensor} gyro x", "{sensor} gyro y", "{sensor} gyro z"]
[units]
time = "ms"
%s
[quaternion]
order = "xyzw"
%s
[sensors]
T4 = "T4"
L1 = "L1"
"""


def _same_samples(got, want):
    for location, ref in want.samples.items():
        s = got.samples[location]
        np.testing.assert_allclose(s.t, ref.t, atol=1e-6)
        dot = np.abs((s.quat * ref.quat).sum(axis=1))
        assert dot.min() > 1 - 1e-9  # same rotation
        np.testing.assert_allclose(s.acc, ref.acc, atol=1e-6)
        np.testing.assert_allclose(s.gyro, ref.gyro, atol=1e-5)


def test_wide_table_with_stated_units_and_conventions(reference, tmp_path):
    frame, want = reference
    path = tmp_path / "wide.csv"
    _foreign_wide(frame).to_csv(path, index=False)
    mapping_path = tmp_path / "map.toml"
    mapping_path.write_text(WIDE_MAPPING % ('acc = "m/s^2"\ngyro = "rad/s"',
                                            'direction = "earth_to_sensor"\n[acceleration]\nsign = "gravity"'))
    got = read_interchange_csv(path, load_mapping(mapping_path))
    _same_samples(got, want)
    # the empty cells of the other sensor are not damage: each row belongs to the one that has values
    assert got.stats["thoracic"].samples == want.stats["thoracic"].samples
    assert got.dropped_rows == 0
    assert "sensor 't4' read as thoracic" in got.notes


def test_opposite_conventions_are_detected_from_gravity_and_said(reference, tmp_path):
    frame, want = reference
    path = tmp_path / "wide.csv"
    _foreign_wide(frame).to_csv(path, index=False)
    mapping = mapping_from_dict(__import__("tomllib").loads(WIDE_MAPPING % ("", "")), "map")
    got = read_interchange_csv(path, mapping)
    _same_samples(got, want)
    text = " | ".join(got.notes)
    for location in ("thoracic", "lumbar"):
        assert f"{location}: acceleration detected in m/s^2" in text
        assert f"{location}: quaternion detected as earth-to-sensor" in text
        assert f"{location}: acceleration detected as the gravity vector" in text
        assert f"{location}: angular rate detected in rad/s" in text


def test_the_projects_own_conventions_are_left_alone(reference):
    _, data = reference
    assert not [n for n in data.notes if "detected" in n]


def test_stated_convention_that_gravity_contradicts_is_used_but_noted(reference, tmp_path):
    frame, _ = reference
    path = tmp_path / "plain.csv"
    frame.to_csv(path, index=False)
    got = read_interchange_csv(path, mapping_from_dict({"quaternion": {"direction": "earth_to_sensor"}}))
    assert any("stated as earth_to_sensor, but gravity agrees with the opposite" in n for n in got.notes)


def test_raw_only_rate_units_detected_from_accelerometer_tilt(desk, tmp_path):
    path = tmp_path / "raw.csv"
    to_interchange_csv(desk, path, quaternion_columns=False)
    frame = pd.read_csv(path)
    for axis in "xyz":
        frame[f"g{axis}"] = np.radians(frame[f"g{axis}"])
    frame.to_csv(path, index=False)
    got = read_interchange_csv(path)
    assert any("thoracic: angular rate detected in rad/s" in n for n in got.notes)
    ref = desk.sensor_samples("thoracic")
    np.testing.assert_allclose(got.samples["thoracic"].gyro, ref["gyro"], atol=1e-5)


# --- sensor names -------------------------------------------------------------------------
@pytest.mark.parametrize("name, location", [
    ("T4", "thoracic"), ("C7/T1", "thoracic"), ("C8", "thoracic"), ("upper_back", "thoracic"),
    ("T10", "lumbar"), ("T12", "lumbar"), ("L1", "lumbar"), ("Lower-Back", "lumbar"),
    ("L4/5", "sacral"), ("L5", "sacral"), ("S2", "sacral"), ("pelvis", "sacral"), ("Sacrum", "sacral"),
    ("DOT T4", "thoracic"), ("imu_L5", "sacral"),
    ("neck", None), ("C3", None), ("wrist", None), ("trunk", None), ("T20", None),
])
def test_anatomical_aliases(name, location):
    assert resolve_location(name) == location


def test_unknown_sensors_are_counted_and_said_never_silently_dropped(tmp_path):
    path = tmp_path / "x.csv"
    rows = [f"{k * 0.01:.2f},{name},1,0,0,0" for k in range(50) for name in ("T4", "wrist", "head")]
    path.write_text("time_s,sensor,qw,qx,qy,qz\n" + "\n".join(rows) + "\n")
    data = read_interchange_csv(path)
    assert set(data.samples) == {"thoracic"}
    assert data.rejected.errors == {"unknown sensor 'wrist'": 50, "unknown sensor 'head'": 50}
    assert data.dropped_rows == 100
    assert sum("rows of sensor" in n and "not read" in n for n in data.notes) == 2
    source = open_source(path, mapping=mapping_from_dict({"sensors": {"wrist": "pelvis"}}))
    assert set(source.timed) == {"thoracic", "sacral"}
    assert any("'head' not read" in n for n in source.notes)


def test_two_names_for_one_location_are_refused(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("time_s,sensor,qw,qx,qy,qz\n0,T10,1,0,0,0\n0,L1,1,0,0,0\n")
    with pytest.raises(InterchangeError, match="sensors 'l1', 't10' all read as lumbar"):
        read_interchange_csv(path)


@pytest.mark.parametrize("data, message", [
    ({"colums": {}}, "unknown key(s) colums"),
    ({"units": {"acc": "furlong"}}, "units.acc must be one of"),
    ({"quaternion": {"order": "zyxw"}}, "quaternion.order must be wxyz or xyzw"),
    ({"columns": {"quat": ["a", "b"]}}, "columns.quat must list four"),
    ({"columns": {"speed": "v"}}, "columns.speed is not an interchange column"),
    ({"sensors": {"dev1": "wrist"}}, "no body location"),
])
def test_bad_mappings_give_one_clear_error(data, message):
    with pytest.raises(MappingError) as info:
        mapping_from_dict(data, "m.toml")
    assert message in str(info.value) and "\n" not in str(info.value)


def test_mapped_column_missing_from_the_file(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("t,sensor,qw,qx,qy,qz\n0,lumbar,1,0,0,0\n")
    with pytest.raises(InterchangeError, match="column 'time' .*not in the file"):
        read_interchange_csv(path, mapping_from_dict({"columns": {"time_s": "time"}}))


def test_single_sensor_file_without_sensor_column(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("time;qw;qx;qy;qz\n0;1;0;0;0\n0.1;1;0;0;0\n")  # semicolons, too
    data = read_interchange_csv(path, mapping_from_dict({"sensor": "L5", "columns": {"time_s": "time"}}))
    assert list(data.samples) == ["sacral"] and len(data.samples["sacral"]) == 2


# --- Movella DOT app exports ------------------------------------------------------------------
def _write_dot_export(path, tag, samples, *, clock_base_us, synced=True, start="2024-03-05 09:10:11.000 +0100",
                      euler=False, drop_every=0):
    """A file laid out as the DOT app exports it (header lines, then PacketCounter,...)."""
    n = len(samples["t"])
    fine = (clock_base_us + np.round(samples["t"] * 1e6).astype(np.int64)) % 2**32  # wraps like the device's
    lines = ["sep=,", f"DeviceTag:,{tag},,,,,,,,", "FirmwareVersion:,2.6.0,,,,,,,,", "AppVersion:,2023.6.0,,,,,,,,",
             f"SyncStatus:,{'Synced' if synced else 'Un-synced'},,,,,,,,", "OutputRate:,60Hz,,,,,,,,",
             "FilterProfile:,General,,,,,,,,", "Measurement Mode:,Custom Mode 5,,,,,,,,",
             f"StartTime:,{start},,,,,,,,", "Movella Technologies B. V. 2005-2024,,,,,,,,,", ""]
    if euler:
        zyx = Q.to_rotation(samples["quat"]).as_euler("ZYX", degrees=True)
        cols = {"Euler_X": zyx[:, 2], "Euler_Y": zyx[:, 1], "Euler_Z": zyx[:, 0]}
    else:
        cols = {f"Quat_{c}": samples["quat"][:, i] for i, c in enumerate("WXYZ")}
    table = pd.DataFrame({"PacketCounter": np.arange(n) + 7, "SampleTimeFine": fine, **cols,
                          **{f"Acc_{a}": samples["acc"][:, i] * G for i, a in enumerate("XYZ")},
                          **{f"Gyr_{a}": samples["gyro"][:, i] for i, a in enumerate("XYZ")}})
    if drop_every:
        table = table.drop(index=table.index[drop_every::drop_every])
    with open(path, "w", newline="") as f:
        f.write("\n".join(lines) + "\n")
        table.to_csv(f, index=False, float_format="%.9g", lineterminator="\n")


def test_dot_exports_in_a_folder_read_as_one_session(desk, reference, tmp_path):
    _, want = reference
    folder = tmp_path / "dots"
    folder.mkdir()
    base = 2**32 - 30_000_000  # the device clock wraps 30 s into the recording
    _write_dot_export(folder / "T2_20240305_091011_000.csv", "T2", desk.sensor_samples("thoracic"), clock_base_us=base)
    _write_dot_export(folder / "Xsens DOT_20240305_091011_000.csv", "Xsens DOT", desk.sensor_samples("lumbar"),
                      clock_base_us=base, drop_every=100)
    # the second sensor's tag says nothing: the mapping names it by file name
    source = open_source(folder, mapping=mapping_from_dict({"sensors": {"Xsens DOT_20240305_091011_000": "L1"}}))
    assert set(source.timed) == {"thoracic", "lumbar"}
    ref = want.samples["thoracic"]
    got = source.timed["thoracic"]
    np.testing.assert_allclose(got.t - got.t[0], ref.t - ref.t[0], atol=2e-6)  # across the clock wrap
    assert np.abs((got.quat * ref.quat).sum(axis=1)).min() > 1 - 1e-9
    np.testing.assert_allclose(got.acc, ref.acc, atol=1e-6)  # m/s^2 -> g
    lumbar = source.timed["lumbar"]
    assert abs((lumbar.t[0] - got.t[0]) - (want.samples["lumbar"].t[0] - ref.t[0])) < 2e-6  # one timeline
    dropped = len(range(100, len(desk.sensor_samples("lumbar")["t"]), 100))
    assert f"lumbar (DOT 'Xsens DOT'): {dropped} samples missing by PacketCounter" in source.notes
    assert source.csv_stats["lumbar"].lost_samples == dropped


def test_single_dot_export_with_euler_angles_through_the_cli(desk, tmp_path):
    path = tmp_path / "pelvis_20240305.csv"
    _write_dot_export(path, "pelvis", desk.sensor_samples("lumbar"), clock_base_us=123, euler=True)
    source = open_source(path)
    assert list(source.timed) == ["sacral"]
    quat = source.timed["sacral"].quat
    ref = desk.sensor_samples("lumbar")["quat"]
    assert np.abs((quat * ref).sum(axis=1)).min() > 1 - 1e-6
    assert main(["report", str(path), "-o", str(tmp_path / "rep")]) == 0
    assert (tmp_path / "rep" / "summary.json").exists()


def test_unsynchronised_dot_exports_are_lined_up_by_start_time_and_said(desk, tmp_path):
    folder = tmp_path / "dots"
    folder.mkdir()
    _write_dot_export(folder / "a.csv", "T4", desk.sensor_samples("thoracic"), clock_base_us=10**9, synced=False,
                      start="2024-03-05 09:10:11.000 +0100")
    _write_dot_export(folder / "b.csv", "L1", desk.sensor_samples("lumbar"), clock_base_us=5 * 10**8, synced=False,
                      start="2024-03-05 09:10:13.500 +0100")
    source = open_source(folder)
    assert source.timed["lumbar"].t[0] - source.timed["thoracic"].t[0] == pytest.approx(2.5, abs=1e-3)
    assert any("not synchronised" in n for n in source.notes)


# --- XDF from LSL --------------------------------------------------------------------------------
def _xdf_chunk(tag: int, content: bytes) -> bytes:
    body = struct.pack("<H", tag) + content
    return struct.pack("<BQ", 8, len(body)) + body


def _write_xdf(path, streams):
    """A minimal XDF 1.0 writer (pyxdf reads XDF but cannot write it): file header, one
    stream header, one samples chunk and a footer per stream; float32 channels, every
    sample with its own time stamp. streams: (id, name, type, labels, rate, t, values)."""
    out = [b"XDF:", _xdf_chunk(1, b'<?xml version="1.0"?><info><version>1.0</version></info>')]
    for sid, name, kind, labels, rate, t, values in streams:
        channels = "".join(f"<channel><label>{c}</label></channel>" for c in labels)
        header = (f'<?xml version="1.0"?><info><name>{name}</name><type>{kind}</type>'
                  f"<channel_count>{len(labels)}</channel_count><nominal_srate>{rate}</nominal_srate>"
                  f"<channel_format>float32</channel_format><source_id>{name}</source_id>"
                  f"<desc><channels>{channels}</channels></desc></info>")
        out.append(_xdf_chunk(2, struct.pack("<I", sid) + header.encode()))
        samples = b"".join(b"\x08" + struct.pack("<d", ti) + np.asarray(v, "<f4").tobytes() for ti, v in zip(t, values))
        out.append(_xdf_chunk(3, struct.pack("<I", sid) + struct.pack("<BQ", 8, len(t)) + samples))
        footer = (f'<?xml version="1.0"?><info><first_timestamp>{t[0]}</first_timestamp><last_timestamp>{t[-1]}'
                  f"</last_timestamp><sample_count>{len(t)}</sample_count></info>")
        out.append(_xdf_chunk(6, struct.pack("<I", sid) + footer.encode()))
    path.write_bytes(b"".join(out))


def test_xdf_with_the_projects_own_outlets_and_another_recorders_stream(desk, tmp_path):
    lsl_origin = 51234.5  # LSL clock: seconds since the recorder's machine booted
    thoracic = desk.sensor_samples("thoracic")
    lumbar = desk.sensor_samples("lumbar")
    raw = np.hstack([lumbar["acc"], lumbar["gyro"]])
    path = tmp_path / "lab.xdf"
    _write_xdf(path, [
        (1, "imu-thoracic", "Orientation", [f"thoracic_q{c}" for c in "wxyz"], 100, lsl_origin + thoracic["t"],
         thoracic["quat"]),
        (2, "imu-angles", "Angles", ["thoracic_flexion"], 100, lsl_origin + thoracic["t"][:10], np.zeros((10, 1))),
        (3, "LowBackIMU", "MoCap", ["AccX", "AccY", "AccZ", "GyrX", "GyrY", "GyrZ"], 60, lsl_origin + lumbar["t"],
         raw),
    ])
    mapping = mapping_from_dict({"columns": {"acc": ["AccX", "AccY", "AccZ"], "gyro": ["GyrX", "GyrY", "GyrZ"]},
                                 "sensors": {"LowBackIMU": "lower back"}})
    source = open_source(path, mapping=mapping)
    offset = read_xdf(path, mapping).time_offset_s  # LSL time of session time 0 (the first sample)
    assert set(source.timed) == {"thoracic", "lumbar"}
    got = source.timed["thoracic"]
    # pyxdf dejitters regular streams: times stay within a fraction of a sample of the truth
    np.testing.assert_allclose(got.t + offset, lsl_origin + thoracic["t"], atol=2e-3)
    assert np.abs((got.quat * thoracic["quat"]).sum(axis=1)).min() > 1 - 1e-6  # float32 channels
    assert np.isnan(source.timed["lumbar"].quat).all()  # raw-only: the AHRS orients it
    assert any("derived angles" in n for n in source.notes)
    t, quat = _grid_quat(source, "lumbar")
    ok = np.isfinite(quat).all(axis=1)
    assert ok.mean() > 0.95
    assert np.percentile(_tilt_error_deg(desk, "lumbar", t[ok] + offset - lsl_origin, quat[ok]), 95) < 4


def test_unreadable_xdf_is_one_clear_error(tmp_path):
    path = tmp_path / "bad.xdf"
    path.write_bytes(b"XDF:" + b"\x07" * 40)
    assert main(["report", str(path), "-o", str(tmp_path / "r")]) == 2


# --- the command line --------------------------------------------------------------------------
def test_report_with_a_mapping_flag_and_with_a_sidecar(reference, tmp_path, capsys):
    frame, _ = reference
    path = tmp_path / "wide.csv"
    _foreign_wide(frame).to_csv(path, index=False)
    mapping = tmp_path / "lab.toml"
    mapping.write_text(WIDE_MAPPING % ("", ""))
    # without the mapping the file is refused in one line that names what is missing
    assert main(["report", str(path), "-o", str(tmp_path / "r0")]) == 2
    assert "missing required column(s) time_s, sensor" in capsys.readouterr().err
    assert main(["report", str(path), "-o", str(tmp_path / "r1"), "--map", str(mapping)]) == 0
    summary = __import__("json").loads((tmp_path / "r1" / "summary.json").read_text())
    assert any("quaternion detected as earth-to-sensor" in n for n in summary["not_measured"])
    (tmp_path / "wide.csv.map.toml").write_text(mapping.read_text())  # beside the data: found by itself
    assert main(["report", str(path), "-o", str(tmp_path / "r2")]) == 0


def test_simulate_writes_low_rate_and_raw_only_csv(tmp_path):
    out = tmp_path / "slow.csv"
    assert main(["simulate", "desk", "-o", str(out), "--duration", "90", "--csv-rate", "lumbar=5",
                 "--raw-only", "lumbar"]) == 0
    frame = pd.read_csv(out)
    lumbar = frame[frame["sensor"] == "lumbar"]
    assert np.median(np.diff(lumbar["time_s"])) == pytest.approx(0.2, rel=1e-3)
    assert lumbar[["qw", "qx", "qy", "qz"]].isna().all().all()
    assert frame.loc[frame["sensor"] == "thoracic", "qw"].notna().all()
    assert main(["simulate", "desk", "-o", str(tmp_path / "x.csv"), "--csv-rate", "lumbar=7"]) == 2


def test_direction_is_not_flipped_on_weak_evidence(tmp_path):
    """A quaternion that agrees only roughly with its accelerometer, the other direction a
    little better: no evidence to flip on (a sensor on the back tilts far from level, where
    the wrong direction misses the vertical widely); kept, and said to be unverified."""
    t = np.arange(0, 20, 0.01)
    angle = 30 * np.sin(2 * np.pi * 0.5 * t)
    quat = Q.from_axis_angle([0.6, 0.8, 0.0], angle)
    acc = np.column_stack([np.sin(np.radians(angle)), 0 * t, np.cos(np.radians(angle))])
    frame = pd.DataFrame({"time_s": t, "sensor": "lumbar", **dict(zip(("qw", "qx", "qy", "qz"), quat.T)),
                          **dict(zip(("ax", "ay", "az"), acc.T))})
    path = tmp_path / "x.csv"
    frame.to_csv(path, index=False)
    data = read_interchange_csv(path)
    np.testing.assert_allclose(data.samples["lumbar"].quat, quat, atol=1e-9)
    assert any("lumbar: quaternion direction not verifiable" in n for n in data.notes)


def test_report_flags_name_columns_and_sensors(tmp_path, desk):
    path = tmp_path / "lab.csv"
    to_interchange_csv(desk, path, labels=False)
    frame = pd.read_csv(path).rename(columns={"time_s": "Time", "sensor": "Device"})
    frame["Device"] = frame["Device"].map({"thoracic": "dev-A", "lumbar": "dev-B"})
    frame.to_csv(path, index=False)
    args = ["report", str(path), "-o", str(tmp_path / "r"), "--column", "time_s=Time", "--column", "sensor=Device",
            "--sensor", "dev-A=upper back", "--sensor", "dev-B=T12"]
    assert main(args) == 0
    summary = __import__("json").loads((tmp_path / "r" / "summary.json").read_text())
    assert set(summary["sensors"]) == {"thoracic", "lumbar"}
    assert main(args[:-1] + ["dev-B"]) == 2  # not NAME=LOCATION: one line, exit 2


def test_acceleration_only_sensor_is_oriented_from_gravity(desk, tmp_path):
    """Many research recordings (e.g. a sacral accelerometer) carry no rate at all: such a
    sensor still gives its inclination, followed with a short lag, and the report says so."""
    path = tmp_path / "acc.csv"
    to_interchange_csv(desk, path, quaternion_columns=False)
    pd.read_csv(path).drop(columns=["gx", "gy", "gz"]).to_csv(path, index=False)
    source = open_source(path)
    assert source.timed["lumbar"].gyro is None
    assert any("lumbar: acceleration only" in n and "gravity alone" in n for n in source.notes)
    t, quat = _grid_quat(source, "lumbar")
    ok = np.isfinite(quat).all(axis=1)
    assert ok.mean() > 0.98
    error = _tilt_error_deg(desk, "lumbar", t[ok], quat[ok])
    assert np.percentile(error, 50) < 1.0 and np.percentile(error, 90) < 2.0  # still most of the time
    assert error[t[ok] < 3].max() < 2.0  # no start-up swing either


def test_clock_text_times_start_the_session_at_the_first_sample(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("when,sensor,qw,qx,qy,qz\n2024-03-05 09:10:11.250,T4,1,0,0,0\n"
                    "2024-03-05 09:10:11.350,T4,1,0,0,0\nnot a time,T4,1,0,0,0\n2024-03-05 09:10:11.450,T4,1,0,0,0\n")
    data = read_interchange_csv(path, mapping_from_dict({"columns": {"time_s": "when"}, "units": {"time": "datetime"}}))
    np.testing.assert_allclose(data.samples["thoracic"].t, [0.0, 0.1, 0.2], atol=1e-6)
    assert data.stats["thoracic"].errors == {"NaN": 1}
