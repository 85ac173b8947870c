"""The sensor-choice file: which sensor is worn where.

JSON, one entry per body location:

    {"thoracic": {"address": "F0:00:00:00:00:01", "profile": "imu-fw"},
     "lumbar":   {"name": "Movella DOT", "profile": "movella-dot"}}

An address pins one physical sensor; a name takes the first sensor advertising it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from imu.ble.profiles import PROFILES
from imu.errors import UserError
from imu.samples import LOCATIONS


class ChoiceFileError(UserError, ValueError):
    """A sensor-choice file that cannot be used; the message names the problem."""


@dataclass(frozen=True)
class SensorChoice:
    location: str
    profile: str
    address: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if self.location not in LOCATIONS:
            raise ChoiceFileError(f"unknown body location {self.location!r}; use one of {', '.join(LOCATIONS)}")
        if self.profile not in PROFILES:
            raise ChoiceFileError(f"{self.location}: unknown profile {self.profile!r}; use one of {', '.join(PROFILES)}")
        if not self.address and not self.name:
            raise ChoiceFileError(f"{self.location}: give the sensor's address or name")

    @property
    def label(self) -> str:
        return self.address or repr(self.name)

    def to_json(self) -> dict[str, str]:
        entry = {"profile": self.profile}
        if self.address:
            entry["address"] = self.address
        if self.name:
            entry["name"] = self.name
        return entry


def parse_choices(data: object) -> dict[str, SensorChoice]:
    if not isinstance(data, dict) or not data:
        raise ChoiceFileError("sensor choice must be a JSON object: location -> {address or name, profile}")
    choices = {}
    for location, entry in data.items():
        if not isinstance(entry, dict):
            raise ChoiceFileError(f"{location}: entry must be an object with address or name, and profile")
        unknown = set(entry) - {"address", "name", "profile"}
        if unknown:
            raise ChoiceFileError(f"{location}: unknown key(s) {', '.join(sorted(unknown))}")
        if "profile" not in entry:
            raise ChoiceFileError(f"{location}: missing 'profile'")
        choices[location] = SensorChoice(location, entry["profile"], entry.get("address"), entry.get("name"))
    return choices


def load_choices(path: str | Path) -> dict[str, SensorChoice]:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ChoiceFileError(f"cannot read sensor-choice file {path}: {err.strerror}") from err
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ChoiceFileError(f"sensor-choice file {path} is not valid JSON: {err.msg} at line {err.lineno}") from err
    return parse_choices(data)


def save_choices(path: str | Path, choices: dict[str, SensorChoice]) -> None:
    data = {location: choice.to_json() for location, choice in choices.items()}
    Path(path).write_text(json.dumps(data, indent=2) + "\n")
