"""The opening of a report: who, when, how long, which sensors, and the answer in words.

`session_facts` reads what a recording says about itself (person, start time, real or
virtual sensors) without decoding it. `headline` takes the numbers a person's history keeps
from a summary; `compare` sets them against that person's earlier sessions; `plain_summary`
turns a summary into short sentences on what went well and what to work on. Apart from
`session_facts` (one read-only look at the file) everything here is pure.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from imu import timefmt
from imu.recording.schema import SessionFileError, connect_read_only

HISTORY_SESSIONS = 10  # compare with the median of at most this many earlier sessions
SLOUCHED_PCT_OK = 10.0  # slouched for less than this share of the session: "mostly upright"
FORWARD_PCT_NOTE = 20.0  # trunk inclination beyond neutral this share of the time: worth a line
LOSS_PCT_NOTE = 5.0  # a sensor losing more than this share of its samples: worth a line


@dataclass
class SessionFacts:
    file_name: str
    person: str | None = None
    started: dt.datetime | None = None  # local wall-clock start, when the file says
    started_is_wear_time: bool = True  # False: only the time the file was written is known
    sensors: str = "unknown"  # "real", "virtual", "simulated", "unknown"
    sensors_text: str = "sensor hardware not recorded"
    devices: list[str] = field(default_factory=list)
    end_hint_s: float | None = None  # host time of the last notification, for progress bars


def session_facts(path: str | Path, kind: str) -> SessionFacts:
    """What a session file or CSV says about itself; never raises for a readable file."""
    path = Path(path)
    facts = SessionFacts(file_name=path.name)
    if kind == "csv":
        facts.sensors_text = "imported from a CSV file; sensor hardware not recorded"
        return facts
    try:
        meta, sensors, last = _read_session_meta(path)
    except (sqlite3.Error, SessionFileError, ValueError, TypeError):  # damaged: the report says how
        return facts
    facts.person = meta.get("profile") or meta.get("subject") or None
    facts.end_hint_s = last
    started = local_time(meta.get("started_local"), naive_is_local=True)
    if started is None:
        started = local_time(meta.get("created_utc"), naive_is_local=False)
        facts.started_is_wear_time = meta.get("source") in ("live", "virtual")
    facts.started = started
    facts.devices = [f"{loc}: {s.get('name') or s.get('device')}" for loc, s in sensors.items()]
    source = meta.get("source")
    names = ", ".join(sensors) or "none"
    if source == "live":
        facts.sensors, facts.sensors_text = "real", f"real sensors ({names})"
    elif source == "virtual":
        what = meta.get("virtual") or "desk"
        facts.sensors = "virtual"
        facts.sensors_text = (f"virtual sensors on a simulated radio ({names}); the wearer is "
                              f"simulated ({what}), not a person")
    elif source == "simulated":
        facts.sensors = "simulated"
        facts.sensors_text = (f"simulated session ({meta.get('scenario') or 'scenario'}, seed "
                              f"{meta.get('seed')}); no person wore these sensors ({names})")
    else:
        facts.sensors_text = f"sensors: {names}; whether real or virtual was not recorded"
    return facts


def _read_session_meta(path: Path) -> tuple[dict, dict, float | None]:
    conn = connect_read_only(path)  # the path quoted: '#' or '%' in a name is not URI syntax
    try:
        meta = {}
        for key, value in conn.execute("SELECT key, value FROM meta"):
            try:
                meta[key] = json.loads(value)
            except (TypeError, json.JSONDecodeError):
                meta[key] = value
        sensors = {row[0]: {"device": row[1], "name": row[2]} for row in
                   conn.execute("SELECT location, device, name FROM sensors ORDER BY id")}
        row = conn.execute("SELECT host_time FROM notifications ORDER BY id DESC LIMIT 1").fetchone()
        return meta, sensors, (float(row[0]) if row else None)
    finally:
        conn.close()


def local_time(text, naive_is_local: bool) -> dt.datetime | None:
    """An ISO time as naive local wall clock; a time without a zone is local or UTC as told."""
    if not isinstance(text, str):
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        if naive_is_local:
            return when
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone().replace(tzinfo=None)


# --- headline numbers and history ---------------------------------------------------------
# name -> (label, unit, lower is better)
HEADLINES = {
    "slouch_per_hour": ("slouches per hour", "", True),
    "slouched_pct": ("time slouched", "%", True),
    "longest_slouch_s": ("longest slouch", "s", True),
    "trunk_neutral_pct": ("trunk inclination neutral", "%", False),
}


def neutral_share(angle: dict | None) -> float | None:
    """% of measured time in an angle's neutral class (the zone list's neutral entry)."""
    if not angle or not angle.get("zones"):
        return None
    labels = list(angle["zones"])
    neutral = labels[1] if len(labels) == 4 else labels[0]  # sagittal lists extension first
    return angle["zones"][neutral]


def headline(summary: dict) -> dict:
    """The numbers a person's history keeps for one session (None where not measured)."""
    slouch, duration = summary["slouch"], summary["duration_s"] or 0.0
    measured = summary["slouch"]["signal"] in summary["angles"]
    return {
        "slouch_per_hour": slouch["per_hour"] if measured else None,
        "slouched_pct": (round(100.0 * slouch["total_s"] / duration, 2)
                         if measured and duration else None),
        "longest_slouch_s": slouch["longest_s"] if measured else None,
        "trunk_neutral_pct": neutral_share(summary["angles"].get("trunk_inclination")),
    }


