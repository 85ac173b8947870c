"""Figures of progress and cohort pages (matplotlib, no pyplot: safe in any thread)."""

from __future__ import annotations

import matplotlib
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from imu.report.figures import SLOUCH_COLOUR, png_bytes

WEEK_COLOUR = "#222"
GRADE_COLOURS = {"good": "#5a5", "fair": "#e0a030", "poor": "#c33"}
# matplotlib 3.10 renamed vert=False (the project allows 3.8)
_HORIZONTAL = ({"orientation": "horizontal"} if tuple(int(v) for v in matplotlib.__version__.split(".")[:2])
               >= (3, 10) else {"vert": False})
GROUP_COLOURS = ("#3b6fb6", "#d0703c", "#4a9a5b", "#8a5bb0", "#b0475b", "#6a6a6a")


def _figure(height: float = 3.0, width: float = 8.0) -> tuple[Figure, object]:
    fig = Figure(figsize=(width, height))
    ax = fig.add_subplot(1, 1, 1)
    fig.subplots_adjust(left=0.09, right=0.98, top=0.9, bottom=0.2)
    ax.grid(True, alpha=0.3)
    return fig, ax


def _legend_outside(fig: Figure, ax) -> None:
    """Legend right of the axes, where it never hides a point."""
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.subplots_adjust(right=0.74)


def zone_label(column: str) -> str:
    """'thoracic_flexion_zone_20_60_pct' -> '20-60 deg', '..._over_60_pct' -> '> 60 deg'."""
    text = column.split("_zone_", 1)[-1].removesuffix("_pct")
    text = text.replace("under_", "< ").replace("over_", "> ").replace("_", "-")
    return f"{text} deg"


def _dates(ax, times) -> None:
    """Date ticks over the data's span plus a margin; matplotlib would make a single date
    span years."""
    times = pd.to_datetime(pd.Series(times)).dropna()
    if len(times):
        low, high = times.min(), times.max()
        pad = max(pd.Timedelta(days=3), 0.05 * (high - low))
        ax.set_xlim(low - pad, high + pad)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(maxticks=8))


def session_trend(sessions: pd.DataFrame, weeks: pd.DataFrame, value: str, week_value: str,
                  title: str, unit: str, fit: dict | None = None) -> bytes:
    """Each session as a dot, each week's pooled value as a step, and the fitted trend."""
    fig, ax = _figure()
    ax.plot(sessions["start"], sessions[value], "o", color=SLOUCH_COLOUR, alpha=0.75, label="session")
    if len(weeks):
        edges = list(weeks["week_start"]) + [weeks["week_start"].iloc[-1] + pd.Timedelta(days=7)]
        ax.stairs(weeks[week_value].to_numpy(float), pd.to_datetime(pd.Series(edges)).to_numpy(),
                  color=WEEK_COLOUR, linewidth=2, label="week (pooled)", baseline=None)
    if fit is not None and np.isfinite(fit.get("trend_per_week", np.nan)):
        start = sessions["start"].min()
        days = (sessions["start"] - start).dt.total_seconds() / 86400.0
        slope = fit["trend_per_week"] / 7.0
        intercept = float(np.mean(sessions[value]) - slope * np.mean(days))
        x = np.array([0.0, float(days.max())])
        ax.plot([start + pd.Timedelta(days=d) for d in x], intercept + slope * x, "--",
                color="#888", label=f"trend {fit['trend_per_week']:+.1f}/week")
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(unit)
    ax.set_ylim(0, ax.get_ylim()[1] * 1.08)  # room above the highest point
    _dates(ax, list(sessions["start"]) + (list(edges) if len(weeks) else []))
    _legend_outside(fig, ax)
    return png_bytes(fig)


