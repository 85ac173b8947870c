"""BLE transport over bleak: scan, choose, connect, subscribe, reconnect, write.

Only bleak's public API is used; `backend=None` is the operating system's Bluetooth, and a
`imu.sim.radio.VirtualRadio` (or anything with `scanner_backend`/`client_backend`) runs the
same code against simulated sensors.
"""

from imu.ble.choice import ChoiceFileError, SensorChoice, load_choices, parse_choices, save_choices
from imu.ble.clock import SessionClock
from imu.ble.link import SensorHub, SensorLink
from imu.ble.profiles import PROFILES, DeviceProfile, ProfileError, get_profile, recognise
from imu.ble.scan import (BleError, BluetoothUnavailable, SensorNotConnected, SensorNotFound,
                          find_sensor, scan)

__all__ = [
    "BleError", "BluetoothUnavailable", "ChoiceFileError", "DeviceProfile", "PROFILES",
    "ProfileError", "SensorChoice", "SensorHub", "SensorLink", "SensorNotConnected",
    "SensorNotFound", "SessionClock", "find_sensor", "get_profile", "load_choices",
    "parse_choices", "recognise", "save_choices", "scan",
]
