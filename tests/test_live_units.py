"""The live loop's parts: guided calibration, profiles, status line, CLI flags, CSV rig."""

from __future__ import annotations

import argparse
import io
import json

import numpy as np
import pytest

from imu.core.pipeline import Pipeline
from imu.live import LiveOptions, LiveSession, add_live_arguments, options_from_args
from imu.live.calibration_guide import FAILED, CalibrationGuide
from imu.people import get_profile, imu_home
from imu.live.status import StatusLine, format_status
from imu.profile import Thresholds
from imu.sim import simulate, to_interchange_csv


@pytest.fixture(scope="module")
def smoke():
    return simulate("smoke", seed=1, loss_rate=0.0)


def guide_run(sim, thr, **kwargs):
    sensors = {loc: {"device": "imu-fw", "rate_hz": info["rate_hz"]} for loc, info in sim.sensors.items()}
    pipeline, guide = Pipeline(sensors, thr), CalibrationGuide(thr, **kwargs)
    said, attempts, accepted = list(guide.begin().say), [], None
    notes = sim.notifications
    for start in range(0, len(notes), 20):
        chunk = notes[start:start + 20]
        update = guide.update(pipeline.feed(chunk).grid, chunk[-1].host_time_s)
        said += update.say
        attempts += update.attempts
        accepted = accepted or update.accepted
        if not guide.active:
            break
    return guide, said, attempts, accepted


def test_guide_accepts_the_scenario_calibration(smoke):
    guide, said, attempts, accepted = guide_run(smoke, Thresholds())
    assert accepted is not None and accepted.report.ok and len(attempts) == 1
    assert "sit" in said[0] and "bend forward" in said[1]
    calib_end = max(e for s, e, label in smoke.truth.phases if label == "calibrate_bend")
    assert accepted.applies_from_s <= calib_end + 1.0 and len(accepted.report.bends) >= 2


def test_guide_refuses_with_reasons_and_gives_up_after_bounded_attempts(smoke):
    thr = Thresholds(still_max_spread_deg=0.01)  # nobody can be that still
    guide, said, attempts, accepted = guide_run(smoke, thr, max_attempts=2, neutral_timeout_s=10)
    assert accepted is None and guide.stage == FAILED and len(attempts) == 2
    assert all(not getattr(a, "report", a).ok for a in attempts)  # Calibration or its report
    refusals = [s for s in said if s.startswith("Calibration refused")]
    assert len(refusals) == 2 and "still" in refusals[0]
    assert any("try again" in s for s in said) and "no alerts" in said[-1]


def test_profiles_live_under_imu_home(tmp_path, monkeypatch):
    monkeypatch.setenv("IMU_HOME", str(tmp_path))
    assert imu_home() == tmp_path
    profile = get_profile("ana")
    assert profile.thresholds() == Thresholds() and profile.calibration() is None
    profile.save_thresholds(Thresholds(slouch_enter_deg=20.0))
    profile.save_calibration({"ok": True})
    assert get_profile("ana").thresholds().slouch_enter_deg == 20.0
    assert get_profile("ana").calibration() == {"ok": True}
    with pytest.raises(ValueError):
        get_profile("../evil")


STATUS = {"thoracic": {"connected": True, "rate_hz": 99.6, "loss_pct": 0.0, "battery_pct": 80},
          "lumbar": {"connected": False}}
ANGLES = {"thoracic_flexion": np.array([21.0]), "trunk_inclination": np.array([25.0]),
          "lumbar_inclination": np.array([-0.3])}


def test_status_line_fits_the_width_and_keeps_what_matters():
    wide = format_status(75.0, ANGLES, STATUS, 2, 60.0, width=200)
    assert wide.startswith("1:15 · SLOUCHING 0:15 · thoracic +21° lumb.incl +0° trunk +25°")
    assert "2 slouches" in wide and "T 100Hz 80%bat" in wide and "lumbar reconnecting" in wide
    for width in (79, 60, 40, 30):
        text = format_status(75.0, ANGLES, STATUS, 2, 60.0, width=width)
        assert len(text) <= width, (width, text)
        assert text.startswith("1:15 · SLOUCH") and "T +21°" in text
    assert "L✗" in format_status(75.0, ANGLES, STATUS, 2, 60.0, width=79)
    calibrating = format_status(3.0, {}, STATUS, 0, None, "calibrating: follow the instructions")
    assert calibrating.startswith("0:03 · calibrating") and "slouch" not in calibrating
    assert format_status(1199.97, ANGLES, {}, 0, None).startswith("19:59 · no slouch")


