"""`imu progress PERSON`: one person's trends over days and weeks, as HTML and Parquet.

The person is the profile name the live loop records with every session (`--profile`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from imu.cohort import figures
from imu.cohort.aggregate import period_summary, person_summary, usable, zone_columns
from imu.cohort.index import read_index
from imu.cohort.page import escape, image, number, page, plural, table


def person_history(index_path: str | Path, person: str, before=None) -> pd.DataFrame:
    """The person's analysed sessions in an index (those that started before `before`, when
    given), oldest first: what a session report can compare its numbers with."""
    rows = usable(read_index(index_path))
    rows = rows[rows["person"] == person]
    if before is not None:
        rows = rows[rows["start"] < pd.Timestamp(before)]
    return rows.reset_index(drop=True)


def write_progress(index_path: str | Path, person: str, out_dir: str | Path, *,
                   scheduler: str | None = None, workers: int | None = None) -> tuple[dict[str, Path], dict]:
    """Write progress.html and the day and week tables into out_dir; returns their paths
    and the person's overall numbers (pooled rates, first and last week, trend)."""
    from imu.cohort.runner import aggregate_groups, dask_client

    index = read_index(index_path)
    rows = usable(index)
    mine = rows[rows["person"] == person]
    if mine.empty:
        known = sorted(rows["person"].unique())
        raise ValueError(f"no analysed sessions of {person!r} in {index_path}; people in it: "
                         f"{', '.join(known) if known else 'none'}")
    problems = index[(index["person"] == person) & ((index["status"] != "ok") | index["start"].isna())]
    with dask_client(scheduler, workers) as client:
        days = aggregate_groups(client, mine, "day", period_summary)
        weeks = aggregate_groups(client, mine, ["week", "week_start"], period_summary)
        overall = client.submit(person_summary, mine).result()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"days": out / "progress-days.parquet", "weeks": out / "progress-weeks.parquet",
             "html": out / "progress.html"}
    days.to_parquet(paths["days"], index=False)
    weeks.to_parquet(paths["weeks"], index=False)
    paths["html"].write_text(_html(person, mine, weeks, overall, problems), encoding="utf-8")
    return paths, overall


def _html(person: str, sessions: pd.DataFrame, weeks: pd.DataFrame, overall: dict,
          problems: pd.DataFrame) -> str:
    first, last = sessions["start"].min(), sessions["start"].max()
    subtitle = (f"{plural(len(sessions), 'session')} on {plural(overall['days'], 'day')}, {first:%d %b %Y} to "
                f"{last:%d %b %Y}; {overall['worn_hours']:.1f} hours worn")
    sections = [_answer(overall), _figures(sessions, weeks, overall), _week_table(weeks),
                _session_table(sessions), _problems(problems), _method()]
    return page(f"Progress of {person}", subtitle, sections)


def _answer(o: dict) -> str:
    lines = [f"Slouches per hour of wear: <b>{number(o['first_week_slouch_per_hour'])}</b> in the "
             f"first week, <b>{number(o['last_week_slouch_per_hour'])}</b> in the last."]
    if pd.notna(o["trend_per_week"]):
        lines.append(f"Trend: {number(o['trend_per_week'], 1)} slouches/h per week (95 % interval "
                     f"{number(o['trend_low'], 1)} to {number(o['trend_high'], 1)}): "
                     f"<b>{escape(o['trend'])}</b>.")
    else:
        lines.append(f"Trend: {escape(o['trend'])}.")
    lines.append(f"Over all sessions: {number(o['slouch_pct'])} % of worn time slouched, longest "
                 f"episode {number(o['slouch_longest_s'], 0)} s, {o['slouches']} slouches.")
    return '<div class="answer"><p>' + "<br>".join(lines) + "</p></div>"


