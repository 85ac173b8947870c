"""The runner: chunk-invariant events and grades, carry and run grades in replay equal to the
report's, live's calibration switch and carry keys giving what a report of the file gives."""

from __future__ import annotations

import json

import numpy as np
import pytest

from imu.analysis import find_calibrations, new_runner, open_source, plan_notes, run_source
from imu.recording.reader import iter_notifications
from imu.recording.session import annotate
from imu.replay import replay
from imu.report import write_report
from imu.runner import GRADE_EVENTS, Runner
from imu.sim.activities import label_annotations
from test_replay_support import session_file


def _session(directory, scenario):
    path, sim = session_file(directory, scenario, None, 1)
    for start, end, label in label_annotations(sim.truth):
        annotate(path, start, end, label)
    return path


@pytest.fixture(scope="module")
def carries(tmp_path_factory):
    return _session(tmp_path_factory.mktemp("runner"), "carries_breakdown")


@pytest.fixture(scope="module")
def activity(tmp_path_factory):
    return _session(tmp_path_factory.mktemp("runner"), "activity")


def _run(path, chunks, annotate_live: bool = False):
    """Every event of a runner fed `chunks(items)`, its final grades and its analysis. With
    annotate_live the carries are told to the runner as live's carry keys do: at their end."""
    source = open_source(path)
    plan = find_calibrations(source)
    pending = sorted(source.annotations, key=lambda a: a[1]) if annotate_live else []
    runner = new_runner(source, plan, keep_acc=True)
    if annotate_live:
        runner.annotations.clear()
    events = []
    for items in chunks(list(iter_notifications(source.path))):
        while pending and pending[0][1] <= items[-1].host_time_s:
            runner.annotate(*pending.pop(0))
        events += runner.feed(items).events
    for span in pending:
        runner.annotate(*span)
    result = runner.finish(notes=plan_notes(plan), calibration=plan.report())
    return events + result.update.events, result


def _whole(items):
    yield items


def _random_sizes(items, seed=7):
    rng = np.random.default_rng(seed)
    k = 0
    while k < len(items):
        n = int(rng.integers(1, 600))
        yield items[k:k + n]
        k += n


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    return session_file(tmp_path_factory.mktemp("runner"), "desk", 300.0, 3)[0]


@pytest.mark.parametrize("name, expected", [
    ("carries", {"carry_graded"}), ("activity", {"run_graded"}),
    ("desk", {"slouch_start", "slouch_end", "alert"})])
def test_chunks_of_any_size_give_the_same_events_and_grades_as_whole(request, name, expected):
    path = request.getfixturevalue(name)
    whole, whole_result = _run(path, _whole)
    chunked, chunked_result = _run(path, _random_sizes)
    assert expected <= {e["event"] for e in whole}
    graded = [e for e in whole if e["event"] in GRADE_EVENTS]
    if name != "desk":
        assert any(e["provisional"] for e in graded) and any(not e["provisional"] for e in graded)
    assert chunked == whole
    assert chunked_result.grades == whole_result.grades
    for angle, values in whole_result.analysis.angles.items():
        np.testing.assert_array_equal(chunked_result.analysis.angles[angle], values)


def test_a_carrys_grade_appears_in_replay_and_equals_the_reports(carries, tmp_path):
    updates = []
    result = replay(carries, sinks=[type("Rec", (), {"step": lambda self, u: updates.append(u)})()])
    source = open_source(carries)
    report = run_source(source)  # what `imu report` writes
    paths = write_report(report.analysis, tmp_path / "report", source.describe(),
                         stability=report.stability, exposures=report.exposures)
    reported = json.loads(paths["summary.json"].read_text())["carries"]
    assert len(reported) == 4 and any(c["grade"] != "good" for c in reported)  # breakdowns
    final = result.grades
    assert [(e["kind"], e["grade"], e["breakdown"]) for e in final] == \
        [(c["kind"], c["grade"], c["breakdown"]) for c in reported]
    assert [round(e["start_s"], 2) for e in final] == [c["start_s"] for c in reported]
    # while the replay runs, each carry is graded within seconds of its end, not at the end
    end = result.analysis.duration_s
    early = [(u.t, e) for u in updates for e in u.events if e["event"] == "carry_graded" and e["provisional"]]
    assert [e["kind"] for _, e in early] == [c["kind"] for c in reported]
    for shown_at, event in early:
        assert event["end_s"] < shown_at <= event["end_s"] + 5.0 < end
    # a breakdown is seen on the fly as well: the grade does not wait for the session's end
    assert [e["breakdown"] for _, e in early] == [c["breakdown"] for c in reported]


