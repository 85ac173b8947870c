"""The dashboard's display: draws a DashboardFrame, and nothing else (no data work here).

Traces over shaded exposure zones, slouch episodes shaded, a side-view posture figure,
counters, per-sensor status and an alert banner. `show(frame)` is cheap enough for 30 fps:
it only sets data on existing items.
"""

from __future__ import annotations

import math
from html import escape

import numpy as np
import pyqtgraph as pg
from pyqtgraph.Qt import QtCore, QtWidgets

from dashboards.model import DashboardFrame
from imu.core.exposure import zone_scheme
from imu.timefmt import clock
from imu.profile import Thresholds

BACKGROUND = "#fbfbfd"
INK = "#20242c"
MUTED = "#6b7280"
ANGLE_COLOURS = {
    "thoracic_flexion": "#2563eb", "lumbar_flexion": "#d97706", "lumbar_inclination": "#d97706",
    "trunk_inclination": "#059669", "thoracic_lateral_bend": "#2563eb",
    "lumbar_lateral_bend": "#d97706", "trunk_lateral_inclination": "#059669",
}
# by zone class (imu.core.exposure.ZONE_CLASSES), the report's colours
ZONE_BRUSHES = {"extension": "#e3e8f6", "neutral": "#e6f4ea", "intermediate": "#fff4d6",
                "awkward": "#fde2e1"}
EPISODE_COLOUR = (124, 58, 237)  # violet: hatched over the zones so it stays violet
SEGMENT_LENGTHS = {"pelvis": 0.16, "lumbar": 0.24, "thoracic": 0.34, "neck": 0.09}
HEAD_RADIUS = 0.075


def label_of(name: str) -> str:
    return name.replace("_", " ")


clock_text = clock  # elapsed session time as m:ss (imu.timefmt)
GRADES_SHOWN = 3  # the latest carry / run grades in the counters panel


def duration_text(seconds: float) -> str:
    return clock_text(round(seconds))


CLOCK_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)


class ClockAxis(pg.AxisItem):
    """A time axis labelled m:ss like the header clock, ticks on whole seconds and minutes."""

    def tickSpacing(self, minVal, maxVal, size):  # noqa: N802,N803 (Qt naming)
        span = max(maxVal - minVal, 1e-9)
        fit = max(2, int(size / 70))  # about one label per 70 pixels
        major = next((s for s in CLOCK_STEPS_S if span / s <= fit), CLOCK_STEPS_S[-1])
        minor = next((s for s in reversed(CLOCK_STEPS_S) if s < major and major % s == 0), major)
        return [(major, 0), (minor, 0)]

    def tickStrings(self, values, scale, spacing):  # noqa: N802 (Qt naming)
        return [clock_text(v * scale) if v >= 0 else "" for v in values]


def clock_axis() -> ClockAxis:
    axis = ClockAxis("bottom")
    axis.setPen(pg.mkPen(MUTED))
    axis.setTextPen(pg.mkPen(INK))
    return axis


def _style_plot(plot: pg.PlotItem, y_label: str) -> None:
    plot.setMenuEnabled(False)
    plot.setMouseEnabled(x=False, y=False)
    plot.hideButtons()
    plot.setLabel("left", y_label, color=INK)
    for axis in ("left", "bottom"):
        plot.getAxis(axis).setPen(pg.mkPen(MUTED))
        plot.getAxis(axis).setTextPen(pg.mkPen(INK))


def _band(low: float, high: float, colour: str) -> pg.LinearRegionItem:
    band = pg.LinearRegionItem((low, high), orientation="horizontal", movable=False,
                               brush=pg.mkBrush(colour), pen=pg.mkPen(None))
    band.setZValue(-20)
    return band


def _posture_points(segments: dict[str, float]) -> np.ndarray:
    """Side view, anterior to the right: each segment leans by its inclination from vertical."""
    points = [np.zeros(2)]
    for name in ("pelvis", "lumbar", "thoracic", "neck"):
        angle = math.radians(segments[name])
        points.append(points[-1] + SEGMENT_LENGTHS[name] * np.array([math.sin(angle), math.cos(angle)]))
    return np.array(points)


