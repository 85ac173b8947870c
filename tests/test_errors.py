"""One base for errors a user can fix: imu.errors.UserError, printed by the CLI as one line."""

from __future__ import annotations

import pytest

from imu.errors import UserError


def _user_errors():
    from dashboards.qtcheck import DisplayUnavailable
    from imu.ble import BleError, ChoiceFileError
    from imu.cohort.runner import EngineError
    from imu.core.calibrate import CalibrationError
    from imu.live.session import NoRealSensors
    from imu.recording.csv_import import InterchangeError
    from imu.recording.mapping import MappingError
    from imu.recording.schema import SessionFileError
    from imu.recording.session import SessionWriteError
    from imu.report.writer import ReportOutputError

    # the error, and the older base that code elsewhere still catches it by
    return [(BleError, RuntimeError), (ChoiceFileError, ValueError), (EngineError, ConnectionError),
            (CalibrationError, ValueError), (NoRealSensors, Exception), (InterchangeError, ValueError),
            (MappingError, ValueError), (SessionFileError, ValueError), (SessionWriteError, RuntimeError),
            (ReportOutputError, OSError), (DisplayUnavailable, ValueError)]


@pytest.mark.parametrize("error, older_base", _user_errors(), ids=lambda c: c.__name__)
def test_user_facing_errors_share_the_base_and_keep_their_old_one(error, older_base):
    assert issubclass(error, UserError) and issubclass(error, older_base)


def test_the_cli_prints_any_user_error_as_one_line_and_exits_2(tmp_path, capsys):
    from imu.cli import main

    not_a_session = tmp_path / "notes.imu"
    not_a_session.write_text("hello")
    assert main(["report", str(not_a_session), "-q"]) == 2  # SessionFileError, a UserError
    err = capsys.readouterr().err.strip()
    assert err.startswith("imu: error: ") and len(err.splitlines()) == 1
    assert str(not_a_session) in err and "Traceback" not in err


def test_the_live_command_keeps_exit_3_for_missing_sensors(tmp_path, capsys):
    """NoRealSensors and BleError are UserErrors too, but mean "nothing to record from"."""
    import asyncio

    from imu.ble import BleError
    from imu.live import LiveOptions, LiveSession, run_session

    class NoBluetooth(LiveSession):
        async def run(self) -> int:
            raise BleError("Bluetooth is off")

    class BadSpeed(LiveSession):
        async def run(self) -> int:
            raise UserError("--speed must be positive, got 0")

    options = LiveOptions(output=str(tmp_path / "s.imu"))
    assert asyncio.run(run_session(NoBluetooth(options))) == 3
    assert asyncio.run(run_session(BadSpeed(options))) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["imu: Bluetooth is off", "imu: error: --speed must be positive, got 0"]
