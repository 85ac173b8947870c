"""A report's reading and decoding in a second process gives exactly what one process gives.

The sensor front (decode, align, orient) runs a batch ahead in a forked child; the parent
grids, measures and tracks. Both ways must give identical angles, events and data quality,
link gaps and losses included, and the child's errors must reach the user as themselves.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from imu.analysis import open_source, run_source
from imu.parallel import can_fork
from test_replay_support import session_file, session_file_with_gap

pytestmark = pytest.mark.skipif(not can_fork(), reason="this platform cannot fork")


def _run(path):
    """The run's result, with every event its updates carried (link gaps included)."""
    events = []
    result = run_source(open_source(path), on_step=lambda update: events.extend(update.events))
    result.all_events = events
    return result


def _both(path, monkeypatch):
    forked = _run(path)
    with monkeypatch.context() as m:
        m.setenv("IMU_NO_FORK", "1")
        alone = _run(path)
    return forked, alone


def _assert_same(forked, alone):
    a, b = forked.analysis, alone.analysis
    assert np.array_equal(a.t, b.t)
    assert a.angles.keys() == b.angles.keys()
    for name in a.angles:
        assert np.array_equal(a.angles[name], b.angles[name], equal_nan=True), name
    assert np.array_equal(a.valid, b.valid) and np.array_equal(a.context, b.context)
    assert a.events == b.events and a.episodes == b.episodes
    assert a.sensors == b.sensors  # rates, counts, decode stats, clock residual, battery
    assert a.notes == b.notes
    # forked, the calibration plan took the session's start from the reading process's batches
    assert repr(a.calibration) == repr(b.calibration)
    assert forked.grades == alone.grades
    assert forked.all_events == alone.all_events
    for loc in forked.acc:
        assert np.array_equal(forked.acc[loc], alone.acc[loc], equal_nan=True)


def test_a_lossy_session_with_a_link_gap_reads_the_same_in_two_processes(tmp_path, monkeypatch):
    path, _ = session_file_with_gap(tmp_path, "lumbar", (120.0, 150.0), duration_s=300.0)
    forked, alone = _both(path, monkeypatch)
    _assert_same(forked, alone)
    lumbar = forked.analysis.sensors["lumbar"]
    assert lumbar.stats.lost_samples > 0 or lumbar.stats.gaps  # the comparison covered losses
    gaps = [e for e in forked.all_events if e["event"] in ("gap", "reconnect")]
    assert [(e["event"], e["t"]) for e in gaps] == [("gap", 120.0), ("reconnect", 150.0)]


def test_a_carry_session_gives_the_same_grades_in_two_processes(tmp_path, monkeypatch):
    path, _ = session_file(tmp_path, "carries", None, 2, loss_rate=0.02)
    forked, alone = _both(path, monkeypatch)
    _assert_same(forked, alone)
    assert forked.analysis.sensors["thoracic"].stats.lost_samples > 0


def test_damage_found_by_the_reading_process_is_reported(tmp_path, monkeypatch):
    import sqlite3

    path, _ = session_file(tmp_path, "desk", 120.0, 3)
    with sqlite3.connect(path) as db:  # rows appended with a text payload: damaged rows
        for k in range(5):
            db.execute("INSERT INTO notifications (sensor_id, host_time, payload) VALUES (1, ?, 'x')",
                       (100.0 + k,))
    forked, alone = _both(path, monkeypatch)
    _assert_same(forked, alone)
    assert any("damaged" in note for note in forked.analysis.notes)


def test_a_stretch_without_any_sensor_is_left_out_the_same_in_two_processes(tmp_path, monkeypatch):
    import sqlite3

    path, _ = session_file(tmp_path, "desk", 400.0, 5)
    with sqlite3.connect(path) as db:  # a recording paused for 150 s: no sensor sent anything
        db.execute("DROP TRIGGER notifications_no_delete")  # (files are append-only)
        db.execute("DELETE FROM notifications WHERE host_time > 150 AND host_time < 300")
    forked, alone = _both(path, monkeypatch)
    _assert_same(forked, alone)
    assert any("left out of the analysis" in note for note in forked.analysis.notes)
    assert not ((forked.analysis.t > 151) & (forked.analysis.t < 299)).any()


def test_a_report_made_over_two_processes_is_the_same_file_for_file(tmp_path, monkeypatch):
    """Reading in a second process and drawing the figures in a third while grading runs
    write exactly the report one process writes."""
    from imu.report.make import make_report

    path, _ = session_file(tmp_path, "carries", None, 4)
    forked = make_report(path, tmp_path / "forked")
    with monkeypatch.context() as m:
        m.setenv("IMU_NO_FORK", "1")
        alone = make_report(path, tmp_path / "alone")
    for name in ("summary.json", "events.csv", "report.html"):
        assert forked[name].read_bytes() == alone[name].read_bytes(), name


def _children() -> set[int]:
    found = set()
    for path in Path("/proc/self/task").glob("*/children"):
        found |= {int(pid) for pid in path.read_text().split()}
    return found


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_a_report_that_fails_early_leaves_no_reading_process(tmp_path):
    """The reading process starts before anything else; a report refused at once (its
    output is a file) must end it, not leave it reading."""
    from imu.report.make import make_report
    from imu.report.writer import ReportOutputError

    path, _ = session_file(tmp_path, "desk", 120.0, 6)
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    before = _children()
    with pytest.raises(ReportOutputError, match="it is a file"):
        make_report(path, blocked)
    assert _children() == before


def test_only_session_files_get_a_reading_process(tmp_path):
    from imu.reading import start_reading

    table = tmp_path / "samples.csv"
    table.write_text("time_s,sensor\n")
    assert start_reading(table) is None  # a table is read whole, in the report's process
    assert start_reading(tmp_path / "missing.imu") is None
    path, _ = session_file(tmp_path, "desk", 120.0, 7)
    reading = start_reading(path)
    try:
        batches = list(reading)
    finally:
        reading.close()
    assert batches and all(b.pieces for b in batches)


class _Batch:
    def __init__(self, k, last):
        self.k, self.last_host_time_s = k, last


def _reading(lasts, integrity="whole"):
    for k, last in enumerate(lasts):
        yield _Batch(k, last)
    return integrity


@pytest.mark.parametrize("horizon, taken", [(25.0, 3), (30.0, 5), (0.0, 1), (1e9, 6)])
def test_the_start_read_for_the_plan_is_fed_again_and_nothing_read_twice(horizon, taken):
    """ReadAhead gives the calibration plan the batches up to the first past its horizon (an
    empty batch has no time and never ends the start), then the runner every batch once, in
    order, and the file's integrity at the end, also when the start was the whole file."""
    from imu.reading import ReadAhead

    ahead = ReadAhead(_reading([5.0, None, 29.0, 30.0, 31.0, 60.0]))
    start = ahead.until(horizon)
    assert [b.k for b in start] == list(range(taken))
    assert [b.k for b in ahead.until(horizon)] == list(range(taken))  # asked again: the same, not read again
    fed = ahead.batches()
    seen = []
    try:
        while True:
            seen.append(next(fed).k)
    except StopIteration as end:
        assert end.value == "whole"
    assert seen == list(range(6))
