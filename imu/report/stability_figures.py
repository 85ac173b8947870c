"""The stability section's figures: per-stride traces of each run and carry, and the holds'
deviation from their baseline, as PNG bytes.

Apart from the section's HTML (imu.report.stability_section) because it loads matplotlib: a
report imports it only when there is a run, carry or hold to draw.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from imu.report.figures import DPI, _margins, png_bytes

WIDTH_PX = 1000


def _run_figure(run) -> bytes:
    p = run.per_stride
    fig = Figure(figsize=(WIDTH_PX / DPI, 3.6))
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    ax1.plot(p["t"], p["lean"], ".", ms=2.5, color="#1f3b73")
    ax1.set_ylabel("lean per stride\n(deg)", fontsize=8)
    for key, colour in (("sagittal_range", "#1f3b73"), ("lateral_range", "#b5651d"), ("rotation_range", "#2e7d32")):
        if np.isfinite(p[key]).any():
            ax2.plot(p["t"], p[key], ".", ms=2.5, color=colour, label=key.replace("_", " "))
    ax2.set_ylabel("range per stride\n(deg)", fontsize=8)
    ax2.set_xlabel("session time (s)", fontsize=8)
    ax2.legend(fontsize=7, loc="upper right")
    for ax in (ax1, ax2):
        ax.tick_params(labelsize=8)
    _margins(fig, left=1.0, bottom=0.5, top=0.15, hspace=0.12)
    return png_bytes(fig)


def _carry_figure(carry) -> bytes:
    p = carry.per_stride
    front = carry.kind == "carry_front"
    mean_key = "sagittal_mean" if front else "lateral_mean"
    base_key = "sagittal_mean" if front else "lateral_mean"
    fig = Figure(figsize=(WIDTH_PX / DPI, 3.6))
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    base = carry.baseline.get(base_key)
    ax1.plot(p["t"], p[mean_key], ".", ms=3, color="#1f3b73")
    if base is not None and np.isfinite(base):
        ax1.axhspan(base - 5.0, base + 5.0, color="#2e7d32", alpha=0.12, lw=0)
    ax1.set_ylabel(("sagittal" if front else "lateral") + " lean\nper stride (deg)", fontsize=8)
    ax2.plot(p["t"], p["lateral_range"], ".", ms=3, color="#b5651d", label="lateral range")
    if np.isfinite(p["rotation_range"]).any():
        ax2.plot(p["t"], p["rotation_range"], ".", ms=3, color="#2e7d32", label="rotation range")
    b_range = carry.baseline.get("lateral_range")
    if b_range is not None and np.isfinite(b_range):
        ax2.axhline(1.5 * b_range, color="#b5651d", lw=0.8, ls="--")
    ax2.legend(fontsize=7, loc="upper left")
    ax2.set_ylabel("range per stride\n(deg)", fontsize=8)
    ax2.set_xlabel("session time (s)", fontsize=8)
    for ax in (ax1, ax2):
        if carry.breakdown_at_s is not None:
            ax.axvline(carry.breakdown_at_s, color="#a22", lw=1.0)
        ax.tick_params(labelsize=8)
    _margins(fig, left=1.0, bottom=0.5, top=0.15, hspace=0.12)
    return png_bytes(fig)


def _holds_figure(holds, limit_deg: float) -> bytes:
    fig = Figure(figsize=(WIDTH_PX / DPI, 0.5 + 1.3 * len(holds)))
    axes = fig.subplots(len(holds), 1, squeeze=False)[:, 0]
    for ax, h in zip(axes, holds):
        tt = h.trace["t"] - h.start_s
        for name in h.signals:
            ax.plot(tt, h.trace[name], lw=0.8, label=name.replace("_", " "))
        ax.axhline(limit_deg, color="#a22", lw=0.6, ls="--")
        ax.axhline(-limit_deg, color="#a22", lw=0.6, ls="--")
        if h.failed:
            ax.axvline(h.time_to_failure_s, color="#a22", lw=1.0)
        ax.set_ylabel(f"{h.kind.replace('_', ' ')}\n(deg)", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.legend(fontsize=6, loc="upper left")
    axes[-1].set_xlabel("time into the hold (s)", fontsize=8)
    _margins(fig, left=1.0, bottom=0.5, top=0.15, hspace=0.3)
    return png_bytes(fig)


def stability_figures(result, hold_deviation_deg: float = 10.0) -> dict[str, bytes]:
    """PNG figures: run_<i>, carry_<i> (per stride), holds (deviation from baseline)."""
    figs: dict[str, bytes] = {}
    for i, run in enumerate(result.runs):
        figs[f"run_{i}"] = _run_figure(run)
    for i, carry in enumerate(result.carries):
        figs[f"carry_{i}"] = _carry_figure(carry)
    if result.holds:
        figs["holds"] = _holds_figure(result.holds, hold_deviation_deg)
    return figs
