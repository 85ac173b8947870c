"""The live dashboard: fed pipeline steps from another thread, drawn on the GUI thread.

The producer (the BLE loop, or any thread) calls `put(update)` / `put_status(status)`: one
append to a thread-safe queue, never a wait on the GUI. A 30 fps QTimer drains everything
queued into the LiveModel and redraws once, so a slow frame only makes the next drain
larger; it never holds the data path.
"""

from __future__ import annotations

import queue

from pyqtgraph.Qt import QtCore, QtWidgets

from dashboards.model import LiveModel
from dashboards.replay_window import FRAME_MS
from dashboards.view import BACKGROUND, DashboardView
from imu.profile import Thresholds


class LiveDashboard(QtWidgets.QMainWindow):
    """A sink for imu.replay-style StepUpdates (step = put), or bare StepOutputs."""

    def __init__(self, thresholds: Thresholds | None = None, window_s: float = 60.0,
                 title: str = "imu live"):
        super().__init__()
        self.model = LiveModel(window_s, thresholds)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self.frames = 0  # redraws so far (benchmarks and tests read it)
        self.setWindowTitle(title)
        self.view = DashboardView(thresholds=thresholds)
        self.setCentralWidget(self.view)
        self.view.setStyleSheet(self.view.styleSheet() + f" QMainWindow {{ background: {BACKGROUND}; }}")
        self.timer = QtCore.QTimer(self)
        self.timer.timeout.connect(self.drain)
        self.timer.start(FRAME_MS)

    # --- producer side: any thread, never blocks -------------------------------------------
    def put(self, update) -> None:
        """A StepUpdate (out, events, status) or a bare StepOutput (events in out.events)."""
        self._queue.put(("step", update))

    step = put  # the sink protocol of imu.replay

    def put_status(self, status: dict[str, dict]) -> None:
        """Sensor status: location -> {connected, rate_hz, loss_pct, battery_pct, last_gap}."""
        self._queue.put(("status", status))

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    # --- GUI side --------------------------------------------------------------------------
    def drain(self) -> int:
        """Take everything queued, then redraw once; returns how many items were taken."""
        taken = 0
        while True:
            try:
                kind, item = self._queue.get_nowait()
            except queue.Empty:
                break
            taken += 1
            if kind == "status":
                self.model.status = item
            elif hasattr(item, "out"):
                self.model.add(item.out, item.events, item.status)
            else:
                self.model.add(item)
        if taken or self.view.frame is None:
            self.view.show_frame(self.model.frame())
            self.frames += 1
        return taken

    @property
    def displayed_t(self) -> float | None:
        return None if self.view.frame is None else self.view.frame.t

    def closeEvent(self, event) -> None:
        self.timer.stop()
        super().closeEvent(event)
