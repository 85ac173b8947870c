"""Aggregations of index rows (pure pandas): periods, people, groups, and trends.

Rates are pooled, not averaged: slouches per hour of a week is the week's slouches over the
week's worn hours, so a short session does not weigh as much as a long one. Zone times are
weighted by worn time the same way. Trends are a least-squares line through each session's
rate against days, with its 95 % confidence interval; a direction is only named when the
interval excludes zero.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

MIN_TREND_SESSIONS = 4
MIN_TREND_DAYS = 3


def usable(table: pd.DataFrame) -> pd.DataFrame:
    """Analysed sessions with a person and a start time, with day and ISO week columns."""
    ok = table[(table["status"] == "ok") & table["start"].notna()].copy()
    ok["person"] = ok["person"].fillna("(unknown)")
    if "group" not in ok:
        ok["group"] = None
    ok["group"] = ok["group"].fillna("(none)")
    start = pd.to_datetime(ok["start"])
    if ok.empty:  # still the columns the callers select
        return ok.assign(day=start, week=pd.Series(dtype=str), week_start=start)
    ok["day"] = start.dt.normalize()
    iso = start.dt.isocalendar()
    ok["week"] = iso["year"].astype(str) + "-W" + iso["week"].astype(int).map("{:02d}".format)
    ok["week_start"] = (start - pd.to_timedelta(start.dt.day_of_week, unit="D")).dt.normalize()
    return ok.sort_values("start", kind="stable")


def zone_columns(table: pd.DataFrame, angle: str) -> list[str]:
    return [c for c in table.columns if c.startswith(f"{angle}_zone_") and c.endswith("_pct")]


def period_summary(rows: pd.DataFrame) -> dict:
    """One row of pooled numbers for a set of sessions (a day, a week, a person, a group)."""
    worn_s = rows["wear_s"].fillna(0.0)
    worn_h = float(worn_s.sum()) / 3600.0
    count = float(rows["slouch_count"].fillna(0).sum())
    out = {
        "sessions": len(rows),
        "people": rows["person"].nunique(),
        "hours": float(rows["duration_s"].fillna(0).sum()) / 3600.0,
        "worn_hours": worn_h,
        "slouches": int(count),
        "slouch_per_hour": count / worn_h if worn_h > 0 else np.nan,
        "slouch_pct": 100.0 * float(rows["slouch_s"].fillna(0).sum()) / float(worn_s.sum())
        if worn_s.sum() > 0 else np.nan,
        "slouch_longest_s": _max(rows["slouch_longest_s"]),
        "session_rate_median": float(rows["slouch_per_worn_hour"].median()),
        "static_longest_s": _max(rows.get("static_longest_s")),
        "static_bouts_over_1min": _sum(rows.get("static_bouts_over_1min")),
        "alerts": _sum(rows.get("alerts")),
        "calibration_not_ok": int((rows["calibration_ok"] != True).sum()),  # noqa: E712
        "lost_pct_max": _max(rows.get("lost_pct_max")),
    }
    signal = rows["slouch_signal"].dropna()
    if len(signal):
        for column in zone_columns(rows, signal.iloc[0]):
            out[column] = _weighted(rows[column], worn_s)
    for column in ("runs", "carries", "carry_breakdowns", *(f"{k}_grade_{g}" for k in ("run", "carry")
                                                          for g in ("good", "fair", "poor"))):
        out[column] = _sum(rows.get(column))
    return out


def trend(rows: pd.DataFrame, value: str = "slouch_per_worn_hour") -> dict:
    """Slope of `value` per week over the sessions' days, with a 95 % interval and a word."""
    data = rows[["start", value]].dropna()
    days = (pd.to_datetime(data["start"]) - pd.to_datetime(data["start"]).min()).dt.total_seconds() / 86400.0
    out = {"trend_sessions": len(data), "trend_per_week": np.nan, "trend_low": np.nan,
           "trend_high": np.nan, "trend_p": np.nan, "trend": "not enough sessions"}
    if len(data) < MIN_TREND_SESSIONS or days.round().nunique() < MIN_TREND_DAYS:
        out["trend"] = (f"not enough sessions (needs {MIN_TREND_SESSIONS} on "
                        f"{MIN_TREND_DAYS} different days)")
        return out
    fit = stats.linregress(days.to_numpy(), data[value].to_numpy(float))
    half = stats.t.ppf(0.975, len(data) - 2) * fit.stderr
    slope, low, high = 7 * fit.slope, 7 * (fit.slope - half), 7 * (fit.slope + half)
    if not np.isfinite(half):
        word = "no clear change"
    elif low > 0:
        word = "rising"
    elif high < 0:
        word = "falling"
    else:
        word = "no clear change"
    out.update(trend_per_week=slope, trend_low=low, trend_high=high, trend_p=fit.pvalue, trend=word)
    return out


def person_summary(rows: pd.DataFrame) -> dict:
    """A person's pooled numbers, first and last week, and trend."""
    weeks = sorted(rows["week"].unique())
    first, last = rows[rows["week"] == weeks[0]], rows[rows["week"] == weeks[-1]]
    return {"person": rows["person"].iloc[0], "group": rows["group"].iloc[0],
            "first_session": rows["start"].min(), "last_session": rows["start"].max(),
            "days": rows["day"].nunique(), "weeks": len(weeks),
            **period_summary(rows),
            "first_week_slouch_per_hour": period_summary(first)["slouch_per_hour"],
            "last_week_slouch_per_hour": period_summary(last)["slouch_per_hour"],
            **trend(rows)}


def group_comparison(people: pd.DataFrame, value: str = "slouch_per_hour") -> dict:
    """Do groups differ? Kruskal-Wallis on the person-level values (one value per person,
    so a person with many sessions does not count many times)."""
    samples = [g[value].dropna().to_numpy() for _, g in people.groupby("group")]
    samples = [s for s in samples if len(s)]
    if len(samples) < 2 or min(len(s) for s in samples) < 2:
        return {"test": "Kruskal-Wallis", "p": None,
                "note": "needs two or more groups with at least two people each"}
    try:
        result = stats.kruskal(*samples)
    except ValueError as err:  # e.g. every value identical
        return {"test": "Kruskal-Wallis", "p": None, "note": str(err)}
    return {"test": "Kruskal-Wallis", "statistic": float(result.statistic), "p": float(result.pvalue),
            "note": f"{len(samples)} groups, {sum(len(s) for s in samples)} people"}


def _max(series) -> float:
    if series is None:
        return np.nan
    values = pd.to_numeric(series, errors="coerce").dropna()
    return float(values.max()) if len(values) else np.nan


def _sum(series) -> float:
    if series is None:
        return np.nan
    return float(pd.to_numeric(series, errors="coerce").fillna(0).sum())


def _weighted(values: pd.Series, weights: pd.Series) -> float:
    values = pd.to_numeric(values, errors="coerce")
    keep = values.notna() & (weights > 0)
    if not keep.any():
        return np.nan
    return float(np.average(values[keep], weights=weights[keep]))
