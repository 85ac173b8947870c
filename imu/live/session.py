"""`imu live`: connect, calibrate with guidance, monitor, alert, record (docs/architecture.md section 8).

One asyncio loop. Notifications and link events are stamped on the session clock, recorded
at once (the SessionWriter only enqueues) and collected; every step (about 40 ms of session
time, a little more when the clock runs fast) the collected items go to the one `Runner`
(imu.runner), and its update to the sinks (alerts, dashboard, LSL). Until calibrated the
guide watches the raw grid; the accepted calibration is recorded and the runner feeds every
item from the first notification again with it, so the live events are exactly those
`imu report` / `imu replay` give for the file.

Real sensors: a SensorHub on the platform Bluetooth and a sensor-choice file. Virtual: a
VirtualRadio with simulated sensors streaming a scenario or a CSV file, on a session clock
that may run faster than real time (every delay is then in session time).
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import logging
import math
import signal
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from imu import __version__
from imu.ble import BleError, ChoiceFileError, SensorHub, SessionClock, load_choices, scan
from imu.core.calibrate import Calibration
from imu.core.pipeline import Pipeline
from imu.live.calibration_guide import (CalibrationGuide, attempt_event, attempt_record)
from imu.live.marks import HELP, CarryMarker
from imu.live.people import get_profile
from imu.live.sinks import (BuzzAlertSink, DesktopAlertSink, TerminalAlertSink,
                            stderr_note)
from imu.live.status import StatusLine, clock, describe_event, status_parts
from imu.profile import Thresholds, thresholds_to_dict
from imu.lsl import LslSink
from imu.jsonvalues import plain
from imu.replay import event_json
from imu.runner import AlertSink, Runner, StepUpdate, finish_sinks
from imu.samples import LinkEvent, Notification

EXIT_OK, EXIT_BAD_INPUT, EXIT_NO_SENSORS, EXIT_INTERRUPTED = 0, 2, 3, 130
JSONL_EVENTS = ("calibration", "slouch_start", "slouch_end", "alert", "gap", "reconnect",
                "carry_graded", "run_graded")
STEP_S = 0.04  # session seconds per step at speed 1
MIN_STEP_WALL_S = 0.04  # at high speeds a step covers more session time (the core is chunk-invariant)
END_MARGIN_S = 0.5  # a virtual session stops this long after its last frame


class UserError(Exception):
    """A problem the user can fix; one line."""


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


def default_output() -> Path:
    return Path.cwd() / f"imu-{_dt.datetime.now():%Y%m%d-%H%M%S}.imu"


class LiveSession:
    def __init__(self, options: LiveOptions) -> None:
        self.o = options
        self.out: TextIO = options.stdout or sys.stdout
        self.events: list[dict] = []  # every live event, in the order it was emitted
        self.path: Path | None = None
        self.report_paths: dict | None = None
        self.rig = None
        self.radio = None
        self.hub: SensorHub | None = None
        self.writer = None
        self.clock: SessionClock | None = None
        self.runner: Runner | None = None
        self.calibration: Calibration | None = None
        self.guide: CalibrationGuide | None = None
        self.alert_sinks: list = []
        self.step_sinks: list = []
        self.step_count = 0
        self.step_seconds: list[float] = []  # wall seconds spent in each pipeline step
        self.notifications = 0
        self._incoming: list[Notification | LinkEvent] = []
        self._unwritten: list[Notification | LinkEvent] = []
        self._last_t = -math.inf
        self._stopping = False
        self._stop: asyncio.Event | None = None
        self._attempts = 0
        self._angles: dict = {}
        self.stop_reason = ""
        self._lag_warned = False

    # -- the public face -------------------------------------------------------------------
    def request_stop(self, reason: str = "stopped") -> None:
        if self._stop is not None and not self._stop.is_set():
            self.stop_reason = reason
            self._stop.set()

    @property
    def pipeline(self) -> Pipeline | None:
        """The pipeline the runner steps now (a calibration replaces it)."""
        return None if self.runner is None else self.runner.pipeline

    @property
    def pipeline_events(self) -> list[dict]:
        return [e for e in self.events if e["event"] in ("slouch_start", "slouch_end", "alert")]

    async def run(self) -> int:
        """The whole session. Raises BleError / UserError before anything is recorded."""
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
        try:
            try:
                await self._connect()
            except (BleError, UserError) as err:
                if o.virtual is None and not isinstance(err, NoRealSensors):
                    raise NoRealSensors(str(err)) from None
                raise
            self._open_recording()
            return await self._monitor()
        finally:
            await self._teardown()

    # -- connect -----------------------------------------------------------------------------
    async def _connect(self) -> None:
        o = self.o
        if o.virtual is not None:
            from imu.live.virtual import GatedClock, VirtualRig
            from imu.sim.radio import VirtualRadio

            self.radio = VirtualRadio()
            await self.radio.power_on()
            self.clock = GatedClock(o.speed)
            try:
                self.rig = VirtualRig.from_spec(self.radio, self.clock, o.virtual, o.seed, o.sacral,
                                                o.duration, o.faults)
            except (ValueError, OSError) as err:
                raise UserError(str(err)) from None
            await self.rig.start()
            choices, rates = self.rig.choices(), dict(self.rig.rates_hz)
            # the stall watchdog counts session seconds: keep it above a few wall hiccups
            backend, options = self.radio, {"scan_timeout_s": 2.0, "backoff_initial_s": 0.05,
                                            "stall_timeout_s": max(2.0, 0.5 * o.speed)}
            self.note(f"virtual sensors ({', '.join(choices)}) streaming "
                      f"{'CSV ' + o.virtual if o.virtual.lower().endswith('.csv') else 'scenario ' + (o.virtual or 'desk')}"
                      f" at {o.speed:g}x")
        else:
            choices = self._real_choices()
            if choices is None:
                found = await scan(3.0)  # no Bluetooth here: BluetoothUnavailable, one line
                known = [d for d in found if d["profile"]]
                listing = ", ".join(f"{d['name']} {d['address']} ({d['profile']})" for d in known) or "none"
                raise UserError(f"no sensor choice for profile {self.profile.name} (give --sensors FILE "
                                f"or save {self.profile.sensors_path}); sensors seen: {listing}")
            self.clock = SessionClock(1.0)
            rates, backend, options = {}, None, {}
        self.hub = SensorHub(choices, self._on_notification, self._on_link_event, backend=backend,
                             clock=self.clock, **options)
        for loc, link in self.hub.links.items():
            if loc in rates:
                link.rate_hz = int(round(rates[loc]))
            rates[loc] = float(rates.get(loc, link.rate_hz))
        self.choices, self.rates = choices, rates
        await self.hub.start(wait_s=o.wait_s, require_all=True)

    def _real_choices(self):
        try:
            if self.o.sensors_file:
                return load_choices(self.o.sensors_file)
            return self.profile.sensor_choices()
        except ChoiceFileError as err:
            raise UserError(str(err)) from None

    def _open_recording(self) -> None:
        from imu.recording.session import SessionWriter

        o = self.o
        self.sensor_specs = {loc: {"device": c.profile, "mode": None, "rate_hz": self.rates[loc]}
                             for loc, c in self.choices.items()}
        described = self.rig.describe() if self.rig is not None else {}
        sensors = [{"location": loc, "device": c.profile, "address": c.address or
                    (described.get(loc, {}).get("address")), "name": c.name or described.get(loc, {}).get("name"),
                    "firmware": described.get(loc, {}).get("firmware"),
                    "details": {"rate_hz": self.rates[loc]}} for loc, c in self.choices.items()]
        metadata = {"software": f"imu {__version__}", "thresholds": thresholds_to_dict(self.thr),
                    "source": "virtual" if o.virtual is not None else "live",
                    "profile": self.profile.name, "speed": o.speed, "started_local": _dt.datetime.now().isoformat()}
        if o.virtual is not None:
            metadata["virtual"] = o.virtual or "desk"
            metadata["seed"] = o.seed
        self.writer = SessionWriter(self.path, metadata, sensors)
        for item in self._unwritten:
            self._write_item(item)
        self._unwritten = []
        # no collectors: the report is made from the recording; grades from a trailing window
        self.runner = Runner(self.sensor_specs, self.thr, collect=False, keep_history=True)
        self.status_line = StatusLine(self.out, enabled=not (o.jsonl or o.quiet))
        if not o.jsonl:  # library warnings as whole lines, never written across the status line
            self._log_handler = _LineLogHandler(self.status_line.message)
            logging.getLogger().addHandler(self._log_handler)
        self.step_sinks.append(AlertSink(self._alert))  # alerts reach the alert sinks as a sink
        if not o.jsonl:
            self.alert_sinks.append(TerminalAlertSink(self.status_line.message))
        if o.desktop:
            self.alert_sinks.append(DesktopAlertSink(self.note))
        if o.buzz:
            self.alert_sinks.append(BuzzAlertSink(self.hub))
        if o.lsl:
            try:
                self.step_sinks.append(LslSink(self.sensor_specs, grid_rate_hz=self.thr.analysis_rate_hz))
            except Exception as err:  # no liblsl here: keep recording, say why once
                self.note(f"LSL outlet unavailable ({type(err).__name__}: {err})")
        if o.dashboard_sink is not None:
            self.step_sinks.append(o.dashboard_sink)
        self.note(f"recording to {self.path}")

    # -- callbacks (event loop, must be quick) -------------------------------------------------
    def _stamp(self, t: float) -> float:
        if self.rig is not None and not self.clock.released:
            t = 0.0  # before the virtual session starts: its time zero
        t = max(float(t), self._last_t + 1e-9) if self._last_t > -math.inf else float(t)
        self._last_t = t  # strictly increasing: the recording re-sorts into this very order
        return t

    def _on_notification(self, location: str, host_time_s: float, payload: bytes) -> None:
        self._accept(Notification(location, self._stamp(host_time_s), payload))

    def _on_link_event(self, event: LinkEvent) -> None:
        kind = "connected" if event.kind == "reconnected" else event.kind
        self._accept(LinkEvent(event.sensor, self._stamp(event.host_time_s), kind))

    def _accept(self, item) -> None:
        self._incoming.append(item)
        if self.writer is not None:
            self._write_item(item)
        else:
            self._unwritten.append(item)

    def _write_item(self, item) -> None:
        from imu.recording.session import SessionWriteError

        try:
            if isinstance(item, Notification):
                self.writer.add_notification(item.sensor, item.host_time_s, item.payload)
                self.notifications += 1
            else:
                self.writer.add_link_event(item.sensor, item.host_time_s, item.kind)
        except SessionWriteError as err:  # disk full, file removed: stop rather than lose data
            if not self._stopping:
                self.note(str(err))
                self.request_stop("recording failed")

    # -- monitoring ----------------------------------------------------------------------------
    async def _monitor(self) -> int:
        o = self.o
        clock = self.clock
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
        self._emit(events, update, now)
        if final:
            tail = self.runner.finish(now, grade=False).update
            self._emit(tail.events, tail, now)
        self.step_seconds.append(time.perf_counter() - started)
        self.step_count += 1

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
            self._record_event(event)
            if self.o.jsonl:
                if event["event"] in JSONL_EVENTS:
                    self.out.write(event_json(event) + "\n")
            elif event["event"] not in ("alert", "calibration"):  # the guide says calibrations
                self.status_line.message(describe_event(event))
        if self.o.jsonl and events:
            self.out.flush()
        if update is None:
            return
        out, status = update.out, update.status
        if out.angles and len(out.t):
            self._angles = out.angles
        update = replace(update, events=events)  # the step's events with the guide's attempts
        for sink in list(self.step_sinks):
            try:
                sink.step(update)
            except Exception as err:  # a broken viewer must not stop the recording
                self.note(f"{type(sink).__name__} failed and is switched off: {type(err).__name__}: {err}")
                self.step_sinks.remove(sink)
        if self._stopping:
            return  # sensors disconnecting at the end are not news
        episode = self.pipeline.slouch.open_episode
        self.status_line.show(now, lambda: status_parts(
            now, self._angles, status, len(self.pipeline.slouch.episodes),
            None if episode is None else episode.start_s,
            "" if self.calibration is not None else "calibrating: follow the instructions"))

    def _alert(self, event: dict) -> None:
        for sink in self.alert_sinks:
            sink.alert(event)

    def _record_event(self, event: dict) -> None:
        kind = event["event"]
        if kind == "calibration":
            return  # recorded as a calibration attempt
        t_start, t_end = event["t"], None
        if kind == "slouch_end":
            t_start, t_end = event["start_s"], event["end_s"]
        elif kind == "reconnect":
            t_start, t_end = event["t"] - event.get("gap_s", 0.0), event["t"]
        try:
            self.writer.add_event(kind, float(t_start), None if t_end is None else float(t_end),
                                  plain(event))
        except ValueError as err:
            self.note(f"event not recorded ({err})")

    def say(self, text: str, t: float) -> None:
        """An instruction for the wearer."""
        line = f"[{clock(t):>7}] {text}"
        if self.o.jsonl:
            print(line, file=sys.stderr, flush=True)
        else:
            self.status_line.message(line)

    def note(self, text: str) -> None:
        if self.o.jsonl or not hasattr(self, "status_line"):
            stderr_note(text)
        else:
            self.status_line.message(f"imu: {text}")

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
        self.writer.add_annotation(start_s, end_s, label, source)
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
            text = self.marker.key(line, self.clock.now())
            if text:
                self.status_line.message(f"imu: {text}")

        loop.add_reader(stdin.fileno(), typed)
        self._keys_fd = stdin.fileno()
        self.note(HELP)

    async def _teardown(self) -> None:
        self._stopping = True
        try:
            if self.hub is not None:
                try:
                    await asyncio.wait_for(self.hub.stop(), 10.0)
                except Exception as err:  # the stack is gone: nothing left to stop
                    self.note(f"stopping sensors: {type(err).__name__}: {err}")
            if self.rig is not None:
                await self.rig.stop()
            if self.writer is not None and self.pipeline is not None:
                now = max(self._last_t, 0.0) if self.clock is None else max(self.clock.now(), self._last_t)
                self._step(now, final=True)
                for sink in self.alert_sinks:
                    close = getattr(sink, "close", None)
                    if close is not None:
                        await close()
                finish_sinks(self.step_sinks)
            if self.radio is not None:
                await self.radio.close()
        finally:
            loop = asyncio.get_running_loop()
            for sig in getattr(self, "_signals", []):
                loop.remove_signal_handler(sig)
            if getattr(self, "_keys_fd", None) is not None:
                loop.remove_reader(self._keys_fd)
            marker = getattr(self, "marker", None)
            if marker is not None and self.writer is not None and self.clock is not None:
                marker.close(self.clock.now())  # a carry still going when the session ends
            if getattr(self, "_log_handler", None) is not None:
                logging.getLogger().removeHandler(self._log_handler)
            if hasattr(self, "status_line"):
                self.status_line.close()
            if self.writer is not None:
                self.writer.close()
        if self.writer is not None:
            self.note(f"session ended ({self.stop_reason or 'stopped'}): {self.notifications} notifications "
                      f"recorded in {self.path}")
            if self.o.report:
                self._write_report()

    def _write_report(self) -> None:
        from imu.cli import make_report

        out_dir = Path(str(self.path) + ".report")
        try:
            self.report_paths = make_report(self.path, out_dir, quiet=self.o.jsonl or self.o.quiet)
        except Exception as err:  # the recording is safe; the report can be made again
            self.note(f"report not written ({type(err).__name__}: {err}); "
                      f"run `imu report {self.path}`")
            return
        self.note(f"report: {self.report_paths.get('report.html', out_dir)}")


class _LineLogHandler(logging.Handler):
    """WARNING and above from any library, one line each through the status line's message()
    (without a handler, Python would write them to stderr across the status line)."""

    def __init__(self, write) -> None:
        super().__init__(logging.WARNING)
        self.write = write

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = " ".join(record.getMessage().split())
            self.write(f"imu: {record.levelname.lower()} from {record.name}: {text}")
        except Exception:  # a broken log line must never stop the recording
            self.handleError(record)
