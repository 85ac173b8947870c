"""`imu live --test mobility`: the guided thoracic mobility test (issue 13 item 4).

After the calibration the guide asks for six movements in turn (flexion, extension, side
bending left and right, rotation left and right), each once, out to a comfortable end range
and back to standing tall. It follows the wearer rather than a clock: a movement is seen when
the trunk passes `mobility_move_deg` in the asked direction (the thoracic sensor against
gravity, or for rotation its turn against the room) and done when it has been back near the
start for a second; a movement not seen within `mobility_timeout_s` is skipped. Each done
movement is recorded as an annotation `mobility_<movement>` (source "guide"), so `imu report`
measures the same spans again from the recording.

At the end `imu.core.mobility` measures the ranges per segment; the result is printed, written
beside the session file (`<session>.mobility.json` and `.mobility.html`), recorded in the
session as a `mobility_test` event and, for real sensors, added to the person's profile
(`mobility.json`), whose earlier tests are shown beside this one.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

import numpy as np

from imu import anatomy as A
from imu.core.mobility import (ANGLE_WORDS, DIRECTION, MOVEMENTS, SEGMENTS, MobilityRecorder,
                               MobilityResult)
from imu.profile import Thresholds

INTRO = ("Mobility test: six movements, each once, slowly and only as far as is comfortable; "
         "stand tall between them.")
PROMPTS = {
    "flexion": "Flexion: bend forward slowly, letting your back round, as far as is comfortable; "
               "then come back up to standing tall.",
    "extension": "Extension: hands on your lower back, lean back slowly as far as is comfortable; "
                 "then come back up.",
    "side_bend_left": "Side bend left: slide your left hand down the side of your leg as far as is "
                      "comfortable; then come back up.",
    "side_bend_right": "Side bend right: slide your right hand down the side of your leg as far as "
                       "is comfortable; then come back up.",
    "rotation_left": "Rotation left: arms crossed on your chest, hips facing forward, turn your "
                     "upper body to the left as far as is comfortable; then back to the front.",
    "rotation_right": "Rotation right: arms crossed on your chest, hips facing forward, turn your "
                      "upper body to the right as far as is comfortable; then back to the front.",
}
_GUIDE_SIGNALS = {"flexion": ("trunk_inclination", "lumbar_inclination"),
                  "extension": ("trunk_inclination", "lumbar_inclination"),
                  "side_bend_left": ("trunk_lateral_inclination", "lumbar_lateral_inclination"),
                  "side_bend_right": ("trunk_lateral_inclination", "lumbar_lateral_inclination"),
                  "rotation_left": ("thoracic", "lumbar"), "rotation_right": ("thoracic", "lumbar")}
WAITING, OUT, BACK = "waiting", "out", "back"
RETURN_HOLD_S = 1.0  # back near the start this long: the movement is over
QUIET_DEG = 2.0  # the movement's onset: the last moment the trunk was within this of the start
ONSET_LEAD_S = 1.0  # a span starts this long before the onset (the upright reference)
LABEL_PREFIX = "mobility_"


class MobilityGuide:
    """Pure: fed the calibrated angles and segment orientations step by step; says what to do
    next and collects the (start_s, end_s, movement) span of every movement done."""

    def __init__(self, thresholds: Thresholds, movements=MOVEMENTS):
        self.thr = thresholds
        self.queue = list(movements)
        self.spans: list[tuple[float, float, str]] = []
        self.skipped: list[tuple[str, str]] = []  # (movement, why)
        self.unsettled: list[str] = []  # seen going out, never seen back (the data ended)
        self.movement: str | None = None
        self.began = False

    @property
    def finished(self) -> bool:
        return self.began and self.movement is None and not self.queue

    def begin(self, now: float) -> list[str]:
        self.began = True
        return [INTRO] + self._next(now)

    def _next(self, now: float) -> list[str]:
        self.movement = self.queue.pop(0) if self.queue else None
        if self.movement is None:
            return ["Mobility test done."]
        self.state, self.t0 = WAITING, now
        self._t: list[float] = []
        self._raw: list[float] = []
        self._ref: float | None = None
        self._crossed_at = self._back_at = None
        self._onset = now
        done = len(MOVEMENTS) - len(self.queue)
        return [f"({done}/{len(MOVEMENTS)}) {PROMPTS[self.movement]}"]

    def _signal(self, angles: dict, segments: dict) -> np.ndarray | None:
        for name in _GUIDE_SIGNALS[self.movement]:
            if self.movement.startswith("rotation"):
                if name in segments:
                    return A.heading_deg(segments[name])
            elif name in angles:
                return np.asarray(angles[name], float)
        return None

    def update(self, t: np.ndarray, angles: dict, segments: dict, now: float) -> list[str]:
        """Add one step (only samples from the current movement's start count; a step that
        finishes one movement goes on to the next with the rest of its samples)."""
        say: list[str] = []
        while self.movement is not None:
            movement = self.movement
            say += self._update(t, angles, segments, now)
            if self.movement == movement:
                break
        return say

    def _update(self, t: np.ndarray, angles: dict, segments: dict, now: float) -> list[str]:
        say: list[str] = []
        raw = self._signal(angles, segments)
        if raw is None:
            self.skipped.append((self.movement, "no sensor gives it"))
            return [f"{self.movement.replace('_', ' ')}: not measurable with these sensors; skipped."] \
                + self._next(now)
        keep = (np.asarray(t) >= self.t0) & np.isfinite(raw)
        self._t += np.asarray(t)[keep].tolist()
        self._raw += raw[keep].tolist()
        if self._ref is None and self._t and self._t[-1] - self._t[0] >= 0.5:
            first = np.asarray(self._raw)[np.asarray(self._t) < self._t[0] + 0.5]
            self._ref = _circular_mean(first) if self.movement.startswith("rotation") else float(np.median(first))
        if self._ref is not None:
            movement = self.movement
            say += self._advance()
            if self.movement != movement:
                return say  # the next movement gets the rest of the step (update)
        timeout = self.thr.mobility_timeout_s
        if self.movement is not None and self.state == WAITING and now - self.t0 > timeout:
            self.skipped.append((self.movement, f"not seen within {timeout:g} s"))
            say.append(f"{self.movement.replace('_', ' ')} not seen; skipped.")
            say += self._next(self.t0 + timeout)
        elif self.movement is not None and self.state != WAITING and now - self._crossed_at > timeout:
            say += self._done(self._crossed_at + timeout, "did not come back to the start")
        return say

    def _moved(self) -> np.ndarray:
        raw = np.asarray(self._raw)
        delta = raw - self._ref
        if self.movement.startswith("rotation"):
            delta = -((delta + 180.0) % 360.0 - 180.0)  # heading: left turn +; rotation: right +
        return DIRECTION[self.movement] * delta

    def _advance(self) -> list[str]:
        t, moved = np.asarray(self._t), self._moved()
        move, back = self.thr.mobility_move_deg, self.thr.mobility_move_deg / 3.0
        if self.movement.startswith("rotation") and self.state != WAITING:
            # a heading drifts (no magnetometer): back within a quarter of the turn is back
            back = max(back, 0.25 * float(np.max(moved[t >= self._crossed_at])))
        while True:
            if self.state == WAITING:
                over = np.flatnonzero(moved >= move)
                if not len(over):
                    return []
                i = int(over[0])
                quiet = np.flatnonzero(moved[:i] <= QUIET_DEG)
                self._onset = float(t[quiet[-1]]) if len(quiet) else float(t[0])
                self.state, self._crossed_at = OUT, float(t[i])
            if self.state == OUT:
                after = t >= self._crossed_at
                low = np.flatnonzero(after & (moved < back))
                if not len(low):
                    return []
                self.state, self._back_at = BACK, float(t[low[0]])
            if self.state == BACK:
                settled = self._back_at + RETURN_HOLD_S
                again = np.flatnonzero((t > self._back_at) & (t <= settled) & (moved >= back))
                if len(again):
                    self.state = OUT
                    self._crossed_at = float(t[again[0]])
                    continue
                if t[-1] >= settled:
                    return self._done(settled, "")
                return []

    def end(self, now: float) -> list[str]:
        """The data ends: a movement seen going out keeps its span; the rest are not done."""
        if self.movement is None or self.state == WAITING:
            return []
        self.unsettled.append(self.movement)
        say = self._done(now, "the test ended before it came back to the start")
        self.queue, self.movement = [], None
        return say

    def _done(self, end: float, why: str) -> list[str]:
        start = max(self.t0, self._onset - ONSET_LEAD_S)
        self.spans.append((start, end, self.movement))
        text = f"{self.movement.replace('_', ' ')} done" + (f" ({why})" if why else "") + "."
        return [text] + self._next(end)


def _circular_mean(deg: np.ndarray) -> float:
    rad = np.radians(deg)
    return float(np.degrees(np.arctan2(np.sin(rad).mean(), np.cos(rad).mean())))


# --- the live edge --------------------------------------------------------------------------

class MobilityTest:
    """Runs the guide inside `imu live` once a calibration is in place (see LiveSession)."""

    def __init__(self, thresholds: Thresholds, profile, session_path: Path, virtual: bool):
        self.thr, self.profile, self.path, self.virtual = thresholds, profile, Path(session_path), virtual
        self.guide = MobilityGuide(thresholds)
        self.recorder = MobilityRecorder()
        self.result: MobilityResult | None = None
        self.paths: dict[str, Path] = {}
        self._computer = None
        self._start: float | None = None
        self._annotated = 0

    def step(self, session, out, now: float) -> list[dict]:
        if self.result is not None or session.calibration is None or not out.angles:
            return []
        from imu.core.angles import AngleComputer

        if self._computer is None:
            self._computer = AngleComputer(session.calibration, self.thr)
            self._start = now
            for line in self.guide.begin(now):
                session.say(line, now)
        keep = out.t >= self._start
        if keep.any():
            segments = {loc: q[keep] for loc, q in self._computer.segments(out.grid).items()}
            self.recorder.add(out.t[keep], {k: v[keep] for k, v in out.angles.items()}, segments)
            for line in self.guide.update(out.t[keep], {k: v[keep] for k, v in out.angles.items()},
                                          segments, now):
                session.say(line, now)
        for start, end, movement in self.guide.spans[self._annotated:]:
            session.writer.add_annotation(start, end, LABEL_PREFIX + movement, "guide")
        self._annotated = len(self.guide.spans)
        if self.guide.finished:
            event = self.finish(session, now)
            session.request_stop("mobility test done")
            return [event]
        return []

    def close(self, session, now: float) -> None:
        """The session ends: a test under way is measured on what was done."""
        if self.result is None and self.guide.began:
            event = self.finish(session, now)
            session.recording.add_event(event)

    def finish(self, session, now: float) -> dict:
        self.guide.end(now)
        self.result = self.recorder.measure(self.guide.spans)
        self.result.notes += guide_notes(self.guide)
        earlier = earlier_tests(self.profile)
        for line in format_result(self.result, earlier):
            session.say(line, now)
        data = result_record(self.result, str(self.path), self.virtual)
        try:
            self.paths = write_mobility_files(data, earlier, Path(str(self.path) + ".mobility"))
            session.note(f"mobility test: {self.paths['html']}")
        except OSError as err:
            session.note(f"mobility test files not written ({err})")
        if not self.virtual:  # a simulated wearer is nobody's history
            try:
                self.profile.record_mobility_test(data)
            except (OSError, ValueError) as err:
                session.note(f"could not add the test to profile {self.profile.name}: {err}")
        return {"event": "mobility_test", "t": float(now), "movements_done": len(self.guide.spans),
                "result": self.result.to_dict()}


def guide_notes(guide: MobilityGuide) -> list[str]:
    notes = [f"{m.replace('_', ' ')} skipped: {why}" for m, why in guide.skipped]
    return notes + [f"{m.replace('_', ' ')}: not seen back at the start before the test ended"
                    for m in guide.unsettled]


def result_record(result: MobilityResult, session: str, virtual: bool) -> dict:
    return {"session": session, "date": _dt.datetime.now().isoformat(timespec="seconds"),
            "virtual": bool(virtual), **result.to_dict()}


def earlier_tests(profile) -> list[dict]:
    try:
        return profile.mobility_tests() if profile is not None else []
    except (OSError, ValueError):
        return []


def format_result(result: MobilityResult, earlier: list[dict]) -> list[str]:
    """Terminal lines: a range table per segment, the asymmetry, and the last earlier test."""
    last = earlier[-1] if earlier else None
    lines = ["Mobility test result (degrees from standing tall; earlier test in brackets):"]
    lines.append(f"  {'movement':16s}" + "".join(f"{s:>18s}" for s in SEGMENTS))
    for movement in MOVEMENTS:
        cells = []
        for segment in SEGMENTS:
            r = result.movements[movement].ranges.get(segment)
            value = "-" if r is None or r.range_deg is None else f"{r.range_deg:.0f}"
            before = _earlier_value(last, movement, segment)
            cells.append(value + (f" [{before:.0f}]" if before is not None else ""))
        lines.append(f"  {movement.replace('_', ' '):16s}" + "".join(f"{c:>18s}" for c in cells))
    for pair, segments in result.asymmetry.items():
        for segment, a in segments.items():
            if a["larger"] is None:
                continue
            side = "even" if a["larger"] == "even" else f"{a['larger']} larger by {abs(a['difference_deg']):.0f} deg"
            lines.append(f"  {pair.replace('_', ' ')} {segment}: left {a['left_deg']:.0f}, right "
                         f"{a['right_deg']:.0f} deg ({side})")
    unmeasured = sorted({f"{seg}: {r.note}" for m in result.movements.values()
                         for seg, r in m.ranges.items() if r.range_deg is None and r.note})
    lines += [f"  {u}" for u in unmeasured]
    lines += [f"  {n}" for n in result.notes]
    notes = sorted({ANGLE_WORDS[r.angle] for m in result.movements.values() for r in m.ranges.values()
                    if r.angle in ANGLE_WORDS and r.range_deg is not None})
    lines += [f"  ({n})" for n in notes]
    if last is None:
        lines.append("  (no earlier test in this profile)")
    else:
        lines.append(f"  (earlier test: {last.get('date', '?')})")
    return lines


def _earlier_value(test: dict | None, movement: str, segment: str) -> float | None:
    try:
        return test["movements"][movement]["ranges"][segment]["range_deg"]
    except (KeyError, TypeError):
        return None


def write_mobility_files(data: dict, earlier: list[dict], base: Path) -> dict[str, Path]:
    """`<base>.json` (the result) and `<base>.html` (a page in the report's style)."""
    from imu.report.mobility_section import mobility_page

    json_path, html_path = Path(str(base) + ".json"), Path(str(base) + ".html")
    json_path.write_text(json.dumps({"mobility_test": data, "earlier": earlier}, indent=2) + "\n",
                         encoding="utf-8")
    html_path.write_text(mobility_page(data, earlier), encoding="utf-8")
    return {"json": json_path, "html": html_path}


# --- from a recording ---------------------------------------------------------------------------

def mobility_from_recording(path, thresholds: Thresholds | None = None,
                            spans: list[tuple[float, float, str]] | None = None):
    """(MobilityResult or None, spans) of a session file: the spans its annotations hold
    (`mobility_*`), or with spans=[] the guide run over the calibrated data as it was live."""
    from imu.analysis import analyze, find_calibrations, open_source
    from imu.core.angles import AngleComputer

    source = open_source(path, thresholds)
    if spans is None:
        spans = [(a, b, label.removeprefix(LABEL_PREFIX)) for a, b, label in source.annotations
                 if label.startswith(LABEL_PREFIX) and label.removeprefix(LABEL_PREFIX) in MOVEMENTS]
        if not spans:
            return None, []
    guide = None
    calibration = find_calibrations(source).primary
    if calibration is None:
        return None, spans
    computer = AngleComputer(calibration, source.thresholds)
    recorder = MobilityRecorder(keep=[(a - 1.0, b + 1.0) for a, b, _ in spans] if spans else None)
    if not spans:
        guide = MobilityGuide(source.thresholds)
        start = max(calibration.applies_from_s or 0.0, (calibration.span_s or (0.0, 0.0))[1])

    def on_step(out) -> None:
        if not out.angles or not len(out.t):
            return
        segments = computer.segments(out.grid)
        recorder.add(out.t, out.angles, segments)
        if guide is not None and out.t[-1] >= start:
            if not guide.began:
                guide.begin(start)
            guide.update(out.t, out.angles, segments, float(out.t[-1]))

    source = open_source(path, thresholds)
    analysis = analyze(source, on_step=on_step)
    if guide is not None:
        if guide.began and len(analysis.t):
            guide.end(float(analysis.t[-1]))
        spans = list(guide.spans)
    result = recorder.measure(spans)
    if guide is not None:
        result.notes += guide_notes(guide)
    return result, spans
