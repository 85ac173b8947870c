"""`imu live` end to end over the virtual radio: bleak, Bumble, simulated sensors with the
real GATT profile, a real session file, and the report made from it."""

from __future__ import annotations

import io
import json
from collections import defaultdict

import numpy as np
import pytest

from imu.analysis import analyze, open_source
from imu.live import LiveOptions, LiveSession
from imu.people import get_profile
from imu.protocols import imu_fw
from imu.recording.reader import SessionReader
from imu.sim.peripherals import Faults

PIPELINE = ("slouch_start", "slouch_end", "alert")


def seq(payload: bytes) -> int:
    return int.from_bytes(payload[2:4], "little")


def recorded(path) -> dict[str, list[tuple[float, bytes]]]:
    out = defaultdict(list)
    with SessionReader(path) as reader:
        for item in reader.iter_notifications():
            if hasattr(item, "payload"):
                out[item.sensor].append((item.host_time_s, item.payload))
    return out


def expected_alerts(episodes, thr_after=30.0, thr_repeat=60.0):
    due = []
    for ep in episodes:
        t = ep["start_s"] + thr_after
        while t < ep["end_s"]:
            due.append((ep["start_s"], t))
            t += thr_repeat
    return due


def same_events(a: list[dict], b: list[dict]) -> bool:
    if [e["event"] for e in a] != [e["event"] for e in b]:
        return False
    for x, y in zip(a, b):
        for key in ("t", "start_s", "end_s", "peak_deg", "value_deg", "held_s"):
            if key in x or key in y:
                if x.get(key) is None or y.get(key) is None or abs(x[key] - y[key]) > 1e-6:
                    return False
        if x.get("reason") != y.get("reason"):
            return False
    return True


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("IMU_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


async def test_smoke_three_sensors_events_recording_buzz_and_report(tmp_path, home):
    out = io.StringIO()
    path = tmp_path / "smoke.imu"
    session = LiveSession(LiveOptions(virtual="smoke", speed=8, output=str(path), jsonl=True,
                                      sacral=True, stdout=out, desktop=True))
    assert await session.run() == 0
    rig = session.rig
    assert {loc: rig.rates_hz[loc] for loc in rig.sensors} == {"thoracic": 100, "lumbar": 100, "sacral": 60}

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert all("event" in e and "t" in e for e in lines)
    calib = [e for e in lines if e["event"] == "calibration"]
    assert calib and calib[-1]["ok"] and calib[-1]["quality"] in ("good", "fair")

    # counted episodes and alerts match the scenario's truth (start within 2 s)
    truth = rig.sim.truth.episodes
    starts = [e for e in lines if e["event"] == "slouch_start"]
    assert len(starts) == len(truth) >= 1
    for got, want in zip(starts, truth):
        assert abs(got["start_s"] - want["start_s"]) < 2.0
    alerts = [e for e in lines if e["event"] == "alert"]
    due = expected_alerts(truth)
    assert len(alerts) == len(due) >= 1
    for got, (start, t) in zip(alerts, due):
        assert abs(got["t"] - t) < 2.0 and "thoracic flexion" in got["reason"]

    # every notification a peripheral sent is in the file, none twice
    got = recorded(path)
    for loc, sensor in rig.sensors.items():
        sent = [seq(p) for _, p in sensor.sent]
        assert [seq(p) for _, p in got[loc]] == sent, loc
        samples = [p for _, p in sensor.sent if p[0] & 0x0F == imu_fw.TYPE_SAMPLES]
        assert sensor.missed == 0 and len(samples) == len(sensor.source)  # from time 0 to the end

    # the buzz written on the alert reached the thoracic sensor; its samples are marked
    thoracic = rig.sensors["thoracic"]
    assert len(thoracic.buzzes) == len(alerts)
    # Each buzz belongs to its alert: it arrives after the alert's sample and before the next
    # alert is due. How long after is the machine's latency, which at 8x speed on a loaded CI
    # machine can stretch past a session second (125 ms of wall time), so it is not asserted.
    alert_times = [e["t"] for e in alerts] + [float("inf")]
    for (buzz_t, _, _), t, next_t in zip(thoracic.buzzes, alert_times, alert_times[1:]):
        assert t - 0.1 <= buzz_t < min(next_t, t + 30.0)
    decoder = imu_fw.StreamDecoder()
    times = np.array([t for t, _ in got["thoracic"]])
    block = decoder.decode([p for _, p in got["thoracic"]], times)
    codes = [code for _, _, code, _ in decoder.events]
    assert codes[:2] == [imu_fw.EVENT_MOTOR_ON, imu_fw.EVENT_MOTOR_OFF]
    on_t, off_t = decoder.events[0][0], decoder.events[1][0]
    vibrating = block.host_time_s[block.vibrating]
    assert len(vibrating) > 0 and vibrating.min() >= on_t - 0.05 and vibrating.max() <= off_t + 0.05

    # the JSONL stream equals the events `imu report` finds in the recorded file
    source = open_source(path)
    assert source.calibration is not None
    assert source.calibration.applies_from_s == pytest.approx(calib[-1]["applies_from_s"])
    analysis = analyze(source)
    report_events = [e for e in analysis.events if e["event"] in PIPELINE]
    assert same_events([e for e in lines if e["event"] in PIPELINE], report_events)
    summary = json.loads(open(session.report_paths["summary.json"]).read())
    assert summary["slouch"]["count"] == len(truth)

    # metadata, recorded events and the profile
    with SessionReader(path) as reader:
        meta = reader.metadata
        kinds = [e.kind for e in reader.events()]
        cals = reader.calibrations()
    assert meta["thresholds"]["slouch_enter_deg"] == 15.0 and meta["software"].startswith("imu ")
    assert kinds.count("alert") == len(alerts) and kinds.count("slouch_start") == len(truth)
    assert cals[-1].accepted
    assert get_profile().calibration()["applies_from_s"] == calib[-1]["applies_from_s"]
    # desktop notifications degrade quietly on a machine without a notification service
    desktop = [s for s in session.alert_sinks if type(s).__name__ == "DesktopAlertSink"]
    assert desktop and desktop[0].disabled


async def test_forced_disconnect_reconnects_marks_gap_and_loses_nothing_else(tmp_path, home):
    out = io.StringIO()
    path = tmp_path / "fault.imu"
    session = LiveSession(LiveOptions(
        # 10x, not 15x: two virtual sensors ran up to 1.1 s late at 15x on the development
        # machine (0.3 s at 10x), and a host running late has frames sent before 45 s still
        # untaken when the link drops, which the in-flight check below counts as lost early
        virtual="smoke", speed=10, output=str(path), jsonl=True, stdout=out,
        duration=52.0, report=False, faults={"lumbar": Faults(disconnect_at=[45.0])}))
    assert await session.run() == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    gaps = [e for e in lines if e["event"] == "gap"]
    back = [e for e in lines if e["event"] == "reconnect"]
    assert [e["sensor"] for e in gaps] == ["lumbar"] and [e["sensor"] for e in back] == ["lumbar"]
    assert 45.0 <= gaps[0]["t"] < 46.0 and back[0]["t"] > gaps[0]["t"]
    with SessionReader(path) as reader:
        link = [(e.sensor, e.kind) for e in reader.link_events()]
        kinds = [e.kind for e in reader.events()]
    assert [k for s, k in link if s == "lumbar"][:3] == ["connected", "disconnected", "connected"]
    assert "gap" in kinds and "reconnect" in kinds
    got = recorded(path)
    thoracic = session.rig.sensors["thoracic"]
    assert [seq(p) for _, p in got["thoracic"]] == [seq(p) for _, p in thoracic.sent]
    lumbar_sent = session.rig.sensors["lumbar"].sent
    kept = {seq(p) for _, p in got["lumbar"]}
    assert [seq(p) for _, p in lumbar_sent if seq(p) in kept] == [seq(p) for _, p in got["lumbar"]]
    in_flight = [t for t, p in lumbar_sent if seq(p) not in kept]
    assert all(45.0 <= t <= 45.5 for t in in_flight)  # only what was on the air as the link dropped
    for loc in ("thoracic",):
        assert np.all(np.diff([seq(p) for _, p in got[loc]]) == 1)  # nothing lost
    lumbar = np.diff([seq(p) for _, p in got["lumbar"]])
    assert (lumbar > 1).sum() == 1  # the gap, counted by sequence number
    assert analyze(open_source(path)).sensors["lumbar"].stats.lost_samples > 0


async def test_carry_keys_mark_annotations_the_report_grades(tmp_path, home):
    """A key typed in `imu live` (f, then Enter to end) records a carry annotation."""
    import asyncio
    import os

    read_fd, write_fd = os.pipe()
    keys = os.fdopen(read_fd, "r")
    path = tmp_path / "carry.imu"
    session = LiveSession(LiveOptions(virtual="smoke", speed=10.0, output=str(path), duration=60.0,
                                      desktop=False, report=False, stdout=io.StringIO(), stdin=keys))
    loop = asyncio.get_running_loop()
    typed = {}

    def type_line(text: str) -> None:
        typed[text] = session.clock.now()
        os.write(write_fd, text.encode())

    loop.call_later(3.0, type_line, "f\n")
    loop.call_later(4.0, type_line, "\n")
    try:
        assert await session.run() == 0
    finally:
        os.close(write_fd)
        keys.close()
    with SessionReader(path) as reader:
        marks = [(a.t_start, a.t_end, a.label, a.source) for a in reader.annotations()]
    assert len(marks) == 1
    start, end, label, source = marks[0]
    assert (label, source) == ("carry_farmer", "key")
    assert start == pytest.approx(typed["f\n"], abs=0.5) and end == pytest.approx(typed["\n"], abs=0.5)
    assert ("carry_farmer" in {a[2] for a in analyze(open_source(path)).annotations})
