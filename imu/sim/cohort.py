"""A simulated cohort: people who improve, worsen or stay the same over days of desk work.

Each person has a slouch rate (slouches per hour of work) that moves linearly from a start
value to an end value over the days, with day-to-day scatter; each day's session is a desk
script (calibration, then sitting tall with that day's slouches, short slouches, leans,
reaches) built with the public `ScriptBuilder` API. The truth of the whole cohort (each
person's trend and every session's planned and true slouches) is saved as JSON beside the
session files, and every session keeps its own `.truth.npz`.

The scenario builder has no "slouches per hour" knob, so each day script is registered as a
scenario named after its slouch count (`cohort_day_<n>`) in the simulator's scenario table
before `imu.sim.simulate` runs it; the names stay out of the CLI's scenario list.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from imu.sim import scenarios as _scenarios
from imu.sim.script import Script, ScriptBuilder

TRENDS = ("improving", "worsening", "stable")
TRUTH_FILE = "cohort-truth.json"
DAY_PREFIX = "cohort_day_"
MIN_GAP_S = 8.0  # sitting tall between two events
SLOUCH_S = (12.0, 45.0)  # how long one slouch is held (all above the 5 s event minimum)
FIRST_DAY = dt.date(2026, 1, 5)  # a Monday, so that weeks are whole


@dataclass(frozen=True)
class Person:
    name: str
    group: str
    trend: str  # "improving", "worsening" or "stable"
    rate_start_per_h: float  # slouches per hour of work on the first day
    rate_end_per_h: float  # ... on the last day

    def planned_rate(self, day: int, days: int) -> float:
        """The person's true underlying rate on `day` (0-based) of `days`."""
        f = day / max(days - 1, 1)
        return self.rate_start_per_h + f * (self.rate_end_per_h - self.rate_start_per_h)


@dataclass(frozen=True)
class PlannedSession:
    """Everything a worker needs to write one session (small, picklable)."""

    person: str
    group: str
    day: int
    start_local: str  # ISO wall clock, as the live loop records `started_local`
    slouches: int
    duration_s: float
    seed: int
    file: str  # name inside the cohort folder


def make_people(count: int, seed: int = 0, groups: int = 2) -> list[Person]:
    """`count` people cycling improving, worsening, stable; groups differ in baseline."""
    if count < 1:
        raise ValueError(f"--people must be at least 1, got {count}")
    if groups < 1:
        raise ValueError(f"--groups must be at least 1, got {groups}")
    r = np.random.default_rng([seed, 7001])
    people = []
    for i in range(count):
        trend, g = TRENDS[i % len(TRENDS)], i % groups
        base = r.uniform(30.0, 40.0) * (1.0 + 0.25 * g)  # later groups slouch more
        change = r.uniform(0.7, 0.8)
        start, end = {"improving": (base, base * (1 - change)),
                      "worsening": (base * (1 - change), base),
                      "stable": (base * 0.7, base * 0.7)}[trend]
        people.append(Person(f"p{i + 1:02d}", f"group-{chr(ord('a') + g)}", trend,
                             round(start, 2), round(end, 2)))
    return people


def plan_cohort(people: list[Person], days: int, minutes: float = 10.0, seed: int = 0,
                attendance: float = 0.9) -> list[PlannedSession]:
    """One session per person per working day (Monday to Friday), a few days missed."""
    if days < 1:
        raise ValueError(f"--days must be at least 1, got {days}")
    if not 3.0 <= minutes <= 240.0:
        raise ValueError(f"--minutes must be within 3..240, got {minutes:g}")
    r = np.random.default_rng([seed, 7002])
    duration_s = 60.0 * minutes
    work_h = (duration_s - 45.0) / 3600.0  # the calibration takes about 40 s
    plan, calendar = [], _working_days(days)
    for p_index, person in enumerate(people):
        for day, date in enumerate(calendar):
            if day not in (0, days - 1) and r.random() > attendance:
                continue  # missed a day (never the first or the last, which anchor the trend)
            rate = person.planned_rate(day, days) * r.uniform(0.85, 1.15)
            slouches = int(max(0, round(rate * work_h + r.uniform(-0.5, 0.5))))
            clock = dt.time(8 + int(r.integers(0, 3)), int(r.integers(0, 60)))
            start = dt.datetime.combine(date, clock)
            plan.append(PlannedSession(
                person.name, person.group, day, start.isoformat(), slouches, duration_s,
                int(seed * 100_000 + p_index * 1000 + day), f"{person.name}-{date:%Y%m%d}.imu"))
    return plan


