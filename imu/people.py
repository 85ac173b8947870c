"""Per-person profiles kept on this computer: thresholds, sensor choices, last calibration.

One folder per person under the user's config folder (`$IMU_HOME` overrides it, e.g. in
tests): `<home>/profiles/<name>/` holding `thresholds.json` (any subset of the threshold
keys), `sensors.json` (the sensor-choice file of `imu.ble.choice`) and `calibration.json`
(the last accepted calibration, `Calibration.to_dict()`) and `history.json` (headline
numbers of each reported session, so a report can set a session against the person's own
earlier ones) and `mobility.json` (the results of each mobility test). Nothing leaves the
machine.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from imu.ble.choice import SensorChoice, load_choices, save_choices
from imu.profile import Thresholds, load_thresholds, thresholds_to_dict

DEFAULT_PROFILE = "default"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def imu_home() -> Path:
    """Where profiles live: $IMU_HOME, else the platform's user config folder."""
    env = os.environ.get("IMU_HOME")
    if env:
        return Path(env).expanduser()
    try:
        import platformdirs

        return Path(platformdirs.user_config_dir("imu"))
    except ImportError:  # pragma: no cover - platformdirs comes with bumble
        return Path.home() / ".config" / "imu"


@dataclass
class PersonProfile:
    name: str
    folder: Path

    @property
    def thresholds_path(self) -> Path:
        return self.folder / "thresholds.json"

    @property
    def sensors_path(self) -> Path:
        return self.folder / "sensors.json"

    @property
    def calibration_path(self) -> Path:
        return self.folder / "calibration.json"

    def thresholds(self) -> Thresholds:
        return load_thresholds(self.thresholds_path) if self.thresholds_path.exists() else Thresholds()

    def save_thresholds(self, thresholds: Thresholds) -> None:
        self._write(self.thresholds_path, {"thresholds": thresholds_to_dict(thresholds)})

    def sensor_choices(self) -> dict[str, SensorChoice] | None:
        return load_choices(self.sensors_path) if self.sensors_path.exists() else None

    def save_sensor_choices(self, choices: dict[str, SensorChoice]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        save_choices(self.sensors_path, choices)

    def calibration(self) -> dict | None:
        if not self.calibration_path.exists():
            return None
        return json.loads(self.calibration_path.read_text())

    def save_calibration(self, data: dict) -> None:
        self._write(self.calibration_path, data)

    @property
    def history_path(self) -> Path:
        return self.folder / "history.json"

    def history(self) -> list[dict]:
        """Headline numbers of the sessions reported so far, oldest first (see record_session)."""
        if not self.history_path.exists():
            return []
        try:
            data = json.loads(self.history_path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"{self.history_path}: not a readable session history ({err})") from None
        sessions = data.get("sessions") if isinstance(data, dict) else None
        if not isinstance(sessions, list):
            raise ValueError(f"{self.history_path}: expected {{\"sessions\": [...]}}")
        return [s for s in sessions if isinstance(s, dict) and isinstance(s.get("session"), str)]

    def record_session(self, entry: dict) -> None:
        """Add or replace (same `session` key) one session's headline numbers.

        entry: {"session": a key unique to the recording, "started": ISO time or None, ...}.
        Reporting a session again replaces its entry, so the history never counts it twice.
        """
        if not isinstance(entry.get("session"), str):
            raise ValueError("a history entry needs a 'session' key")
        sessions = [s for s in self.history() if s["session"] != entry["session"]]
        sessions.append(entry)
        sessions.sort(key=lambda s: s.get("started") or "")
        self._write(self.history_path, {"sessions": sessions})

    @property
    def mobility_path(self) -> Path:
        return self.folder / "mobility.json"

    def mobility_tests(self) -> list[dict]:
        """Results of the person's mobility tests (`imu live --test mobility`), oldest first."""
        if not self.mobility_path.exists():
            return []
        try:
            data = json.loads(self.mobility_path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"{self.mobility_path}: not a readable mobility-test file ({err})") from None
        tests = data.get("tests") if isinstance(data, dict) else None
        if not isinstance(tests, list):
            raise ValueError(f"{self.mobility_path}: expected {{\"tests\": [...]}}")
        return [x for x in tests if isinstance(x, dict) and isinstance(x.get("movements"), dict)]

    def record_mobility_test(self, entry: dict) -> None:
        """Add one test's result (replacing an earlier entry of the same session file)."""
        if not isinstance(entry.get("session"), str) or not isinstance(entry.get("movements"), dict):
            raise ValueError("a mobility-test entry needs 'session' and 'movements'")
        tests = [x for x in self.mobility_tests() if x.get("session") != entry["session"]]
        tests.append(entry)
        tests.sort(key=lambda x: x.get("date") or "")
        self._write(self.mobility_path, {"tests": tests})

    def _write(self, path: Path, data: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        tmp.replace(path)  # never a half-written profile file


def get_profile(name: str | None = None) -> PersonProfile:
    """The named profile (created on first save); ValueError for names unsafe as folders."""
    name = name or DEFAULT_PROFILE
    if not _NAME.match(name):
        raise ValueError(f"profile name {name!r}: use letters, digits, '-', '_' or '.' (max 64)")
    return PersonProfile(name, imu_home() / "profiles" / name)


def existing_profile(name: str | None) -> PersonProfile | None:
    """The named profile if it has a folder on this computer (a report never creates one)."""
    if not name:
        return None
    try:
        profile = get_profile(name)
    except ValueError:
        return None
    return profile if profile.folder.is_dir() else None


def list_profiles() -> list[str]:
    root = imu_home() / "profiles"
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
