"""Device profiles: how each supported sensor is recognised, started, stopped and buzzed.

A profile is pure data plus byte builders; the transport (`imu.ble.link`) asks it which
characteristic to subscribe and what to write, and never knows vendor details itself.
Sources: docs/sensor-protocols.md (Movella DOT spec XD0506P, WitMotion BLE 5.0 SDK)
and firmware_notes/ for our own firmware.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Mapping

from imu.protocols import imu_fw, movella_dot, witmotion

MOVELLA_COMPANY_ID = 0x0886  # 2182, Xsens / Movella
IMU_FW_COMPANY_ID = 0xFFFF  # the SIG's "no company" value, until the project has an id

Write = tuple[str, bytes, bool]  # (characteristic UUID, bytes, with response)


class ProfileError(ValueError):
    """A request a device profile cannot serve (unknown profile, unsupported command)."""


@dataclass(frozen=True)
class DeviceProfile:
    name: str  # "imu-fw", "movella-dot", "witmotion"
    service_uuid: str  # advertised and used to recognise the device
    data_char_uuid: str  # the characteristic to subscribe to
    control_char_uuid: str
    name_pattern: re.Pattern[str]
    company_id: int | None
    default_rate_hz: int
    start_writes: Callable[[int], list[Write]]
    stop_writes: Callable[[], list[Write]]
    buzz_write: Callable[[int, int], Write] | None = None
    time_sync_write: Callable[[int], Write] | None = None

    @property
    def supports_buzz(self) -> bool:
        return self.buzz_write is not None

    @property
    def supports_time_sync(self) -> bool:
        return self.time_sync_write is not None

    def matches(self, name: str | None, service_uuids: list[str],
                manufacturer_data: Mapping[int, bytes]) -> bool:
        """Whether an advertisement looks like this device."""
        if self.service_uuid in (u.lower() for u in service_uuids):
            return True
        if self.company_id is not None and self.company_id in manufacturer_data:
            return True
        return bool(name) and self.name_pattern.search(name) is not None

    def buzz(self, duration_ms: int, strength: int) -> Write:
        if self.buzz_write is None:
            raise ProfileError(f"{self.name} sensors have no vibration motor")
        return self.buzz_write(duration_ms, strength)

    def time_sync(self, token: int) -> Write:
        if self.time_sync_write is None:
            raise ProfileError(f"{self.name} sensors do not answer time-sync requests")
        return self.time_sync_write(token)


def _imu_fw_control(op: int, *args: int) -> Write:
    return (imu_fw.CONTROL_CHAR_UUID, imu_fw.encode_command(op, *args), True)


IMU_FW = DeviceProfile(
    name="imu-fw",
    service_uuid=imu_fw.SERVICE_UUID,
    data_char_uuid=imu_fw.DATA_CHAR_UUID,
    control_char_uuid=imu_fw.CONTROL_CHAR_UUID,
    name_pattern=re.compile(r"^IMU-"),
    company_id=None,  # 0xFFFF is shared by every prototype on earth: not evidence
    default_rate_hz=100,
    start_writes=lambda rate: [_imu_fw_control(imu_fw.OP_START, rate, imu_fw.CONTENT_ALL)],
    stop_writes=lambda: [_imu_fw_control(imu_fw.OP_STOP)],
    buzz_write=lambda ms, strength: _imu_fw_control(imu_fw.OP_BUZZ, ms, strength),
    time_sync_write=lambda token: _imu_fw_control(imu_fw.OP_TIME_SYNC, token),
)


def _movella_start(rate: int) -> list[Write]:
    # the rate must be set before measurement starts (spec: cannot change afterwards)
    return [
        (movella_dot.DEVICE_CONTROL_UUID, movella_dot.output_rate_command(rate), True),
        (movella_dot.CONTROL_UUID, movella_dot.start_command(movella_dot.DEFAULT_MODE), True),
    ]


MOVELLA_DOT = DeviceProfile(
    name="movella-dot",
    service_uuid=movella_dot.MEASUREMENT_SERVICE_UUID,
    data_char_uuid=movella_dot.payload_mode(movella_dot.DEFAULT_MODE).characteristic,
    control_char_uuid=movella_dot.CONTROL_UUID,
    name_pattern=re.compile(r"^(Movella|Xsens) DOT"),
    company_id=MOVELLA_COMPANY_ID,
    default_rate_hz=movella_dot.DEFAULT_RATE_HZ,
    start_writes=_movella_start,
    stop_writes=lambda: [(movella_dot.CONTROL_UUID,
                          movella_dot.stop_command(movella_dot.DEFAULT_MODE), True)],
)


def witmotion_rate_command(rate_hz: int) -> bytes:
    try:
        return witmotion.rate_command(rate_hz)
    except ValueError as err:
        raise ProfileError(str(err)) from None


WITMOTION = DeviceProfile(
    name="witmotion",
    service_uuid=witmotion.SERVICE_UUID,
    data_char_uuid=witmotion.NOTIFY_UUID,
    control_char_uuid=witmotion.WRITE_UUID,
    name_pattern=re.compile(r"WT"),
    company_id=None,
    default_rate_hz=100,
    # streams as soon as notifications are on; the rate needs unlock first (vendor SDK)
    start_writes=lambda rate: [(witmotion.WRITE_UUID, witmotion.UNLOCK, False),
                               (witmotion.WRITE_UUID, witmotion_rate_command(rate), False)],
    stop_writes=lambda: [],
)

PROFILES: dict[str, DeviceProfile] = {p.name: p for p in (IMU_FW, MOVELLA_DOT, WITMOTION)}


def get_profile(name: str) -> DeviceProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ProfileError(f"unknown device profile {name!r}; known: {', '.join(PROFILES)}") from None


def recognise(name: str | None, service_uuids: list[str],
              manufacturer_data: Mapping[int, bytes]) -> DeviceProfile | None:
    """The profile an advertisement belongs to, or None for other devices."""
    for profile in PROFILES.values():
        if profile.matches(name, service_uuids, manufacturer_data):
            return profile
    return None
