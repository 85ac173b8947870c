"""`imu live`: connect, calibrate with guidance, monitor, alert, record (docs/architecture.md section 8).

One asyncio loop, and `LiveSession` coordinates it. Notifications and link events come from
the sources (`imu.live.sources`: real sensors or the virtual rig), stamped on the session
clock; they are recorded at once (`imu.live.recording`) and collected; every step (about
40 ms of session time, a little more when the clock runs fast) the collected items go
go to the one `Runner` (imu.runner). Until calibrated the guide watches the raw grid; the
accepted calibration is recorded and the runner feeds every item from the first
notification again with it, so the live events are exactly those `imu report` /
`imu replay` give for the file. What comes out goes to the outputs (`imu.live.outputs`: status line,
JSON lines, alert and step sinks, the report at the end).
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import signal
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from imu.core.calibrate import Calibration
from imu.core.pipeline import Pipeline
from imu.errors import UserError
from imu.live.calibration_guide import (CalibrationGuide, attempt_event, attempt_record)
from imu.live.marks import HELP, CarryMarker
from imu.live.outputs import LiveOutputs
from imu.live.recording import LiveRecording
from imu.live.sources import SensorSources
from imu.people import get_profile
from imu.profile import Thresholds
from imu.runner import Runner, StepUpdate, fan_out
from imu.samples import LinkEvent, Notification

EXIT_OK, EXIT_BAD_INPUT, EXIT_NO_SENSORS, EXIT_INTERRUPTED = 0, 2, 3, 130
STEP_S = 0.04  # session seconds per step at speed 1
MIN_STEP_WALL_S = 0.04  # at high speeds a step covers more session time (the core is chunk-invariant)
END_MARGIN_S = 0.5  # a virtual session stops this long after its last frame


class NoRealSensors(UserError):
    """No Bluetooth, no sensor choice, or the chosen sensors did not connect; nothing recorded."""


@dataclass
class LiveOptions:
    """The flags of `imu live` (see add_live_arguments)."""

    virtual: str | None = None  # None: real sensors; "": default scenario; name or CSV path
    speed: float = 1.0  # virtual only: session seconds per wall second
    output: str | None = None  # session file; default imu-YYYYmmdd-HHMMSS.imu here
    jsonl: bool = False
    duration: float | None = None  # stop after this many session seconds
    profile: str | None = None  # per-person profile name (default "default")
    sensors_file: str | None = None  # sensor-choice JSON (default: the profile's)
    dashboard_sink: Any = None  # a sink: step(update), optional finish() (imu.runner.Sink)
    lsl: bool = False
    desktop: bool = True
    buzz: bool = True
    seed: int = 0
    sacral: bool = False  # virtual scenario: also wear a sacral sensor
    reuse_calibration: bool = False  # skip the guide; use the profile's last calibration
    report: bool = True  # write the report next to the file at the end
    max_attempts: int = 3
    step_s: float | None = None  # session seconds per pipeline step (default from speed)
    stdout: TextIO | None = None  # where events / status go (default sys.stdout)
    faults: dict | None = None  # virtual only: location -> imu.sim.peripherals.Faults (tests)
    stdin: TextIO | None = None  # where carry keys are read (default: a terminal's stdin)
    wait_s: float = 10.0  # wall seconds to wait for the sensors to connect
    quiet: bool = False  # no status line: instructions, alerts and errors only
    reset: bool = False  # guide a posture reset once calibrated (issue 13)
    test: str | None = None  # "mobility": the guided thoracic mobility test (issue 13)


def default_output() -> Path:
    return Path.cwd() / f"imu-{_dt.datetime.now():%Y%m%d-%H%M%S}.imu"


class LiveSession:
    """Coordinates one live session: sources -> recording and the pipeline -> outputs."""

    def __init__(self, options: LiveOptions) -> None:
        self.o = options
        self.out: TextIO = options.stdout or sys.stdout
        self.events: list[dict] = []  # every live event, in the order it was emitted
        self.guides: list = []  # the posture-reset routine and the mobility test (issue 13)
        self.path: Path | None = None
        self.report_paths: dict | None = None
        self.outputs = LiveOutputs(options, self.out)
        self.sources: SensorSources | None = None
        self.recording: LiveRecording | None = None
        self.runner: Runner | None = None
        self.calibration: Calibration | None = None
        self.guide: CalibrationGuide | None = None
        self.step_count = 0
        self.step_seconds: list[float] = []  # wall seconds spent in each pipeline step
        self._incoming: list[Notification | LinkEvent] = []
        self._stopping = False
        self._stop: asyncio.Event | None = None
        self._attempts = 0
        self._angles: dict = {}
        self.stop_reason = ""
        self._lag_warned = False

    # the parts, by the names the steps, tests and benchmarks use
    rig = property(lambda self: self.sources.rig if self.sources else None)
    hub = property(lambda self: self.sources.hub if self.sources else None)
    clock = property(lambda self: self.sources.clock if self.sources else None)
    writer = property(lambda self: self.recording.writer if self.recording else None)
    notifications = property(lambda self: self.recording.notifications if self.recording else 0)
    alert_sinks = property(lambda self: self.outputs.alert_sinks)
    step_sinks = property(lambda self: self.outputs.step_sinks)
    status_line = property(lambda self: self.outputs.status_line)

    # -- the public face -------------------------------------------------------------------
    def request_stop(self, reason: str = "stopped") -> None:
        if self._stop is not None and not self._stop.is_set():
            self.stop_reason = reason
            self._stop.set()

    @property
    def pipeline_events(self) -> list[dict]:
        return [e for e in self.events if e["event"] in ("slouch_start", "slouch_end", "alert")]

    async def run(self) -> int:
        """The whole session. Raises a UserError (NoRealSensors, BleError, ...) before anything is recorded."""
        o = self.o
        self._stop = asyncio.Event()
        self.profile = get_profile(o.profile)
        try:
            self.thr: Thresholds = self.profile.thresholds()
        except ValueError as err:
            raise UserError(f"profile {self.profile.name}: {err}") from None
        if not o.speed > 0:
            raise UserError(f"--speed must be positive, got {o.speed}")
        if o.virtual is None and o.speed != 1.0:
            raise UserError("--speed only applies to --virtual sessions (real sensors run in real time)")
        self.path = Path(o.output) if o.output else default_output()
        if self.path.exists():
            raise UserError(f"{self.path} exists; session files are never overwritten")
        if not self.path.parent.is_dir():
            raise UserError(f"folder {self.path.parent} does not exist")
        self.sources = SensorSources(o, self.profile, self.note)
        self.recording = LiveRecording(self.path, self.note, self.request_stop)
        try:
            try:
                await self.sources.connect(self._on_notification, self._accept)
            except UserError as err:  # BleError is one too
                if o.virtual is None and not isinstance(err, NoRealSensors):
                    raise NoRealSensors(str(err)) from None
                raise
            self._open_recording()
            return await self._monitor()
        finally:
            await self._teardown()

    def _open_recording(self) -> None:
        """The session file, the first pipeline and the outputs, once the sensors are there."""
        sources = self.sources
        self.sensor_specs = sources.sensor_specs()
        self.recording.open(sources.sensor_records(), self.thr, self.profile.name, self.o)
        # no collectors: the report is made from the recording; grades from a trailing window
        self.runner = Runner(self.sensor_specs, self.thr, collect=False, keep_history=True)
        self.outputs.open(sources.hub, self.sensor_specs, self.thr.analysis_rate_hz)
        self.note(f"recording to {self.path}")

    def _on_notification(self, location: str, host_time_s: float, payload: bytes) -> None:
        """Bytes from a sensor, as the BLE hub hands them on: stamped on the session clock."""
        self._accept(Notification(location, self.sources.stamp(host_time_s), payload))

    def _accept(self, item: Notification | LinkEvent) -> None:
        """A stamped notification or link event (event loop: must be quick)."""
        self._incoming.append(item)
        self.recording.add(item)

    # -- monitoring ----------------------------------------------------------------------------
    async def _monitor(self) -> int:
        o = self.o
        clock = self.clock
        # everything slow (imports, set-up) before the virtual sensors' clock starts: a second
        # spent here at --speed 10 would put them ten session seconds behind
        self.guides = self._make_guides()
        if self.rig is not None:
            clock.release()
        self._install_signals()
        self._install_keys()
        if o.reuse_calibration and self._reuse_calibration():
            pass
        else:
            self.guide = CalibrationGuide(self.thr, max_attempts=o.max_attempts)
            for text in self.guide.begin().say:
                self.say(text, 0.0)
        step_s = o.step_s or max(STEP_S, MIN_STEP_WALL_S * clock.speed)
        k = 1
        while True:
            delay = clock.wall_seconds(k * step_s - clock.now())
            if delay > 0:
                try:
                    await asyncio.wait_for(self._stop.wait(), delay)
                except TimeoutError:
                    pass
            if self._stop.is_set():
                break
            now = clock.now()
            k = max(k + 1, int(now / step_s) + 1)  # a late step catches up in one go
            self._step(now)
            if o.duration is not None and now >= o.duration:
                self.stop_reason = f"duration {o.duration:g} s reached"
                break
            if self.rig is not None:
                if now >= self.rig.end_s + END_MARGIN_S and self.rig.streams_done():
                    self.stop_reason = "end of the virtual session"
                    break
                if not self._lag_warned and self.rig.lag_s() > max(1.0, 0.1 * clock.speed):
                    self._lag_warned = True
                    self.note(f"this machine cannot keep up with --speed {clock.speed:g}: the virtual "
                              "sensors run late (session times stretch); try a lower speed")
        return EXIT_OK  # a stop by Ctrl-C or SIGTERM is the normal end of a live session

    @property
    def pipeline(self) -> Pipeline | None:
        """The pipeline the runner steps now (a calibration replaces it)."""
        return None if self.runner is None else self.runner.pipeline

    def _step(self, now: float, final: bool = False) -> None:
        started = time.perf_counter()
        items, self._incoming = self._incoming, []
        update = self.runner.feed(items, now)
        events = [e for e in update.events if not (self._stopping and e["event"] == "gap")]
        if self.guide is not None and self.guide.active:
            g = self.guide.update(update.out.grid, now)
            for text in g.say:
                self.say(text, now)
            for attempt in g.attempts:
                events.append(self._record_attempt(attempt, now))
            if g.accepted is not None:
                update = self._start_monitoring(g.accepted, now)
                events += update.events
        for guide in self.guides:  # posture reset routine, mobility test
            events += guide.step(self, update.out, now)
        self._emit(events, update, now)
        if final:
            tail = self.runner.finish(now, grade=False).update
            extra = [e for guide in self.guides for e in guide.step(self, tail.out, now)]
            self._emit(tail.events + extra, tail, now)
        self.step_seconds.append(time.perf_counter() - started)
        self.step_count += 1

    def _make_guides(self) -> list:
        """The posture-reset routine (always ready for the p key) and the mobility test."""
        from imu.live.mobility_test import MobilityTest
        from imu.live.reset_routine import GuidedResets

        self.resets_guide = GuidedResets(self.thr, at_start=self.o.reset)
        guides: list = [self.resets_guide]
        if self.o.test == "mobility":
            guides.append(MobilityTest(self.thr, self.profile, self.path, self.o.virtual is not None))
        return guides

    def _record_attempt(self, attempt, now: float) -> dict:
        self._attempts += 1
        self.writer.add_calibration(attempt_record(attempt, now, self._attempts), now)
        return attempt_event(attempt, now, self._attempts)

    def _start_monitoring(self, calibration: Calibration, now: float) -> StepUpdate:
        """The monitoring pipeline: the calibrated one, fed everything from the start."""
        try:
            self.profile.save_calibration(calibration.to_dict())
        except OSError as err:
            self.note(f"could not save the calibration to profile {self.profile.name}: {err}")
        self.calibration = calibration
        update = self.runner.calibrate(calibration, now)
        self.say(f"Calibrated ({calibration.report.quality}). Monitoring: you will be alerted after "
                 f"{self.thr.alert_after_s:g} s of slouching.", now)
        return update

    def _reuse_calibration(self) -> bool:
        data = self.profile.calibration()
        if not data:
            self.note(f"profile {self.profile.name} has no saved calibration; calibrating now")
            return False
        calibration = Calibration.from_dict(data)
        calibration.applies_from_s = 0.0
        record = calibration.to_dict() | {"reused_from_profile": self.profile.name}
        self.writer.add_calibration(record, 0.0)
        self._attempts += 1
        self.calibration = calibration
        self.runner.calibrate(calibration, 0.0)  # nothing stepped yet: nothing to feed again
        self._emit([attempt_event(calibration, 0.0, 1)], None, 0.0)
        self.say(f"Using the calibration saved in profile {self.profile.name} "
                 f"({calibration.report.quality}). Monitoring: you will be alerted after "
                 f"{self.thr.alert_after_s:g} s of slouching.", 0.0)
        return True

    # -- output ----------------------------------------------------------------------------------
    def _emit(self, events: list[dict], update: StepUpdate | None, now: float) -> None:
        for event in events:
            self.events.append(event)
            self.recording.add_event(event)
        self.outputs.events(events)
        if update is None:
            return
        if update.out.angles and len(update.out.t):
            self._angles = update.out.angles
        # to every sink (the alert sinks among them), with the guide's attempts
        fan_out(self.outputs.step_sinks, replace(update, events=events), self.note)
        if self._stopping:
            return  # sensors disconnecting at the end are not news
        episode = self.pipeline.slouch.open_episode
        self.outputs.show_status(now, self._angles, update.status, len(self.pipeline.slouch.episodes),
                                 None if episode is None else episode.start_s, self.calibration is not None)

    def say(self, text: str, t: float) -> None:
        """An instruction for the wearer."""
        self.outputs.say(text, t)

    def note(self, text: str) -> None:
        self.outputs.note(text)

    # -- stop --------------------------------------------------------------------------------------
    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        self._signals = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self.request_stop, f"signal {sig.name}")
                self._signals.append(sig)
            except (ValueError, RuntimeError, NotImplementedError):
                pass  # not the main thread, or no signals here (Windows): Ctrl-C raises instead

    def _annotate(self, start_s: float, end_s: float, label: str, source: str) -> None:
        """A carry the wearer marked: recorded, and graded by the runner once it has passed."""
        self.recording.add_annotation(start_s, end_s, label, source)
        self.runner.annotate(start_s, end_s, label)

    def _install_keys(self) -> None:
        """Carry keys from a terminal (not with --jsonl, whose stdout is for machines)."""
        self.marker = CarryMarker(self._annotate)
        stdin = self.o.stdin if self.o.stdin is not None else sys.stdin
        if self.o.jsonl or stdin is None or not (self.o.stdin is not None or stdin.isatty()):
            return
        loop = asyncio.get_running_loop()

        def typed() -> None:
            line = stdin.readline()
            if line == "":  # end of input: stop listening
                loop.remove_reader(stdin.fileno())
                return
            text = (self.resets_guide.request() if line.strip().lower() == "p"
                    else self.marker.key(line, self.clock.now()))
            if text:
                self.outputs.message(f"imu: {text}")

        loop.add_reader(stdin.fileno(), typed)
        self._keys_fd = stdin.fileno()
        self.note(HELP + "; p then Enter: a guided posture reset")

    async def _teardown(self) -> None:
        self._stopping = True
        if self.recording is not None:
            self.recording.stopping = True
        try:
            if self.sources is not None:
                await self.sources.stop()
            if self.writer is not None and self.pipeline is not None:
                now = self.sources.now()
                self._step(now, final=True)
                for guide in self.guides:
                    guide.close(self, now)
                await self.outputs.close_sinks()
            if self.sources is not None:
                await self.sources.close()
        finally:
            loop = asyncio.get_running_loop()
            for sig in getattr(self, "_signals", []):
                loop.remove_signal_handler(sig)
            if getattr(self, "_keys_fd", None) is not None:
                loop.remove_reader(self._keys_fd)
            marker = getattr(self, "marker", None)
            if marker is not None and self.writer is not None and self.clock is not None:
                marker.close(self.clock.now())  # a carry still going when the session ends
            self.outputs.close_display()
            if self.recording is not None:
                self.recording.close()
        if self.writer is not None:
            self.note(f"session ended ({self.stop_reason or 'stopped'}): {self.notifications} notifications "
                      f"recorded in {self.path}")
            if self.o.report:
                self.report_paths = self.outputs.write_report(self.path)
