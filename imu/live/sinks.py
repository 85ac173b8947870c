"""Where live alerts go: the terminal, a desktop notification, a buzz on the thoracic sensor,
and (optionally) an LSL outlet for the angles.

Each alert sink has `alert(event)`, called at once when the core reports an alert (the event
carries `reason`, the angle, the value and how long it was held). Slow work (D-Bus, a GATT
write) runs as a task, so the step loop is never held up. A sink that cannot work on this
machine disables itself after its first failure and says so once, quietly.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import Callable


log = logging.getLogger(__name__)




def alert_text(event: dict) -> str:
    if event.get("event") == "sitting_break_due":
        return f"Time to move: seated {event['seated_s'] / 60:.0f} min without a break"
    if event.get("event") == "lift_cue":
        return f"Lift: {event.get('reason', 'bend at the hips, keep the back flat')}"
    return f"Sit up: {event.get('reason', 'slouching')}"


class TerminalAlertSink:
    def __init__(self, write: Callable[[str], None] | None = None) -> None:
        self.write = write or (lambda text: print(text, flush=True))
        self.sent: list[tuple[dict, float]] = []  # (event, wall time it left)

    def alert(self, event: dict) -> None:
        from imu.live.status import clock

        self.write(f"[{clock(event['t']):>7}] ALERT  {alert_text(event)}")
        self.sent.append((event, time.monotonic()))


class _TaskSink:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task] = set()
        self.sent: list[tuple[dict, float]] = []
        self.disabled: str | None = None

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=2.0)
        for task in list(self._tasks):
            task.cancel()


class DesktopAlertSink(_TaskSink):
    """desktop-notifier; where no notification service exists it turns itself off."""

    def __init__(self, note: Callable[[str], None] | None = None, timeout_s: float = 3.0) -> None:
        super().__init__()
        self.note = note or (lambda text: None)
        self.timeout_s = timeout_s
        self._notifier = None
        why = no_notification_service()
        if why:
            self._disable(RuntimeError(why), say=False)  # the expected case: stay quiet
            return
        try:
            from desktop_notifier import DesktopNotifier

            # the library logs a failed send (with a traceback) instead of raising: listen
            lib_log = logging.getLogger("desktop_notifier")
            self._handler = _FailureHandler(self)
            lib_log.addHandler(self._handler)
            lib_log.propagate = False
            self._notifier = DesktopNotifier(app_name="imu")
        except Exception as err:  # not installed, no backend for this platform
            self._disable(err)

    def _disable(self, err: BaseException, say: bool = True) -> None:
        if self.disabled is None:
            self.disabled = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
            log.info("desktop notifications off: %s", self.disabled)
            if say:
                    self.note(f"desktop notifications unavailable here ({self.disabled}); "
                          "alerts stay in the terminal")

    def alert(self, event: dict) -> None:
        if self.disabled is None and self._notifier is not None:
            self._spawn(self._send(event))

    async def close(self) -> None:
        await super().close()
        handler = getattr(self, "_handler", None)
        if handler is not None:
            logging.getLogger("desktop_notifier").removeHandler(handler)

    async def _send(self, event: dict) -> None:
        try:
            await asyncio.wait_for(self._notifier.send(title="Posture", message=alert_text(event)),
                                   self.timeout_s)
            if self.disabled is None:
                self.sent.append((event, time.monotonic()))
        except Exception as err:  # no D-Bus session bus, no notification server, timeout
            self._disable(err)


def no_notification_service() -> str | None:
    """Why desktop notifications cannot work here (None: worth trying)."""
    import os

    if sys.platform.startswith("linux") and not os.environ.get("DBUS_SESSION_BUS_ADDRESS") \
            and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        return "no D-Bus session bus"
    return None


class _FailureHandler(logging.Handler):
    def __init__(self, sink: "DesktopAlertSink") -> None:
        super().__init__(logging.WARNING)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        err = record.exc_info[1] if record.exc_info else RuntimeError(record.getMessage())
        self.sink._disable(err)


class BuzzAlertSink(_TaskSink):
    """A short vibration on the thoracic sensor where its profile supports it (imu-fw)."""

    def __init__(self, hub, location: str = "thoracic", duration_ms: int = 400,
                 strength: int = 80) -> None:
        super().__init__()
        self.hub, self.location = hub, location
        self.duration_ms, self.strength = duration_ms, strength
        link = hub.links.get(location) if hub is not None else None
        if link is None:
            self.disabled = f"no {location} sensor"
        elif not link.profile.supports_buzz:
            self.disabled = f"{link.profile.name} sensors cannot buzz"

    def alert(self, event: dict) -> None:
        if self.disabled is None:
            self._spawn(self._buzz(event))

    async def _buzz(self, event: dict) -> None:
        try:
            await self.hub.buzz(self.location, self.duration_ms, self.strength)
            self.sent.append((event, time.monotonic()))
        except Exception as err:  # sensor reconnecting right now: skip this buzz
            log.info("buzz skipped: %s", err)


def stderr_note(text: str) -> None:
    print(f"imu: {text}", file=sys.stderr, flush=True)
