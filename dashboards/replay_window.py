"""The replay viewer: the dashboard view plus play/pause, speed, a seek bar with event
markers and previous/next event, over a ReplayModel (the session replayed once up front).

A 30 fps QTimer advances session time by speed x the wall time that really passed, so a
slow frame never slows the replay down; each tick is one array slice and one redraw.
"""

from __future__ import annotations

import time

import pyqtgraph as pg
from pyqtgraph.Qt import QtCore, QtWidgets

from dashboards.model import ReplayModel
from dashboards.view import BACKGROUND, INK, MUTED, DashboardView, clock_axis

SPEEDS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
FRAME_MS = 33  # ~30 fps
MARK_STYLE = {  # event -> (symbol, colour, height on the seek bar)
    "slouch_start": ("t1", "#7c3aed", 0.55), "slouch_end": ("t1", "#a78bfa", 0.55),
    "alert": ("t", "#dc2626", 0.88), "gap": ("s", "#6b7280", 0.12), "reconnect": ("s", "#16a34a", 0.12),
    "lift": ("o", "#0891b2", 0.72), "lift_cue": ("t", "#ea580c", 0.72),  # issue 13
    "sitting_break_due": ("d", "#ca8a04", 0.35),
    "posture_reset": ("d", "#0891b2", 0.3),
}


def check_speed(speed: float) -> float:
    if not SPEEDS[0] <= speed <= SPEEDS[-1]:
        raise ValueError(f"dashboard speed must be within {SPEEDS[0]:g}x to {SPEEDS[-1]:g}x, got {speed:g}")
    return float(speed)


class SeekBar(pg.PlotWidget):
    """The whole session at a glance: episodes, alerts, gaps; click or drag to seek."""

    seek_requested = QtCore.Signal(float)

    def __init__(self, model: ReplayModel):
        super().__init__(background=BACKGROUND, axisItems={"bottom": clock_axis()})
        self.setFixedHeight(78)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        plot = self.getPlotItem()
        plot.setMenuEnabled(False)
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        plot.hideAxis("left")
        plot.getAxis("bottom").setPen(pg.mkPen(MUTED))
        plot.getAxis("bottom").setTextPen(pg.mkPen(INK))
        plot.setXRange(0, max(model.duration_s, 1.0), padding=0.01)
        plot.setYRange(0, 1, padding=0)
        episodes = [(s, e) for s, e in _episodes(model.events, model.duration_s)]
        if episodes:
            plot.addItem(pg.BarGraphItem(x0=[s for s, _ in episodes], x1=[e for _, e in episodes],
                                         y0=0.3, height=0.4, brush=(124, 58, 237, 90), pen=None))
        for kind, (symbol, colour, y) in MARK_STYLE.items():
            ts = [m["t"] for m in model.marks if m["event"] == kind]
            if ts:
                plot.addItem(pg.ScatterPlotItem(ts, [y] * len(ts), symbol=symbol, size=10,
                                                brush=pg.mkBrush(colour), pen=None))
        self.cursor = pg.InfiniteLine(0.0, movable=True, pen=pg.mkPen(INK, width=2),
                                      hoverPen=pg.mkPen("#2563eb", width=3),
                                      bounds=(0, model.duration_s))
        plot.addItem(self.cursor)
        self.cursor.sigDragged.connect(lambda line: self.seek_requested.emit(float(line.value())))
        plot.scene().sigMouseClicked.connect(self._clicked)

    def _clicked(self, event) -> None:
        point = self.getPlotItem().vb.mapSceneToView(event.scenePos())
        self.seek_requested.emit(float(point.x()))

    def show_time(self, t: float) -> None:
        if not self.cursor.moving:
            self.cursor.setValue(t)


def _episodes(events, duration_s):
    starts = {e["start_s"]: None for e in events if e["event"] == "slouch_start"}
    for e in events:
        if e["event"] == "slouch_end" and e["start_s"] in starts:
            starts[e["start_s"]] = e["end_s"]
    return [(s, duration_s if e is None else e) for s, e in starts.items()]


