"""Progress bars: drawn on a terminal's stderr, never mixed into piped output."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

from imu.cli import main


def _read_all(fd: int, proc) -> str:
    chunks = []
    while True:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    return b"".join(chunks).decode("utf-8", "replace")


def test_replay_shows_its_position_on_the_terminal_and_events_go_to_the_pipe(tmp_path):
    session = tmp_path / "desk.imu"
    assert main(["simulate", "desk", "-o", str(session), "--duration", "300"]) == 0
    out = tmp_path / "events.txt"
    master, slave = pty.openpty()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]), COLUMNS="80",
               TERM="xterm")
    env.pop("NO_COLOR", None)
    with out.open("w") as stdout:
        proc = subprocess.Popen([sys.executable, "-m", "imu.cli", "replay", str(session),
                                 "--speed", "20"], stdout=stdout, stderr=slave, env=env)
        os.close(slave)
        terminal = _read_all(master, proc)
        assert proc.wait(timeout=120) == 0
    os.close(master)
    import re

    positions = [(int(a) * 60 + int(b), int(c) * 60 + int(d)) for a, b, c, d in
                 re.findall(r"(\d+):(\d\d) / (\d+):(\d\d)", terminal)]
    assert "replaying" in terminal and len(positions) >= 2  # position against the length
    assert all(done <= total for done, total in positions) and positions[-1][1] in (299, 300)
    lines = out.read_text().splitlines()
    assert any("slouching since" in line for line in lines)
    assert lines[-1].startswith("replayed 5.0 min")
    assert not any("replaying" in line or "━" in line for line in lines)


def test_quiet_draws_nothing_even_on_a_terminal(tmp_path):
    session = tmp_path / "desk.imu"
    assert main(["simulate", "desk", "-o", str(session), "--duration", "120"]) == 0
    master, slave = pty.openpty()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]), MPLBACKEND="Agg")
    proc = subprocess.Popen([sys.executable, "-m", "imu.cli", "report", str(session), "-q"],
                            stdout=subprocess.DEVNULL, stderr=slave, env=env)
    os.close(slave)
    terminal = _read_all(master, proc)
    assert proc.wait(timeout=300) == 0
    os.close(master)
    assert terminal == ""