def test_status_line_tty_and_pipe():
    pipe = io.StringIO()
    line = StatusLine(pipe, every_s=30.0)
    for t in np.arange(0, 61, 0.5):
        line.show(float(t), lambda: "status")
    assert pipe.getvalue().count("status\n") == 3 and "\r" not in pipe.getvalue()  # 0, 30, 60 s
    off = io.StringIO()
    StatusLine(off, enabled=False).show(0.0, lambda: "x")
    assert off.getvalue() == ""


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_tty_redraws_in_place_and_colour_follows_no_color(monkeypatch):
    from imu.live.status import status_parts

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    tty = _Terminal()
    line = StatusLine(tty, min_wall_s=0.0, width=79)
    line.show(1.0, lambda: status_parts(1.0, ANGLES, STATUS, 0, None))
    line.message("[   0:01] an instruction")
    line.show(2.0, lambda: status_parts(2.0, ANGLES, STATUS, 0, None))
    line.close()
    out = tty.getvalue()
    assert out.startswith("\r") and "\x1b[K" in out and "\n" not in out.replace(
        "an instruction\n", "")  # one line, rewritten in place; only the message ends a line
    assert "\x1b[32m" in out  # coloured on a terminal
    monkeypatch.setenv("NO_COLOR", "1")
    plain = _Terminal()
    StatusLine(plain, min_wall_s=0.0, width=79).show(1.0, lambda: status_parts(1.0, ANGLES, STATUS, 0, None))
    assert "\x1b[3" not in plain.getvalue() and "\x1b[1" not in plain.getvalue()


def test_cli_flags_map_to_options():
    parser = add_live_arguments(argparse.ArgumentParser())
    o = options_from_args(parser.parse_args(["--virtual", "--speed", "10", "--jsonl", "--no-buzz"]))
    assert o.virtual == "" and o.speed == 10 and o.jsonl and not o.buzz and o.desktop
    o = options_from_args(parser.parse_args(["--virtual", "smoke", "--duration", "60", "--profile", "ana"]))
    assert (o.virtual, o.duration, o.profile) == ("smoke", 60, "ana")
    assert options_from_args(parser.parse_args([])).virtual is None


async def test_virtual_csv_streams_its_samples_without_labels(tmp_path, monkeypatch, smoke):
    monkeypatch.setenv("IMU_HOME", str(tmp_path / "home"))
    csv = tmp_path / "smoke.csv"
    to_interchange_csv(smoke, csv)
    out = io.StringIO()
    session = LiveSession(LiveOptions(virtual=str(csv), speed=15, output=str(tmp_path / "csv.imu"),
                                      jsonl=True, stdout=out, duration=32.0, report=False))
    assert await session.run() == 0
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["ok"] for e in events if e["event"] == "calibration"][-1]
    from imu.recording.reader import SessionReader

    with SessionReader(tmp_path / "csv.imu") as reader:
        blocks, stats, _ = reader.decode()
        assert not reader.annotations()  # CSV labels are not transmitted
        assert reader.metadata["virtual"] == str(csv)
    truth = smoke.sensor_samples("thoracic")
    got = blocks["thoracic"]
    n = min(len(got), 500)
    assert n > 400 and stats["thoracic"].lost_samples == 0
    np.testing.assert_allclose(got.device_time_s[:n], truth["t"][:n], atol=1e-4)  # one dt per frame
    np.testing.assert_allclose(np.abs(np.sum(got.quat[:n] * truth["quat"][:n], axis=1)), 1.0, atol=1e-3)


def test_library_warnings_do_not_break_the_status_line():
    import logging

    from imu.live.outputs import _LineLogHandler

    tty = _Terminal()
    line = StatusLine(tty, min_wall_s=0.0, width=79)
    handler = _LineLogHandler(line.message)
    logger = logging.getLogger("some.ble.library")
    logger.addHandler(handler)
    try:
        line.show(1.0, lambda: "0:01 · no slouch")
        logger.warning("link\nlost %s", "briefly")
        logger.info("not shown")
    finally:
        logger.removeHandler(handler)
    out = tty.getvalue()
    assert "\r\x1b[K imu: warning from some.ble.library: link lost briefly\n".replace(" imu", "imu") in out
    assert "not shown" not in out


async def test_the_virtual_sensors_start_only_once_the_slow_set_up_is_done(tmp_path, monkeypatch):
    """Set-up (the guides import the mobility test and its report section) runs before the
    virtual sensors' clock starts: a second spent after it, at --speed 10, left them ten
    session seconds behind, and the session's times stretched."""
    from imu.live import virtual

    order = []
    make_guides, release = LiveSession._make_guides, virtual.GatedClock.release
    monkeypatch.setattr(LiveSession, "_make_guides", lambda self: order.append("guides") or make_guides(self))
    monkeypatch.setattr(virtual.GatedClock, "release", lambda self: order.append("release") or release(self))
    monkeypatch.setenv("IMU_HOME", str(tmp_path / "home"))
    session = LiveSession(LiveOptions(virtual="smoke", speed=10, output=str(tmp_path / "s.imu"),
                                      stdout=io.StringIO(), duration=2.0, report=False, desktop=False))
    assert await session.run() == 0
    assert order == ["guides", "release"]


def test_the_live_session_does_not_load_the_report_figures():
    """matplotlib (about a second to import) is for reports; the live loop never draws."""
    import subprocess
    import sys

    code = ("import sys, imu.live.session, imu.live.mobility_test, imu.live.reset_routine; "
            "print('matplotlib' in sys.modules)")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "False"
