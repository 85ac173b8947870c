"""Sensor-choice file and device-profile recognition (no radio needed)."""

import pytest

from imu.ble import ChoiceFileError, SensorChoice, get_profile, load_choices, recognise, save_choices
from imu.ble.profiles import ProfileError
from imu.protocols import imu_fw


def test_choice_file_round_trip(tmp_path):
    choices = {"thoracic": SensorChoice("thoracic", "imu-fw", address="F0:00:00:00:00:01"),
               "lumbar": SensorChoice("lumbar", "movella-dot", name="Movella DOT")}
    path = tmp_path / "sensors.json"
    save_choices(path, choices)
    assert load_choices(path) == choices


@pytest.mark.parametrize("text, message", [
    ('{"neck": {"address": "A", "profile": "imu-fw"}}', "unknown body location 'neck'"),
    ('{"thoracic": {"address": "A", "profile": "fitbit"}}', "unknown profile 'fitbit'"),
    ('{"thoracic": {"profile": "imu-fw"}}', "give the sensor's address or name"),
    ('{"thoracic": {"address": "A"}}', "missing 'profile'"),
    ('{"thoracic": ', "not valid JSON"),
])
def test_bad_choice_file_names_the_problem(tmp_path, text, message):
    path = tmp_path / "sensors.json"
    path.write_text(text)
    with pytest.raises(ChoiceFileError, match=message):
        load_choices(path)


def test_missing_choice_file(tmp_path):
    with pytest.raises(ChoiceFileError, match="cannot read sensor-choice file"):
        load_choices(tmp_path / "nope.json")


def test_profiles_recognise_advertisements_and_build_commands():
    assert recognise("anything", [imu_fw.SERVICE_UUID], {}).name == "imu-fw"
    assert recognise(None, [], {0x0886: b"\x01" * 6}).name == "movella-dot"
    assert recognise("Xsens DOT", [], {}).name == "movella-dot"
    assert recognise("WT901BLE68", [], {}).name == "witmotion"
    assert recognise("Headphones", [], {}) is None
    fw = get_profile("imu-fw")
    assert fw.start_writes(100) == [(imu_fw.CONTROL_CHAR_UUID, bytes.fromhex("01640007"), True)]
    assert fw.buzz(300, 80) == (imu_fw.CONTROL_CHAR_UUID, bytes.fromhex("062c0150"), True)
    wit = get_profile("witmotion")
    assert wit.start_writes(100)[1][1] == bytes.fromhex("FFAA030900")
    with pytest.raises(ProfileError, match="no vibration motor"):
        get_profile("movella-dot").buzz(300, 80)
    with pytest.raises(ProfileError, match="unknown device profile"):
        get_profile("fitbit")