class ReplayDashboard(QtWidgets.QMainWindow):
    """Keyboard: space play/pause, left/right previous/next event, +/- speed."""

    def __init__(self, model: ReplayModel, speed: float = 1.0, from_s: float = 0.0,
                 line_width: float = 1.0):
        super().__init__()
        self.model = model
        self.t = 0.0
        self.speed = check_speed(speed)
        self.playing = False
        self._last_tick = time.monotonic()
        self._dirty = True
        self.setWindowTitle(f"imu replay: {model.path.name}")
        central = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 6)
        self.view = DashboardView(line_width=line_width, thresholds=model.analysis.thresholds)
        layout.addWidget(self.view, stretch=1)
        self.seek_bar = SeekBar(model)
        self.seek_bar.seek_requested.connect(self.seek)
        layout.addWidget(self.seek_bar)
        layout.addLayout(self._controls())
        self.setCentralWidget(central)
        central.setStyleSheet(f"background: {BACKGROUND}; color: {INK};")
        for child in self.findChildren(QtWidgets.QWidget):  # keys go to the window, always
            child.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self.timer = QtCore.QTimer(self)
        self.timer.timeout.connect(self._tick)
        self.timer.start(FRAME_MS)
        self.seek(from_s)

    def _controls(self) -> QtWidgets.QHBoxLayout:
        row = QtWidgets.QHBoxLayout()
        row.setContentsMargins(8, 0, 8, 0)
        self.play_button = QtWidgets.QPushButton("▶ Play")
        self.play_button.clicked.connect(self.toggle)
        previous = QtWidgets.QPushButton("← Previous event")
        previous.clicked.connect(self.previous_event)
        following = QtWidgets.QPushButton("Next event →")
        following.clicked.connect(self.next_event)
        self.speed_box = QtWidgets.QComboBox()
        self.speed_box.addItems([f"{s:g}x" for s in SPEEDS])
        self.speed_box.setCurrentIndex(self._speed_index())
        self.speed_box.currentIndexChanged.connect(lambda i: self.set_speed(SPEEDS[i]))
        hint = QtWidgets.QLabel("space: play/pause   ←/→: previous/next event   +/−: speed")
        hint.setStyleSheet(f"color: {MUTED};")
        for widget in (self.play_button, previous, following):
            row.addWidget(widget)
        row.addWidget(QtWidgets.QLabel("speed"))
        row.addWidget(self.speed_box)
        row.addStretch(1)
        row.addWidget(hint)
        return row

    # --- control -------------------------------------------------------------------------
    def play(self) -> None:
        if self.t >= self.model.duration_s:
            self.t = 0.0
        self.playing = True
        self._last_tick = time.monotonic()
        self.play_button.setText("❚❚ Pause")

    def pause(self) -> None:
        self.playing = False
        self.play_button.setText("▶ Play")

    def toggle(self) -> None:
        self.pause() if self.playing else self.play()

    def seek(self, t: float) -> None:
        self.t = min(max(float(t), 0.0), self.model.duration_s)
        self._last_tick = time.monotonic()
        self.render()

    def set_speed(self, speed: float) -> None:
        self.speed = check_speed(speed)
        if self.speed_box.currentIndex() != self._speed_index():
            self.speed_box.setCurrentIndex(self._speed_index())

    def faster(self) -> None:
        self.set_speed(SPEEDS[min(self._speed_index() + 1, len(SPEEDS) - 1)])

    def slower(self) -> None:
        self.set_speed(SPEEDS[max(self._speed_index() - 1, 0)])

    def previous_event(self) -> None:
        t = self.model.previous_mark(self.t)
        self.seek(0.0 if t is None else t)

    def next_event(self) -> None:
        t = self.model.next_mark(self.t)
        if t is not None:
            self.seek(t)

    def _speed_index(self) -> int:
        return min(range(len(SPEEDS)), key=lambda i: abs(SPEEDS[i] - self.speed))

    def keyPressEvent(self, event) -> None:
        key, keys = event.key(), QtCore.Qt.Key
        actions = {keys.Key_Space: self.toggle, keys.Key_Left: self.previous_event,
                   keys.Key_Right: self.next_event, keys.Key_Plus: self.faster,
                   keys.Key_Equal: self.faster, keys.Key_Minus: self.slower}
        if key in actions:
            actions[key]()
        else:
            super().keyPressEvent(event)

    # --- drawing -------------------------------------------------------------------------
    @property
    def displayed_t(self) -> float | None:
        """Session time of the frame on screen."""
        return None if self.view.frame is None else self.view.frame.t

    def _tick(self) -> None:
        now = time.monotonic()
        if self.playing:
            self.t = min(self.t + (now - self._last_tick) * self.speed, self.model.duration_s)
            if self.t >= self.model.duration_s:
                self.pause()
            self.render()
        self._last_tick = now

    def render(self) -> None:
        self.view.show_frame(self.model.frame_at(self.t))
        self.seek_bar.show_time(self.t)

    def closeEvent(self, event) -> None:
        self.timer.stop()
        super().closeEvent(event)
