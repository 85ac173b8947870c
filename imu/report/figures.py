"""Report figures as PNG bytes, drawn with matplotlib's Agg canvas (no pyplot, no window).

The trace and timeline figures draw from the session's envelope (imu.core.envelope), not from
its whole arrays: each pixel column keeps the minimum and the maximum of its samples, so a
one-sample spike in an eight-hour trace still shows. The distributions draw from each angle's
1-degree histogram.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from imu.core.envelope import SessionEnvelope, minmax_columns
from imu.core.exposure import AngleExposure, episode_end, slouch_bins, zone_scheme
from imu.core.result import Analysis
from imu.report.figure_plan import FIGURES

TRACE_COLUMNS = 1600  # pixel columns of a trace at the default size and dpi
DPI = 100
# by zone class (imu.core.exposure.ZONE_CLASSES); the dashboard uses the same colours
CLASS_COLOURS = {"extension": "#cfd8ef", "neutral": "#cfe8cf", "intermediate": "#fbe3b0",
                 "awkward": "#f4c1bd"}
SLOUCH_COLOUR = "#7b4fa0"  # violet, drawn as hatching so the zones beneath keep their colour
ALERT_COLOUR = "#c62828"
CONTEXT_COLOURS = {"still": "#9db4d8", "sitting": "#9db4d8", "standing": "#7fa7c9",
                   "moving": "#f2c57c", "walking": "#8fc89a", "running": "#5aa469",
                   "unknown": "#dddddd"}
PERCENTILE_STYLE = {"p10": ("#2a7", "P10"), "p50": ("#222", "P50"), "p90": ("#c33", "P90")}


def minmax_decimate(t: np.ndarray, y: np.ndarray, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of y per column of equal sample count, interleaved at each column's middle.

    NaN samples are ignored unless a whole column is NaN (a gap stays a gap). Traces with at
    most 2 * columns samples come back unchanged.
    """
    t = np.asarray(t, dtype=float)
    y = np.asarray(y, dtype=float)
    if t.shape != y.shape:
        raise ValueError(f"time {t.shape} and values {y.shape} differ in shape")
    if columns < 1:
        raise ValueError("columns must be at least 1")
    if y.size <= 2 * columns:
        return t, y
    return minmax_columns(t, t, y, y, columns)


def png_bytes(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _margins(fig: Figure, left: float, bottom: float, top: float, right: float = 0.25,
             **spacing) -> None:
    """Fixed margins in inches: tight_layout would cost an extra draw of every figure."""
    width, height = fig.get_size_inches()
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height,
                        top=1 - top / height, **spacing)


def time_unit(duration_s: float) -> tuple[float, str]:
    if duration_s >= 2 * 3600:
        return 3600.0, "h"
    if duration_s >= 120:
        return 60.0, "min"
    return 1.0, "s"


def _zone_bands(ax, name: str, thresholds) -> None:
    scheme = zone_scheme(name, thresholds)
    if scheme is None:
        return
    low, high = scheme.edges
    if scheme.lateral:
        for (a, b), cls in zip(((0, low), (low, high), (high, 1e3)), scheme.classes):
            ax.axhspan(a, b, color=CLASS_COLOURS[cls], lw=0)
            ax.axhspan(-b, -a, color=CLASS_COLOURS[cls], lw=0)
        return
    back = -scheme.dead_band_deg
    for (a, b), cls in zip(((-1e3, back), (back, low), (low, high), (high, 1e3)), scheme.classes):
        ax.axhspan(a, b, color=CLASS_COLOURS[cls], lw=0)


def _shade_episodes(ax, analysis: Analysis, scale: float) -> None:
    """Violet hatching over the zones (a translucent fill would mix into brown) and a solid
    violet strip along the top edge. One collection per axis: an eight-hour session has
    hundreds of episodes, and a patch each would dominate the drawing time."""
    spans = [(ep.start_s / scale, (episode_end(ep, analysis.duration_s) - ep.start_s) / scale)
             for ep in analysis.episodes]
    if not spans:
        return
    across = ax.get_xaxis_transform()  # x in data, y in axes fractions
    hatched = ax.broken_barh(spans, (0.0, 1.0), transform=across, facecolor="none",
                             edgecolor=SLOUCH_COLOUR, hatch="///", linewidth=0)
    if hasattr(hatched, "set_hatch_linewidth"):  # matplotlib >= 3.10
        hatched.set_hatch_linewidth(1.4)
    ax.broken_barh(spans, (0.9, 0.1), transform=across, facecolor=SLOUCH_COLOUR, linewidth=0)


