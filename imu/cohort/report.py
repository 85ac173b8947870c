"""`imu cohort INDEX --by person|week|group`: distributions and comparisons across people.

Every comparison across people uses one value per person (their pooled rate), so someone
with many sessions does not count many times; sessions are still drawn as points.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from imu.cohort import figures
from imu.cohort.aggregate import group_comparison, period_summary, person_summary, usable
from imu.cohort.index import read_index
from imu.cohort.page import escape, image, number, page, table

BY = ("person", "week", "group")


def week_summary(rows: pd.DataFrame) -> dict:
    """A week's pooled numbers and the spread of its people's own rates."""
    per_person = [period_summary(r)["slouch_per_hour"] for _, r in rows.groupby("person")]
    rates = np.array([r for r in per_person if np.isfinite(r)])
    spread = np.percentile(rates, [25, 50, 75]) if len(rates) else [np.nan] * 3
    return {**period_summary(rows), "person_rate_p25": spread[0], "person_rate_median": spread[1],
            "person_rate_p75": spread[2]}


def write_cohort(index_path: str | Path, by: str, out_dir: str | Path, *,
                 scheduler: str | None = None, workers: int | None = None) -> dict[str, Path]:
    from imu.cohort.runner import aggregate_groups, dask_client

    if by not in BY:
        raise ValueError(f"--by must be one of {', '.join(BY)}, got {by!r}")
    index = read_index(index_path)
    rows = usable(index)
    if rows.empty:
        raise ValueError(f"{index_path}: no analysed session with a start time to compare")
    with dask_client(scheduler, workers) as client:
        people = aggregate_groups(client, rows, "person", person_summary)
        if by == "week":
            result = aggregate_groups(client, rows, ["week", "week_start"], week_summary)
            extra = None
        elif by == "group":
            result = aggregate_groups(client, rows, "group", period_summary)
            extra = aggregate_groups(client, rows, ["group", "week", "week_start"], period_summary)
        else:
            result, extra = people, None
    if by == "group":
        result = result.merge(_group_people(people), on="group", how="left")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"table": out / f"cohort-by-{by}.parquet", "html": out / "cohort.html"}
    result.to_parquet(paths["table"], index=False)
    sections = [_answer(rows, people, index), *_SECTIONS[by](rows, people, result, extra),
                _left_out(index), _method()]
    first, last = rows["start"].min(), rows["start"].max()
    subtitle = (f"{people['person'].nunique()} people, {len(rows)} sessions, {first:%d %b %Y} to "
                f"{last:%d %b %Y}; by {by}")
    paths["html"].write_text(page(f"Cohort report by {by}", subtitle, sections), encoding="utf-8")
    return paths


def _group_people(people: pd.DataFrame) -> pd.DataFrame:
    """Per group: the spread of its people's rates and how many improve or worsen."""
    out = []
    for group, g in people.groupby("group"):
        rates = g["slouch_per_hour"].dropna().to_numpy(float)
        q = np.percentile(rates, [25, 50, 75]) if len(rates) else [np.nan] * 3
        out.append({"group": group, "person_rate_p25": q[0], "person_rate_median": q[1],
                    "person_rate_p75": q[2], "falling": int((g["trend"] == "falling").sum()),
                    "rising": int((g["trend"] == "rising").sum()),
                    "no_clear_change": int((g["trend"] == "no clear change").sum())})
    return pd.DataFrame(out)


def _colours(people: pd.DataFrame) -> dict[str, str]:
    groups = sorted(people["group"].unique())
    return {g: figures.GROUP_COLOURS[i % len(figures.GROUP_COLOURS)] for i, g in enumerate(groups)}


def _answer(rows: pd.DataFrame, people: pd.DataFrame, index: pd.DataFrame) -> str:
    counts = people["trend"].value_counts()
    rates = people["slouch_per_hour"].dropna()
    failed = int((index["status"] != "ok").sum())
    lines = [f"Slouches per hour of wear, one value per person: median <b>{number(rates.median())}</b> "
             f"(middle half {number(rates.quantile(0.25))} to {number(rates.quantile(0.75))}).",
             f"Over the period: <b>{counts.get('falling', 0)}</b> people falling, "
             f"<b>{counts.get('rising', 0)}</b> rising, {counts.get('no clear change', 0)} with no clear "
             f"change, {int(people['trend'].str.startswith('not enough').sum())} with too few sessions."]
    if failed:
        lines.append(f'<span class="bad">{failed} session(s) could not be analysed; listed below.</span>')
    return '<div class="answer"><p>' + "<br>".join(lines) + "</p></div>"


