"""`imu live` as a real process: killed with SIGKILL, stopped with SIGINT, and on a machine
without Bluetooth."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from imu.analysis import analyze, open_source
from imu.recording.reader import SessionReader

SPEED = 10.0
NO_SYSTEM_BUS = not (os.path.exists("/run/dbus/system_bus_socket")
                     or os.path.exists("/var/run/dbus/system_bus_socket"))


def start(tmp_path, *args):
    env = dict(os.environ, IMU_HOME=str(tmp_path / "home"), PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "imu.live", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)


def read_until(proc, kind, timeout_s=60.0):
    """JSONL events up to and including the first of `kind`, and the wall time it was read."""
    events, deadline = [], time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        events.append(json.loads(line))
        if events[-1]["event"] == kind:
            return events, time.monotonic()
    proc.kill()
    raise AssertionError(f"no {kind} event; stderr: {proc.stderr.read()}")


def test_sigkill_leaves_a_file_that_reports_up_to_the_last_second(tmp_path):
    path = tmp_path / "killed.imu"
    proc = start(tmp_path, "--virtual", "smoke", "--speed", str(SPEED), "--jsonl", "--no-desktop",
                 "-o", str(path))
    events, seen_wall = read_until(proc, "slouch_start")
    time.sleep(1.5)
    killed_wall = time.monotonic()
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    proc.stdout.close()
    proc.stderr.close()
    session_t_at_kill = events[-1]["t"] + (killed_wall - seen_wall) * SPEED
    source = open_source(path)
    assert source.calibration is not None  # the accepted calibration was committed
    analysis = analyze(source)
    # at most the last second (of wall time, i.e. SPEED session seconds) is missing
    assert analysis.duration_s >= session_t_at_kill - 1.0 * SPEED
    starts = [e for e in analysis.events if e["event"] == "slouch_start"]
    assert starts and starts[0]["start_s"] == pytest.approx(events[-1]["start_s"])
    with SessionReader(path) as reader:
        assert not reader.integrity.closed_cleanly


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_ends_cleanly_and_writes_the_report(tmp_path, stop_signal):
    """Ctrl-C and SIGTERM (a service manager, `kill`) both close the recording and report it."""
    path = tmp_path / "stopped.imu"
    proc = start(tmp_path, "--virtual", "smoke", "--speed", str(SPEED), "--jsonl", "--no-desktop",
                 "-o", str(path))
    events, _ = read_until(proc, "calibration")
    assert events[-1]["ok"]
    proc.send_signal(stop_signal)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    with SessionReader(path) as reader:
        assert reader.integrity.closed_cleanly
        assert [c.accepted for c in reader.calibrations()][-1]
    assert (tmp_path / "stopped.imu.report" / "summary.json").exists()


@pytest.mark.skipif(not NO_SYSTEM_BUS, reason="this machine may have Bluetooth")
def test_real_only_without_bluetooth_gives_one_line_suggesting_virtual(tmp_path):
    proc = start(tmp_path, "--duration", "1", "--real-only")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "--virtual" in lines[0] and "Bluetooth" in lines[0], err
    assert not list(tmp_path.glob("*.imu"))  # nothing recorded


@pytest.mark.skipif(not NO_SYSTEM_BUS, reason="this machine may have Bluetooth")
def test_without_bluetooth_live_falls_back_to_virtual_sensors(tmp_path):
    """What the README promises: one line saying so, then a virtual session, recorded."""
    proc = start(tmp_path, "--duration", "30", "--no-desktop", "--no-report", "-q")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    notes = [line for line in err.splitlines() if line.startswith("imu: no real sensors")]
    assert len(notes) == 1 and "virtual desk session at 10x" in notes[0], err
    assert "Bluetooth" in notes[0]
    recorded = list(tmp_path.glob("*.imu"))
    assert len(recorded) == 1
    with SessionReader(recorded[0]) as reader:
        assert reader.metadata["source"] == "virtual"


@pytest.mark.skipif(not NO_SYSTEM_BUS, reason="this machine may have Bluetooth")
def test_no_bluetooth_with_a_sensor_choice_file(tmp_path, capsys, monkeypatch):
    from imu.live import LiveOptions, run_live

    monkeypatch.setenv("IMU_HOME", str(tmp_path / "home"))
    choice = tmp_path / "sensors.json"
    choice.write_text(json.dumps({"thoracic": {"address": "F0:00:00:00:00:01", "profile": "imu-fw"},
                                  "lumbar": {"address": "F0:00:00:00:00:02", "profile": "imu-fw"}}))
    code = run_live(LiveOptions(sensors_file=str(choice), output=str(tmp_path / "x.imu"), wait_s=3))
    err = capsys.readouterr().err
    assert code != 0 and "--virtual" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "x.imu").exists()
