"""A virtual Bluetooth LE radio and a bleak backend that talks over it.

`VirtualRadio` holds one Bumble `LocalLink` with real controllers, hosts, L2CAP, ATT and
GATT on both sides. Application code keeps using the public bleak API: it passes
`backend=radio.scanner_backend` to `BleakScanner` and `backend=radio.client_backend` to
`BleakClient`; those classes are made per radio, so nothing else changes.

All scanners and clients of a radio share one central `Device`, the way bleak's clients
share one adapter. Bumble's virtual controller has gaps that real stacks do not
(docs/ble-testing.md, pitfalls): it ignores LE Create Connection Cancel, allows only
one pending connection, has no automatic MTU exchange and no supervision timeout. The
code below works around each one where it happens.

Everything is tied to the running event loop: make a radio inside the loop (one per test).
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any, Callable

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bleak.uuids import normalize_uuid_str
from bumble import core, hci
from bumble.att import ATT_Error
from bumble.controller import Controller
from bumble.core import AdvertisingData
from bumble.device import Advertisement, Connection, Device, Peer
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

ATT_MTU = 247  # what BlueZ, CoreBluetooth and WinRT negotiate on their own
ADAPTER_ADDRESS = "C0:00:00:00:00:01"
REASON_REMOTE_USER_TERMINATED = 0x13
REASON_CONNECTION_TIMEOUT = 0x08
LINK_LOSS_DETECTION_S = 0.1  # stands in for the supervision timeout LocalLink lacks

_CHARACTERISTIC_PROPERTIES = {
    0x01: "broadcast", 0x02: "read", 0x04: "write-without-response", 0x08: "write",
    0x10: "notify", 0x20: "indicate", 0x40: "authenticated-signed-writes",
    0x80: "extended-properties",
}


class RadioError(RuntimeError):
    """Misuse of the virtual radio (e.g. two devices with one address)."""


class _CancellableController(Controller):
    """A virtual controller that honours LE Create Connection Cancel.

    Bumble's controller answers the cancel with SUCCESS but never completes the pending
    connection, so a connect to an absent sensor hangs and every later connect fails.
    A real controller ends the attempt with LE Connection Complete, status 0x02.
    """

    def on_hci_le_create_connection_cancel_command(self, command):
        pending, self.pending_le_connection = self.pending_le_connection, None
        if pending is not None:
            failure = hci.HCI_LE_Connection_Complete_Event(
                status=hci.HCI_ErrorCode.UNKNOWN_CONNECTION_IDENTIFIER_ERROR,
                connection_handle=0, role=hci.Role.CENTRAL,
                peer_address_type=pending.peer_address.address_type,
                peer_address=pending.peer_address, connection_interval=0,
                peripheral_latency=0, supervision_timeout=0, central_clock_accuracy=0,
            )
            # after the Command Complete that the caller is about to send
            asyncio.get_running_loop().call_soon(self.send_hci_packet, failure)
        return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.SUCCESS)


class VirtualRadio:
    """One in-process BLE link with a shared central ("adapter") and peripheral devices."""

    def __init__(self, adapter_address: str = ADAPTER_ADDRESS) -> None:
        self.link = LocalLink()
        self._addresses: set[str] = set()
        self._controllers: dict[str, Controller] = {}
        self._next_address = itertools.count(1)
        self.adapter = self.new_device("adapter", adapter_address)
        self.connect_lock = asyncio.Lock()  # the controller allows one pending connection
        self._scanners = 0
        self._scan_lock = asyncio.Lock()
        self._powered = False
        radio = self
        self.scanner_backend: type[BumbleScanner] = type(
            "BumbleScanner", (BumbleScanner,), {"radio": radio})
        self.client_backend: type[BumbleClient] = type(
            "BumbleClient", (BumbleClient,), {"radio": radio})

    async def __aenter__(self) -> "VirtualRadio":
        await self.power_on()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def power_on(self) -> None:
        if not self._powered:
            await self.adapter.power_on()
            self._powered = True

    async def close(self) -> None:
        for conn in list(self.adapter.connections.values()):
            try:
                await conn.disconnect(REASON_REMOTE_USER_TERMINATED)
            except (core.BaseBumbleError, asyncio.TimeoutError):
                pass  # already gone: closing is best effort by nature

    def unique_address(self) -> str:
        """A fresh random static address; two controllers must never share one."""
        while True:
            n = next(self._next_address)
            address = f"F0:00:00:00:{n >> 8 & 0xFF:02X}:{n & 0xFF:02X}"
            if address not in self._addresses:
                return address

    def new_device(self, name: str, address: str | None = None) -> Device:
        """A Bumble device (host + controller) on this radio's link, not yet powered on."""
        address = (address or self.unique_address()).upper()
        if address in self._addresses:
            raise RadioError(f"address {address} is already used on this radio")
        self._addresses.add(address)
        controller = _CancellableController(name, link=self.link)
        self._controllers[address] = controller
        host = Host(controller_source=controller, controller_sink=AsyncPipeSink(controller))
        return Device(name=name, address=hci.Address(address), host=host)

    def connection_to(self, address: str) -> Connection | None:
        """The adapter's connection to a peripheral, if any."""
        for conn in self.adapter.connections.values():
            if conn.peer_address.to_string(False) == address.upper():
                return conn
        return None

    async def emulate_link_loss(self, peripheral: Device,
                                detection_s: float = LINK_LOSS_DETECTION_S) -> None:
        """Cut the link to a peripheral as if it walked out of range (reason 0x08).

        LocalLink has no supervision timeout: silence the connection on both controllers,
        wait `detection_s` (wall seconds; what a supervision timeout would take), then report
        the timeout on both sides. Notifications sent meanwhile are lost in the air.
        """
        peer_address = peripheral.random_address
        central_ctrl = self._controllers[self.adapter.random_address.to_string(False)]
        peripheral_ctrl = self._controllers[peer_address.to_string(False)]
        central_conn = central_ctrl.le_connections.get(peer_address)
        if central_conn is None:
            raise RadioError(f"{peer_address} is not connected; no link to lose")
        peripheral_conn = peripheral_ctrl.le_connections.get(central_conn.self_address)
        central_conn.link = None
        if peripheral_conn is not None:
            peripheral_conn.link = None
        await asyncio.sleep(detection_s)
        if peer_address in central_ctrl.le_connections:
            central_ctrl.on_le_disconnected(central_conn, REASON_CONNECTION_TIMEOUT)
        if peripheral_conn is not None and peripheral_conn.peer_address in peripheral_ctrl.le_connections:
            peripheral_ctrl.on_le_disconnected(peripheral_conn, REASON_CONNECTION_TIMEOUT)

    # scanning is shared: the adapter scans while at least one scanner runs
    async def _scan_started(self, listener: Callable[[Advertisement], None]) -> None:
        self.adapter.on(Device.EVENT_ADVERTISEMENT, listener)
        async with self._scan_lock:
            self._scanners += 1
            if self._scanners == 1:
                await self.adapter.start_scanning(active=True, filter_duplicates=False,
                                                  scan_interval=20, scan_window=20)

    async def _scan_stopped(self, listener: Callable[[Advertisement], None]) -> None:
        self.adapter.remove_listener(Device.EVENT_ADVERTISEMENT, listener)
        async with self._scan_lock:
            self._scanners -= 1
            if self._scanners == 0:
                await self.adapter.stop_scanning()


