"""`imu live --dashboard` on virtual sensors: the real live loop (bleak over the virtual
radio) in its worker thread feeding the real dashboard on the Qt thread, offscreen."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from dashboards.live import LiveDashboard  # noqa: E402
from dashboards.live_runner import run_live_dashboard  # noqa: E402
from imu.analysis import analyze, open_source  # noqa: E402
from imu.live import LiveOptions  # noqa: E402


def test_live_dashboard_runs_on_virtual_sensors(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("IMU_HOME", str(tmp_path / "home"))
    dash = LiveDashboard()
    qtbot.addWidget(dash)
    out = tmp_path / "live.imu"
    options = LiveOptions(virtual="smoke", speed=10.0, output=str(out), duration=80.0,
                          desktop=False, report=False)
    assert run_live_dashboard(options, dash) == 0
    assert dash.frames > 10 and dash.model.steps > 100  # it drew while the session ran
    analysis = analyze(open_source(out))
    assert analysis.calibration.ok
    # what the dashboard counted is what the recording says
    assert dash.model.state.slouch_count == len(analysis.episodes) >= 1
    assert dash.model.state.alert_count == len(analysis.alerts)