def trace_figure(analysis: Analysis, names: list[str], envelope: SessionEnvelope) -> bytes:
    """Angle traces over time: each angle's zone bands behind, slouch episodes hatched.

    The traces come from the envelope; the analysis gives episodes, thresholds and duration."""
    scale, unit = time_unit(analysis.duration_s)
    fig = Figure(figsize=(TRACE_COLUMNS / DPI, 0.4 + 1.7 * len(names)))
    axes = fig.subplots(len(names), 1, sharex=True, squeeze=False)[:, 0]
    for ax, name in zip(axes, names):
        tx, ty = envelope.trace(name, TRACE_COLUMNS)
        _zone_bands(ax, name, analysis.thresholds)
        _shade_episodes(ax, analysis, scale)
        ax.plot(tx / scale, ty, color="#1f3b73", lw=0.7)
        finite = ty[np.isfinite(ty)]
        lo, hi = (finite.min(), finite.max()) if finite.size else (-10.0, 10.0)
        pad = max(2.0, 0.08 * (hi - lo))
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_ylabel(f"{name.replace('_', ' ')}\n(deg)", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(axis="x", color="white", lw=0.6)
    axes[-1].set_xlabel(f"session time ({unit})")
    start = envelope.first_s if envelope.sample_count else 0.0
    end = max(envelope.last_s if envelope.sample_count else 0.0, analysis.duration_s)
    axes[0].set_xlim(start / scale, end / scale)
    _margins(fig, left=1.0, bottom=0.55, top=0.15, hspace=0.12)
    return png_bytes(fig)


def timeline_figure(analysis: Analysis, envelope: SessionEnvelope) -> bytes:
    """The session at a glance: activity, slouch episodes, alerts, on one time axis.

    The activity comes from the envelope; episodes, alerts and duration from the analysis."""
    scale, unit = time_unit(analysis.duration_s)
    end = max(envelope.last_s if envelope.sample_count else 0.0, analysis.duration_s)
    fig = Figure(figsize=(10, 1.9))
    ax = fig.subplots()
    spans_by_label: dict[str, list] = {}  # one collection per label, in order of appearance
    for start, stop, label in envelope.context_runs(4000):  # finer runs than pixels are unseen
        spans_by_label.setdefault(label, []).append((start / scale, (stop - start) / scale))
    seen = {label: CONTEXT_COLOURS.get(label, "#bbbbbb") for label in spans_by_label}
    for label, spans in spans_by_label.items():
        ax.broken_barh(spans, (2.1, 0.8), color=seen[label], lw=0)
    spans = [(ep.start_s / scale, (episode_end(ep, analysis.duration_s) - ep.start_s) / scale)
             for ep in analysis.episodes]
    ax.broken_barh(spans, (1.1, 0.8), color=SLOUCH_COLOUR, lw=0)
    alerts = [a.t / scale for a in analysis.alerts]
    ax.plot(alerts, [0.5] * len(alerts), "v", color=ALERT_COLOUR, ms=7, ls="none")
    ax.set_yticks([0.5, 1.5, 2.5], ["alerts", "slouches", "activity"], fontsize=8)
    ax.set_ylim(0, 3.1)
    ax.set_xlim(0, end / scale)
    ax.set_xlabel(f"session time ({unit})", fontsize=8)
    ax.tick_params(labelsize=8)
    ax.grid(axis="x", color="#dddddd", lw=0.6)
    ax.set_axisbelow(True)
    if seen:
        handles = [Patch(color=c, label=k) for k, c in seen.items()]
        ax.legend(handles=handles, fontsize=7, ncols=len(handles), loc="lower right",
                  bbox_to_anchor=(1.0, 1.0), frameon=False)
    _margins(fig, left=1.0, bottom=0.5, top=0.3)
    return png_bytes(fig)


def zone_figure(exposures: dict[str, AngleExposure]) -> bytes:
    """Stacked horizontal bars: % of valid time per exposure class, one bar per angle."""
    rows = [e for e in exposures.values() if e.zones_pct is not None and e.zone_scheme is not None]
    fig = Figure(figsize=(9, 0.6 + 0.55 * max(1, len(rows))))
    ax = fig.subplots()
    for i, e in enumerate(rows):
        left = 0.0
        for label, cls in zip(e.zones_pct, e.zone_scheme.classes):
            pct = e.zones_pct[label]
            ax.barh(i, pct, left=left, color=CLASS_COLOURS[cls], edgecolor="#666", lw=0.5)
            if pct >= 6:
                ax.text(left + pct / 2, i, f"{label}\n{pct:.0f}%", ha="center", va="center",
                        fontsize=7)
            left += pct
    ax.set_yticks(range(len(rows)), [e.name.replace("_", " ") for e in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of measured time (zone labels in degrees)")
    legend = [Patch(color=c, label=k) for k, c in CLASS_COLOURS.items()]
    ax.legend(handles=legend, fontsize=7, ncols=4, loc="lower center",
              bbox_to_anchor=(0.5, 1.0), frameon=False)
    _margins(fig, left=1.8, bottom=0.5, top=0.35)
    return png_bytes(fig)


DISTRIBUTION_MAX_BINS = 180  # 1-degree bins up to a 180-degree span, wider beyond
DISTRIBUTION_MIN_BINS = 10  # around a constant angle


def degree_bars(lo_deg: int, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(percent per bar, edges) of a 1-degree histogram drawn as at least ten and at most 180
    bars: adjacent degrees are merged by a whole factor when the span is wider than 180."""
    counts = np.asarray(counts, dtype=np.int64)
    factor = max(1, -(-counts.size // DISTRIBUTION_MAX_BINS))
    bars = max(DISTRIBUTION_MIN_BINS, -(-counts.size // factor))
    padded = np.zeros(bars * factor, dtype=np.int64)
    padded[:counts.size] = counts
    merged = padded.reshape(bars, factor).sum(axis=1)
    total = counts.sum()
    percent = 100.0 * merged / total if total else merged.astype(float)
    return percent, lo_deg + factor * np.arange(bars + 1)


def distribution_figure(exposures: dict[str, AngleExposure]) -> bytes:
    """Histogram of each angle (% of measured time per degree) with P10 / P50 / P90 marked,
    drawn from each exposure's 1-degree histogram."""
    names = list(exposures)
    columns = 2 if len(names) > 1 else 1
    rows = -(-len(names) // columns)
    fig = Figure(figsize=(10, 0.4 + 2.3 * rows))
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False)).ravel()
    for ax, name in zip(axes, names):
        histogram = exposures[name].histogram
        lo_deg, counts = histogram.lo_deg, histogram.counts
        percent, edges = degree_bars(lo_deg, counts)
        ax.stairs(percent, edges, fill=True, color="#9db4d8")
        p = exposures[name].percentiles
        for key, (colour, label) in PERCENTILE_STYLE.items():
            ax.axvline(p[key], color=colour, lw=1.2, label=f"{label} {p[key]:.1f}")
        ax.set_title(name.replace("_", " "), fontsize=9)
        ax.set_xlabel("deg", fontsize=8)
        ax.set_ylabel("% of time per bin", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, frameon=False)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    _margins(fig, left=0.7, bottom=0.5, top=0.35, hspace=0.6, wspace=0.18)
    return png_bytes(fig)


def rate_bin_s(duration_s: float) -> float:
    """Bin width for the slouch-rate chart: a handful of bars whatever the session length."""
    for width in (300.0, 600.0, 900.0, 1800.0):
        if duration_s <= 8 * width:
            return width
    return 3600.0


def slouch_rate_figure(analysis: Analysis) -> bytes:
    """Counted slouch episodes per time bin (by start), sized to the session's length."""
    width = rate_bin_s(analysis.duration_s)
    starts, counts, lengths = slouch_bins(analysis.episodes, analysis.duration_s, width)
    scale, unit = (60.0, "min") if width < 3600 else (3600.0, "h")
    fig = Figure(figsize=(9, 2.8))
    ax = fig.subplots()
    ax.bar(starts / scale, counts, width=0.9 * lengths / scale, align="edge", color=SLOUCH_COLOUR,
           alpha=0.85)
    for x, c, length in zip(starts, counts, lengths):
        note = f"{c}" if abs(length - width) < 0.05 * width else f"{c}\n({length / 60:.0f} min)"
        ax.text((x + 0.45 * length) / scale, c, note, ha="center", va="bottom", fontsize=7)
    ax.set_xlim(0, analysis.duration_s / scale)
    ax.set_xlabel(f"session time ({unit}); one bar per {width / 60:.0f} minutes")
    ax.set_ylabel(f"slouches per {width / 60:.0f} min" if width < 3600 else "slouches per hour",
                  fontsize=8)
    ax.set_ylim(0, max(1, counts.max() if counts.size else 0) * 1.35)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    _margins(fig, left=0.8, bottom=0.55, top=0.15)
    return png_bytes(fig)


def session_figures(analysis: Analysis, exposures: dict, envelope: SessionEnvelope | None = None,
                    only: tuple[str, ...] = FIGURES) -> dict[str, bytes | None]:
    """The session's figures as PNG bytes by name: the activity timeline, the slouch rate,
    the angle traces, the exposure zones and the angle distributions (`only` those named).
    None of them needs the stability grades, so a report can draw them while it grades.
    envelope: gathered from the analysis arrays when absent; given, the analysis may be
    `figure_plan.without_series` (another process draws them from that)."""
    plotted = list(exposures)
    if envelope is None:
        envelope = SessionEnvelope.from_arrays(analysis.t, analysis.angles, analysis.valid,
                                               analysis.context)
    drawers = {
        "timeline": lambda: timeline_figure(analysis, envelope),
        "rate": lambda: slouch_rate_figure(analysis),
        "traces": lambda: trace_figure(analysis, plotted, envelope) if plotted else None,
        "zones": lambda: zone_figure(exposures) if any(
            e.zones_pct is not None for e in exposures.values()) else None,
        "distributions": lambda: distribution_figure(exposures) if plotted else None,
    }
    return {name: drawers[name]() for name in FIGURES if name in only}
