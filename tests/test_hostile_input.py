"""Hostile and damaged input: every case ends in an honest result or one clear error line,
in time and memory that follow the real data, not its timestamps or ids."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import fields

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imu.analysis import analyze, open_source
from imu.core.pipeline import AnalysisCollector, Pipeline
from imu.profile import Thresholds, thresholds_from_dict, thresholds_to_dict, validate_thresholds
from imu.recording.csv_import import read_interchange_csv
from imu.recording.reader import SessionReader
from imu.sim import simulate, to_interchange_csv
from imu.sim.write import write_simulated_session
from mutations import mutate_text


def imu(*args):
    return subprocess.run([sys.executable, "-m", "imu.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def one_error_line(result) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    path = folder / "smoke.imu"
    write_simulated_session(simulate("smoke", None, seed=5), path, "smoke", 5)
    return path


# --- thresholds --------------------------------------------------------------------------------
BAD_THRESHOLDS = [
    ({"alert_repeat_s": 0}, "alert_repeat_s"),  # froze the live loop at the first alert
    ({"alert_repeat_s": -5}, "alert_repeat_s"),
    ({"heading_time_constant_s": 0}, "heading_time_constant_s"),
    ({"max_interpolation_gap_s": -1}, "max_interpolation_gap_s"),
    ({"analysis_rate_hz": 1e5}, "analysis_rate_hz"),  # took minutes
    ({"slouch_enter_deg": 1e400}, "slouch_enter_deg"),  # JSON gives inf
    ({"slouch_enter_deg": float("nan")}, "slouch_enter_deg"),
    ({"slouch_enter_deg": "20"}, "slouch_enter_deg"),
    ({"slouch_enter_deg": True}, "slouch_enter_deg"),
    ({"bends_required": 2.5}, "bends_required"),
    ({"sagittal_zones_deg": [60, 20]}, "sagittal_zones_deg"),
    ({"sagittal_zones_deg": [20]}, "sagittal_zones_deg"),
    ({"slouch_signal": "elbow_flexion"}, "slouch_signal"),
    ({"lumbar_slump_fraction": 1.5}, "lumbar_slump_fraction"),
    ({"slouch_exit_deg": 20, "slouch_enter_deg": 15}, "slouch_exit_deg"),
]


@pytest.mark.parametrize("data, key", BAD_THRESHOLDS)
def test_every_bad_threshold_is_refused_naming_its_key(data, key):
    with pytest.raises(ValueError, match=key):
        thresholds_from_dict(data)


def test_defaults_and_their_round_trip_pass_the_checks():
    validate_thresholds(Thresholds())
    assert thresholds_from_dict(thresholds_to_dict(Thresholds())) == Thresholds()


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([f.name for f in fields(Thresholds)]),
                       st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**6, 10**6),
                                 st.text(max_size=5), st.booleans(), st.none(),
                                 st.lists(st.floats(-1e3, 1e3), max_size=3)),
                       max_size=4))
def test_threshold_loader_accepts_only_valid_profiles(data):
    """Anything the loader accepts passes every check; anything else is one ValueError."""
    try:
        thr = thresholds_from_dict(data)
    except ValueError as err:
        assert str(err) and "\n" not in str(err)
    else:
        validate_thresholds(thr)


def test_bad_threshold_file_is_one_line_and_stops_before_any_work(session, tmp_path):
    profile = tmp_path / "thr.json"
    profile.write_text('{"alert_repeat_s": 0}')
    line = one_error_line(imu("report", session, "-o", tmp_path / "out", "--thresholds", profile))
    assert "alert_repeat_s" in line
    assert not (tmp_path / "out").exists()


def test_unusable_thresholds_stored_in_a_session_file_are_named(session, tmp_path):
    copy = tmp_path / "stored.imu"
    shutil.copy(session, copy)
    with sqlite3.connect(copy) as conn:  # the meta table is append-only: add the key, never rewrite
        conn.execute("INSERT INTO meta (key, value) VALUES ('thresholds', ?)",
                     (json.dumps({"alert_repeat_s": 0}),))
    line = one_error_line(imu("report", copy, "-o", tmp_path / "out"))
    assert "stored" in line and "alert_repeat_s" in line and "--thresholds" in line


# --- paths ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["subject#3.imu", "100%41.imu", "what?.imu"])
def test_session_paths_are_opened_literally(session, tmp_path, name):
    """'#', '?' and '%' are URI syntax to SQLite: the file named must be the file read."""
    copy = tmp_path / name
    shutil.copy(session, copy)
    decoy = tmp_path / name.split("#")[0].split("?")[0].replace("%41", "A")
    if decoy != copy:
        decoy.write_bytes(b"not a session")
    result = imu("report", copy, "-o", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["duration_s"] > 100
    assert "simulated session" in (tmp_path / "out" / "report.html").read_text()  # its header read it too


# --- ids and times that are far from the data ------------------------------------------------------
def test_a_sequence_counter_of_1e12_costs_nothing(session, tmp_path):
    copy = tmp_path / "sparse.imu"
    shutil.copy(session, copy)
    with sqlite3.connect(copy) as conn:
        sid, host, payload = conn.execute(
            "SELECT sensor_id, host_time, payload FROM notifications ORDER BY id DESC LIMIT 1").fetchone()
        conn.execute("INSERT INTO notifications (id, sensor_id, host_time, payload) VALUES (?, ?, ?, ?)",
                     (10**12, sid, host + 0.01, payload))
        rows = conn.execute("SELECT count(*) FROM notifications").fetchone()[0]
    with SessionReader(copy) as reader:
        windows = list(reader._notification_windows())
        assert sum(len(w) for w in windows) == rows
        assert len(windows) <= 2  # read by the ids that exist, not by the 1e12 ids that could


def _gapped_csv(tmp_path, gap_s: float):
    sim = simulate("smoke", None, seed=2)
    plain = tmp_path / "plain.csv"
    to_interchange_csv(sim, plain)
    frame = pd.read_csv(plain)
    later = frame["time_s"] > 70.0
    frame.loc[later, "time_s"] += gap_s
    path = tmp_path / "gap.csv"
    frame.to_csv(path, index=False)
    return path, frame


def test_a_day_without_data_is_left_out_not_filled_with_nan(tmp_path):
    path, frame = _gapped_csv(tmp_path, 86_000.0)
    analysis = analyze(open_source(path))
    data_span = 140.0
    assert len(analysis.t) < 1.1 * data_span * analysis.thresholds.analysis_rate_hz
    assert any("no data from any sensor" in note and "left out" in note for note in analysis.notes)
    late = analysis.t > 86_000
    assert late.any() and np.isfinite(analysis.angles["thoracic_flexion"][late]).mean() > 0.9


def test_chunked_equals_whole_across_a_long_gap(tmp_path):
    _, frame = _gapped_csv(tmp_path, 500.0)
    source = open_source(_gapped_csv(tmp_path, 500.0)[0])
    from imu.analysis import find_calibration

    calibration = find_calibration(source)

    def run(chunk_s):
        pipeline, collector = Pipeline(source.sensors, source.thresholds, calibration), AnalysisCollector()
        end = max(s.t[-1] for s in source.timed.values())
        edges = np.arange(0.0, end + chunk_s, chunk_s) if chunk_s else np.array([0.0, end + 1])
        for lo, hi in zip(edges[:-1], edges[1:]):
            part = {loc: _slice(s, lo, hi) for loc, s in source.timed.items()}
            collector.add(pipeline.feed_timed(part))
        collector.add(pipeline.finish())
        return collector.build(pipeline, [])

    whole, chunked = run(None), run(7.0)
    np.testing.assert_array_equal(chunked.t, whole.t)
    np.testing.assert_array_equal(chunked.angles["thoracic_flexion"], whole.angles["thoracic_flexion"])


def _slice(samples, lo, hi):
    from imu.samples import TimedSamples

    keep = (samples.t >= lo) & (samples.t < hi)
    return TimedSamples(samples.t[keep], samples.quat[keep],
                        None if samples.acc is None else samples.acc[keep],
                        None if samples.gyro is None else samples.gyro[keep])


def test_rows_of_an_unknown_sensor_id_are_counted_as_damage(session, tmp_path):
    copy = tmp_path / "stranger.imu"
    shutil.copy(session, copy)
    with sqlite3.connect(copy) as conn:
        host, payload = conn.execute("SELECT host_time, payload FROM notifications LIMIT 1").fetchone()
        conn.executemany("INSERT INTO notifications (sensor_id, host_time, payload) VALUES (99, ?, ?)",
                         [(host + i, payload) for i in range(5)])
    source = open_source(copy)
    analysis = analyze(source)
    assert source.integrity.damaged_rows == 5
    assert any("5 damaged rows" in note for note in analysis.notes)


# --- interrupted and damaged recordings -----------------------------------------------------------
KILLED_AFTER_WRITING = """
import os, signal, sys, time
import numpy as np
from imu.protocols.imu_fw import encode_samples
from imu.recording.session import SessionWriter
q = np.tile([1.0, 0, 0, 0], (4, 1))
w = SessionWriter(sys.argv[1], {"run": "kill"}, [{"location": "lumbar", "device": "imu-fw"}])
for k in range(3000):  # 120 s of 100 Hz frames, committed as it goes
    w.add_notification("lumbar", k * 0.04, encode_samples(k, k * 40000, 10000, q))
    if k % 100 == 0:
        time.sleep(0.05)
