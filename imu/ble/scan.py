"""Finding sensors: the scan, the "no Bluetooth here" check, and the errors of this package.

`backend` everywhere in `imu.ble` is None for the operating system's Bluetooth stack, or an
object with `scanner_backend` and `client_backend` bleak backend classes, such as a
`imu.sim.radio.VirtualRadio`. Only bleak's public API is used.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.exc import BleakBluetoothNotAvailableError, BleakError

from imu.ble.profiles import recognise
from imu.errors import UserError


class BleError(UserError, RuntimeError):
    """Base of the BLE transport's errors; the message is one line for the user."""


class BluetoothUnavailable(BleError):
    """This machine has no usable Bluetooth (no adapter, no D-Bus system bus, powered off)."""


class SensorNotFound(BleError):
    """A sensor did not show up or did not connect in time."""


class SensorNotConnected(BleError):
    """A command was sent to a sensor that is not connected right now."""


def unavailable_message(detail: str) -> str:
    return (f"Bluetooth is not available on this machine ({detail}); "
            "run with --virtual to use simulated sensors")


@contextlib.contextmanager
def bluetooth_errors(backend: Any) -> Iterator[None]:
    """Turn 'this machine has no Bluetooth' failures of the platform backend into
    BluetoothUnavailable. Virtual backends pass their errors through unchanged."""
    if backend is not None:
        yield
        return
    try:
        yield
    except BleakBluetoothNotAvailableError as err:
        raise BluetoothUnavailable(unavailable_message(str(err) or "no adapter")) from err
    except FileNotFoundError as err:
        # BlueZ backend: the D-Bus system bus socket does not exist
        raise BluetoothUnavailable(unavailable_message("no D-Bus system bus")) from err
    except BleakError as err:
        text = str(err)
        if "adapter" in text.lower() or "org.bluez.Error.NotReady" in text:
            raise BluetoothUnavailable(unavailable_message(text)) from err
        raise


def scanner_kwargs(backend: Any) -> dict[str, Any]:
    return {} if backend is None else {"backend": backend.scanner_backend}


def client_kwargs(backend: Any) -> dict[str, Any]:
    return {} if backend is None else {"backend": backend.client_backend}


async def scan(timeout: float = 5.0, backend: Any = None) -> list[dict[str, Any]]:
    """Advertising devices seen within `timeout` s: address, name, rssi, profile (or None).

    Recognised sensors come first, strongest signal first.
    """
    with bluetooth_errors(backend):
        found = await BleakScanner.discover(timeout, return_adv=True, **scanner_kwargs(backend))
    devices = []
    for device, adv in found.values():
        profile = recognise(adv.local_name or device.name, adv.service_uuids, adv.manufacturer_data)
        devices.append({"address": device.address, "name": adv.local_name or device.name,
                        "rssi": adv.rssi, "profile": profile.name if profile else None})
    devices.sort(key=lambda d: (d["profile"] is None, -d["rssi"]))
    return devices


async def find_sensor(address: str | None, name: str | None, timeout: float,
                      backend: Any = None) -> BLEDevice:
    """The advertising device with this address (preferred) or local name."""
    if address is None and name is None:
        raise ValueError("find_sensor needs an address or a name")
    wanted = address.upper() if address else None

    def match(device: BLEDevice, adv) -> bool:
        if wanted is not None:
            return device.address.upper() == wanted
        return (adv.local_name or device.name) == name

    with bluetooth_errors(backend):
        device = await BleakScanner.find_device_by_filter(match, timeout=timeout,
                                                          **scanner_kwargs(backend))
    if device is None:
        raise SensorNotFound(f"no sensor {address or repr(name)} advertised within {timeout:g} s")
    return device