def history_entry(summary: dict, facts: SessionFacts, session_key: str) -> dict:
    return {"session": session_key, "file": facts.file_name,
            "started": facts.started.isoformat(timespec="seconds") if facts.started else None,
            "duration_s": summary["duration_s"], "calibration_ok": summary["calibration"]["ok"],
            # posture resets per day add up across a person's sessions (issue 13)
            "posture_resets_by_day": [{"date": d["date"], "count": d["count"]} for d in
                                      (summary.get("posture_resets") or {}).get("by_day", []) if d.get("date")],
            **headline(summary)}


@dataclass
class Comparison:
    sessions: int  # earlier sessions compared with
    usual: dict[str, float]  # metric -> median of the earlier sessions


def compare(entry: dict, history: list[dict]) -> Comparison | None:
    """This session against the median of the person's earlier calibrated sessions."""
    started = entry.get("started") or ""
    earlier = [h for h in history if h.get("session") != entry["session"]
               and h.get("calibration_ok") and (h.get("started") or "") < started]
    earlier = earlier[-HISTORY_SESSIONS:]
    if not earlier:
        return None
    usual = {}
    for name in HEADLINES:
        values = [h[name] for h in earlier if isinstance(h.get(name), (int, float))]
        if values:
            usual[name] = float(statistics.median(values))
    return Comparison(len(earlier), usual) if usual else None


def verdict(name: str, value: float | None, usual: float | None) -> str | None:
    """"better", "worse" or "same" (within 10 % or one unit) against the usual value."""
    if value is None or usual is None:
        return None
    if abs(value - usual) <= max(1.0, 0.1 * abs(usual)):
        return "same"
    lower_is_better = HEADLINES[name][2]
    return "better" if (value < usual) == lower_is_better else "worse"


# --- the answer in words ------------------------------------------------------------------
def clock(seconds: float | None) -> str:
    return "-" if seconds is None else timefmt.clock(round(seconds))