time.sleep(0.6)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    """A session whose recorder was killed: its recent data lives in the write-ahead log."""
    path = tmp_path_factory.mktemp("killed") / "killed.imu"
    subprocess.run([sys.executable, "-c", KILLED_AFTER_WRITING, str(path)], timeout=120)
    assert (path.parent / "killed.imu-wal").stat().st_size > 100_000
    return path


def test_a_killed_recording_says_it_was_not_closed(killed):
    analysis = analyze(open_source(killed))
    assert analysis.duration_s > 119
    assert any("not closed" in note and "cut short" in note for note in analysis.notes)


def test_a_damaged_write_ahead_log_is_reported_not_read_as_a_shorter_session(killed, tmp_path):
    for suffix in ("", "-wal"):
        shutil.copy(str(killed) + suffix, tmp_path / f"copy.imu{suffix}")
    with open(tmp_path / "copy.imu-wal", "r+b") as wal:
        wal.seek(wal.seek(0, 2) // 3)
        wal.write(b"\xff" * 16)
    analysis = analyze(open_source(tmp_path / "copy.imu"))
    assert analysis.duration_s < 100  # SQLite stops at the damage...
    assert any("write-ahead log damaged" in note for note in analysis.notes)  # ...and now says so


# --- outputs ---------------------------------------------------------------------------------------
def test_a_report_that_fails_half_way_leaves_nothing_that_looks_complete(session, tmp_path, monkeypatch):
    from imu.report import writer

    def broken(*args, **kwargs):  # a fault injected where a kill would land: after summary.json is ready
        raise OSError("disk full")

    monkeypatch.setattr(writer, "write_events_csv", broken)
    out = tmp_path / "report"
    with pytest.raises(OSError):
        writer.write_report(analyze(open_source(session)), out, {"kind": "session", "file": str(session)})
    assert not out.exists() or not any(out.iterdir())  # at most the empty folder checked up front
    assert not list(tmp_path.glob(".report.partial-*"))


def test_export_is_written_whole_or_not_at_all(session, tmp_path):
    out = tmp_path / "samples.csv"
    child = subprocess.Popen([sys.executable, "-m", "imu.cli", "export", str(session), "--format", "csv",
                              "-o", str(out)])
    child.wait(timeout=300)
    assert child.returncode == 0 and out.exists()
    assert not list(tmp_path.glob(".samples.csv.partial-*"))
    rerun = imu("export", session, "--format", "csv", "-o", out)
    assert "exists" in one_error_line(rerun)


def test_two_stray_samples_are_not_a_session(tmp_path):
    path = tmp_path / "two.csv"
    path.write_text("time_s,sensor,qw,qx,qy,qz\n0.1,thoracic,1,0,0,0\n5.4,thoracic,1,0,0,0\n")
    line = one_error_line(imu("report", path, "-o", tmp_path / "out"))
    assert "too little data" in line and "2 samples" in line


def test_decode_never_prints_nan_into_json():
    import struct

    payload = struct.pack("<I", 5) + struct.pack("<4f", float("nan"), 0, 0, 0) + bytes(24)
    result = imu("decode", "--device", "movella-dot", "--mode", "26", payload.hex())
    assert result.returncode == 0, result.stderr
    decoded = json.loads(result.stdout)  # strict JSON: NaN would not parse in most readers
    assert decoded["quat_wxyz"][0] is None and decoded["problems"]
    assert ": NaN" not in result.stdout and "NaN," not in result.stdout


# --- session files whose rows were damaged or forged -------------------------------------------
HOSTILE_ROWS = {
    "calibration not an object": ("INSERT INTO calibrations (host_time, data) VALUES (1.0, '[1, 2]')", "calibration"),
    "calibration without keys": ("INSERT INTO calibrations (host_time, data) VALUES (1.0, '{\"ok\": true}')",
                                 "calibration recorded in the session is incomplete"),
    "link event of an unknown sensor": ("INSERT INTO link_events (sensor_id, host_time, kind) "
                                        "VALUES (42, 3.0, 'disconnected')", "link events"),
    "link event with text time": ("INSERT INTO link_events (sensor_id, host_time, kind) "
                                  "VALUES (1, 'soon', 'disconnected')", "link events"),
    "annotation with text times": ("INSERT INTO annotations (t_start, t_end, label, source) "
                                   "VALUES ('ten', 'twenty', 'carry_farmer', 'user')", "annotations"),
    "notification at infinite time": ("INSERT INTO notifications (sensor_id, host_time, payload) "
                                      "SELECT sensor_id, 9e999, payload FROM notifications LIMIT 3", "damaged rows"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_ROWS))
def test_forged_rows_are_dropped_and_named_never_an_internal_error(session, tmp_path, case):
    sql, words = HOSTILE_ROWS[case]
    copy = tmp_path / "forged.imu"
    shutil.copy(session, copy)
    with sqlite3.connect(copy) as conn:
        conn.execute(sql)
    result = imu("report", copy, "-o", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    notes = " ".join(summary["not_measured"])
    assert words in notes, notes
    assert summary["duration_s"] > 100


# --- properties over damaged files ----------------------------------------------------------------
SOME_DAMAGE = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def short_csv_text(tmp_path_factory):
    path = tmp_path_factory.mktemp("csv") / "smoke.csv"
    to_interchange_csv(simulate("smoke", None, seed=6), path)
    return "\n".join(path.read_text().splitlines()[:400]) + "\n"


@SOME_DAMAGE
@given(rng=st.randoms(use_true_random=False))
@pytest.mark.filterwarnings("error::RuntimeWarning")  # a damaged row is counted, not warned about by numpy
def test_the_csv_reader_accounts_for_every_line(short_csv_text, tmp_path, rng):
    """Whatever the damage: a one-line refusal, or every data line kept or counted as dropped."""
    text = mutate_text(rng, short_csv_text)
    path = tmp_path / "damaged.csv"
    path.write_text(text)
    try:
        data = read_interchange_csv(path)
    except ValueError as err:
        assert str(err) and "\n" not in str(err)
        return
    lines = [line for line in text.splitlines() if line.strip()][1:]  # the header: the first line with text
    seen = sum(s.notifications for s in data.stats.values()) + data.rejected.bad_samples
    kept = sum(len(s) for s in data.samples.values())
    assert seen == len(lines)
    assert kept + data.dropped_rows == len(lines)


FORGED = st.sampled_from([
    ("INSERT INTO calibrations (host_time, data) VALUES (?, ?)", 2),
    ("INSERT INTO link_events (sensor_id, host_time, kind) VALUES (?, ?, ?)", 3),
    ("INSERT INTO annotations (t_start, t_end, label, source) VALUES (?, ?, ?, 'test')", 3),
    ("INSERT INTO notifications (sensor_id, host_time, payload) VALUES (?, ?, ?)", 3),
    ("INSERT INTO events (t_start, t_end, kind, data) VALUES (?, ?, ?, ?)", 4),
])
ODD = st.sampled_from([0, -1, 1, 2, 1.5, 1e12, float("inf"), float("nan"), "text", "", None, b"\x00\x01",
                       "{}", "[1]", '{"ok": true}', "carry_farmer", "disconnected"])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(FORGED, st.lists(ODD, min_size=4, max_size=4)), min_size=1, max_size=4))
def test_forged_rows_never_break_the_session_reader(session, tmp_path, rows):
    """Appended rows of any shape: the analysis still runs over the intact recording (or refuses
    in one line), never an unexpected exception."""
    copy = tmp_path / "forged.imu"
    shutil.copy(session, copy)
    with sqlite3.connect(copy) as conn:
        for (sql, count), values in rows:
            try:
                conn.execute(sql, values[:count])
            except sqlite3.DatabaseError:
                pass  # the schema refused it (NOT NULL): nothing was written
    try:
        analysis = analyze(open_source(copy))
    except ValueError as err:
        assert str(err) and "\n" not in str(err)
        return
    assert analysis.duration_s > 100


def test_a_stray_quote_does_not_swallow_the_lines_after_it(short_csv_text, tmp_path):
    lines = short_csv_text.splitlines()
    lines.insert(100, '"oops,thoracic,1,0,0,0')  # the quote is never closed
    path = tmp_path / "quote.csv"
    path.write_text("\n".join(lines) + "\n")
    data = read_interchange_csv(path)
    kept = sum(len(s) for s in data.samples.values())
    assert kept == len(lines) - 2  # every good row: all but the header and the damaged line
    assert data.dropped_rows == 1
