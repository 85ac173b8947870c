"""`imu live` in a real 80-column terminal (tmux): the status stays on one line.

Skips only when tmux is not installed (Debian: apt-get install tmux).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")
STATUS = re.compile(r"^\d+:\d\d · ")


def test_status_line_stays_on_one_line_at_80_columns(tmp_path):
    name = f"imu-test-{tmp_path.name}"[-40:]
    root = Path(__file__).resolve().parents[1]
    command = (f"cd {tmp_path} && PYTHONPATH={root} IMU_HOME={tmp_path}/home MPLBACKEND=Agg "
               f"{sys.executable} -m imu.cli live --virtual smoke --speed 10 --duration 60 "
               f"--no-desktop --no-report -o {tmp_path}/s.imu; echo '[exited]'; sleep 60")
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "80", "-y", "40", command],
                   check=True)
    screens = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            time.sleep(1.0)
            screen = subprocess.run(["tmux", "capture-pane", "-t", name, "-p"],
                                    capture_output=True, text=True).stdout
            screens.append(screen)
            if "[exited]" in screen:
                break
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
    assert "[exited]" in screens[-1], screens[-1]
    shown = 0
    for screen in screens:
        status = [line for line in screen.splitlines() if STATUS.match(line)]
        assert len(status) <= 1, screen  # redrawn in place, never scrolled like a log
        assert all(len(line) <= 80 for line in status)
        shown += len(status)
    assert shown >= 3  # it was there while the session ran
    final = screens[-1]
    assert not any(STATUS.match(line) for line in final.splitlines())  # removed at the end
    assert "reconnecting" not in final and "LOST" not in final
    assert final.count("Calibrated (") == 1 and "calibration accepted" not in final
