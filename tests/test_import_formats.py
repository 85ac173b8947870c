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