def _by_person(rows, people, result, extra) -> list[str]:
    colours = _colours(people)
    by_group = dict(zip(people["person"], people["group"]))
    values = {p: r["slouch_per_worn_hour"].dropna().to_numpy() for p, r in rows.groupby("person")}
    body = [["<b>" + escape(p["person"]) + "</b>", escape(p["group"]), str(p["sessions"]),
             number(p["worn_hours"], 2), number(p["slouch_per_hour"]), number(p["first_week_slouch_per_hour"]),
             number(p["last_week_slouch_per_hour"]), number(p["trend_per_week"]),
             escape(p["trend"]), number(p["slouch_pct"]), number(p["slouch_longest_s"], 0)]
            for _, p in result.iterrows()]
    return ["<h2>People</h2>",
            image(figures.distributions(values, "Slouches per hour of wear, each session of each person",
                                        "slouches/h", {p: colours[by_group[p]] for p in values}),
                  "distribution of session rates per person"),
            image(figures.trend_bars(result, colours), "trend per person"),
            table(["person", "group", "sessions", "hours worn", "per hour", "first week", "last week",
                   "trend /week", "trend", "% slouched", "longest (s)"], body, text_columns=(0, 1, 8))]


def _by_week(rows, people, result, extra) -> list[str]:
    weeks = result.assign(series="cohort")
    body = [[escape(w["week"]), str(w["people"]), str(w["sessions"]), number(w["worn_hours"], 2),
             number(w["slouch_per_hour"]), number(w["person_rate_median"]),
             f"{number(w['person_rate_p25'])} to {number(w['person_rate_p75'])}", number(w["slouch_pct"]),
             number(w["slouch_longest_s"], 0)]
            for _, w in result.iterrows()]
    return ["<h2>Weeks</h2>",
            image(figures.weekly_lines(weeks, "series", "person_rate_median",
                                       "Slouches per hour: median person per week (band: middle half of people)",
                                       "slouches/h", {"cohort": "#7b4fa0"},
                                       band=("person_rate_p25", "person_rate_p75")), "weekly rates"),
            image(figures.weekly_lines(weeks, "series", "slouch_pct", "Time slouched, pooled (% of worn time)",
                                       "%", {"cohort": "#7b4fa0"}), "weekly time slouched"),
            table(["week", "people", "sessions", "hours worn", "pooled per hour", "median person",
                   "middle half", "% slouched", "longest (s)"], body)]


def _by_group(rows, people, result, extra) -> list[str]:
    colours = _colours(people)
    values = {g: p["slouch_per_hour"].dropna().to_numpy() for g, p in people.groupby("group")}
    comparison = group_comparison(people)
    test = (f"{comparison['test']}: p = {comparison['p']:.3g} ({comparison['note']})"
            if comparison.get("p") is not None else f"{comparison['test']}: not done ({comparison['note']})")
    body = [["<b>" + escape(g["group"]) + "</b>", str(g["people"]), str(g["sessions"]),
             number(g["worn_hours"], 2), number(g["slouch_per_hour"]), number(g["person_rate_median"]),
             f"{number(g['person_rate_p25'])} to {number(g['person_rate_p75'])}",
             f"{g['falling']} / {g['rising']} / {g['no_clear_change']}", number(g["slouch_pct"])]
            for _, g in result.iterrows()]
    return ["<h2>Groups</h2>",
            image(figures.distributions(values, "Slouches per hour of wear, one value per person",
                                        "slouches/h", colours), "distribution of people per group"),
            image(figures.weekly_lines(extra, "group", "slouch_per_hour", "Slouches per hour per week, pooled by group",
                                       "slouches/h", colours), "weekly rate per group"),
            table(["group", "people", "sessions", "hours worn", "pooled per hour", "median person",
                   "middle half", "falling / rising / unclear", "% slouched"], body, text_columns=(0,)),
            f'<p class="note">Do the groups differ? {escape(test)}.</p>']


_SECTIONS = {"person": _by_person, "week": _by_week, "group": _by_group}


def _left_out(index: pd.DataFrame) -> str:
    bad = index[(index["status"] != "ok") | index["start"].isna()]
    if bad.empty:
        return ""
    rows = [[escape(b["file"]), escape(b.get("person")),
             escape(b["error"] if b["status"] != "ok" else "no start time recorded")]
            for _, b in bad.iterrows()]
    return '<h2 class="bad">Sessions left out</h2>' + table(["file", "person", "reason"], rows,
                                                             text_columns=(0, 1, 2))


def _method() -> str:
    return ('<h2>How these numbers are made</h2><p class="note">Each session is analysed as '
            "<code>imu report</code> does. Pooled rates are slouches over worn hours; comparisons "
            "across people use one pooled value per person. A person's trend is a least-squares "
            "line through their sessions' rates against days, called falling or rising only when "
            "its 95 % interval excludes zero.</p>")
