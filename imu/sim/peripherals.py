"""Simulated BLE sensors on a VirtualRadio, exposing the real GATT profiles.

Each peripheral is a Bumble device with its own controller. It advertises like the real
sensor, serves the vendor's services, obeys the vendor's control writes and streams the
payloads of a `FrameSource` (imu.sim.frames) on an absolute schedule of the session clock, but only while
connected, subscribed and started. Frames due while it cannot send are lost, as on a real
sensor, and the imu-fw sequence number still advances over them.

Fault injection (`Faults`): a remote disconnect (0x13) or an emulated link loss (0x08) at
a session time, bursts of dropped notifications, stalls (sending pauses, then the held
frames go out in a burst), and a sensor that never advertises. Clock offset and drift live
in the frame source's `DeviceClock`.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field

from bumble import gatt
from bumble.att import ATT_Error
from bumble.core import UUID, AdvertisingData
from bumble.device import Connection

from imu.ble import profiles
from imu.ble.clock import SessionClock
from imu.protocols import imu_fw, movella_dot, witmotion
from imu.sim.frames import FrameSource
from imu.sim.radio import REASON_REMOTE_USER_TERMINATED, VirtualRadio

ATT_INVALID_ATTRIBUTE_LENGTH = 0x0D


@dataclass
class Faults:
    """Scripted faults, in session seconds."""

    disconnect_at: list[float] = field(default_factory=list)  # remote user terminated 0x13
    link_loss_at: list[float] = field(default_factory=list)  # connection timeout 0x08
    drop_bursts: list[tuple[float, float]] = field(default_factory=list)  # [start, end)
    stalls: list[tuple[float, float]] = field(default_factory=list)  # (start, duration)
    never_advertise: bool = False
    supervision_timeout_s: float = 0.5  # how long a lost link stays silent before it is reported


class VirtualPeripheral:
    """Base class: advertising, connection state, the streaming loop and fault script."""

    profile: profiles.DeviceProfile
    streams_when_subscribed = False  # WitMotion needs no start command

    def __init__(self, radio: VirtualRadio, name: str, source: FrameSource, clock: SessionClock,
                 faults: Faults | None = None, address: str | None = None,
                 battery_pct: int = 90) -> None:
        self.radio, self.name, self.source, self.clock = radio, name, source, clock
        self.faults = faults or Faults()
        self.battery_pct = battery_pct
        self.device = radio.new_device(name, address)
        self.address = self.device.random_address.to_string(False)
        self.data_char = self._make_data_characteristic()
        self.device.add_services(self._services())
        self.device.advertising_data = bytes(AdvertisingData(self._advertising_structures()))
        self.device.advertising_interval_min = self.device.advertising_interval_max = 20
        self.device.on(self.device.EVENT_CONNECTION, self._on_connection)
        self.data_char.on(self.data_char.EVENT_SUBSCRIPTION, self._on_subscription)
        # what happened, for tests and benchmarks
        self.sent: list[tuple[float, bytes]] = []
        self.dropped = 0  # notifications withheld by a drop burst
        self.missed = 0  # frames due while not streaming (not connected/subscribed/started)
        self.commands: list[tuple[float, bytes]] = []
        self.connections = 0
        self.connected = self.subscribed = False
        self.started = False
        self._tasks: list[asyncio.Task] = []

    # -- to be provided by each profile --------------------------------------------------
    def _make_data_characteristic(self) -> gatt.Characteristic:
        return gatt.Characteristic(self.profile.data_char_uuid, gatt.Characteristic.Properties.NOTIFY,
                                   gatt.Characteristic.READABLE, b"")

    def _services(self) -> list[gatt.Service]:
        raise NotImplementedError

    def _advertising_structures(self) -> list[tuple[int, bytes]]:
        raise NotImplementedError

    def _prepare(self, payload: bytes) -> bytes:
        """Last touch before a frame goes out (imu-fw stamps its sequence number)."""
        return payload

    # -- life cycle --------------------------------------------------------------------------
    async def start(self) -> None:
        if self.faults.never_advertise:
            return  # switched off, out of range: the host must time out cleanly
        await self.device.power_on()
        await self.device.start_advertising(auto_restart=True)
        self._tasks.append(asyncio.create_task(self._stream(), name=f"{self.name} stream"))
        if self.faults.disconnect_at or self.faults.link_loss_at:
            self._tasks.append(asyncio.create_task(self._fault_script(), name=f"{self.name} faults"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.disconnect()

    async def disconnect(self, reason: int = REASON_REMOTE_USER_TERMINATED) -> None:
        for connection in list(self.device.connections.values()):
            await connection.disconnect(reason)

    @property
    def streaming(self) -> bool:
        return self.connected and self.subscribed and (self.started or self.streams_when_subscribed)

    def _on_connection(self, connection: Connection) -> None:
        self.connections += 1
        self.connected = True
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)

    def _on_disconnection(self, reason: int) -> None:
        # real firmware stops streaming and forgets the subscription with the link
        self.connected = self.subscribed = self.started = False

    def _on_subscription(self, bearer, notify_enabled: bool, indicate_enabled: bool) -> None:
        self.subscribed = notify_enabled or indicate_enabled

    async def _notify(self, payload: bytes) -> None:
        self.sent.append((self.clock.now(), payload))
        await self.device.notify_subscribers(self.data_char, payload)

    async def _stream(self) -> None:
        drops, stalls = self.faults.drop_bursts, self.faults.stalls
        for t, payload in self.source.frames:
            await self.clock.sleep_until(t)
            for start, duration in stalls:
                if start <= t < start + duration:
                    await self.clock.sleep_until(start + duration)
            payload = self._prepare(payload)  # consumes a sequence number even if not sent
            if not self.streaming:
                self.missed += 1
            elif any(a <= t < b for a, b in drops):
                self.dropped += 1
            else:
                await self._notify(payload)

    async def _fault_script(self) -> None:
        script = sorted([(t, "disconnect") for t in self.faults.disconnect_at]
                        + [(t, "link_loss") for t in self.faults.link_loss_at])
        for t, action in script:
            await self.clock.sleep_until(t)
            if not self.connected:
                continue
            if action == "disconnect":
                await self.disconnect(REASON_REMOTE_USER_TERMINATED)
            else:
                await self.radio.emulate_link_loss(
                    self.device, self.clock.wall_seconds(self.faults.supervision_timeout_s))

    def _record_command(self, value: bytes) -> None:
        self.commands.append((self.clock.now(), bytes(value)))


def _battery_service(level: int) -> gatt.Service:
    return gatt.Service(gatt.GATT_BATTERY_SERVICE, [gatt.Characteristic(
        gatt.GATT_BATTERY_LEVEL_CHARACTERISTIC,
        gatt.Characteristic.Properties.READ | gatt.Characteristic.Properties.NOTIFY,
        gatt.Characteristic.READABLE, bytes([level]))])


def _device_information_service(model: str, firmware: str, serial: str,
                                manufacturer: str) -> gatt.Service:
    strings = [(gatt.GATT_MANUFACTURER_NAME_STRING_CHARACTERISTIC, manufacturer),
               (gatt.GATT_MODEL_NUMBER_STRING_CHARACTERISTIC, model),
               (gatt.GATT_FIRMWARE_REVISION_STRING_CHARACTERISTIC, firmware),
               (gatt.GATT_SERIAL_NUMBER_STRING_CHARACTERISTIC, serial)]
    return gatt.Service(gatt.GATT_DEVICE_INFORMATION_SERVICE, [
        gatt.Characteristic(uuid, gatt.Characteristic.Properties.READ,
                            gatt.Characteristic.READABLE, text.encode()) for uuid, text in strings])


def _write_only(uuid: str, on_write, with_response: bool = True) -> gatt.Characteristic:
    props = (gatt.Characteristic.Properties.WRITE if with_response
             else gatt.Characteristic.Properties.WRITE_WITHOUT_RESPONSE)
    return gatt.Characteristic(uuid, props, gatt.Characteristic.WRITEABLE,
                               gatt.CharacteristicValue(write=on_write))


class ImuFwPeripheral(VirtualPeripheral):
    """Our own firmware: data/control/info characteristics, SIG battery and device info."""

    profile = profiles.IMU_FW

    def __init__(self, *args, model: str = "IMU-1", firmware: str = "1.0.0",
                 serial: str = "0001", **kwargs) -> None:
        self.model, self.firmware, self.serial = model, firmware, serial
        self.rate_hz, self.content_mask = 100, imu_fw.CONTENT_ALL
        self.buzzes: list[tuple[float, int, int]] = []  # (session time, duration ms, strength)
        self.identified = 0
        self.tares = 0
        self._seq = 0
        self._motor_on = False
        super().__init__(*args, **kwargs)

    def _services(self) -> list[gatt.Service]:
        info = gatt.Characteristic(imu_fw.INFO_CHAR_UUID, gatt.Characteristic.Properties.READ,
                                   gatt.Characteristic.READABLE,
                                   gatt.CharacteristicValue(read=self._read_info))
        control = _write_only(imu_fw.CONTROL_CHAR_UUID, self._on_control)
        return [gatt.Service(imu_fw.SERVICE_UUID, [self.data_char, control, info]),
                _battery_service(self.battery_pct),
                _device_information_service(self.model, self.firmware, self.serial, "imu project")]

    def _advertising_structures(self):
        return [(AdvertisingData.FLAGS, bytes([0x06])),
                (AdvertisingData.COMPLETE_LOCAL_NAME, self.name.encode()),
                (AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                 bytes(UUID(imu_fw.SERVICE_UUID))),
                (AdvertisingData.MANUFACTURER_SPECIFIC_DATA,
                 struct.pack("<H", profiles.IMU_FW_COMPANY_ID) + bytes([imu_fw.VERSION]))]

    def _read_info(self, connection) -> bytes:
        major, minor, patch = (int(x) for x in self.firmware.split("."))
        return imu_fw.encode_info(imu_fw.DeviceInfo(
            firmware=(major, minor, patch), rate_hz=self.rate_hz,
            content_mask=self.content_mask, streaming=self.started))

    def _next_seq(self) -> int:
        seq, self._seq = self._seq, (self._seq + 1) & 0xFFFF
        return seq

    def _prepare(self, payload: bytes) -> bytes:
        frame = bytearray(payload)
        frame[2:4] = struct.pack("<H", self._next_seq())
        if self._motor_on and frame[0] & 0x0F == imu_fw.TYPE_SAMPLES:
            frame[1] |= imu_fw.FLAG_MOTOR
        return bytes(frame)

    def _on_control(self, connection, value: bytes) -> None:
        self._record_command(value)
        try:
            op, args = imu_fw.decode_command(value)
        except imu_fw.CommandError as err:
            raise ATT_Error(err.att_error, message=str(err)) from err
        if op == imu_fw.OP_START:
            self.rate_hz, self.content_mask = args
            self.started = True
        elif op == imu_fw.OP_STOP:
            self.started = False
        elif op == imu_fw.OP_SET_RATE:
            self.rate_hz = args[0]
        elif op == imu_fw.OP_TIME_SYNC:
            self._spawn(self._answer_time_sync(args[0]))
        elif op == imu_fw.OP_IDENTIFY:
            self.identified += 1
        elif op == imu_fw.OP_BUZZ:
            self._spawn(self._buzz(*args))
        elif op == imu_fw.OP_TARE:
            self.tares += 1
        # GET_INFO: the info characteristic is computed on every read

    def _spawn(self, coro) -> None:
        self._tasks.append(asyncio.create_task(coro))

    def _device_now_us(self) -> int:
        return self.source.device_time_us(self.clock.now())

    async def _answer_time_sync(self, token: int) -> None:
        frame = imu_fw.encode_time_sync(self._next_seq(), self._device_now_us(), token)
        if self.connected and self.subscribed:
            await self._notify(frame)

    async def _buzz(self, duration_ms: int, strength: int) -> None:
        self.buzzes.append((self.clock.now(), duration_ms, strength))
        self._motor_on = True
        await self._send_event(imu_fw.EVENT_MOTOR_ON, strength)
        await self.clock.sleep(duration_ms / 1000)
        self._motor_on = False
        await self._send_event(imu_fw.EVENT_MOTOR_OFF, 0)

    async def _send_event(self, code: int, argument: int) -> None:
        frame = imu_fw.encode_event(self._next_seq(), self._device_now_us(), code, argument)
        if self.connected and self.subscribed:
            await self._notify(frame)


class MovellaDotPeripheral(VirtualPeripheral):
    """Movella DOT: measurement control 2001, payload characteristics, battery, device control."""

    profile = profiles.MOVELLA_DOT

    def __init__(self, *args, **kwargs) -> None:
        self.mode: int | None = None
        self.rate_hz = movella_dot.DEFAULT_RATE_HZ
        self.identified = 0
        super().__init__(*args, **kwargs)

    def _make_data_characteristic(self) -> gatt.Characteristic:
        self.payload_chars = {
            uuid: gatt.Characteristic(uuid, gatt.Characteristic.Properties.NOTIFY,
                                      gatt.Characteristic.READABLE, bytes(length))
            for uuid, length in movella_dot.PAYLOAD_CHARACTERISTICS.items()}
        return self.payload_chars[self.profile.data_char_uuid]

    def _services(self) -> list[gatt.Service]:
        rw = gatt.Characteristic.Properties.READ | gatt.Characteristic.Properties.WRITE
        both = gatt.Characteristic.READABLE | gatt.Characteristic.WRITEABLE
        control = gatt.Characteristic(movella_dot.CONTROL_UUID, rw, both, gatt.CharacteristicValue(
            read=lambda c: bytes([0x01, int(self.started), self.mode or 0]), write=self._on_control))
        device_control = gatt.Characteristic(
            movella_dot.DEVICE_CONTROL_UUID, rw, both,
            gatt.CharacteristicValue(read=self._read_device_control, write=self._on_device_control))
        battery = gatt.Characteristic(
            movella_dot.BATTERY_UUID,
            gatt.Characteristic.Properties.READ | gatt.Characteristic.Properties.NOTIFY,
            gatt.Characteristic.READABLE, bytes([self.battery_pct, 0]))
        return [gatt.Service(movella_dot.CONFIGURATION_SERVICE_UUID, [device_control]),
                gatt.Service(movella_dot.MEASUREMENT_SERVICE_UUID,
                             [control, *self.payload_chars.values()]),
                gatt.Service(movella_dot.BATTERY_SERVICE_UUID, [battery])]

    def _advertising_structures(self):
        mac = bytes.fromhex(self.address.replace(":", ""))[::-1]
        return [(AdvertisingData.FLAGS, bytes([0x06])),
                (AdvertisingData.COMPLETE_LOCAL_NAME, self.name.encode()),
                (AdvertisingData.MANUFACTURER_SPECIFIC_DATA,
                 struct.pack("<H", profiles.MOVELLA_COMPANY_ID) + mac)]

    def _on_control(self, connection, value: bytes) -> None:
        self._record_command(value)
        if len(value) != 3 or value[0] != 0x01 or value[1] not in (0, 1):
            raise ATT_Error(ATT_INVALID_ATTRIBUTE_LENGTH, message="measurement control is 01 <0|1> <mode>")
        self.mode = value[2]
        self.started = value[1] == 1

    def _read_device_control(self, connection) -> bytes:
        data = bytearray(32)
        data[24:26] = struct.pack("<H", self.rate_hz)
        return bytes(data)

    def _on_device_control(self, connection, value: bytes) -> None:
        self._record_command(value)
        try:
            rate = movella_dot.parse_output_rate_command(value)
        except ValueError as err:
            raise ATT_Error(ATT_INVALID_ATTRIBUTE_LENGTH, message=str(err)) from err
        if rate is not None:
            self.rate_hz = rate
        if value[0] & 0x01 and value[1] == 0x01:
            self.identified += 1


class WitMotionPeripheral(VirtualPeripheral):
    """WitMotion BLE 5.0: notify ffe4 streams once subscribed; ffe9 takes FF AA commands."""

    profile = profiles.WITMOTION
    streams_when_subscribed = True

    def __init__(self, *args, **kwargs) -> None:
        self.rate_code = witmotion.RATE_CODES[witmotion.DEFAULT_RATE_HZ]  # factory default
        self.unlocked = False
        self.bad_commands = 0
        super().__init__(*args, **kwargs)

    def _services(self) -> list[gatt.Service]:
        write = _write_only(witmotion.WRITE_UUID, self._on_write, with_response=False)
        return [gatt.Service(witmotion.SERVICE_UUID, [self.data_char, write])]

    def _advertising_structures(self):
        return [(AdvertisingData.FLAGS, bytes([0x06])),
                (AdvertisingData.COMPLETE_LOCAL_NAME, self.name.encode()),
                (AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                 bytes(UUID(witmotion.SERVICE_UUID)))]

    def _on_write(self, connection, value: bytes) -> None:
        # write-without-response: a bad command cannot be answered, only ignored
        self._record_command(value)
        if value == witmotion.UNLOCK:
            self.unlocked = True
            return
        try:
            register, code = witmotion.decode_command(value)
        except ValueError:
            self.bad_commands += 1
            return
        if register == witmotion.REG_RATE and self.unlocked:
            self.rate_code = code