def advertisement_to_bleak(adv: Advertisement) -> AdvertisementData:
    """Bumble advertisement -> bleak AdvertisementData, UUIDs in bleak's lower-case form."""
    data = adv.data
    uuids: list[str] = []
    for kind in (AdvertisingData.Type.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                 AdvertisingData.Type.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                 AdvertisingData.Type.COMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
                 AdvertisingData.Type.INCOMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
                 AdvertisingData.Type.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                 AdvertisingData.Type.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS):
        for uuid_list in data.get_all(kind):
            uuids.extend(_bleak_uuid(u) for u in uuid_list)
    manufacturer = {company: bytes(payload) for company, payload in
                    data.get_all(AdvertisingData.Type.MANUFACTURER_SPECIFIC_DATA)}
    service_data: dict[str, bytes] = {}
    for kind in (AdvertisingData.Type.SERVICE_DATA_16_BIT_UUID,
                 AdvertisingData.Type.SERVICE_DATA_32_BIT_UUID,
                 AdvertisingData.Type.SERVICE_DATA_128_BIT_UUID):
        for uuid, payload in data.get_all(kind):
            service_data[_bleak_uuid(uuid)] = bytes(payload)
    name = data.get(AdvertisingData.Type.COMPLETE_LOCAL_NAME) or data.get(
        AdvertisingData.Type.SHORTENED_LOCAL_NAME)
    tx_power = data.get(AdvertisingData.Type.TX_POWER_LEVEL)
    return AdvertisementData(
        local_name=name, manufacturer_data=manufacturer, service_data=service_data,
        service_uuids=uuids, tx_power=tx_power, rssi=adv.rssi, platform_data=(adv,),
    )


