"""One BLE link per body location, kept alive; and a hub that runs two or three of them.

A `SensorLink` finds its sensor, connects (connects are serialised across sensors: BlueZ
queues them and Bumble's controller allows one pending connection), subscribes to the
profile's data characteristic, writes the start command, and hands every notification to
`on_notification(location, host_time_s, payload)` with the receive time from the session
clock. When the link drops, or stays silent longer than `stall_timeout_s` (a hung link
that never reported its loss), it reconnects with exponential backoff while the other
sensors keep streaming. Link changes go to `on_link_event(LinkEvent)`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from bleak import BleakClient
from bleak.exc import BleakError

from imu.ble.choice import SensorChoice
from imu.ble.clock import SessionClock
from imu.ble.profiles import DeviceProfile, Write, get_profile
from imu.ble.scan import (BluetoothUnavailable, SensorNotConnected, SensorNotFound,
                          bluetooth_errors, client_kwargs, find_sensor)
from imu.samples import LinkEvent

log = logging.getLogger(__name__)

OnNotification = Callable[[str, float, bytes], None]
OnLinkEvent = Callable[[LinkEvent], None]

# link event kinds
CONNECTED, RECONNECTED, DISCONNECTED, STALLED = "connected", "reconnected", "disconnected", "stalled"
NOT_FOUND = "not_found"


class SensorLink:
    """Keeps one sensor connected and streaming until `stop()`."""

    def __init__(self, choice: SensorChoice, on_notification: OnNotification,
                 on_link_event: OnLinkEvent | None = None, *, backend: Any = None,
                 clock: SessionClock | None = None, connect_lock: asyncio.Lock | None = None,
                 rate_hz: int | None = None, scan_timeout_s: float = 5.0,
                 connect_timeout_s: float = 10.0, stall_timeout_s: float = 2.0,
                 backoff_initial_s: float = 0.2, backoff_max_s: float = 5.0) -> None:
        """Timeouts and backoff are wall seconds; `stall_timeout_s` is session seconds."""
        self.choice = choice
        self.location = choice.location
        self.profile: DeviceProfile = get_profile(choice.profile)
        self.on_notification = on_notification
        self.on_link_event = on_link_event
        self.backend = backend
        self.clock = clock
        self.connect_lock = connect_lock or asyncio.Lock()
        self.rate_hz = rate_hz or self.profile.default_rate_hz
        self.scan_timeout_s, self.connect_timeout_s = scan_timeout_s, connect_timeout_s
        self.stall_timeout_s = stall_timeout_s  # session seconds
        self.backoff_initial_s, self.backoff_max_s = backoff_initial_s, backoff_max_s
        self.notifications = 0
        self.connects = 0
        self.bound_address: str | None = None  # the device this link belongs to, once known
        self.last_error: BaseException | None = None
        self._client: BleakClient | None = None
        self._connected = asyncio.Event()
        self._link_down = asyncio.Event()
        self._last_rx_s = 0.0
        self._stopping = False
        self._task: asyncio.Task | None = None

    # -- public ----------------------------------------------------------------------------
    @property
    def is_connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        if self.clock is None:
            self.clock = SessionClock()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"link {self.location}")

    async def wait_connected(self, timeout_s: float) -> None:
        """Wait (wall seconds) for the link to be up; SensorNotFound names what failed."""
        waiter = asyncio.ensure_future(self._connected.wait())
        done, _ = await asyncio.wait({waiter, self._task}, timeout=timeout_s,
                                     return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if self._task in done and not self._task.cancelled() and self._task.exception():
            raise self._task.exception()
        if not self._connected.is_set():
            why = f": {self.last_error}" if self.last_error else ""
            raise SensorNotFound(f"{self.location} sensor {self.choice.label} did not connect "
                                 f"within {timeout_s:g} s{why}")

    async def write(self, command: Write) -> None:
        uuid, data, response = command
        client = self._client
        if client is None or not self.is_connected:
            raise SensorNotConnected(f"{self.location} sensor is not connected")
        await client.write_gatt_char(uuid, data, response=response)

    async def buzz(self, duration_ms: int = 300, strength: int = 80) -> None:
        await self.write(self.profile.buzz(duration_ms, strength))

    async def time_sync(self, token: int) -> None:
        await self.write(self.profile.time_sync(token))

    async def stop(self) -> None:
        """Stop streaming, disconnect and end the reconnect loop."""
        self._stopping = True
        client = self._client
        if client is not None and client.is_connected:
            for command in self.profile.stop_writes():
                try:
                    await self.write(command)
                except (BleakError, SensorNotConnected, TimeoutError):
                    break  # the link is going anyway
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._drop_client()

    # -- the loop --------------------------------------------------------------------------
    async def _run(self) -> None:
        delay = self.backoff_initial_s
        while not self._stopping:
            try:
                await self._connect_and_start()
                delay = self.backoff_initial_s
                await self._supervise()
            except BluetoothUnavailable:
                raise  # no retry can fix this machine
            except (BleakError, SensorNotFound, TimeoutError, OSError) as err:
                self.last_error = err
                log.info("%s: %s", self.location, err)
                if isinstance(err, SensorNotFound):
                    self._emit(NOT_FOUND)
            await self._drop_client()
            if self._stopping:
                break
            await asyncio.sleep(delay)  # wall time: the backoff spares the Bluetooth stack
            delay = min(delay * 2, self.backoff_max_s)

    async def _connect_and_start(self) -> None:
        # a sensor chosen by name is bound to the address that first answered, so a reconnect
        # never adopts another device that advertises the same name
        address = self.choice.address or self.bound_address
        try:
            device = await find_sensor(address, self.choice.name, self.scan_timeout_s, self.backend)
        except SensorNotFound:
            if self.bound_address and not self.choice.address:
                raise SensorNotFound(f"{self.location} sensor {self.choice.name!r} at {self.bound_address} "
                                     "is not advertising; other devices of that name are ignored") from None
            raise
        self.bound_address = self.bound_address or device.address
        self._link_down.clear()
        client = BleakClient(device, disconnected_callback=self._on_disconnected,
                             timeout=self.connect_timeout_s, **client_kwargs(self.backend))
        with bluetooth_errors(self.backend):
            async with self.connect_lock:
                await client.connect()
        self._client = client
        await client.start_notify(self.profile.data_char_uuid, self._on_data)
        for uuid, data, response in self.profile.start_writes(self.rate_hz):
            await client.write_gatt_char(uuid, data, response=response)
        self._last_rx_s = self.clock.now()
        self.connects += 1
        self._connected.set()
        self._emit(CONNECTED if self.connects == 1 else RECONNECTED)

    async def _supervise(self) -> None:
        """Return when the link is down, or take it down when it went silent."""
        poll_wall_s = min(0.25, self.stall_timeout_s / 4 / getattr(self.clock, "speed", 1.0))
        while True:
            try:
                await asyncio.wait_for(self._link_down.wait(), poll_wall_s)
                return
            except TimeoutError:
                pass
            if self.clock.now() - self._last_rx_s > self.stall_timeout_s:
                self._emit(STALLED)
                return  # _run drops the client and reconnects

    def _on_data(self, _characteristic, data: bytearray) -> None:
        now = self.clock.now()
        self._last_rx_s = now
        self.notifications += 1
        self.on_notification(self.location, now, bytes(data))

    def _on_disconnected(self, _client: BleakClient) -> None:
        if self._connected.is_set():
            self._connected.clear()
            self._emit(DISCONNECTED)
        self._link_down.set()

    async def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.disconnect()
            except (BleakError, OSError, TimeoutError):
                pass  # already disconnected or the stack is gone: nothing left to release
        if self._connected.is_set():
            self._connected.clear()
            self._emit(DISCONNECTED)

    def _emit(self, kind: str) -> None:
        if self.on_link_event is not None:
            self.on_link_event(LinkEvent(self.location, self.clock.now(), kind))


class SensorHub:
    """Two or three SensorLinks sharing one clock, one backend and one connect lock."""

    def __init__(self, choices: dict[str, SensorChoice], on_notification: OnNotification,
                 on_link_event: OnLinkEvent | None = None, *, backend: Any = None,
                 clock: SessionClock | None = None, **link_options: Any) -> None:
        self.clock = clock
        self._lock = asyncio.Lock()
        self.links = {
            location: SensorLink(choice, on_notification, on_link_event, backend=backend,
                                 clock=clock, connect_lock=self._lock, **link_options)
            for location, choice in choices.items()}

    async def start(self, wait_s: float = 10.0, require_all: bool = True) -> None:
        """Start every link and wait (wall seconds) until they are connected.

        Raises BluetoothUnavailable on a machine without Bluetooth, and SensorNotFound for
        missing sensors when `require_all` (the other links are stopped then).
        """
        if self.clock is None:
            self.clock = SessionClock()
        for link in self.links.values():
            link.clock = link.clock or self.clock
            link.start()
        results = await asyncio.gather(*(link.wait_connected(wait_s) for link in self.links.values()),
                                       return_exceptions=True)
        for result in results:
            if isinstance(result, BluetoothUnavailable) or (require_all and isinstance(result, BaseException)):
                await self.stop()
                raise result

    async def stop(self) -> None:
        await asyncio.gather(*(link.stop() for link in self.links.values()))

    async def buzz(self, location: str, duration_ms: int = 300, strength: int = 80) -> None:
        await self.links[location].buzz(duration_ms, strength)

    async def __aenter__(self) -> "SensorHub":
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()
