"""Lifts and hip hinges, streaming: every bend-and-return of the trunk, graded.

A bend starts when the bend signal (`trunk_inclination`, else `lumbar_inclination`) rises
over `lift_enter_deg` and ends when it falls below `lift_exit_deg`; it is a lift when it
peaked at `lift_min_peak_deg` or more and came back within `lift_max_s` (a shallower bend is
a lean, a sit-down or a stand-up; a longer one is a posture), with the lumbar sensor itself
tilted past `lift_enter_deg` when there is one (a slouch rounds the upper back while the
pelvis rolls back). The pipeline blanks the calibration's spans (NaN), so no bend starts
there; a lost packet (NaN inside a bend) neither starts nor ends one.

Per lift, at the moment of peak bend and against the second before the bend began:
- trunk inclination (and its peak), lumbar inclination, lumbar flexion (sacral sensor);
- the lumbar share of the lumbo-pelvic bend (lumbo-pelvic rhythm): the change of
  `lumbar_flexion` (lumbar spine) over the change of `lumbar_inclination` (lumbar spine plus
  pelvis, i.e. the hips). Without a sacral sensor the two cannot be separated: "not
  measurable", with the reason;
- peak lumbar flexion (or inclination) as a percentage of the largest reached in the
  calibration's bends;
- a grade with reasons: "hinge" (the hips did the work, the lumbar spine stayed near
  neutral), "stoop" (rounded lower back), "partly rounded" in between, or "not graded" when
  the layout or the calibration cannot tell.

The live cue ("lift_cue") fires once per bend, as soon as the bend is lift-sized and the
lumbar spine is already taking a stoop's share. Thresholds: imu.profile (issue 13 block).
"""

from __future__ import annotations

import numpy as np

from imu.profile import Thresholds

HINGE, STOOP, PARTLY, NOT_GRADED = "hinge", "stoop", "partly rounded", "not graded"
BASELINE_S = 2.0  # history kept before a bend; its first second is the baseline
CUE_MIN_BEND_DEG = 20.0
PEAK_TOLERANCE_DEG = 3.0  # a split read this far below the peak still describes it  # lumbo-pelvic bend before a live cue may judge the share