def _bleak_uuid(uuid: core.UUID) -> str:
    return normalize_uuid_str(uuid.to_hex_str("-"))


class BumbleScanner(BaseBleakScanner):
    """bleak scanner backend over a VirtualRadio (bound per radio as `radio.scanner_backend`)."""

    radio: VirtualRadio

    def __init__(self, detection_callback: AdvertisementDataCallback | None,
                 service_uuids: list[str] | None, scanning_mode: str = "active",
                 **kwargs: Any) -> None:
        super().__init__(detection_callback, service_uuids)
        self._scanning = False

    def _on_advertisement(self, adv: Advertisement) -> None:
        data = advertisement_to_bleak(adv)
        if not self.is_allowed_uuid(data.service_uuids):
            return
        address = adv.address.to_string(False)
        device = self.create_or_update_device(address, address, data.local_name, adv.address, data)
        self.call_detection_callbacks(device, data)

    async def start(self) -> None:
        self.seen_devices = {}
        await self.radio.power_on()
        await self.radio._scan_started(self._on_advertisement)
        self._scanning = True

    async def stop(self) -> None:
        if self._scanning:
            self._scanning = False
            await self.radio._scan_stopped(self._on_advertisement)


class BumbleClient(BaseBleakClient):
    """bleak client backend over a VirtualRadio (bound per radio as `radio.client_backend`)."""

    radio: VirtualRadio

    def __init__(self, address_or_ble_device: BLEDevice | str, *,
                 disconnected_callback: Callable[[], None] | None, timeout: float,
                 **kwargs: Any) -> None:
        super().__init__(address_or_ble_device, disconnected_callback=disconnected_callback,
                         timeout=timeout)
        self._device_name = getattr(address_or_ble_device, "name", None) or ""
        details = getattr(address_or_ble_device, "details", None)
        self._known_address = details if isinstance(details, hci.Address) else None
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._subscriptions: dict[int, Callable[[bytes], None]] = {}

    @property
    def name(self) -> str:
        return self._device_name

    @property
    def mtu_size(self) -> int:
        return self._connection.att_mtu if self._connection else 23

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        if pair:
            raise BleakError("pairing is not supported on the virtual radio")
        radio = self.radio
        await radio.power_on()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        address = self._known_address or await self._find_address(self._timeout)
        async with radio.connect_lock:
            remaining = max(0.01, deadline - loop.time())
            try:
                # Bumble's own timeout, not an outer cancel: it sends the cancel command
                connection = await radio.adapter.connect(address, timeout=remaining)
            except core.TimeoutError as err:
                raise TimeoutError(f"connecting to {self.address} timed out") from err
        self._connection = connection
        connection.on(Connection.EVENT_DISCONNECTION, self._on_disconnection)
        try:
            peer = Peer(connection)
            await peer.request_mtu(ATT_MTU)
            self.services = await self._discover(peer)
            self._peer = peer
        except BaseException:
            await self.disconnect()
            raise

    async def _find_address(self, timeout: float) -> hci.Address:
        """Like the OS backends, a plain address string needs a scan first."""
        from bleak import BleakScanner  # the public API, bound to this radio's scanner

        target = self.address.upper()
        device = await BleakScanner.find_device_by_address(
            target, timeout=timeout, backend=self.radio.scanner_backend)
        if device is None:
            raise BleakDeviceNotFoundError(target, f"device with address {target} was not found")
        if not self._device_name:
            self._device_name = device.name or ""
        return device.details

    async def _discover(self, peer: Peer) -> BleakGATTServiceCollection:
        collection = BleakGATTServiceCollection()
        for service in await peer.discover_services():
            bleak_service = BleakGATTService(service, service.handle, _bleak_uuid(service.uuid))
            collection.add_service(bleak_service)
            for char in await peer.discover_characteristics(service=service):
                props = [name for bit, name in _CHARACTERISTIC_PROPERTIES.items()
                         if char.properties & bit]
                bleak_char = BleakGATTCharacteristic(
                    char, char.handle, _bleak_uuid(char.uuid), props,
                    lambda: self.mtu_size - 3, bleak_service)
                collection.add_characteristic(bleak_char)
                for desc in await peer.discover_descriptors(characteristic=char):
                    collection.add_descriptor(BleakGATTDescriptor(
                        desc, desc.handle, _bleak_uuid(desc.type), bleak_char))
        return collection

    def _on_disconnection(self, reason: int) -> None:
        self._connection = None
        self._peer = None
        self._subscriptions.clear()
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    async def disconnect(self) -> None:
        connection = self._connection
        if connection is None:
            return
        try:
            await connection.disconnect(REASON_REMOTE_USER_TERMINATED)
        except core.BaseBumbleError:
            pass  # the link went away in the meantime: that is what we asked for

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise BleakError("pairing is not supported on the virtual radio")

    async def unpair(self) -> None:
        raise BleakError("pairing is not supported on the virtual radio")

    def _require_peer(self) -> Peer:
        if self._peer is None:
            raise BleakError(f"not connected to {self.address}")
        return self._peer

    async def read_gatt_char(self, characteristic: BleakGATTCharacteristic, *,
                             use_cached: bool = False, **kwargs: Any) -> bytearray:
        return await self._read(characteristic.handle)

    async def read_gatt_descriptor(self, descriptor: BleakGATTDescriptor, *,
                                   use_cached: bool = False, **kwargs: Any) -> bytearray:
        return await self._read(descriptor.handle)

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data,
                              response: bool) -> None:
        await self._write(characteristic.handle, bytes(data), response)

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data) -> None:
        await self._write(descriptor.handle, bytes(data), True)

    async def _read(self, handle: int) -> bytearray:
        try:
            return bytearray(await self._require_peer().read_value(handle))
        except ATT_Error as err:
            raise BleakGATTProtocolError(err.error_code) from err

    async def _write(self, handle: int, data: bytes, response: bool) -> None:
        try:
            await self._require_peer().write_value(handle, data, with_response=response)
        except ATT_Error as err:
            raise BleakGATTProtocolError(err.error_code) from err

    async def start_notify(self, characteristic: BleakGATTCharacteristic,
                           callback: NotifyCallback, **kwargs: Any) -> None:
        peer = self._require_peer()

        def deliver(value: bytes) -> None:
            callback(bytearray(value))

        prefer_notify = not kwargs.get("force_indicate", False)
        try:
            await peer.subscribe(characteristic.obj, deliver, prefer_notify=prefer_notify)
        except ATT_Error as err:
            raise BleakGATTProtocolError(err.error_code) from err
        self._subscriptions[characteristic.handle] = deliver

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        peer = self._require_peer()
        deliver = self._subscriptions.pop(characteristic.handle, None)
        await peer.unsubscribe(characteristic.obj, deliver)