class DashboardView(QtWidgets.QWidget):
    """Everything on screen except the replay controls."""

    def __init__(self, parent=None, line_width: float = 1.0, thresholds: Thresholds | None = None):
        super().__init__(parent)
        self._thresholds = thresholds or Thresholds()
        self.line_width = line_width  # 1: hairlines, several times faster to draw than wider pens
        self.frame: DashboardFrame | None = None
        self._texts: dict[str, str] = {}
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 4)
        layout.setSpacing(6)

        self.banner = QtWidgets.QLabel()
        self.banner.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.banner.setMinimumHeight(44)
        layout.addWidget(self.banner)
        self.header = QtWidgets.QLabel()
        self.header.setTextFormat(QtCore.Qt.TextFormat.RichText)
        layout.addWidget(self.header)

        body = QtWidgets.QHBoxLayout()
        layout.addLayout(body, stretch=1)
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setBackground(BACKGROUND)
        body.addWidget(self.plots, stretch=3)
        self.sagittal = self.plots.addPlot(row=0, col=0, axisItems={"bottom": clock_axis()})
        self.lateral = self.plots.addPlot(row=1, col=0, axisItems={"bottom": clock_axis()})
        self.plots.ci.layout.setRowStretchFactor(0, 3)
        self.plots.ci.layout.setRowStretchFactor(1, 2)
        self.lateral.setXLink(self.sagittal)
        _style_plot(self.sagittal, "sagittal (deg)")
        _style_plot(self.lateral, "lateral (deg)")
        self.lateral.setLabel("bottom", "session time (m:ss); background: trunk inclination zones",
                              color=INK)
        self.sagittal.setYRange(-20, 90, padding=0)
        self.lateral.setYRange(-30, 30, padding=0)
        self._zone_bands: list[pg.LinearRegionItem] = []
        self._zones: tuple | None = None
        self._episode_items: list[pg.LinearRegionItem] = []
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._legends = {"sagittal": self.sagittal.addLegend(offset=(8, 4), labelTextColor=INK),
                         "lateral": self.lateral.addLegend(offset=(8, 4), labelTextColor=INK)}
        self._panels: dict | None = None

        side = QtWidgets.QVBoxLayout()
        body.addLayout(side, stretch=1)
        self.figure = pg.PlotWidget(background=BACKGROUND)
        self.figure.setMinimumSize(220, 200)
        self._build_figure(self.figure.getPlotItem())
        side.addWidget(self.figure, stretch=3)
        self.figure_text = QtWidgets.QLabel("not calibrated")  # below the figure, never under it
        self.figure_text.setStyleSheet("font-family: monospace;")
        side.addWidget(self.figure_text)
        self.counters = QtWidgets.QLabel()
        self.counters.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.counters.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop)
        side.addWidget(self.counters, stretch=2)
        self.sensors = QtWidgets.QLabel()
        self.sensors.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.sensors.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop)
        side.addWidget(self.sensors, stretch=2)
        self.setStyleSheet(f"QWidget {{ background: {BACKGROUND}; color: {INK}; font-size: 13px; }}")

    # --- construction --------------------------------------------------------------------
    def _build_figure(self, plot: pg.PlotItem) -> None:
        plot.setMenuEnabled(False)
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        plot.hideAxis("left")
        plot.hideAxis("bottom")
        plot.setAspectLocked(True)
        plot.setXRange(-0.55, 0.75, padding=0)
        plot.setYRange(-0.12, 1.0, padding=0)
        plot.setTitle("posture (side view, facing right)", color=INK, size="10pt")
        plot.addItem(pg.PlotDataItem([-0.4, 0.65], [-0.03, -0.03], pen=pg.mkPen("#c7cbd3", width=3)))
        plot.addItem(pg.PlotDataItem([0, 0], [0, 0.98], pen=pg.mkPen("#c7cbd3", width=1,
                                                                      style=QtCore.Qt.PenStyle.DashLine)))
        self.segment_lines = {
            "pelvis": plot.plot(pen=pg.mkPen("#9ca3af", width=9)),
            "lumbar": plot.plot(pen=pg.mkPen(ANGLE_COLOURS["lumbar_inclination"], width=9)),
            "thoracic": plot.plot(pen=pg.mkPen(ANGLE_COLOURS["trunk_inclination"], width=9)),
            "neck": plot.plot(pen=pg.mkPen("#9ca3af", width=6)),
        }
        self.joints = plot.plot(pen=None, symbol="o", symbolSize=10, symbolBrush=INK, symbolPen=None)
        self.head = pg.ScatterPlotItem(size=HEAD_RADIUS * 2, pxMode=False,
                                       brush=pg.mkBrush("#e5e7eb"), pen=pg.mkPen(INK, width=2))
        plot.addItem(self.head)

    def _setup_panels(self, panels: dict[str, list[str]]) -> None:
        for plot in (self.sagittal, self.lateral):
            for curve in list(plot.listDataItems()):
                plot.removeItem(curve)
        self.curves = {}
        for legend in self._legends.values():
            legend.clear()
        for panel, plot in (("sagittal", self.sagittal), ("lateral", self.lateral)):
            for name in panels.get(panel, []):
                curve = plot.plot(pen=pg.mkPen(ANGLE_COLOURS.get(name, INK), width=self.line_width),
                                  name=label_of(name))
                curve.setClipToView(True)
                curve.setDownsampling(auto=True, method="peak")
                self.curves[name] = curve
        self._panels = panels

    def _setup_zones(self, zones) -> None:
        """Sagittal bands: the trunk-inclination classes (with the neutral dead band)."""
        for band in self._zone_bands:
            band.getViewBox().removeItem(band)
        low, high = zones.edges
        back = -zones.dead_band_deg
        self._zone_bands = [_band(-90, back, ZONE_BRUSHES["extension"]),
                            _band(back, low, ZONE_BRUSHES["neutral"]),
                            _band(low, high, ZONE_BRUSHES["intermediate"]),
                            _band(high, 180, ZONE_BRUSHES["awkward"])]
        for band in self._zone_bands:
            self.sagittal.addItem(band)
        lateral = zone_scheme("trunk_lateral_inclination", self._thresholds)
        low, high = lateral.edges
        for low_, high_, name in ((-low, low, "neutral"), (low, high, "intermediate"),
                                  (-high, -low, "intermediate"), (high, 90, "awkward"),
                                  (-90, -high, "awkward")):
            band = _band(low_, high_, ZONE_BRUSHES[name])
            self.lateral.addItem(band)
            self._zone_bands.append(band)
        self._zones = zones

    # --- drawing -------------------------------------------------------------------------
    def show_frame(self, frame: DashboardFrame) -> None:
        self.frame = frame
        if frame.panels != self._panels:
            self._setup_panels(frame.panels)
        if frame.zones != self._zones:
            self._setup_zones(frame.zones)
        self.sagittal.setXRange(frame.t - frame.window_s, frame.t, padding=0)
        for name, curve in self.curves.items():
            curve.setData(frame.trace_t, frame.traces.get(name, np.full(len(frame.trace_t), np.nan)),
                          connect="finite")
        self._draw_episodes(frame.episodes)
        self._draw_posture(frame.posture)
        self._set_text(self.banner, *self._banner(frame))
        self._set_text(self.header, self._header(frame))
        self._set_text(self.counters, self._counters(frame))
        self._set_text(self.sensors, self._sensor_rows(frame))

    def _set_text(self, label: QtWidgets.QLabel, text: str, style: str | None = None) -> None:
        key = str(id(label))
        if self._texts.get(key) != (text, style):  # Qt relayouts on every setText: skip repeats
            self._texts[key] = (text, style)
            label.setText(text)
            if style is not None:
                label.setStyleSheet(style)

    def _draw_episodes(self, episodes) -> None:
        while len(self._episode_items) < len(episodes):
            brush = pg.mkBrush(*EPISODE_COLOUR, 150)
            brush.setStyle(QtCore.Qt.BrushStyle.BDiagPattern)  # hatching keeps the zones readable
            item = pg.LinearRegionItem(movable=False, brush=brush,
                                       pen=pg.mkPen(*EPISODE_COLOUR, 220, width=2))
            item.setZValue(-10)
            self.sagittal.addItem(item)
            self._episode_items.append(item)
        for i, item in enumerate(self._episode_items):
            if i < len(episodes):
                item.setRegion(episodes[i])
                item.show()
            else:
                item.hide()

    def _draw_posture(self, posture: dict[str, float]) -> None:
        def value(name):
            v = posture.get(name, math.nan)
            return v if math.isfinite(v) else None

        lumbar, trunk = value("lumbar_inclination"), value("trunk_inclination")
        lumbar_flexion = value("lumbar_flexion")
        pelvis = lumbar - lumbar_flexion if lumbar is not None and lumbar_flexion is not None else 0.0
        segments = {"pelvis": pelvis, "lumbar": lumbar or 0.0, "thoracic": trunk or 0.0,
                    "neck": (trunk or 0.0) * 0.6}
        points = _posture_points(segments)
        for i, name in enumerate(("pelvis", "lumbar", "thoracic", "neck")):
            self.segment_lines[name].setData(points[i:i + 2, 0], points[i:i + 2, 1])
        self.joints.setData(points[:4, 0], points[:4, 1])
        top, angle = points[-1], math.radians(segments["neck"])
        centre = top + HEAD_RADIUS * np.array([math.sin(angle), math.cos(angle)])
        self.head.setData([centre[0]], [centre[1]])
        lines = []
        for name in ("trunk_inclination", "lumbar_inclination", "thoracic_flexion", "lumbar_flexion"):
            v = value(name)
            if v is not None:
                lines.append(f"{label_of(name)}: {v:5.1f}°")
        if lumbar_flexion is None:
            lines.append("pelvis: no sacral sensor")
        self.figure_text.setText("\n".join(lines) if lines else "not calibrated")

    # --- text ---------------------------------------------------------------------------
    @staticmethod
    def _banner(frame: DashboardFrame) -> tuple[str, str]:
        base = "border-radius: 6px; padding: 6px; font-size: 18px; font-weight: 600;"
        if frame.calibration is None:
            return ("Calibrating: sit tall and still, then bend forward slowly when asked",
                    f"QLabel {{ {base} background: #e0e7ff; color: #1e3a8a; }}")
        if frame.alert is not None:
            reason = frame.alert.get("reason", "slouch alert")
            return (f"⚠  ALERT at {clock_text(frame.alert['t'])}: {reason}",
                    f"QLabel {{ {base} background: #dc2626; color: white; }}")
        if frame.slouching_since is not None:
            held = frame.t - frame.slouching_since
            return (f"Slouching for {held:.0f} s",
                    f"QLabel {{ {base} background: #fde68a; color: #78350f; }}")
        return ("Posture OK", f"QLabel {{ {base} background: #dcfce7; color: #14532d; }}")

    @staticmethod
    def _header(frame: DashboardFrame) -> str:
        total = f" / {clock_text(frame.duration_s)}" if frame.duration_s is not None else ""
        calibration = frame.calibration
        quality = calibration["quality"] if calibration else "pending"
        return (f"<span style='font-size:20px; font-weight:600'>{clock_text(frame.t)}</span>"
                f"<span style='color:{MUTED}'>{total}</span> &nbsp;&nbsp; "
                f"activity: <b>{frame.context or '-'}</b> &nbsp;&nbsp; calibration: <b>{quality}</b>")

    @staticmethod
    def _counters(frame: DashboardFrame) -> str:
        rows = [f"<div style='font-size:15px'><b>Slouch events: {frame.slouch_count}</b>"
                f" &nbsp; alerts: {frame.alert_count}</div>",
                *_training_rows(frame),
                f"<div>Posture resets: <b>{frame.reset_count}</b> of {frame.reset_target} a day"
                f"{f' ({frame.guided_resets} guided)' if frame.guided_resets else ''}</div>",
                "<div style='margin-top:6px'>Time in zones (trunk inclination):</div><table>"]
        total = sum(frame.zone_s.values()) or 1.0
        for (label, seconds), name in zip(frame.zone_s.items(), frame.zones.classes):
            rows.append(f"<tr><td style='background:{ZONE_BRUSHES[name]}; padding:1px 8px'>"
                        f"{name} {escape(label)}°</td>"
                        f"<td style='padding-left:10px' align='right'>{duration_text(seconds)}</td>"
                        f"<td style='padding-left:10px; color:{MUTED}' align='right'>"
                        f"{100 * seconds / total:.0f} %</td></tr>")
        rows.append("</table>")
        if frame.grades:
            rows.append("<div style='margin-top:6px'>Graded:</div>")
            for g in frame.grades[-GRADES_SHOWN:]:
                what = g.get("kind", "run").replace("carry_", "").replace("_", " ")
                so_far = f" <span style='color:{MUTED}'>(so far)</span>" if g.get("provisional") else ""
                rows.append(f"<div>{escape(what)} {clock_text(g['start_s'])}–{clock_text(g['end_s'])}: "
                            f"<b>{escape(g['grade'])}</b>{so_far}</div>")
        return "".join(rows)

    @staticmethod
    def _sensor_rows(frame: DashboardFrame) -> str:
        rows = ["<div>Sensors:</div><table>"]
        for loc, s in frame.status.items():
            dot = "#16a34a" if s.get("connected") else "#dc2626"
            battery = s.get("battery_pct")
            gap = s.get("last_gap")
            gap_text = "-" if not gap else (
                f"{gap[0]:.0f}–{gap[1]:.0f} s" if gap[1] is not None else f"since {gap[0]:.0f} s")
            rows.append(
                f"<tr><td><span style='color:{dot}'>●</span> {loc}</td>"
                f"<td style='padding-left:8px' align='right'>{s.get('rate_hz', 0):.0f} Hz</td>"
                f"<td style='padding-left:8px' align='right'>loss {s.get('loss_pct', 0):.1f} %</td>"
                f"<td style='padding-left:8px'>{'' if battery is None else f'battery {battery:.0f} %'}</td>"
                f"<td style='padding-left:8px; color:{MUTED}'>gap {gap_text}</td></tr>")
        rows.append("</table>")
        return "".join(rows)


def _training_rows(frame: DashboardFrame) -> list[str]:
    """Lifts, rounded-back cues and break reminders so far, and the latest (issue 13)."""
    state = frame.training
    if state is None or not (state.lift_count or state.lift_cues or state.break_reminders):
        return []
    return [f"<div>Lifts: {state.lift_count} &nbsp; rounded-back cues: {state.lift_cues}"
            f" &nbsp; break reminders: {state.break_reminders}</div>",
            f"<div style='color:{MUTED}'>{escape(state.training_note)}</div>"]
