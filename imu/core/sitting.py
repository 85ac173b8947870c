"""Sitting bouts and movement breaks, streaming; the "sitting_break_due" reminder.

Trunk sensors cannot see the thighs, so sitting is told from standing the way
imu.core.activity does it offline: a still or fidgeting span reached from walking through a
deep trunk bend (sitting down, over TRANSITION_BEND_DEG) is sitting, one reached without it
is standing. The walking itself comes from imu.core.activity.ActivityTracker (fed at about
25 Hz, which holds the step band), so this module adds only the sequence rules:

- a bout ends when the wearer stands up (the deep bend just before walking starts) and
  stays up walking for at least `sitting_break_min_s`: that time up is a break, which lasts
  until the next sit-down bend. A shorter walk does not end the bout (the wearer sat
  straight back down); it is counted as an interruption of the bout;
- a bout starts at a sit-down bend after walking, or at the first data of the session when
  the wearer is still then (the calibration is usually done seated); one that ends in
  walking without a stand-up bend was standing after all and is not a sitting bout;
- bends the lift tracker counted as lifts and bends inside a calibration are never sit-downs
  or stand-ups;
- standing up and staying still (a standing desk) without walking is not seen: trunk
  sensors alone cannot tell that from sitting. A bout from the session start that no
  sit-down or stand-up bend confirms (a session without walking) is kept, marked
  unconfirmed: the wearer did not walk, but may have stood.

Events: "sitting_break_due" (`sitting_break_after_s` into a bout, then every
`sitting_break_repeat_s` while it lasts and the wearer is not up), "sitting_bout" when a bout
ends (or at the end of the data) and "sitting_break" when a break ends.
"""

from __future__ import annotations

import numpy as np

from imu.core.activity import RUNNING, STILL, TRANSITION_BEND_DEG, UNKNOWN, WALKING, ActivityTracker, label_runs
from imu.profile import Thresholds

ACTIVITY_RATE_HZ = 25.0  # the activity tracker's rate: steps (up to 4 Hz) and their band fit
HISTORY_S = 90.0  # bend-signal history kept for looking back
STAND_UP_LOOKBACK_S = 12.0  # walking is recognised a few seconds late; the bend came before
SIT_DOWN_SETTLE_S = 5.0  # after a sit-down bend, this long without walking confirms it
SIT_DOWN_SEARCH_S = 40.0  # a sit-down is looked for this long after the last walking
ACTIVITY_LAG_S = 3.0  # the activity label lags the movement by about half its window
_ACTIVITY_ANGLES = ("trunk_inclination", "trunk_lateral_inclination", "lumbar_inclination",
                    "lumbar_lateral_inclination")


