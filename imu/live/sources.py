"""Where a live session's notifications come from: real sensors or the virtual rig.

Real sensors: a SensorHub on the platform Bluetooth and the sensor-choice file (`--sensors`,
else the profile's). Virtual: a VirtualRadio with simulated sensors streaming a scenario or a
CSV file, on a session clock that may run faster than real time (every delay is then in
session time). Either way the hub calls back with each notification and link event; this
module stamps them on the session clock, strictly increasing, so that the recording re-sorts
into the very order they arrived in.
"""

from __future__ import annotations

import asyncio
import math
from typing import Callable

from imu.ble import ChoiceFileError, SensorHub, SessionClock, load_choices, scan
from imu.errors import UserError
from imu.samples import LinkEvent


class SensorSources:
    """The session clock, the sensors (a hub, and for a virtual session its rig and radio),
    which sensor is worn where (`choices`) and at what rate (`rates`)."""

    def __init__(self, options, profile, note: Callable[[str], None]) -> None:
        self.o, self.profile, self.note = options, profile, note
        self.rig = None
        self.radio = None
        self.hub: SensorHub | None = None
        self.clock: SessionClock | None = None
        self.choices: dict = {}
        self.rates: dict[str, float] = {}
        self.last_t = -math.inf  # the latest stamp given

    @property
    def virtual(self) -> bool:
        return self.rig is not None

    async def connect(self, on_notification: Callable[[str, float, bytes], None],
                      on_link_event: Callable[[LinkEvent], None]) -> None:
        """Start the sensors and wait for all of them; UserError (BleError is one) when that
        cannot be done. Notifications go straight from the hub to on_notification(location,
        host time, payload), which stamps them with `stamp` (one hop less on the way to an
        alert); link events arrive stamped on the session clock."""
        o = self.o
        if o.virtual is not None:
            choices, rates, backend, options = await self._start_virtual()
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

        def link_event(event: LinkEvent) -> None:
            kind = "connected" if event.kind == "reconnected" else event.kind
            on_link_event(LinkEvent(event.sensor, self.stamp(event.host_time_s), kind))

        self.hub = SensorHub(choices, on_notification, link_event, backend=backend, clock=self.clock, **options)
        for loc, link in self.hub.links.items():
            if loc in rates:
                link.rate_hz = int(round(rates[loc]))
            rates[loc] = float(rates.get(loc, link.rate_hz))
        self.choices, self.rates = choices, rates
        await self.hub.start(wait_s=o.wait_s, require_all=True)

    async def _start_virtual(self):
        from imu.live.virtual import GatedClock, VirtualRig
        from imu.sim.radio import VirtualRadio

        o = self.o
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
        options = {"scan_timeout_s": 2.0, "backoff_initial_s": 0.05, "stall_timeout_s": max(2.0, 0.5 * o.speed)}
        what = "CSV " + o.virtual if o.virtual.lower().endswith(".csv") else "scenario " + (o.virtual or "desk")
        self.note(f"virtual sensors ({', '.join(choices)}) streaming {what} at {o.speed:g}x")
        return choices, rates, self.radio, options

    def _real_choices(self):
        try:
            if self.o.sensors_file:
                return load_choices(self.o.sensors_file)
            return self.profile.sensor_choices()
        except ChoiceFileError as err:
            raise UserError(str(err)) from None

    def stamp(self, t: float) -> float:
        """Host time -> session time: strictly increasing; before a virtual session starts, its
        time zero."""
        if self.rig is not None and not self.clock.released:
            t = 0.0
        t = max(float(t), self.last_t + 1e-9) if self.last_t > -math.inf else float(t)
        self.last_t = t  # strictly increasing: the recording re-sorts into this very order
        return t

    def now(self) -> float:
        """Session time now (never before the last stamp given)."""
        if self.clock is None:
            return max(self.last_t, 0.0)
        return max(self.clock.now(), self.last_t)

    def sensor_specs(self) -> dict[str, dict]:
        """What the pipeline needs to decode each sensor."""
        return {loc: {"device": c.profile, "mode": None, "rate_hz": self.rates[loc]}
                for loc, c in self.choices.items()}

    def sensor_records(self) -> list[dict]:
        """The sensors as the session file records them (address, name, firmware, rate)."""
        described = self.rig.describe() if self.rig is not None else {}
        return [{"location": loc, "device": c.profile,
                 "address": c.address or described.get(loc, {}).get("address"),
                 "name": c.name or described.get(loc, {}).get("name"),
                 "firmware": described.get(loc, {}).get("firmware"),
                 "details": {"rate_hz": self.rates[loc]}} for loc, c in self.choices.items()]

    async def stop(self) -> None:
        """Stop streaming: disconnect the sensors (and stop the virtual ones)."""
        if self.hub is not None:
            try:
                await asyncio.wait_for(self.hub.stop(), 10.0)
            except Exception as err:  # the stack is gone: nothing left to stop
                self.note(f"stopping sensors: {type(err).__name__}: {err}")
        if self.rig is not None:
            await self.rig.stop()

    async def close(self) -> None:
        """Release the virtual radio (after the last step: nothing streams any more)."""
        if self.radio is not None:
            await self.radio.close()