def test_a_runs_grade_appears_once_the_run_is_over(activity):
    result = replay(activity)
    runs = [e for e in result.events if e["event"] == "run_graded"]
    provisional = [e for e in runs if e["provisional"]]
    final = [e for e in runs if not e["provisional"]]
    reported = run_source(open_source(activity)).stability.runs
    assert len(final) == len(reported) == 1 and final[0]["grade"] == reported[0].grade
    assert len(provisional) == 1  # graded once, not at every check while it lasts
    run = provisional[0]
    assert run["end_s"] < run["t"] < result.analysis.duration_s
    assert abs(run["start_s"] - reported[0].start_s) < 5 and abs(run["end_s"] - reported[0].end_s) < 5


def test_carry_keys_typed_live_give_the_grades_known_from_the_start(carries):
    """Live learns of a carry when its key ends it; the grade is the one replay gives."""
    known, known_result = _run(carries, _random_sizes)
    typed, typed_result = _run(carries, _random_sizes, annotate_live=True)
    assert [e for e in typed if e["event"] == "carry_graded"] == \
        [e for e in known if e["event"] == "carry_graded"]
    assert typed_result.grades == known_result.grades


def test_a_calibration_accepted_live_feeds_everything_again(desk):
    """Live starts uncalibrated and switches when the guide accepts: the events are those of a
    runner calibrated from the start with the same calibration."""
    source = open_source(desk)
    calibration = find_calibrations(source).primary
    items = list(iter_notifications(source.path))
    half = len(items) // 3
    live = Runner(source.sensors, source.thresholds, collect=False, keep_history=True)
    events = []
    for k in range(0, half, 250):
        update = live.feed(items[k:min(k + 250, half)])
        assert not update.events or all(e["event"] in ("gap", "reconnect") for e in update.events)
        assert not update.out.angles  # uncalibrated: grid orientations only
    events += live.calibrate(calibration, items[half - 1].host_time_s).events
    events += live.feed(items[half:]).events + live.finish(grade=False).update.events
    reference = Runner(source.sensors, source.thresholds, calibration, collect=False)
    expected = reference.feed(items).events + reference.finish(grade=False).update.events
    assert {"slouch_start", "alert"} <= {e["event"] for e in events}
    assert events == expected


def test_the_step_output_carries_the_oriented_samples_that_entered_it(carries):
    source = open_source(carries)
    runner = new_runner(source, find_calibrations(source), collect=False, provisional_grades=False)
    items = list(iter_notifications(source.path))[:2000]
    seen = {loc: 0 for loc in source.sensors}
    for k in range(0, len(items), 100):
        update = runner.feed(items[k:k + 100])
        for loc, samples in update.samples.items():
            assert len(samples) and np.all(np.diff(samples.t) > 0)
            assert samples.quat.shape == (len(samples), 4)
            seen[loc] += len(samples)
    assert seen == runner.pipeline.samples_seen and all(seen.values())


def test_the_replay_viewer_shows_each_grade_when_it_was_given(carries):
    from dashboards.model import ReplayModel

    model = ReplayModel(carries)
    given = [e for e in model.events if e["event"] == "carry_graded"]
    first = given[0]
    assert first["provisional"]
    assert model.frame_at(first["t"] - 0.5).grades == []
    shown = model.frame_at(first["t"] + 0.1).grades
    assert shown == [first]
    end = model.frame_at(model.duration_s).grades
    assert len(end) == 4 and not any(g["provisional"] for g in end)  # final grades replaced them