class SittingTracker:
    def __init__(self, thresholds: Thresholds, rate_hz: float):
        self.thr = thresholds
        self.decimate = max(1, int(round(rate_hz / ACTIVITY_RATE_HZ)))
        self.activity = ActivityTracker(rate_hz / self.decimate, thresholds)
        self._count = 0  # grid samples seen (absolute index, so chunking does not matter)
        self._ht = np.empty(0)  # decimated history: time and bend signal
        self._hx = np.empty(0)
        self._excluded: list[tuple[float, float]] = []  # lifts and calibrations: not transitions
        self.state: str | None = None  # None (not known yet), "seated" or "up"
        self.bout: dict | None = None
        self._pause_at: float | None = None  # seated bout interrupted by walking from here
        self._pause_bend = False
        self._up_since: float | None = None
        self._last_gait_t = -np.inf
        self._gait = False
        self._last_t: float | None = None
        self.bouts: list[dict] = []
        self.breaks: list[dict] = []
        self.reminders: list[dict] = []
        self._after_bout = False  # time up counts as a break only after a sitting bout
        self._first_t: float | None = None

    def exclude(self, start_s: float, end_s: float) -> None:
        """A span whose bends are not sitting down or standing up (a lift, a calibration)."""
        self._excluded.append((start_s, end_s))

    # --- input ----------------------------------------------------------------------------

    def update(self, t: np.ndarray, angles: dict[str, np.ndarray],
               acc: dict[str, np.ndarray] | None = None,
               speed_dps: np.ndarray | None = None) -> list[dict]:
        """`speed_dps`: the context's trailing angular speed (imu.core.context), which spares
        the gait test where the trunk did not turn at all."""
        n = len(t)
        if n == 0:
            return []
        # every decimate-th sample of the absolute grid: a strided view, no copy
        keep = slice((-self._count) % self.decimate, None, self.decimate)
        self._count += n
        if keep.start >= n:
            return []
        td = np.asarray(t, float)[keep]
        if self._first_t is None:
            self._first_t = float(td[0])
        sub = {k: np.asarray(angles[k], float)[keep] for k in _ACTIVITY_ANGLES if k in angles}
        if not sub:
            return []
        acc_sub = {loc: np.asarray(a, float)[keep] for loc, a in (acc or {}).items()}
        quiet = None if speed_dps is None else np.asarray(speed_dps, float)[keep] < self.thr.still_max_rate_dps
        labels = self.activity.update(sub, acc_sub or None, quiet)
        bend = sub.get("lumbar_inclination", sub.get("trunk_inclination"))
        self._ht = np.concatenate([self._ht, td])
        self._hx = np.concatenate([self._hx, bend if bend is not None else np.full(len(td), np.nan)])
        events: list[dict] = []
        # the labels are the activity module's own strings: compared as they are, no copy
        gait = (labels == WALKING) | (labels == RUNNING)
        known = labels != UNKNOWN
        # walk the chunk run by run (gait / not gait), checking the clock inside each run
        for a, b in zip(*label_runs(gait)):
            if gait[a]:
                events += self._gait_run(td[a:b])
            else:
                events += self._quiet_run(td[a:b], known[a:b], labels[a:b])
        self._last_t = float(td[-1])
        horizon = td[-1] - HISTORY_S  # the whole chunk was needed above; now only its tail
        cut = int(np.searchsorted(self._ht, horizon))
        self._ht, self._hx = self._ht[cut:], self._hx[cut:]
        self._excluded = [s for s in self._excluded if s[1] >= horizon - HISTORY_S]
        return events

    def finish(self) -> list[dict]:
        if self._last_t is None:
            return []
        end = self._last_t
        events = []
        if self.state == "seated" and self.bout is not None:
            stop = self._pause_at if self._pause_at is not None else end
            ok = self._pause_bend if self._pause_at is not None else False
            events += self._close_bout(stop, ok, open_at_end=self._pause_at is None)
        elif self.state == "up" and self._up_since is not None:
            events += self._record_break(self._up_since, end, open_at_end=True)
        self.state = None
        return events

    # --- runs -----------------------------------------------------------------------------

    def _gait_run(self, t: np.ndarray) -> list[dict]:
        events = []
        if not self._gait:  # walking recognised: when did the wearer get up?
            self._gait = True
            onset, bend = self._stand_up(float(t[0]))
            if self.state is None:
                self.state, self._up_since = "up", float(t[0]) - ACTIVITY_LAG_S
            elif self.state == "seated" and self._pause_at is None:
                self._pause_at, self._pause_bend = onset, bend
        self._last_gait_t = float(t[-1])
        if self.state == "seated" and self._pause_at is not None \
                and t[-1] - self._pause_at >= self.thr.sitting_break_min_s:
            events += self._close_bout(self._pause_at, self._pause_bend)
            self.state, self._up_since = "up", self._pause_at
            self._pause_at = None
        return events

    def _quiet_run(self, t: np.ndarray, known: np.ndarray, labels: np.ndarray) -> list[dict]:
        events = []
        self._gait = False
        if self.state is None:
            first = np.flatnonzero(known & (labels == STILL))
            if not len(first):
                return events
            # the session starts still: seated until walking says otherwise (calibrations
            # are usually done seated; a standing start is dropped at the first walk)
            self.state = "seated"
            self.bout = {"start_s": self._first_t, "from_bend": False, "interruptions": 0,
                         "reminders": 0, "next_due": self._first_t + self.thr.sitting_break_after_s}
        if self.state in ("up", "seated") and (self.state == "up" or self._pause_at is not None):
            # looked for until SIT_DOWN_SEARCH_S after the walking (a long chunk is cut there)
            now = min(float(t[-1]), self._last_gait_t + SIT_DOWN_SEARCH_S + SIT_DOWN_SETTLE_S)
            if now >= t[0]:
                events += self._sit_down(now)
        if self.state == "seated" and self._pause_at is None and self.bout is not None:
            events += self._reminders(t)
        return events

    # --- transitions ------------------------------------------------------------------------

    def _bends(self, a: float, b: float) -> list[tuple[float, float]]:
        """Deep trunk bends (start, end) in the history between a and b, not excluded."""
        rows = (self._ht >= a) & (self._ht <= b)
        if rows.sum() < 2:
            return []
        t, x = self._ht[rows], self._hx[rows]
        deep = np.nan_to_num(np.abs(x), nan=0.0) > TRANSITION_BEND_DEG
        edges = np.diff(np.concatenate([[0], deep.astype(np.int8), [0]]))
        out = []
        for s, e in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
            if s == 0:
                continue  # began before the span looked at: it belongs to an earlier moment
            # start where the bend left the upright posture (half-way up to the threshold)
            lead = np.flatnonzero(np.nan_to_num(np.abs(x[:s]), nan=0.0) < TRANSITION_BEND_DEG / 2)
            start = float(t[lead[-1]]) if len(lead) else float(t[s])
            end = float(t[e - 1])
            if not any(x0 <= end and start <= x1 for x0, x1 in self._excluded):
                out.append((start, end))
        return out

    def _stand_up(self, t_seen: float) -> tuple[float, bool]:
        """(moment the wearer got up, whether a stand-up bend shows it)."""
        lo = t_seen - STAND_UP_LOOKBACK_S
        if self._pause_at is not None:
            lo = max(lo, self._pause_at)
        bends = self._bends(lo, t_seen)
        if bends:
            return bends[-1][0], True
        return t_seen - ACTIVITY_LAG_S, False

    def _sit_down(self, now: float) -> list[dict]:
        since = self._pause_at if self._pause_at is not None else self._up_since
        lo = max(self._last_gait_t - ACTIVITY_LAG_S - 6.0, (since or -np.inf) + 2.0)
        # settled: no walking recognised after the bend (allowing for the label's lag)
        bends = [b for b in self._bends(lo, now) if now - b[1] >= SIT_DOWN_SETTLE_S
                 and self._last_gait_t <= b[1] + 2 * ACTIVITY_LAG_S]
        if not bends:
            return []
        start = bends[0][0]
        events = []
        if self.state == "seated":  # back down before a break: the same bout goes on
            self.bout["interruptions"] += 1
            self._pause_at = None
            return events
        events += self._record_break(self._up_since, start)
        self.state, self._up_since = "seated", None
        self.bout = {"start_s": start, "from_bend": True, "interruptions": 0, "reminders": 0,
                     "next_due": start + self.thr.sitting_break_after_s}
        self._last_gait_t = -np.inf
        return events

    def _reminders(self, t: np.ndarray) -> list[dict]:
        events = []
        bout = self.bout
        while t[-1] >= bout["next_due"]:
            i = int(np.searchsorted(t, bout["next_due"]))
            when = float(t[min(i, len(t) - 1)])
            bout["reminders"] += 1
            event = {"event": "sitting_break_due", "t": when, "bout_start_s": bout["start_s"],
                     "seated_s": round(when - bout["start_s"], 1), "number": bout["reminders"]}
            self.reminders.append(event)
            events.append(event)
            bout["next_due"] = when + self.thr.sitting_break_repeat_s
        return events

    # --- records ----------------------------------------------------------------------------

    def _close_bout(self, end: float, stood_up_with_bend: bool, open_at_end: bool = False) -> list[dict]:
        bout, self.bout = self.bout, None
        if bout is None:
            return []
        # walking off without a stand-up bend: the wearer was standing, not sitting
        if not stood_up_with_bend and not open_at_end:
            return []
        record = {"start_s": round(bout["start_s"], 2), "end_s": round(end, 2),
                  "duration_s": round(end - bout["start_s"], 2), "reminders": bout["reminders"],
                  "interruptions": bout["interruptions"], "open_at_end": open_at_end,
                  "from_session_start": not bout["from_bend"],
                  # a sit-down or stand-up bend was seen; else the wearer was still (or moving
                  # without walking) from the session start to its end: maybe standing
                  "confirmed": bool(bout["from_bend"] or stood_up_with_bend)}
        self.bouts.append(record)
        self._after_bout = True
        return [{"event": "sitting_bout", "t": end, **record}]

    def _record_break(self, start: float | None, end: float, open_at_end: bool = False) -> list[dict]:
        if start is None or end <= start or not self._after_bout:
            return []
        self._after_bout = False
        record = {"start_s": round(start, 2), "end_s": round(end, 2),
                  "duration_s": round(end - start, 2), "open_at_end": open_at_end}
        self.breaks.append(record)
        return [{"event": "sitting_break", "t": end, **record}]