class LiftTracker:
    def __init__(self, thresholds: Thresholds, rate_hz: float):
        self.thr = thresholds
        self.rate = rate_hz
        self.lifts: list[dict] = []
        # (from_s, to_s, lumbar_max_deg, why not graded or None) per calibration stretch
        self._stretches: list[tuple[float, float, dict, str | None]] = []
        self._pre: dict[str, np.ndarray] = {}  # the last BASELINE_S before the current sample
        self._bend: dict[str, list[np.ndarray]] | None = None  # samples of the open bend
        self._bend_len = 0
        self._too_long = False
        self._cued = False
        self._baseline: dict[str, float] = {}
        self._last_t: float | None = None

    def set_calibration(self, stretches: list[tuple[float, float, dict, str | None]]) -> None:
        """Per calibration stretch of the session: its span, calibrated lumbar maxima and, when
        its lifts cannot be graded (forward not verified: a flexion may be an extension), why."""
        self._stretches = list(stretches)

    def _stretch(self, t: float) -> tuple[dict, str | None]:
        for a, b, maxima, why in self._stretches:
            if a <= t < b:
                return maxima or {}, why
        return {}, "no calibration covers this moment"

    @staticmethod
    def signal_name(angles: dict[str, np.ndarray]) -> str | None:
        for name in ("trunk_inclination", "lumbar_inclination"):
            if name in angles:
                return name
        return None

    def update(self, t: np.ndarray, angles: dict[str, np.ndarray]) -> list[dict]:
        n = len(t)
        name = self.signal_name(angles)
        if n == 0 or name is None:
            return []
        thr = self.thr
        x = np.asarray(angles[name], float)
        cols = {k: np.asarray(angles[k], float) for k in
                ("trunk_inclination", "lumbar_inclination", "lumbar_flexion") if k in angles}
        cols["t"] = np.asarray(t, float)
        cols["_signal"] = x
        marks = np.zeros(n, np.int8)
        marks[x >= thr.lift_enter_deg] = 1
        marks[x < thr.lift_exit_deg] = -1
        # NaN (a lost packet) holds the state; inside a calibration the signal is NaN
        # throughout, so no bend starts there and one running into it becomes too long
        events: list[dict] = []
        pos = 0
        while pos < n:
            if self._bend is None:
                start = np.flatnonzero(marks[pos:] == 1)
                if not len(start):
                    self._keep_pre(cols, pos, n)
                    break
                s = pos + int(start[0])
                self._keep_pre(cols, pos, s)
                self._open()
                pos = s
            stop = np.flatnonzero(marks[pos:] < 0)
            e = pos + int(stop[0]) if len(stop) else n
            self._extend(cols, pos, e)
            events += self._cue()
            if e < n:
                events += self._close(float(t[e]))
                self._bend = None
                self._pre = {}
                pos = e
            else:
                pos = n
        self._last_t = float(t[-1])
        return events

    def finish(self) -> list[dict]:
        """A bend open at the end of the data never came back: not a lift."""
        self._bend = None
        return []

    # --- internals ----------------------------------------------------------------------

    def _keep_pre(self, cols, a: int, b: int) -> None:
        keep = int(round(BASELINE_S * self.rate))
        self._pre = {k: np.concatenate([self._pre.get(k, v[:0]), v[a:b]])[-keep:] for k, v in cols.items()}

    def _open(self) -> None:
        self._bend = {}
        self._bend_len = 0
        self._too_long = False
        self._cued = False
        pre = self._pre
        self._baseline = {}
        # the baseline needs an upright moment before the bend: at least half the history
        if "t" in pre and len(pre["t"]) >= BASELINE_S / 2 * self.rate:
            first = pre["t"] <= pre["t"][0] + BASELINE_S / 2
            for k, v in pre.items():
                if k != "t":
                    finite = v[first][np.isfinite(v[first])]
                    self._baseline[k] = float(np.median(finite)) if len(finite) else np.nan

    def _extend(self, cols, a: int, b: int) -> None:
        if self._too_long or b <= a:
            return
        for k, v in cols.items():
            self._bend.setdefault(k, []).append(v[a:b])
        self._bend_len += b - a
        if self._bend_len > self.thr.lift_max_s * self.rate:  # a held posture: stop storing
            self._too_long = True
            self._bend = {}

    def _delta(self, values: np.ndarray, key: str) -> np.ndarray:
        return values - self._baseline.get(key, np.nan)

    def _cue(self) -> list[dict]:
        """A live cue once per bend: lift-sized and the lumbar spine rounding."""
        if self._cued or self._too_long or "lumbar_flexion" not in self._bend \
                or self._stretch(float(self._bend["t"][0][0]))[1] is not None:
            return []
        signal = np.concatenate(self._bend["_signal"])
        if np.nanmax(signal) < self.thr.lift_min_peak_deg:
            return []
        lf = self._delta(np.concatenate(self._bend["lumbar_flexion"]), "lumbar_flexion")
        li = self._delta(np.concatenate(self._bend["lumbar_inclination"]), "lumbar_inclination")
        t = np.concatenate(self._bend["t"])
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(li >= CUE_MIN_BEND_DEG, lf / li, np.nan)
        rounding = (share >= self.thr.lift_stoop_share_min) | (lf >= self.thr.lift_rounded_lumbar_deg)
        hit = np.flatnonzero(rounding & (signal >= self.thr.lift_min_peak_deg))
        if not len(hit):
            return []
        i = int(hit[0])
        self._cued = True
        return [{"event": "lift_cue", "t": float(t[i]), "start_s": float(t[0]),
                 "lumbar_flexion_deg": round(float(lf[i]), 1),
                 "lumbar_share": None if not np.isfinite(share[i]) else round(float(share[i]), 3),
                 "reason": "the lower back is rounding: bend at the hips, keep the back flat"}]

    def _close(self, t_end: float) -> list[dict]:
        if self._too_long or not self._bend:
            return []
        cols = {k: np.concatenate(v) for k, v in self._bend.items()}
        signal = cols["_signal"]
        if np.nanmax(signal) < self.thr.lift_min_peak_deg:
            return []
        lumbar = cols.get("lumbar_inclination")
        if lumbar is not None and not np.nanmax(lumbar, initial=-np.inf) >= self.thr.lift_enter_deg:
            return []  # the pelvis and lower back stayed up: a slouch, not a lift
        lift = self._measure(cols, t_end)
        self.lifts.append(lift)
        return [{"event": "lift", **lift}]

    def _maximum(self, t: float, name: str) -> float | None:
        value = self._stretch(t)[0].get(name)
        return float(value) if value else None

    def _measure(self, cols: dict, t_end: float) -> dict:
        thr = self.thr
        t = cols["t"]
        signal = cols["_signal"]
        k = int(np.nanargmax(signal))
        # the split is read where every angle it needs is known (a lost packet may hide the
        # very peak); near enough to the peak, or not at all
        known = np.isfinite(signal)
        for key in ("lumbar_inclination", "lumbar_flexion"):
            if key in cols:
                known &= np.isfinite(cols[key])
        if not known[k] and known.any():
            j = int(np.flatnonzero(known)[np.argmax(signal[known])])
            if signal[j] >= signal[k] - PEAK_TOLERANCE_DEG:
                k = j
        out: dict = {"t": t_end, "start_s": float(t[0]), "peak_s": float(t[k]), "end_s": t_end,
                     "duration_s": round(t_end - float(t[0]), 2)}

        def at_peak(key):
            return float(cols[key][k]) if key in cols and np.isfinite(cols[key][k]) else None

        def peak(key):
            return float(np.nanmax(cols[key])) if key in cols and np.isfinite(cols[key]).any() else None

        out["trunk_inclination_peak_deg"] = _r(peak("trunk_inclination"))
        out["lumbar_inclination_deg"] = _r(at_peak("lumbar_inclination"))
        out["lumbar_flexion_deg"] = _r(at_peak("lumbar_flexion"))
        out["lumbar_flexion_peak_deg"] = _r(peak("lumbar_flexion"))
        d_li = _sub(at_peak("lumbar_inclination"), self._baseline.get("lumbar_inclination"))
        d_lf = _sub(at_peak("lumbar_flexion"), self._baseline.get("lumbar_flexion"))
        out["lumbo_pelvic_bend_deg"] = _r(d_li)
        out["lumbar_bend_deg"] = _r(d_lf)
        out["hip_bend_deg"] = _r(_sub(d_li, d_lf))
        share, why = None, None
        if "lumbar_flexion" not in cols:
            why = ("no sacral sensor: the lumbar sensor's inclination holds lumbar flexion and hip "
                   "flexion together, so the lumbar spine's share cannot be separated from the hips'")
        elif d_li is None or d_lf is None:
            why = ("the lumbar or sacral angle was unknown at the peak, or there was no upright "
                   "second before the bend to measure it from")
        elif d_li < thr.lift_min_bend_deg:
            why = (f"the lumbar sensor tilted only {d_li:.0f} deg (under {thr.lift_min_bend_deg:g}): "
                   "the bend came from the upper back, the lumbo-pelvic split is noise")
        else:
            share = d_lf / d_li
        out["lumbar_share"] = None if share is None else round(share, 3)
        out["lumbar_share_note"] = why
        # peak lumbar angle against the wearer's calibrated maximum
        name = "lumbar_flexion" if "lumbar_flexion" in cols else "lumbar_inclination"
        top, maximum = peak(name), self._maximum(float(t[k]), name)
        out["lumbar_max_signal"] = name
        out["lumbar_pct_of_calibrated_max"] = (round(100.0 * top / maximum, 1)
                                              if top is not None and maximum and maximum > 0 else None)
        out["grade"], out["reasons"] = self._grade(share, d_lf, why, out, self._stretch(float(t[k]))[1])
        return out

    def _grade(self, share, d_lf, why, out, calibration_problem) -> tuple[str, list[str]]:
        thr = self.thr
        if calibration_problem is not None:
            return NOT_GRADED, [calibration_problem]
        if share is None:
            return NOT_GRADED, [why]
        reasons = [f"the lumbar spine took {100 * share:.0f} % of the lumbo-pelvic bend "
                   f"({d_lf:.0f} of {out['lumbo_pelvic_bend_deg']:.0f} deg; hinge up to "
                   f"{100 * thr.lift_hinge_share_max:.0f} %, stoop from {100 * thr.lift_stoop_share_min:.0f} %)"]
        pct = out["lumbar_pct_of_calibrated_max"]
        if pct is not None:
            reasons.append(f"peak lumbar flexion {out['lumbar_flexion_peak_deg']:.0f} deg, {pct:.0f} % of "
                           "the largest in the calibration's bends")
        rounded_deep = d_lf >= thr.lift_rounded_lumbar_deg
        if rounded_deep:
            reasons.append(f"the lumbar spine flexed {d_lf:.0f} deg (rounded from "
                           f"{thr.lift_rounded_lumbar_deg:g} deg)")
        if share >= thr.lift_stoop_share_min or rounded_deep:
            return STOOP, reasons
        if share <= thr.lift_hinge_share_max:
            return HINGE, reasons
        return PARTLY, reasons


def _r(value: float | None, digits: int = 1) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), digits)


def _sub(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not np.isfinite(a) or not np.isfinite(b):
        return None
    return a - b


def lift_summary(events: list[dict]) -> dict:
    """summary.json's `lifts` from the pipeline's "lift" and "lift_cue" events."""
    lifts = [{k: v for k, v in e.items() if k != "event"} for e in events if e.get("event") == "lift"]
    grades: dict[str, int] = {}
    for lift in lifts:
        grades[lift["grade"]] = grades.get(lift["grade"], 0) + 1
    shares = [x["lumbar_share"] for x in lifts if x.get("lumbar_share") is not None]
    return {
        "count": len(lifts),
        "grades": grades,
        "cues": sum(e.get("event") == "lift_cue" for e in events),
        "lumbar_share_median": round(float(np.median(shares)), 3) if shares else None,
        "events": lifts,
    }
