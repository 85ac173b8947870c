"""CSV interchange: round trip, dropped rows with their reasons, labels, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from imu.recording.csv_import import InterchangeError, read_interchange_csv, write_interchange_csv
from imu.samples import TimedSamples

HEADER = "time_s,sensor,qw,qx,qy,qz,ax,ay,az,gx,gy,gz,label\n"


def _samples(n=500, rate=100.0, acc=True, phase=0.0):
    t = np.arange(n) / rate + phase
    angle = np.radians(25) * np.sin(t)
    quat = np.stack([np.cos(angle / 2), np.sin(angle / 2), 0 * t, 0 * t], -1)
    a = np.stack([np.sin(angle), 0 * t, np.cos(angle)], -1) if acc else None
    g = np.stack([np.degrees(np.cos(t)) * 0.4, 0 * t, 0 * t], -1) if acc else None
    return TimedSamples(t, quat, a, g)


def test_round_trip(tmp_path):
    samples = {"thoracic": _samples(), "lumbar": _samples(phase=0.005), "sacral": _samples(acc=False, phase=0.002)}
    labels = [(0.5, 1.5, "sitting"), (2.0, 3.005, "bending")]
    path = tmp_path / "x.csv"
    write_interchange_csv(path, samples, labels)
    data = read_interchange_csv(path)
    assert set(data.samples) == set(samples)
    for location, truth in samples.items():
        got = data.samples[location]
        assert np.allclose(got.t, truth.t, atol=1e-9) and np.allclose(got.quat, truth.quat, atol=1e-9)
        if truth.acc is None:
            assert got.acc is None and got.gyro is None  # empty cells for this sensor only
        else:
            assert np.allclose(got.acc, truth.acc) and np.allclose(got.gyro, truth.gyro)
        assert data.stats[location].samples == len(truth) and data.stats[location].bad_samples == 0
    # label runs merged across the three sensors: each run spans the earliest to the latest sample
    assert data.labels == [(0.5, 1.5, "sitting"), (2.0, 3.005, "bending")]
    assert data.dropped_rows == 0


def test_damaged_rows_are_dropped_and_counted(tmp_path):
    rows = [
        "0.00,lumbar,1,0,0,0,0,0,1,0,0,0,sit",
        "0.01,lumbar,1.02,0,0,0,0,0,1,0,0,0,sit",  # 2 % off: kept, renormalised
        "0.02,lumbar,nan,0,0,0,0,0,1,0,0,0,sit",  # NaN
        "0.03,lumbar,abc,0,0,0,0,0,1,0,0,0,sit",  # non-numeric
        "0.04,lumbar,0.5,0,0,0,0,0,1,0,0,0,sit",  # non-unit quaternion
        "0.05,neck,1,0,0,0,0,0,1,0,0,0,sit",  # unknown sensor
        "0.01,lumbar,1,0,0,0,0,0,1,0,0,0,sit",  # time going backwards
        "0.01,lumbar,1,0,0,0,0,0,1,0,0,0,sit",  # backwards again (max is 0.01 -> duplicate? no: kept max is 0.01)
        "0.06,lumbar,0,1,0,0,,,,,,,sit",  # no acc/gyro values: kept with NaN there
        "0.07, Thoracic ,1,0,0,0,0,0,1,0,0,0,",  # spaces and case are tolerated
        "x,lumbar,1,0,0,0,0,0,1,0,0,0,",  # non-numeric time
        "0.08,lumbar,1,0,0,0,0,0,1,0,0,0,0,0,0",  # too many fields
    ]
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n")
    data = read_interchange_csv(path)
    lumbar = data.samples["lumbar"]
    assert np.allclose(lumbar.t, [0.0, 0.01, 0.06])
    assert np.allclose(lumbar.quat[1], [1, 0, 0, 0])  # renormalised
    assert np.isnan(lumbar.acc[2]).all() and np.allclose(lumbar.acc[0], [0, 0, 1])
    assert data.stats["lumbar"].errors == {"NaN": 1, "non-numeric": 2, "non-unit quaternion": 1,
                                           "duplicate time": 2}
    assert data.stats["lumbar"].bad_samples == 6 and data.stats["lumbar"].samples == 3
    assert len(data.samples["thoracic"]) == 1
    assert data.rejected.errors == {"unknown sensor 'neck'": 1, "wrong number of fields": 1}
    assert data.dropped_rows == 8
    assert data.labels == [(0.0, 0.06, "sit")]


def test_time_going_backwards(tmp_path):
    path = tmp_path / "back.csv"
    path.write_text("time_s,sensor,qw,qx,qy,qz\n" + "".join(
        f"{t},sacral,1,0,0,0\n" for t in (0.0, 0.1, 0.2, 0.15, 0.05, 0.3)))
    data = read_interchange_csv(path)
    assert np.allclose(data.samples["sacral"].t, [0.0, 0.1, 0.2, 0.3])
    assert data.stats["sacral"].errors == {"time going backwards": 2}
    assert data.samples["sacral"].acc is None and data.labels == []


def test_labels_merge_across_sensors_but_not_across_gaps(tmp_path):
    lines = []
    for k in range(40):
        t = k * 0.1
        lines.append(f"{t:.3f},thoracic,1,0,0,0,{'walk' if k < 20 else ''}")
        lines.append(f"{t + 0.05:.3f},lumbar,1,0,0,0,{'walk' if k < 20 or k >= 30 else ''}")
    path = tmp_path / "labels.csv"
    path.write_text("time_s,sensor,qw,qx,qy,qz,label\n" + "\n".join(lines) + "\n")
    assert read_interchange_csv(path).labels == [(0.0, 1.95, "walk"), (3.05, 3.95, "walk")]


@pytest.mark.parametrize("content, message", [
    (b"", "empty file"),
    (b"\n  \n", "empty file"),
    (b"\x00\x01\x02binary\xff" * 20, "binary file"),
    (b"\xff\xfe\xfa not utf8", "not UTF-8"),
    (b"time_s,sensor,qw,qx,qy\n0,lumbar,1,0,0\n", "missing required column(s) qz"),
    (b"0.0,lumbar,1,0,0,0\n0.01,lumbar,1,0,0,0\n", "missing required column(s) time_s, sensor"),
    (b"time_s,sensor,qw,qx,qy,qz,ax,ay\n", "has ax, ay but not az"),
    (b"time_s,sensor,qw,qx,qy,qz,qz\n", "duplicated column(s) qz"),
    (b"time_s,sensor,qw,qx,qy,qz\n0,neck,1,0,0,0\n", "no rows of a known sensor"),
])
def test_bad_files_give_one_clear_error(tmp_path, content, message):
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    with pytest.raises(InterchangeError) as info:
        read_interchange_csv(path)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert isinstance(info.value, ValueError)


def test_missing_file(tmp_path):
    with pytest.raises(InterchangeError, match="no such file"):
        read_interchange_csv(tmp_path / "nope.csv")
