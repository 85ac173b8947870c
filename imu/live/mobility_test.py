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

from imu.core.mobility import ANGLE_WORDS, MOVEMENTS, SEGMENTS, MobilityRecorder, MobilityResult
from imu.core.mobility_guide import LABEL_PREFIX, MobilityGuide, guide_notes
from imu.profile import Thresholds
from imu.report.mobility_section import earlier_range, earlier_tests

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


def result_record(result: MobilityResult, session: str, virtual: bool) -> dict:
    return {"session": session, "date": _dt.datetime.now().isoformat(timespec="seconds"),
            "virtual": bool(virtual), **result.to_dict()}


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
            before = earlier_range(last, movement, segment)
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


def write_mobility_files(data: dict, earlier: list[dict], base: Path) -> dict[str, Path]:
    """`<base>.json` (the result) and `<base>.html` (a page in the report's style)."""
    from imu.report.mobility_section import mobility_page

    json_path, html_path = Path(str(base) + ".json"), Path(str(base) + ".html")
    json_path.write_text(json.dumps({"mobility_test": data, "earlier": earlier}, indent=2) + "\n",
                         encoding="utf-8")
    html_path.write_text(mobility_page(data, earlier), encoding="utf-8")
    return {"json": json_path, "html": html_path}


