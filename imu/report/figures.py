"""Report figures as PNG bytes, drawn with matplotlib's Agg canvas (no pyplot, no window).

Long sessions are decimated before plotting: each pixel column keeps the minimum and the
maximum of its samples, so a one-sample spike in an eight-hour trace still shows.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from imu.core.exposure import AngleExposure, angle_kind, episode_end, slouch_hour_bins
from imu.core.result import Analysis

TRACE_COLUMNS = 1600  # pixel columns of a trace at the default size and dpi
DPI = 100
# neutral / intermediate / awkward (ISO 11226 wording), and extension
ZONE_COLOURS = ("#cfe8cf", "#fbe3b0", "#f4c1bd")
EXTENSION_COLOUR = "#cfd8ef"
SLOUCH_COLOUR = "#7b4fa0"
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
    edges = np.linspace(0, y.size, columns + 1).astype(np.int64)
    first, last = edges[:-1], edges[1:] - 1
    low = np.fmin.reduceat(y, first)
    high = np.fmax.reduceat(y, first)
    middle = 0.5 * (t[first] + t[last])
    return np.repeat(middle, 2), np.column_stack([low, high]).ravel()


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


def _zone_bands(ax, name: str, edges_sagittal, edges_lateral) -> None:
    kind = angle_kind(name)
    if kind == "sagittal":
        low, high = edges_sagittal
        ax.axhspan(-1e3, 0, color=EXTENSION_COLOUR, lw=0)
        for (a, b), colour in zip(((0, low), (low, high), (high, 1e3)), ZONE_COLOURS):
            ax.axhspan(a, b, color=colour, lw=0)
    elif kind == "lateral":
        low, high = edges_lateral
        for (a, b), colour in zip(((0, low), (low, high), (high, 1e3)), ZONE_COLOURS):
            ax.axhspan(a, b, color=colour, lw=0)
            ax.axhspan(-b, -a, color=colour, lw=0)


def trace_figure(analysis: Analysis, names: list[str]) -> bytes:
    """Angle traces over time: zone bands behind, slouch episodes shaded, one panel per angle."""
    t = np.asarray(analysis.t, dtype=float)
    valid = np.asarray(analysis.valid, dtype=bool)
    scale, unit = time_unit(analysis.duration_s)
    th = analysis.thresholds
    fig = Figure(figsize=(TRACE_COLUMNS / DPI, 0.4 + 1.7 * len(names)))
    axes = fig.subplots(len(names), 1, sharex=True, squeeze=False)[:, 0]
    for ax, name in zip(axes, names):
        y = np.where(valid, np.asarray(analysis.angles[name], dtype=float), np.nan)
        tx, ty = minmax_decimate(t, y, TRACE_COLUMNS)
        _zone_bands(ax, name, th.sagittal_zones_deg, th.lateral_zones_deg)
        for ep in analysis.episodes:
            ax.axvspan(ep.start_s / scale, episode_end(ep, analysis.duration_s) / scale,
                       color=SLOUCH_COLOUR, alpha=0.25, lw=0)
        ax.plot(tx / scale, ty, color="#1f3b73", lw=0.7)
        finite = ty[np.isfinite(ty)]
        lo, hi = (finite.min(), finite.max()) if finite.size else (-10.0, 10.0)
        pad = max(2.0, 0.08 * (hi - lo))
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_ylabel(f"{name.replace('_', ' ')}\n(deg)", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(axis="x", color="white", lw=0.6)
    axes[-1].set_xlabel(f"session time ({unit})")
    axes[0].set_xlim(t[0] / scale, max(t[-1], analysis.duration_s) / scale)
    _margins(fig, left=1.0, bottom=0.55, top=0.15, hspace=0.12)
    return png_bytes(fig)


def zone_figure(exposures: dict[str, AngleExposure]) -> bytes:
    """Stacked horizontal bars: % of valid time per exposure zone, one bar per angle."""
    rows = [e for e in exposures.values() if e.zones_pct is not None]
    fig = Figure(figsize=(9, 0.6 + 0.55 * max(1, len(rows))))
    ax = fig.subplots()
    for i, e in enumerate(rows):
        left = 0.0
        labels = list(e.zones_pct)
        colours = ([EXTENSION_COLOUR] if labels[0] == "<0" else []) + list(ZONE_COLOURS)
        for label, colour in zip(labels, colours):
            pct = e.zones_pct[label]
            ax.barh(i, pct, left=left, color=colour, edgecolor="#666", lw=0.5)
            if pct >= 6:
                ax.text(left + pct / 2, i, f"{label}\n{pct:.0f}%", ha="center", va="center",
                        fontsize=7)
            left += pct
    ax.set_yticks(range(len(rows)), [e.name.replace("_", " ") for e in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of measured time (zone labels in degrees)")
    legend = [Patch(color=c, label=k) for k, c in (
        ("extension", EXTENSION_COLOUR), ("neutral", ZONE_COLOURS[0]),
        ("intermediate", ZONE_COLOURS[1]), ("awkward", ZONE_COLOURS[2]))]
    ax.legend(handles=legend, fontsize=7, ncols=4, loc="lower center",
              bbox_to_anchor=(0.5, 1.0), frameon=False)
    _margins(fig, left=1.8, bottom=0.5, top=0.35)
    return png_bytes(fig)


def distribution_figure(analysis: Analysis, exposures: dict[str, AngleExposure]) -> bytes:
    """Histogram of each angle (% of measured time per degree) with P10 / P50 / P90 marked."""
    names = list(exposures)
    columns = 2 if len(names) > 1 else 1
    rows = -(-len(names) // columns)
    fig = Figure(figsize=(10, 0.4 + 2.3 * rows))
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False)).ravel()
    valid = np.asarray(analysis.valid, dtype=bool)
    for ax, name in zip(axes, names):
        y = np.asarray(analysis.angles[name], dtype=float)[valid]
        y = y[np.isfinite(y)]
        lo, hi = np.floor(y.min()), np.ceil(y.max())
        hi = max(hi, lo + 10)  # at least ten 1-degree bins around a constant angle
        bins = int(min(180, hi - lo))  # 1 degree wide up to a 180-degree span
        counts, edges = np.histogram(y, bins=bins, range=(lo, hi))
        ax.stairs(100.0 * counts / y.size, edges, fill=True, color="#9db4d8")
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


def hourly_figure(analysis: Analysis) -> bytes:
    """Counted slouch episodes per hour of the session (by start time)."""
    starts, counts, lengths = slouch_hour_bins(analysis.episodes, analysis.duration_s)
    fig = Figure(figsize=(9, 2.8))
    ax = fig.subplots()
    hours = starts / 3600.0
    ax.bar(hours + 0.5, counts, width=0.8, color=SLOUCH_COLOUR, alpha=0.8)
    for h, c, length in zip(hours, counts, lengths):
        note = f"{c}" if length >= 3600 else f"{c}\n({length / 60:.0f} min)"
        ax.text(h + 0.5, c, note, ha="center", va="bottom", fontsize=7)
    ax.set_xticks(hours + 0.5, [f"{int(h) + 1}" for h in hours], fontsize=8)
    ax.set_xlabel("hour of session")
    ax.set_ylabel("slouches")
    ax.set_ylim(0, max(1, counts.max()) * 1.3)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    _margins(fig, left=0.7, bottom=0.55, top=0.15)
    return png_bytes(fig)