def span_text(seconds: float) -> str:
    """A duration in words: "45 s", "20 min", "7 h 58 min"."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = int(round(seconds / 60.0))
    h, m = divmod(minutes, 60)
    return f"{h} h {m} min" if h else f"{m} min"


def plain_summary(summary: dict, comparison: Comparison | None = None
                  ) -> tuple[list[str], list[str]]:
    """(what went well, what to work on): short sentences from the summary's numbers.

    Nothing is praised that was not measured: a failed calibration or a missing slouch
    signal is said first, and posture sentences that depend on it are left out.
    """
    well, work = [], []
    s, th = summary, summary["method"]["thresholds"]
    duration = s["duration_s"] or 0.0
    cal = s["calibration"]
    slouch = s["slouch"]
    signal = slouch["signal"].replace("_", " ")
    measured = slouch["signal"] in s["angles"]
    trustworthy = bool(cal["ok"])
    if not trustworthy:
        work.append("Calibration failed, so every angle below may be offset from the person's "
                    "upright posture: " + ("; ".join(cal["reasons"]) or "no reason recorded") + ".")
    if not measured:
        work.append(f"Slouching could not be measured: {signal} needs sensors this session "
                    "did not have (see 'What could not be measured').")
    if trustworthy and measured:
        _slouch_sentences(slouch, duration, th, s["alerts"]["count"], well, work)
        _zone_sentences(s["angles"].get("trunk_inclination"), well, work)
        static = (s["angles"].get("trunk_inclination") or {}).get("static") or {}
        if static.get("over_1min"):
            work.append(f"Sat or stood without moving the trunk for over a minute "
                        f"{static['over_1min']} time{'s' if static['over_1min'] > 1 else ''} "
                        f"(longest {clock(static['longest_s'])}): change position more often.")
        elif static and duration >= 600:
            well.append("Moved regularly: no posture was held still for more than a minute.")
        slump = s.get("lumbar_slump")
        if slump and slump.get("time_pct") and slump["time_pct"] >= 5.0:
            work.append(f"The lower back was bent past {100 * th['lumbar_slump_fraction']:.0f} % "
                        f"of its calibrated maximum for {slump['time_pct']:.0f} % of the time.")
        lateral = neutral_share(s["angles"].get("trunk_lateral_inclination"))
        if lateral is not None and lateral >= 95.0:
            well.append(f"Hardly any side bending: the trunk stayed within "
                        f"{th['lateral_zones_deg'][0]:g} deg of upright sideways "
                        f"{lateral:.0f} % of the time.")
    if comparison is not None and trustworthy:
        _comparison_sentences(headline(s), comparison, well, work)
    _data_sentences(s, work)
    return well, work


def _slouch_sentences(slouch, duration, th, alerts, well, work) -> None:
    n = slouch["count"]
    share = 100.0 * slouch["total_s"] / duration if duration else 0.0
    held = f"{th['slouch_min_duration_s']:g} s"
    if n == 0:
        well.append(f"No slouch held for {held} or more in {span_text(duration)}.")
        return
    longest = max(slouch["events"], key=lambda e: e["duration_s"]) if slouch["events"] else None
    where = f", the longest {clock(longest['duration_s'])} from {clock(longest['start_s'])}" \
        if longest else ""
    if share < SLOUCHED_PCT_OK:
        well.append(f"Upright most of the time: slouched for {share:.0f} % of the session "
                    f"({n} episode{'s' if n > 1 else ''}{where}).")
    else:
        work.append(f"Slouched for {share:.0f} % of the session: {n} episode"
                    f"{'s' if n > 1 else ''} of {held} or more{where}.")
    if alerts:
        work.append(f"{alerts} slouch{'es' if alerts > 1 else ''} lasted past "
                    f"{th['alert_after_s']:g} s and triggered an alert.")
    elif n:
        well.append(f"Every slouch was corrected within {th['alert_after_s']:g} s, before an "
                    "alert was due.")


def _zone_sentences(angle, well, work) -> None:
    if not angle or not angle.get("zones"):
        return
    labels = list(angle["zones"])
    neutral = neutral_share(angle)
    forward = sum(angle["zones"][k] for k in labels[2:])
    if forward >= FORWARD_PCT_NOTE:
        work.append(f"Leaned the trunk forward beyond {labels[2].split('-')[0]} deg (ISO 11226 "
                    f"intermediate or awkward) for {forward:.0f} % of the measured time.")
    elif neutral is not None and neutral >= 100.0 - FORWARD_PCT_NOTE:
        well.append(f"Trunk inclination stayed in the neutral zone for {neutral:.0f} % of the "
                    "measured time.")


def _comparison_sentences(now: dict, comparison: Comparison, well, work) -> None:
    for name, usual in comparison.usual.items():
        result = verdict(name, now.get(name), usual)
        if result in (None, "same"):
            continue
        label, unit, _ = HEADLINES[name]
        value = now[name]
        text = (f"{label.capitalize()}: {_fmt(value, unit)} against your usual {_fmt(usual, unit)} "
                f"(median of {comparison.sessions} earlier session"
                f"{'s' if comparison.sessions > 1 else ''}).")
        (well if result == "better" else work).append(text)


def _fmt(value: float, unit: str) -> str:
    if unit == "s":
        return clock(value)
    return f"{value:.1f}{' ' + unit if unit else ''}"


def _data_sentences(s: dict, work) -> None:
    for location, q in s["sensors"].items():
        if q.get("lost_pct") and q["lost_pct"] >= LOSS_PCT_NOTE:
            work.append(f"Data: the {location} sensor lost {q['lost_pct']:.0f} % of its samples; "
                        "check its battery and how it sits.")
