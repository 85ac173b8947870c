"""The `imu` command as a user runs it: real processes, real files, one-line errors."""

import json
import subprocess
import sys

import pytest

from imu.sim import simulate, to_interchange_csv
from imu.sim.write import write_simulated_session


def imu(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "imu.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def smoke_session(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    sim = simulate("smoke", None, seed=3)
    path = folder / "smoke.imu"
    write_simulated_session(sim, path, "smoke", 3)
    return sim, path


def assert_one_line_error(result, *words):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0]


def test_report_of_a_session_file(smoke_session, tmp_path):
    sim, path = smoke_session
    result = imu("report", path, "-o", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["schema"] == "imu.summary/1"
    assert summary["slouch"]["count"] == len(sim.truth.episodes)
    assert (tmp_path / "out" / "report.html").stat().st_size > 10_000


def test_report_of_a_csv_file_with_labels(tmp_path):
    sim = simulate("smoke", None, seed=4)
    csv = tmp_path / "worn.csv"
    to_interchange_csv(sim, csv)
    result = imu("report", csv, "-o", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["calibration"]["ok"]
    assert summary["slouch"]["count"] == len(sim.truth.episodes)


@pytest.mark.parametrize("content, words", [
    (None, ["no such file"]),
    (b"", ["empty"]),
    (bytes(range(256)) * 40, []),
    (b"time_s,sensor,qw,qx,qy\n0,thoracic,1,0,0\n", ["qz"]),
])
def test_bad_input_gives_one_line(tmp_path, content, words):
    suffix = ".csv" if content and content.startswith(b"time_s") else ".imu"
    path = tmp_path / f"input{suffix}"
    if content is not None:
        path.write_bytes(content)
    assert_one_line_error(imu("report", path, "-o", tmp_path / "out"), *words)


def test_session_cut_in_half_reports_what_is_intact(smoke_session, tmp_path):
    _, path = smoke_session
    data = path.read_bytes()
    cut = tmp_path / "cut.imu"
    cut.write_bytes(data[: len(data) // 2])
    result = imu("report", cut, "-o", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert 0 < summary["duration_s"] < 135
    assert any("damaged" in s for s in summary["not_measured"])
    last = summary["slouch"]["events"][-1]  # the file ends inside the slouch episode
    assert last["open"] and last["end_s"] == pytest.approx(summary["duration_s"], abs=0.02)


def test_decode_prints_fields(tmp_path):
    result = imu("decode", "--device", "witmotion",
                 "55 61 fc ff ef ff 11 08 00 00 00 00 00 00 98 ff 0d 00 f8 31")
    assert result.returncode == 0, result.stderr
    assert "70.2" in result.stdout
    assert_one_line_error(imu("decode", "--device", "imu-fw", "zz"))


def test_simulate_refuses_to_overwrite(smoke_session):
    _, path = smoke_session
    assert_one_line_error(imu("simulate", "smoke", "-o", path), "exists")


def test_csv_with_wall_clock_times_is_moved_to_the_session_timeline(tmp_path):
    """Epoch-stamped rows and a damaged far-future row (review finding: the grid tried to
    allocate terabytes)."""
    sim = simulate("smoke", None, seed=4)
    csv = tmp_path / "epoch.csv"
    to_interchange_csv(sim, csv)
    lines = csv.read_text().splitlines()
    fields = lines[1].split(",")
    shifted = [lines[0]] + [",".join([f"{float(ln.split(',')[0]) + 1.7e9:.6f}"] + ln.split(",")[1:])
                            for ln in lines[1:]]
    shifted.insert(500, ",".join(["1e308"] + fields[1:]))
    csv.write_text("\n".join(shifted) + "\n")
    result = imu("report", csv, "-o", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["duration_s"] < 140 and summary["slouch"]["count"] == len(sim.truth.episodes)
    assert any("started at" in s for s in summary["not_measured"])


@pytest.mark.parametrize("content, words", [
    ("[1, 2]", ["JSON object"]),
    ('{"slouch_enter_deg": "x"}', ["slouch_enter_deg"]),
    ('{"slouch_enter_dgs": 3}', ["unknown threshold"]),
])
def test_bad_thresholds_file_gives_one_line(smoke_session, tmp_path, content, words):
    _, path = smoke_session
    profile = tmp_path / "thr.json"
    profile.write_text(content)
    assert_one_line_error(imu("report", path, "-o", tmp_path / "out", "--thresholds", profile), *words)


def test_scan_lists_the_virtual_sensors_with_their_profile():
    result = imu("scan", "--virtual", "--timeout", "2", "-q")
    assert result.returncode == 0, result.stderr
    rows = sorted((r[3], r[4]) for r in (line.split() for line in result.stdout.splitlines()))
    assert rows == [("imu-fw", "IMU-LUMBAR-V"), ("imu-fw", "IMU-SACRAL-V"),
                                            ("imu-fw", "IMU-THORACIC-V")]
