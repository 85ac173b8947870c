"""describe() and parse_hex(): what `imu decode --device ... HEX` prints, and its errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from imu import quat as Q
from imu.protocols import DEVICES, imu_fw, make_decoder, movella_dot, witmotion
from imu.protocols.describe import describe, parse_hex

WIT = "55 61 fc ff ef ff 11 08 00 00 00 00 00 00 98 ff 0d 00 f8 31"


@pytest.mark.parametrize("text", [
    "55 61 fc ff", "5561fcff", "55:61:fc:ff", "0x55 0x61 0xfc 0xff", "0x55,0x61,0xFC,0xFF", " 55-61 FC ff\n",
])
def test_parse_hex_accepts_common_spellings(text):
    assert parse_hex(text) == bytes([0x55, 0x61, 0xFC, 0xFF])


@pytest.mark.parametrize("text,message", [
    ("", "no hex bytes"), ("55 6", "odd number of hex digits"), ("55 zz", "not a hex digit: 'z'"),
])
def test_parse_hex_errors_name_the_problem(text, message):
    with pytest.raises(ValueError, match=message):
        parse_hex(text)


def test_describe_witmotion_lists_every_frame_in_the_notification():
    reply = witmotion.encode_register_reply(witmotion.REG_BATTERY, [380])
    out = describe("witmotion", parse_hex(WIT) + reply)
    json.dumps(out)
    assert [f["frame"] for f in out["frames"]] == ["data", "register"]
    data = out["frames"][0]
    assert data["euler_deg"]["yaw"] == pytest.approx(70.2686, abs=1e-4)
    assert data["acc_g"][2] == pytest.approx(1.00830, abs=1e-5)
    assert out["frames"][1]["battery_volts"] == 3.8
    assert 0 < out["frames"][1]["battery_pct"] < 100


def test_describe_witmotion_quaternion_registers():
    regs = [16384, 0, 0, 16384]
    out = describe("witmotion", witmotion.encode_register_reply(witmotion.REG_QUAT, regs))
    assert out["frames"][0]["quat_wxyz"] == [0.5, 0.0, 0.0, 0.5]


def test_describe_movella_exposes_free_acceleration_separately():
    q = Q.normalize(np.array([0.9, 0.1, 0.0, 0.2]))
    payload = movella_dot.encode_payload(2, 123456, q, [0.0, 0.0, 1.0], status=0x0021)
    out = describe("movella-dot", payload.hex(), 2)
    json.dumps(out)
    assert out["mode_name"] == "Extended (Quaternion)" and out["timestamp_us"] == 123456
    assert "acc_g" not in out and len(out["free_acc_g"]) == 3
    assert out["status"] == 0x21 and out["length"] == 40


def test_describe_imu_fw_event_and_time_sync():
    out = describe("imu-fw", imu_fw.encode_event(3, 99, imu_fw.EVENT_BUTTON, 2))
    assert (out["frame"], out["event"], out["argument"]) == ("event", "button", 2)
    out = describe("imu-fw", imu_fw.encode_time_sync(4, 1000, 77))
    assert (out["frame"], out["token"], out["device_time_us"]) == ("time_sync", 77, 1000)


@pytest.mark.parametrize("device,payload,mode,message", [
    ("imu-fw", "11 04 00", None, "imu-fw: samples frame truncated: 3 of 12 header bytes"),
    ("movella-dot", "00 01 02", 26, "movella-dot: notification of 3 bytes does not fit mode 26"),
    ("movella-dot", "00" * 40, 9, "unsupported Movella DOT payload mode 9"),
    ("witmotion", "01 02 03", None, "witmotion: no 55 61 / 55 71 frame"),
    ("witmotion", WIT[:30], None, "witmotion: 10 trailing bytes are an incomplete frame"),
    ("witmotion", WIT + " 00", None, "witmotion: bytes between frames"),
    ("metawear", "00", None, "unknown device profile 'metawear'"),
    ("imu-fw", "zz", None, "not a hex digit"),
])
def test_bad_input_raises_value_error_naming_the_problem(device, payload, mode, message):
    with pytest.raises(ValueError) as err:
        describe(device, payload, mode)
    assert message in str(err.value)


def test_registry_builds_a_decoder_for_every_device():
    assert DEVICES == ("imu-fw", "movella-dot", "witmotion")
    for device in DEVICES:
        decoder = make_decoder(device)
        block = decoder.decode([], np.empty(0))
        assert len(block) == 0 and decoder.stats.notifications == 0
    assert make_decoder("movella-dot", "2").mode == 2
    assert make_decoder("witmotion", "200").rate_hz == 200
    with pytest.raises(ValueError, match="unknown device profile"):
        make_decoder("xsens")
