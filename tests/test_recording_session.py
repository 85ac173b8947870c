"""Session file: write, read back against ground truth, damage, kill, annotate, replay."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import imu.recording.reader as reader_module
from imu.recording.session import (
    SessionFileError, SessionReader, SessionWriter, annotate, iter_notifications, read_session,
)
from imu.samples import LinkEvent, Notification
from test_recording_support import SENSORS, write_session

Q_TOL = 1.5 / 16384  # int16 Q14 rounding, then renormalisation


@pytest.fixture
def recorded(tmp_path):
    path = tmp_path / "s.imu"
    return path, write_session(path)


def test_round_trip_decodes_to_ground_truth(recorded):
    path, streams = recorded
    session = read_session(path)
    assert session.metadata["schema"] == "imu.session/1"
    assert session.metadata["subject"] == "S01"
    assert session.metadata["thresholds"] == {"slouch_enter_deg": 15.0}
    assert session.metadata["closed"]["notifications"] == sum(len(s.notifications) for s in streams.values())
    assert session.sensors["thoracic"]["details"] == {"mounting": "nominal"}
    assert session.sensors["thoracic"]["firmware"] == "1.2.0"
    assert session.sensors["lumbar"]["mode"] is None and session.sensors["lumbar"]["details"] == {}
    for location, truth in streams.items():
        block, stats = session.blocks[location], session.stats[location]
        assert len(block) == len(truth.quat)
        assert np.abs(block.quat - truth.quat).max() < Q_TOL
        assert np.allclose(block.acc, truth.acc) and np.allclose(block.gyro, truth.gyro)
        assert np.allclose(block.device_time_s, truth.device_time_s, atol=1e-6)
        assert np.array_equal(block.host_time_s, truth.host_time_s)
        assert np.array_equal(block.seq, truth.seq)
        assert stats.notifications == len(truth.notifications)
        assert stats.bad_notifications == 1  # the damaged one
        assert stats.lost_samples == 8  # the lost frame and the damaged one, by sequence number
    assert session.integrity.complete and session.integrity.closed_cleanly
    assert session.integrity.notifications_read == session.integrity.notifications_written


def test_calibrations_events_annotations_link_events(recorded):
    path, _ = recorded
    session = read_session(path)
    assert [c.accepted for c in session.calibrations] == [False, True, False]
    assert session.calibration == {"ok": True, "quality": "good", "neutral": [1.5, 2.5]}
    assert [(e.kind, e.t_start, e.t_end, e.data) for e in session.events] == [
        ("slouch", 0.5, 1.5, {"peak_deg": 21.0}), ("gap", 0.4, None, None)]
    assert [(a.t_start, a.t_end, a.label, a.source) for a in session.annotations] == [(0.2, 1.0, "sitting", "user")]
    assert session.link_events == [LinkEvent("thoracic", 0.0, "connected"), LinkEvent("lumbar", 0.0, "connected"),
                                   LinkEvent("lumbar", 3.0, "disconnected")]


def test_windowed_decode_equals_whole(recorded, monkeypatch):
    path, _ = recorded
    whole = read_session(path)
    monkeypatch.setattr(reader_module, "WINDOW_ROWS", 7)
    windowed = read_session(path)
    for location in whole.blocks:
        a, b = whole.blocks[location], windowed.blocks[location]
        assert np.array_equal(a.quat, b.quat) and np.array_equal(a.seq, b.seq)
        assert whole.stats[location] == windowed.stats[location]


def test_writer_refuses_bad_input(tmp_path, recorded):
    path, _ = recorded
    with pytest.raises(SessionFileError, match="refusing to overwrite"):
        SessionWriter(path, {}, SENSORS)
    bad_sensor_lists = {
        "is not one of": [{"location": "neck", "device": "imu-fw"}],
        "appears twice": [SENSORS[0], SENSORS[0]],
        "unknown device": [{"location": "lumbar", "device": "nope"}],
        "unknown field": [{"location": "lumbar", "device": "imu-fw", "colour": "red"}],
        "has no payload modes": [{"location": "lumbar", "device": "imu-fw", "mode": 3}],
    }
    for message, sensors in bad_sensor_lists.items():
        with pytest.raises(ValueError, match=message):
            SessionWriter(tmp_path / "x.imu", {}, sensors)
        assert not (tmp_path / "x.imu").exists()
    with pytest.raises(ValueError, match="reserved"):
        SessionWriter(tmp_path / "x.imu", {"schema": "mine"}, SENSORS)
    writer = SessionWriter(tmp_path / "y.imu", {"a": 1}, SENSORS)
    with pytest.raises(ValueError, match="unknown sensor 'sacral'"):
        writer.add_notification("sacral", 0.0, b"\x11")
    with pytest.raises(ValueError, match="already recorded"):
        writer.add_metadata("a", 2)
    with pytest.raises(ValueError, match="ends .* before it starts"):
        writer.add_annotation(2.0, 1.0, "x")
    with pytest.raises(ValueError, match="finite"):
        writer.add_event("slouch", float("nan"), None)
    writer.add_metadata("wearer_height_m", 1.8)
    writer.close()
    writer.close()  # harmless
    with pytest.raises(RuntimeError, match="closed"):
        writer.add_notification("lumbar", 0.0, b"\x11")
    assert read_session(tmp_path / "y.imu").metadata["wearer_height_m"] == 1.8


def test_file_is_append_only(recorded):
    path, _ = recorded
    conn = sqlite3.connect(path)
    for sql in ("UPDATE meta SET value='1' WHERE key='subject'", "DELETE FROM notifications",
                "UPDATE calibrations SET data='{}'"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(sql)
    conn.close()


def test_rows_are_committed_while_recording(tmp_path):
    path = tmp_path / "live.imu"
    with SessionWriter(path, {}, SENSORS) as writer:
        writer.add_notification("lumbar", 0.1, b"\x11\x00\x00\x00")
        writer.add_event("slouch", 0.0, 1.0)
        seen = 0
        for _ in range(100):  # the background thread commits within a fraction of a second
            time.sleep(0.05)
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            seen = conn.execute("SELECT count(*) FROM notifications").fetchone()[0]
            conn.close()
            if seen:
                break
        assert seen == 1
        session = read_session(path)  # a file being recorded reads as well
        assert not session.integrity.closed_cleanly and len(session.events) == 1


def test_not_a_session_gives_one_clear_line(tmp_path, recorded):
    good, _ = recorded
    cases = {
        "no such session file": tmp_path / "missing.imu",
        "not a file": tmp_path,
    }
    (tmp_path / "empty.imu").write_bytes(b"")
    cases["empty file"] = tmp_path / "empty.imu"
    (tmp_path / "text.imu").write_text("time_s,sensor\n0,lumbar\n" * 20)
    cases["not an SQLite database"] = tmp_path / "text.imu"
    (tmp_path / "junk.imu").write_bytes(np.random.default_rng(1).bytes(5000))
    cases["not an SQLite database "] = tmp_path / "junk.imu"
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t(x)")
    conn.commit()
    conn.close()
    cases["without a meta table"] = other
    foreign = tmp_path / "foreign.db"
    conn = sqlite3.connect(foreign)
    conn.executescript("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT); CREATE TABLE sensors(x);"
                       "CREATE TABLE notifications(x); CREATE TABLE link_events(x); CREATE TABLE calibrations(x);"
                       "CREATE TABLE events(x); CREATE TABLE annotations(x);"
                       "INSERT INTO meta VALUES ('schema', '\"other/9\"');")
    conn.close()
    cases["unsupported session schema 'other/9'"] = foreign
    (tmp_path / "head.imu").write_bytes(good.read_bytes()[:60])
    cases["cut inside its SQLite header"] = tmp_path / "head.imu"
    for message, path in cases.items():
        with pytest.raises(SessionFileError) as info:
            read_session(path)
        assert message.strip() in str(info.value) and "\n" not in str(info.value)
        assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("fraction, page_aligned", [(0.5, False), (0.5, True), (0.7, False), (0.9, False)])
def test_cut_file_yields_its_intact_rows(tmp_path, fraction, page_aligned):
    full = tmp_path / "full.imu"
    streams = write_session(full, seconds=60.0, lost_frame=None, damaged_frame=None)
    written = sum(len(s.notifications) for s in streams.values())
    data = full.read_bytes()
    cut = tmp_path / "cut.imu"
    length = int(len(data) * fraction)
    cut.write_bytes(data[: length - length % 4096 if page_aligned else length])
    session = read_session(cut)
    integrity = session.integrity
    assert not integrity.complete and "damaged" in integrity.summary()
    assert integrity.notifications_written == written
    assert integrity.notifications_read + integrity.notifications_lost == written
    assert integrity.missing_bytes == len(data) - len(cut.read_bytes())
    assert 0.3 * written < integrity.notifications_read < written
    replayed = [i for i in iter_notifications(cut) if isinstance(i, Notification)]
    assert len(replayed) == integrity.notifications_read - integrity.damaged_rows
    for location, truth in streams.items():
        block = session.blocks[location]
        assert len(block) > 0 and block.seq[0] == 0  # the prefix is there
        # every sample read is the one that was written under its sequence number
        idx = np.searchsorted(truth.seq, block.seq) + np.arange(len(block)) % 4
        assert np.array_equal(truth.seq[idx], block.seq)
        assert np.abs(block.quat - truth.quat[idx]).max() < Q_TOL


KILLED_WRITER = textwrap.dedent("""
    import sys, time
    from imu.recording.session import SessionWriter
    from imu.protocols.imu_fw import encode_samples
    import numpy as np
    q = np.tile([1.0, 0, 0, 0], (4, 1))
    w = SessionWriter(sys.argv[1], {"run": "kill"}, [{"location": "lumbar", "device": "imu-fw"}])
    k = 0
    while True:
        w.add_notification("lumbar", time.time(), encode_samples(k, k * 40000, 10000, q))
        k += 1
        if k == 50:
            print("writing", flush=True)
        time.sleep(0.002)
