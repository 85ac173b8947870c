"""pyqtgraph dashboards: the replay viewer, the live dashboard, and offscreen screenshots.

Public entry points (the CLI calls these):
- run_replay_dashboard(path, speed=1.0, from_s=0.0) -> exit code
- screenshot(path, png, at_s, size=(1600, 900)) -> Path
- LiveDashboard: put(step update) / put_status(dict) from any thread; drawn at 30 fps.
"""

from __future__ import annotations

import math
import os
from pathlib import Path


def _application():
    """The running QApplication, or a new one (offscreen when there is no display)."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if os.environ.get("QT_QPA_PLATFORM") == "offscreen":
        # offscreen has no window manager; its complaints about size hints are noise
        os.environ.setdefault("QT_LOGGING_RULES", "qt.qpa.*=false;default.warning=false")
    from pyqtgraph.Qt import QtWidgets

    return QtWidgets.QApplication.instance() or QtWidgets.QApplication([])


def _check_time(name: str, value: float, duration_s: float) -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and 0 <= value <= duration_s):
        raise ValueError(f"{name} must be a session time within 0..{duration_s:.1f} s, got {value!r}")
    return float(value)


def _dispose(window, app) -> None:
    """Delete the window while Qt still runs: left to interpreter shutdown, PySide6 and
    pyqtgraph objects can be torn down in an order that crashes the process at exit."""
    window.close()
    window.deleteLater()
    app.processEvents()
    app.sendPostedEvents(None, 0)


def open_replay_dashboard(path, speed: float = 1.0, from_s: float = 0.0, window_s: float = 60.0):
    """The replay viewer window for a session file (not shown yet); replays the session first."""
    from dashboards.model import ReplayModel
    from dashboards.replay_window import ReplayDashboard, check_speed

    check_speed(speed)
    _application()
    model = ReplayModel(path, window_s)
    return ReplayDashboard(model, speed, _check_time("from", from_s, model.duration_s))


def run_replay_dashboard(path, speed: float = 1.0, from_s: float = 0.0) -> int:
    """`imu replay --dashboard`: opens the viewer playing from `from_s`; returns the exit code."""
    from dashboards.qtcheck import check_display

    check_display()  # one line now, rather than Qt waiting or aborting later
    app = _application()
    window = open_replay_dashboard(path, speed, from_s)
    window.resize(1400, 860)
    window.show()
    window.play()
    return int(app.exec())


def screenshot(path, png, at_s: float, size: tuple[int, int] = (1600, 900)) -> Path:
    """`imu replay --screenshot PNG --at T`: the dashboard at session time T, rendered offscreen."""
    png = Path(png)
    if not png.parent.is_dir():
        raise ValueError(f"{png.parent}: no such directory for the screenshot")
    app = _application()
    from dashboards.model import ReplayModel
    from dashboards.replay_window import ReplayDashboard

    model = ReplayModel(path)
    # a still image can afford wider trace lines than a 30 fps window
    window = ReplayDashboard(model, 1.0, _check_time("--at", at_s, model.duration_s), line_width=2.0)
    window.resize(*size)
    window.show()
    app.processEvents()
    window.render()
    app.processEvents()
    saved = window.grab().save(str(png))
    _dispose(window, app)
    if not saved:
        raise ValueError(f"{png}: could not write the image (use a .png name)")
    return png


def __getattr__(name):  # LiveDashboard imports Qt: only when asked for
    if name == "LiveDashboard":
        from dashboards.live import LiveDashboard

        return LiveDashboard
    raise AttributeError(name)


__all__ = ["LiveDashboard", "open_replay_dashboard", "run_replay_dashboard", "screenshot"]