def _figures(sessions: pd.DataFrame, weeks: pd.DataFrame, overall: dict) -> str:
    parts = ["<h2>Over days and weeks</h2>",
             image(figures.session_trend(sessions, weeks, "slouch_per_worn_hour", "slouch_per_hour",
                                         "Slouches per hour of wear", "slouches/h", overall),
                   "slouches per hour by session and week"),
             image(figures.session_trend(sessions, weeks, "slouch_pct", "slouch_pct",
                                         "Time slouched (% of worn time)", "%"),
                   "time slouched by session and week"),
             image(figures.session_trend(sessions, weeks, "slouch_longest_s", "slouch_longest_s",
                                         "Longest slouch episode", "s"), "longest episode")]
    if sessions["static_longest_s"].notna().any():
        parts.append(image(figures.session_trend(
            sessions, weeks, "static_longest_s", "static_longest_s",
            "Longest still bout (sitting or standing without moving the spine)", "s"),
            "longest static bout"))
    signal = sessions["slouch_signal"].dropna()
    zones = zone_columns(weeks, signal.iloc[0]) if len(signal) else []
    if zones:
        labels = [figures.zone_label(z) for z in zones]
        parts.append(image(figures.weekly_bars(weeks, zones, labels, figures.zone_colours(len(zones)),
                                               f"Time in zones of {signal.iloc[0]} per week (% of worn time)",
                                               "%"), "time in zones per week"))
    for kind in ("run", "carry"):
        columns = [f"{kind}_grade_{g}" for g in figures.GRADE_COLOURS]
        if weeks[columns].fillna(0).to_numpy().sum() > 0:
            parts.append(image(figures.weekly_bars(
                weeks, columns, list(figures.GRADE_COLOURS), list(figures.GRADE_COLOURS.values()),
                f"{'Runs' if kind == 'run' else 'Carries'} by grade per week", "count"),
                f"{kind} grades per week"))
    return "".join(parts)


def _week_table(weeks: pd.DataFrame) -> str:
    rows = [[escape(w["week"]), str(w["sessions"]), number(w["worn_hours"], 2), str(w["slouches"]),
             number(w["slouch_per_hour"]), number(w["slouch_pct"]), number(w["slouch_longest_s"], 0),
             number(w["static_longest_s"], 0), f"{int(w['runs'])} / {int(w['carries'])}"]
            for _, w in weeks.iterrows()]
    return "<h2>Week by week</h2>" + table(
        ["week", "sessions", "hours worn", "slouches", "per hour", "% slouched", "longest (s)",
         "longest still (s)", "runs / carries"], rows)


def _session_table(sessions: pd.DataFrame) -> str:
    rows = [[escape(f"{s['start']:%a %d %b %Y %H:%M}"), number(s["duration_s"] / 60, 1),
             str(int(s["slouch_count"])), number(s["slouch_per_worn_hour"]), number(s["slouch_pct"]),
             number(s["slouch_longest_s"], 0), escape(s["calibration_quality"]), escape(s["file"])]
            for _, s in sessions.iterrows()]
    return "<h2>Sessions</h2>" + table(
        ["start", "minutes", "slouches", "per hour", "% slouched", "longest (s)", "calibration", "file"],
        rows, text_columns=(0, 6, 7))


def _problems(problems: pd.DataFrame) -> str:
    if problems.empty:
        return ""
    rows = [[escape(p["file"]), escape(p["error"] if p["status"] != "ok" else "no start time recorded")]
            for _, p in problems.iterrows()]
    return ('<h2 class="bad">Sessions left out</h2>'
            + table(["file", "reason"], rows, text_columns=(0, 1)))


def _method() -> str:
    return ('<h2>How these numbers are made</h2><p class="note">Each session is analysed as '
            "<code>imu report</code> does. Slouches per hour count events over the hours the "
            "slouch signal was measured (worn time); weekly values pool the week's slouches over "
            "its worn hours. The trend is a least-squares line through the sessions' rates "
            "against days; it is called falling or rising only when its 95 % interval excludes "
            "zero.</p>")
