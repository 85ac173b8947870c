"""The real running validation: the project's step core against treadmill force contacts.

The data lives outside the repository (../shared/realdata); the tests that need it are
skipped when it is absent, and the absence itself is a clean message.
"""

import numpy as np
import pytest

from imu.core.gait import GAIT_MIN_RATE_HZ, bout_steps
from imu.validate_real import (RUNNING_DIR, contact_onsets, default_dir, format_real_table,
                               run_real_validation)

HAVE_DATA = (default_dir() / RUNNING_DIR / "Accelerometer_one_sub.csv").exists()


def test_missing_data_is_a_clean_message(tmp_path):
    with pytest.raises(FileNotFoundError, match="real data not available"):
        run_real_validation(tmp_path)


def test_contacts_are_force_rises_through_the_threshold():
    rate = 500.0
    t = np.arange(0, 2, 1 / rate)
    force = np.clip(2.5 * np.sin(2 * np.pi * 1.5 * t), 0, None)  # three contacts
    force[300] = 0.2  # a flicker just after the first contact's end is not a new contact
    onsets = contact_onsets(force, rate)
    assert len(onsets) == 3 and onsets[0] == pytest.approx(1 / rate, abs=0.01)


def test_steps_are_refused_with_a_reason_below_the_gait_rate():
    t = np.arange(0, 10, 0.2)  # 5 Hz
    acc = np.stack([np.zeros_like(t), 1 + 0.5 * np.sin(2 * np.pi * 2.8 * t), np.zeros_like(t)], axis=1)
    bout = bout_steps(t, {}, {"sacral": acc}, "running", 0, 10, sensor_rate_hz=5.0)
    assert bout.step_count == 0 and "5 samples/s" in bout.note and f"{GAIT_MIN_RATE_HZ:g}" in bout.note
    assert bout.as_dict()["step_count"] is None


@pytest.mark.skipif(not HAVE_DATA, reason="real running data not available")
def test_real_running_steps_cadence_and_activity():
    v = run_real_validation()
    assert len(v.trials) == 31
    checks = {what: (value, ok) for what, value, _, ok in v.checks()}
    assert all(ok for _, ok in checks.values()), checks
    true = sum(r.true_steps for r in v.trials)
    found = sum(r.found_steps for r in v.trials)
    assert abs(found - true) <= 0.03 * true
    # every trial's count within one step and cadence within 2 %
    assert all(abs(r.found_steps - r.true_steps) <= 1 for r in v.trials)
    assert all(abs(r.cadence_err_pct) < 2.0 for r in v.trials)
    # running is never called still, at 500 Hz (running) nor at 5 Hz (only "moving")
    assert all(a.still_pct == 0.0 for a in v.activity)
    assert all(a.running_pct == 100.0 for a in v.activity if a.rate_hz == 500.0)
    text = format_real_table(v)
    assert "FAIL" not in text and "one trial: shorter than a window" in text