""")


def test_sigkill_loses_at_most_the_last_second(tmp_path):
    path = tmp_path / "killed.imu"
    child = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "writing"
        time.sleep(1.5)
        killed_at = time.time()
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    assert child.returncode == -signal.SIGKILL
    session = read_session(path)
    block = session.blocks["lumbar"]
    assert session.metadata["run"] == "kill" and not session.integrity.closed_cleanly
    frames = np.unique(block.seq)
    assert frames[0] == 0 and np.all(np.diff(frames) == 1)  # an unbroken prefix
    assert session.stats["lumbar"].bad_notifications == 0
    assert block.host_time_s[-1] >= killed_at - 1.0


def test_annotate_appends_to_closed_and_live_files(tmp_path, recorded):
    path, _ = recorded
    annotate(path, 1.0, 2.0, "carry_front")
    assert [a.label for a in read_session(path).annotations] == ["sitting", "carry_front"]
    live = tmp_path / "live.imu"
    with SessionWriter(live, {}, SENSORS) as writer:
        writer.add_annotation(0.0, 0.5, "from the loop", "app")
        annotate(live, 0.5, 0.9, "plank")
    assert {a.label for a in read_session(live).annotations} == {"from the loop", "plank"}
    with pytest.raises(SessionFileError, match="not an SQLite"):
        (tmp_path / "t.txt").write_text("hello")
        annotate(tmp_path / "t.txt", 0, 1, "x")
    with pytest.raises(ValueError, match="label"):
        annotate(path, 0, 1, "")


def test_iter_notifications_in_host_time_order(tmp_path, monkeypatch):
    path = tmp_path / "order.imu"
    # the lumbar batch is written after the thoracic one but overlaps it in time
    thoracic = [Notification("thoracic", 0.01 * k, bytes([k])) for k in range(20)]
    lumbar = [Notification("lumbar", 0.005 + 0.01 * k, bytes([100 + k])) for k in range(20)]
    with SessionWriter(path, {}, SENSORS) as writer:
        writer.add_link_event("lumbar", 0.0525, "disconnected")
        writer.add_notifications(thoracic)
        writer.add_notifications(lumbar)
    monkeypatch.setattr(reader_module, "WINDOW_ROWS", 3)
    items = list(iter_notifications(path))
    assert len(items) == 41
    times = [i.host_time_s for i in items]
    assert times == sorted(times)
    assert [i for i in items if isinstance(i, Notification)] == sorted(thoracic + lumbar, key=lambda n: n.host_time_s)
    assert LinkEvent("lumbar", 0.0525, "disconnected") in items
    later = list(iter_notifications(path, start_s=0.1))
    assert [i.host_time_s for i in later] == [t for t in times if t >= 0.1]
    with SessionReader(path) as reader:
        assert sum(1 for _ in reader.iter_notifications(0.0)) == 41


def test_annotate_refuses_unknown_labels_duplicates_and_spans_past_the_end(tmp_path, capsys):
    from imu.cli import main

    session = tmp_path / "desk.imu"
    assert main(["simulate", "desk", "-o", str(session), "--duration", "120"]) == 0
    capsys.readouterr()
    cases = [
        (["--from", "10", "--to", "20", "--label", "carry_fridge"], "known labels: calibrate_neutral"),
        (["--from", "10", "--to", "300", "--label", "carry_farmer"], "ends after the recording"),
        (["--from", "-5", "--to", "20", "--label", "carry_farmer"], "before the recording"),
    ]
    for flags, expected in cases:
        assert main(["annotate", str(session), *flags]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and expected in err, err
    good = ["annotate", str(session), "--from", "10", "--to", "20", "--label", "carry_farmer"]
    assert main(good) == 0
    assert main(good) == 2
    assert "already has carry_farmer from 10 to 20 s" in capsys.readouterr().err
    from imu.recording.reader import SessionReader

    with SessionReader(session) as reader:
        assert [(a.t_start, a.t_end, a.label) for a in reader.annotations()] == [(10.0, 20.0, "carry_farmer")]