def _working_days(days: int) -> list[dt.date]:
    out, date = [], FIRST_DAY
    while len(out) < days:
        if date.weekday() < 5:
            out.append(date)
        date += dt.timedelta(days=1)
    return out


def day_scenario(slouches: int) -> str:
    """The scenario name of a cohort day with `slouches` slouches (registered on demand)."""
    name = f"{DAY_PREFIX}{int(slouches)}"
    _scenarios._BUILDERS.setdefault(name, (lambda r, d, s: day_script(r, d, s, int(slouches)), False))
    return name


def day_script(r: np.random.Generator, duration_s: float | None, sacral: bool,
               slouches: int) -> Script:
    """A desk session: calibration, then `slouches` slouches among leans and short slouches."""
    duration_s = 600.0 if duration_s is None else duration_s
    b = ScriptBuilder(r)
    b.calibration()
    work_s = duration_s - b.t
    events = [("slouch", r.uniform(*SLOUCH_S)) for _ in range(slouches)]
    events += [("short_slouch", r.uniform(2.0, 4.0)) for _ in range(int(r.integers(1, 4)))]
    events += [("lean", r.uniform(5.0, 15.0)) for _ in range(2)] + [("reach", r.uniform(2.5, 5.0))]
    busy = sum(d for _, d in events)
    free = work_s - busy - MIN_GAP_S * (len(events) + 1)
    if free < 0:  # too many slouches for the time: shorten them, never drop one
        scale = max(0.0, work_s - MIN_GAP_S * (len(events) + 1)) / busy
        events = [(e, max(d * scale, 8.0 if e == "slouch" else 2.0)) for e, d in events]
        free = work_s - sum(d for _, d in events) - MIN_GAP_S * (len(events) + 1)
        if free < 0:
            raise ValueError(f"{duration_s:g} s is too short for {slouches} slouches")
    order = [events[i] for i in r.permutation(len(events))]
    gaps = MIN_GAP_S + free * r.dirichlet(np.ones(len(order) + 1))
    end = b.t + work_s
    for (event, duration), gap in zip(order, gaps):
        b.neutral("sit", gap)
        getattr(b, event)(duration)
    b.neutral("sit", max(end - b.t, MIN_GAP_S))
    return b.build(f"{DAY_PREFIX}{slouches}", sacral)


def write_planned_session(folder: str | Path, planned: PlannedSession) -> dict:
    """Simulate one planned session and write it (session file + truth); returns its truth row."""
    from imu.sim.write import write_simulated_session
    from imu.sim import simulate

    path = Path(folder) / planned.file
    if path.exists():
        raise ValueError(f"{path} exists; session files are never overwritten")
    scenario = day_scenario(planned.slouches)
    sim = simulate(scenario, planned.duration_s, planned.seed)
    metadata = {"profile": planned.person, "group": planned.group,
                "started_local": planned.start_local, "cohort_day": planned.day}
    write_simulated_session(sim, path, scenario, planned.seed, metadata)
    episodes = sim.truth.episodes
    return {**asdict(planned), "true_slouches": len(episodes),
            "true_slouch_s": round(float(sum(e["end_s"] - e["start_s"] for e in episodes)), 2)}


def save_truth(folder: str | Path, people: list[Person], sessions: list[dict], days: int) -> Path:
    path = Path(folder) / TRUTH_FILE
    data = {"days": days, "first_day": FIRST_DAY.isoformat(),
            "people": [asdict(p) for p in people],
            "sessions": sorted(sessions, key=lambda s: (s["person"], s["day"]))}
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def load_truth(folder: str | Path) -> dict:
    return json.loads((Path(folder) / TRUTH_FILE).read_text(encoding="utf-8"))
