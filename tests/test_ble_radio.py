"""The bleak backend over the virtual radio, through bleak's public API only."""

import asyncio

import numpy as np
import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.exc import BleakGATTProtocolError
from bumble import hci

from imu.ble import SessionClock, scan
from imu.protocols import imu_fw
from imu.sim.frames import FrameSource
from imu.sim.peripherals import ImuFwPeripheral, MovellaDotPeripheral, WitMotionPeripheral
from imu.sim.radio import RadioError, VirtualRadio


@pytest.fixture
async def radio():
    async with VirtualRadio() as r:
        yield r


async def make(kind, radio, name, source=None, **kw):
    clock = kw.pop("clock", None) or SessionClock()
    peripheral = kind(radio, name, source or FrameSource([]), clock, **kw)
    await peripheral.start()
    return peripheral


async def test_scan_recognises_each_profile_with_rssi(radio):
    thoracic = await make(ImuFwPeripheral, radio, "IMU-THORACIC-1")
    await make(MovellaDotPeripheral, radio, "Movella DOT", address="D4:22:CD:00:00:07")
    wit = await make(WitMotionPeripheral, radio, "WT901BLE68")
    found = {d["address"]: d for d in await scan(0.3, backend=radio)}
    assert found[thoracic.address] == {"address": thoracic.address, "name": "IMU-THORACIC-1",
                                       "rssi": -50, "profile": "imu-fw"}
    assert found["D4:22:CD:00:00:07"]["profile"] == "movella-dot"
    assert found[wit.address]["profile"] == "witmotion"
    assert found[wit.address]["name"] == "WT901BLE68"


async def test_advertisement_carries_uuids_and_manufacturer_data(radio):
    await make(MovellaDotPeripheral, radio, "Movella DOT", address="D4:22:CD:00:00:08")
    thoracic = await make(ImuFwPeripheral, radio, "IMU-THORACIC-1")
    seen = await BleakScanner.discover(0.3, return_adv=True, backend=radio.scanner_backend)
    _, adv = seen[thoracic.address]
    assert adv.service_uuids.count(imu_fw.SERVICE_UUID) >= 1
    _, dot_adv = seen["D4:22:CD:00:00:08"]
    assert dot_adv.manufacturer_data[0x0886] == bytes.fromhex("080000CD22D4")


async def test_mtu_247_and_40_byte_notification_arrives_whole(radio):
    clock = SessionClock()
    # two quat+acc samples: 12 + 2 * 14 = 40 bytes, longer than the 20 of MTU 23
    frame = imu_fw.encode_samples(0, 0, 10000, np.tile([1.0, 0, 0, 0], (2, 1)), np.zeros((2, 3)))
    assert len(frame) == 40
    source = FrameSource([(0.3 + 0.01 * k, frame) for k in range(20)])
    sensor = await make(ImuFwPeripheral, radio, "IMU-LUMBAR-1", source, clock=clock)
    received = []
    device = await BleakScanner.find_device_by_name("IMU-LUMBAR-1", 2, backend=radio.scanner_backend)
    async with BleakClient(device, backend=radio.client_backend) as client:
        assert client.mtu_size == 247
        char = client.services.get_characteristic(imu_fw.DATA_CHAR_UUID)
        assert char.max_write_without_response_size == 244
        await client.start_notify(char, lambda _, data: received.append(bytes(data)))
        await client.write_gatt_char(imu_fw.CONTROL_CHAR_UUID,
                                     imu_fw.encode_command(imu_fw.OP_START, 100, imu_fw.CONTENT_ALL),
                                     response=True)
        await clock.sleep_until(0.6)
    assert len(received) == len(sensor.sent) > 10
    assert {len(r) for r in received} == {40}


async def test_gatt_reads_and_att_errors(radio):
    await make(ImuFwPeripheral, radio, "IMU-THORACIC-1", serial="SN-42")
    device = await BleakScanner.find_device_by_name("IMU-THORACIC-1", 2, backend=radio.scanner_backend)
    async with BleakClient(device, backend=radio.client_backend) as client:
        assert await client.read_gatt_char("00002a25-0000-1000-8000-00805f9b34fb") == b"SN-42"
        assert (await client.read_gatt_char("00002a19-0000-1000-8000-00805f9b34fb"))[0] == 90
        info = imu_fw.decode_info(await client.read_gatt_char(imu_fw.INFO_CHAR_UUID))
        assert not info.streaming
        with pytest.raises(BleakGATTProtocolError) as err:
            await client.write_gatt_char(imu_fw.CONTROL_CHAR_UUID, b"\x99", response=True)
        assert err.value.code == imu_fw.ATT_ERROR_UNKNOWN_OPCODE


async def test_link_loss_and_remote_disconnect_call_disconnected_callback(radio):
    sensor = await make(ImuFwPeripheral, radio, "IMU-THORACIC-1")
    device = await BleakScanner.find_device_by_name("IMU-THORACIC-1", 2, backend=radio.scanner_backend)
    lost = asyncio.Event()
    client = BleakClient(device, lambda c: lost.set(), backend=radio.client_backend)
    await client.connect()
    await radio.emulate_link_loss(sensor.device)
    await asyncio.wait_for(lost.wait(), 1)
    assert not client.is_connected
    # the sensor advertises again on its own, and a reconnect by address string works
    lost.clear()
    client = BleakClient(sensor.address, lambda c: lost.set(), backend=radio.client_backend, timeout=2)
    await client.connect()
    await sensor.disconnect()
    await asyncio.wait_for(lost.wait(), 1)
    assert sensor.connections == 2


async def test_absent_sensor_connect_times_out_and_leaves_radio_usable(radio):
    ghost = BLEDevice("F0:00:00:00:0F:0F", "ghost", hci.Address("F0:00:00:00:0F:0F"))
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimeoutError):
        await BleakClient(ghost, backend=radio.client_backend, timeout=0.3).connect()
    assert loop.time() - started < 2.0  # the cancel ends the attempt; no hang
    await make(ImuFwPeripheral, radio, "IMU-THORACIC-1")
    device = await BleakScanner.find_device_by_name("IMU-THORACIC-1", 2, backend=radio.scanner_backend)
    async with BleakClient(device, backend=radio.client_backend) as client:
        assert client.is_connected


async def test_duplicate_address_is_refused(radio):
    radio.new_device("a", "F0:00:00:00:AA:01")
    with pytest.raises(RadioError, match="already used"):
        radio.new_device("b", "F0:00:00:00:AA:01")
