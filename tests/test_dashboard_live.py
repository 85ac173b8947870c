"""Live dashboard fed from a producer thread: three sensors at 200 Hz, the queue drains."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading  # noqa: E402

import pytest  # noqa: E402

from dashboards import LiveDashboard  # noqa: E402
from imu.core.pipeline import Pipeline, StepOutput  # noqa: E402
from imu.replay import replay  # noqa: E402
from test_replay_support import session_file  # noqa: E402

RATES = {"thoracic": 200.0, "lumbar": 200.0, "sacral": 200.0}


@pytest.fixture(scope="module")
def fast_session(tmp_path_factory):
    path, sim = session_file(tmp_path_factory.mktemp("live"), "desk_sacral", 100.0, seed=1,
                             rates_hz=RATES)
    return path


def test_live_dashboard_keeps_up_with_three_sensors_at_200_hz(qtbot, fast_session):
    dashboard = LiveDashboard()
    qtbot.addWidget(dashboard)
    dashboard.resize(1200, 800)
    dashboard.show()
    outcome = {}

    def produce():  # the BLE loop's side: a real pipeline, paced at 10x, never waits on the GUI
        outcome["result"] = replay(fast_session, speed=10.0, from_s=65.0, sinks=[dashboard])

    producer = threading.Thread(target=produce, name="producer")
    producer.start()
    qtbot.waitUntil(lambda: not producer.is_alive(), timeout=60_000)
    producer.join()
    qtbot.waitUntil(lambda: dashboard.backlog == 0, timeout=5_000)
    qtbot.wait(100)  # one more timer tick draws what the last drain took
    result = outcome["result"]
    frame = dashboard.view.frame
    assert frame.t == pytest.approx(float(result.analysis.t[-1]))
    assert dashboard.frames >= 20  # drawn all along, not once at the end
    expected = sum(e["event"] == "slouch_start" for e in result.events)
    assert frame.slouch_count == expected
    assert f"Slouch events: {expected}" in dashboard.view.counters.text()
    assert set(frame.status) == set(RATES)
    assert frame.calibration["quality"] == result.analysis.calibration.quality
    for location, status in frame.status.items():
        assert status["connected"]
        # trailing two-second rate: a burst of simulated loss at the very end lowers it a little
        assert 150.0 < status["rate_hz"] < 210.0 and status["loss_pct"] < 5.0
    assert "lumbar_flexion" in frame.panels["sagittal"]  # sacral worn: true lumbar flexion
    assert frame.trace_t[0] == pytest.approx(65.0, abs=0.05)  # all it was sent, under a minute


def test_bare_step_outputs_and_status_from_another_thread(qtbot, fast_session):
    """The minimal live hook: StepOutputs from a pipeline, status dicts on the side."""
    from imu.analysis import find_calibration, open_source
    from imu.recording.reader import iter_notifications

    source = open_source(fast_session)
    dashboard = LiveDashboard()
    qtbot.addWidget(dashboard)
    pipeline = Pipeline(source.sensors, source.thresholds, find_calibration(source))
    last: list[StepOutput] = []

    def produce():
        chunk = []
        for item in iter_notifications(fast_session):
            chunk.append(item)
            if len(chunk) == 24:  # 40 ms of three sensors at 200 Hz
                out = pipeline.feed(chunk)
                dashboard.put(out)
                chunk = []
                if len(out.t):
                    last.append(out)
        dashboard.put_status({"thoracic": {"connected": False, "rate_hz": 0.0, "loss_pct": 0.0,
                                           "battery_pct": 40.0, "last_gap": (90.0, None)}})

    producer = threading.Thread(target=produce)
    producer.start()
    qtbot.waitUntil(lambda: not producer.is_alive(), timeout=60_000)
    qtbot.waitUntil(lambda: dashboard.backlog == 0, timeout=5_000)
    qtbot.wait(100)
    assert dashboard.view.frame.t == pytest.approx(float(last[-1].t[-1]))
    assert "since 90 s" in dashboard.view.sensors.text() and "battery 40 %" in dashboard.view.sensors.text()
    dashboard.close()
    assert not dashboard.timer.isActive()