def weekly_bars(weeks: pd.DataFrame, columns: list[str], labels: list[str], colours,
                title: str, unit: str) -> bytes:
    """Stacked bars per week (zone time, grades)."""
    fig, ax = _figure()
    x = np.arange(len(weeks))
    bottom = np.zeros(len(weeks))
    for column, label, colour in zip(columns, labels, colours):
        values = weeks[column].fillna(0).to_numpy(float)
        ax.bar(x, values, bottom=bottom, color=colour, label=label, edgecolor="#555", linewidth=0.5)
        bottom += values
    ax.set_xticks(x, weeks["week"], fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(unit)
    _legend_outside(fig, ax)
    return png_bytes(fig)


# zones in the summary's order, lowest angle first: extension, neutral, then rising strain
ZONE_PALETTE = ("#cfd8ef", "#cfe8cf", "#fbe3b0", "#f4c1bd", "#e39a93")


def zone_colours(count: int) -> list[str]:
    """Colours for `count` zones; without an extension zone (lateral) green comes first."""
    palette = ZONE_PALETTE if count > 3 else ZONE_PALETTE[1:]
    return list((palette + ("#cccccc",) * count)[:count])


def distributions(values: dict[str, np.ndarray], title: str, unit: str,
                  colours: dict[str, str] | None = None) -> bytes:
    """Box plots with every value drawn as a dot (small groups are shown, not summarised)."""
    names = list(values)
    fig, ax = _figure(height=max(2.6, 0.32 * len(names) + 1.2))
    data = [np.asarray(values[n], float) for n in names]
    ax.boxplot(data, showfliers=False, medianprops={"color": WEEK_COLOUR}, **_HORIZONTAL)
    ax.set_yticks(np.arange(1, len(names) + 1), names)
    rng = np.random.default_rng(0)
    for i, (name, d) in enumerate(zip(names, data), start=1):
        colour = (colours or {}).get(name, SLOUCH_COLOUR)
        ax.plot(d, i + rng.uniform(-0.12, 0.12, len(d)), "o", color=colour, alpha=0.6, markersize=4)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(unit)
    ax.set_xlim(left=0)
    fig.subplots_adjust(left=0.16)
    return png_bytes(fig)


def trend_bars(people: pd.DataFrame, colours: dict[str, str]) -> bytes:
    """Each person's trend (slouches per hour per week) with its 95 % interval."""
    fig, ax = _figure(height=max(2.6, 0.32 * len(people) + 1.2))
    y = np.arange(len(people))
    slope = people["trend_per_week"].to_numpy(float)
    err = np.vstack([slope - people["trend_low"].to_numpy(float),
                     people["trend_high"].to_numpy(float) - slope])
    ax.barh(y, np.nan_to_num(slope), color=[colours.get(g, "#888") for g in people["group"]],
            xerr=np.nan_to_num(err), ecolor="#444", capsize=3)
    ax.axvline(0, color="#222", linewidth=0.8)
    ax.set_yticks(y, people["person"], fontsize=8)
    ax.invert_yaxis()
    ax.set_title("Trend of each person: change in slouches per hour, per week (95 % interval)", fontsize=10)
    ax.set_xlabel("slouches/h per week (below 0: improving)")
    fig.subplots_adjust(left=0.16)
    return png_bytes(fig)


def weekly_lines(weeks: pd.DataFrame, series: str, value: str, title: str, unit: str,
                 colours: dict[str, str], band: tuple[str, str] | None = None) -> bytes:
    """One line per series (a group, or the whole cohort) over weeks, optional IQR band."""
    fig, ax = _figure()
    for name, rows in weeks.groupby(series, sort=True):
        colour = colours.get(name, WEEK_COLOUR)
        ax.plot(rows["week_start"], rows[value], "o-", color=colour, label=str(name))
        if band is not None:
            ax.fill_between(rows["week_start"], rows[band[0]], rows[band[1]], color=colour, alpha=0.15)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(unit)
    ax.set_ylim(0, ax.get_ylim()[1] * 1.08)  # room above the highest point
    _dates(ax, weeks["week_start"])
    _legend_outside(fig, ax)
    return png_bytes(fig)