def sitting_summary(events: list[dict], thresholds: Thresholds) -> dict:
    """summary.json's `sitting` from the pipeline's sitting events."""
    bouts = [{k: v for k, v in e.items() if k != "event"} for e in events if e.get("event") == "sitting_bout"]
    breaks = [{k: v for k, v in e.items() if k != "event"} for e in events if e.get("event") == "sitting_break"]
    reminders = [{k: v for k, v in e.items() if k != "event"} for e in events
                 if e.get("event") == "sitting_break_due"]
    durations = [b["duration_s"] for b in bouts]
    lengths = [b["duration_s"] for b in breaks]
    return {
        "bouts": {"count": len(bouts), "total_s": round(sum(durations), 1),
                  "unconfirmed": sum(not b.get("confirmed", True) for b in bouts),
                  "longest_s": round(max(durations, default=0.0), 1),
                  "over_threshold": sum(d >= thresholds.sitting_break_after_s for d in durations),
                  "events": bouts},
        "breaks": {"count": len(breaks), "total_s": round(sum(lengths), 1),
                   "median_s": round(float(np.median(lengths)), 1) if lengths else None,
                   "events": breaks},
        "reminders": {"count": len(reminders), "events": reminders},
        "rules": {"reminder_after_s": thresholds.sitting_break_after_s,
                  "reminder_repeat_s": thresholds.sitting_break_repeat_s,
                  "break_min_s": thresholds.sitting_break_min_s,
                  "limits": ("sitting is told from standing by the trunk bend of sitting down and "
                             "standing up next to walking; standing still without walking is not "
                             "seen as a break")},
    }
