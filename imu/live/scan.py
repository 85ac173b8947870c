"""`imu scan`: the BLE devices nearby and the sensor profile each matches; with `virtual`,
three simulated sensors advertising on a virtual radio (no Bluetooth needed)."""

from __future__ import annotations

import asyncio
import time

from imu.ble.scan import scan


async def scan_nearby(timeout_s: float, virtual: bool = False, bar=None) -> list[dict]:
    """Devices seen within timeout_s (dicts with address, rssi, profile, name). `bar`, an
    imu.progress bar, shows the stage and the seconds scanned. No Bluetooth: a BleError."""
    if not virtual:
        return await _timed_scan(timeout_s, bar)
    from imu.ble.clock import SessionClock
    from imu.live.virtual import VirtualRig
    from imu.sim.radio import VirtualRadio

    _stage(bar, "starting three virtual sensors")
    async with VirtualRadio() as radio:  # three simulated sensors advertising nearby
        await radio.power_on()
        rig = VirtualRig.from_spec(radio, SessionClock(), "smoke", sacral=True)
        await rig.start()
        try:
            return await _timed_scan(timeout_s, bar, backend=radio)
        finally:
            _stage(bar, "stopping the virtual sensors")
            await rig.stop()


async def _timed_scan(timeout_s: float, bar, **backend) -> list[dict]:
    _stage(bar, f"scanning for {timeout_s:g} s")
    begun = time.monotonic()

    async def tick() -> None:
        while True:
            bar.advance_to(min(timeout_s, time.monotonic() - begun))
            await asyncio.sleep(0.1)

    ticker = asyncio.ensure_future(tick()) if bar is not None else None
    try:
        return await scan(timeout_s, **backend)
    finally:
        if ticker is not None:
            ticker.cancel()


def _stage(bar, text: str) -> None:
    if bar is not None:
        bar.stage(text)
