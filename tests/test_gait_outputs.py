"""Gait outputs, layouts and the honest refusals of issue 8: steps and step times in the
summary and events, one source for context, one- and two-sensor layouts, carries without
walking, and `imu validate` failing loudly."""

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from imu.cli import main
from imu.core.stability import stability_from_analysis
from imu.report.make import make_report
from imu.sim import simulate, to_interchange_csv
from imu.validate_stability import true_steps


def _one_layout_report(tmp: Path, scenario: str, keep: set[str], duration=None):
    sim = simulate(scenario, duration, 0)
    to_interchange_csv(sim, tmp / "all.csv")
    table = pd.read_csv(tmp / "all.csv")
    table[table.sensor.isin(keep)].to_csv(tmp / "layout.csv", index=False)
    paths = make_report(tmp / "layout.csv", tmp / "report")
    summary = json.loads(Path(paths["summary.json"]).read_text())
    with open(paths["events.csv"], newline="") as f:
        events = list(csv.DictReader(f))
    return sim, summary, events


@pytest.fixture(scope="module")
def lower_back(tmp_path_factory):
    """One lower-back sensor (acceleration, rate and orientation) on walk / run / walk."""
    return _one_layout_report(tmp_path_factory.mktemp("lumbar"), "activity", {"lumbar"})


def test_one_lower_back_sensor_counts_steps_within_three_percent(lower_back):
    sim, summary, _ = lower_back
    steps = true_steps(sim)
    bouts = summary["gait"]["bouts"]
    assert [b["kind"] for b in bouts] == ["walking", "running", "walking"]
    for bout in bouts:
        true = steps[(steps >= bout["start_s"]) & (steps <= bout["end_s"])]
        assert bout["step_count"] == pytest.approx(len(true), rel=0.03), bout["kind"]
        assert bout["step_time_s"]["median"] == pytest.approx(np.median(np.diff(true)), abs=0.02)
        assert len(bout["step_times_s"]) == bout["step_count"]
    assert summary["gait"]["step_count"] == sum(b["step_count"] for b in bouts)


def test_context_and_activities_are_one_source(lower_back):
    _, summary, _ = lower_back
    per_kind: dict[str, float] = {}
    for a in summary["activities"]:
        per_kind[a["kind"]] = per_kind.get(a["kind"], 0.0) + a["end_s"] - a["start_s"]
    assert summary["context_s"]["running"] == pytest.approx(per_kind["running"], abs=1.0)
    assert "still" not in summary["context_s"] or summary["context_s"]["still"] < 1.0
    assert set(summary["context_s"]) <= set(per_kind)


def test_an_ungradable_run_says_why_and_the_layout_lists_what_it_cannot_give(lower_back):
    _, summary, events = lower_back
    notes = " ".join(summary["stability_notes"])
    assert "run at" in notes and "needs trunk_inclination" in notes
    assert summary["running"] == []
    layout = summary["layout"]
    assert layout["name"] == "one lower-back sensor"
    assert layout["measures"]["activity, steps and cadence"]["measured"]
    assert not layout["measures"]["running grade (lean, drift, sway)"]["measured"]
    assert "thoracic" in layout["measures"]["running grade (lean, drift, sway)"]["reason"]
    assert any("cannot see the upper back" in s for s in summary["not_measured"])
    run = next(a for a in summary["activities"] if a["kind"] == "running")
    assert "needs trunk_inclination" in run["not_graded"]
    kinds = [e["kind"] for e in events]
    assert kinds.count("running") == 1 and kinds.count("step") == summary["gait"]["step_count"]
    assert "not graded: the running grade" in next(e for e in events if e["kind"] == "running")["reason"]
    step = next(e for e in events if e["kind"] == "step")
    assert 0.3 < float(step["duration_s"]) < 0.7


def test_one_upper_back_sensor_counts_slouches_on_the_less_specific_signal(tmp_path):
    sim, summary, events = _one_layout_report(tmp_path, "desk", {"thoracic"}, 300.0)
    slouch = summary["slouch"]
    assert slouch["signal"] == "trunk_inclination"
    assert "lean forward from the hips" in slouch["specificity"]
    assert slouch["count"] == len(sim.truth.episodes) >= 1
    assert summary["layout"]["name"] == "one upper-back sensor"
    assert any("less specific" in e["reason"] for e in events if e["kind"] == "slouch")
    assert any(s.startswith("Layout one upper-back sensor") for s in summary["not_measured"])


def test_a_carry_marked_while_seated_and_slouching_is_not_graded(tmp_path):
    from imu.analysis import analyze, open_source
    from imu.sim.write import write_simulated_session
    from imu.core.stability import AccCollector
    from imu.recording.session import annotate

    sim = simulate("desk", 400.0, 0, loss_rate=0.0)
    path = write_simulated_session(sim, tmp_path / "seated.imu", "desk", 0)
    episode = sim.truth.episodes[-1]
    annotate(path, episode["start_s"] - 5, episode["end_s"], "carry_farmer")
    collector = AccCollector()
    analysis = analyze(open_source(path), on_step=collector)
    result = stability_from_analysis(analysis, collector.acc)
    assert result.carries == []
    note = next(n for n in result.notes if n.startswith("carry_farmer"))
    assert "no walking in it" in note and "sat or stood still" in note


def _fake_running(folder: Path, acc_hz: float, contact_hz: float, trials=3):
    """Synthetic data in the real files' layout: bounces at acc_hz, force contacts at contact_hz."""
    rate, n = 500.0, 2480
    t = np.arange(n) / rate
    vertical = 1.0 + 0.8 * np.maximum(np.sin(2 * np.pi * acc_hz * t), 0) ** 3
    ap = 0.2 * np.sin(2 * np.pi * acc_hz * t + 1.0)
    force = np.clip(2.5 * np.sin(2 * np.pi * contact_hz * t), 0, None)
    folder.mkdir(parents=True)
    np.savetxt(folder / "Accelerometer_one_sub.csv", np.tile(np.concatenate([vertical, ap]), (trials, 1)), delimiter=",")
    np.savetxt(folder / "GRF_one_sub.csv", np.tile(force, (trials, 1)), delimiter=",")
    pd.DataFrame({"Speed": [3.33] * trials, "Slope": [0] * trials}).to_csv(folder / "Sub_Info_one_sub.csv", index=False)


def test_validate_exits_non_zero_when_a_check_fails(tmp_path, capsys):
    _fake_running(tmp_path / "good" / "sacral-running", 2.8, 2.8)
    assert main(["validate", "--real-only", "--real", str(tmp_path / "good")]) == 0
    _fake_running(tmp_path / "bad" / "sacral-running", 2.8, 2.2)
    assert main(["validate", "--real-only", "--real", str(tmp_path / "bad")]) == 1
    out = capsys.readouterr()
    assert "FAIL" in out.out and "validation FAILED" in out.err and "issue" not in out.out
    assert main(["validate", "--real-only", "--real", str(tmp_path / "absent")]) == 2
    assert "real data not available" in capsys.readouterr().err


@pytest.mark.parametrize("location", ["lumbar", "sacral"])
def test_one_raw_only_lower_back_sensor_walks_and_runs(tmp_path, location):
    """Acceleration and rate only (the project's AHRS), one sensor: steps within 3 %, walking
    and running boundaries within 3 s, running never still, the run's grade explained."""
    import dataclasses

    from imu.sim.write import write_simulated_session

    sim = simulate("activity", None, 3, sacral=location == "sacral" or None, raw_only={location})
    one = dataclasses.replace(sim, notifications=[n for n in sim.notifications if n.sensor == location],
                              sensors={location: sim.sensors[location]})
    path = write_simulated_session(one, tmp_path / "one.imu", "activity", 3)
    summary = json.loads(Path(make_report(path, tmp_path / "report")["summary.json"]).read_text())
    steps = true_steps(sim)
    bouts = summary["gait"]["bouts"]
    phases = [(s, e, {"walk": "walking", "run": "running"}[k]) for s, e, k in sim.truth.phases
              if k in ("walk", "run")]
    assert [b["kind"] for b in bouts] == [k for _, _, k in phases]
    for bout, (start, end, _) in zip(bouts, phases):
        assert bout["start_s"] == pytest.approx(start, abs=3.0) and bout["end_s"] == pytest.approx(end, abs=3.0)
        true = steps[(steps >= bout["start_s"]) & (steps <= bout["end_s"])]
        assert bout["step_count"] == pytest.approx(len(true), rel=0.03)
    running = [a for a in summary["activities"] if a["kind"] == "running"]
    assert summary["context_s"]["running"] == pytest.approx(sum(a["end_s"] - a["start_s"] for a in running), abs=1)
    assert any("needs trunk_inclination" in n for n in summary["stability_notes"])


def test_a_slow_sensor_gives_no_gait_and_says_why():
    """At 5 samples/s steps fold onto false rhythms: no walking, running, steps or cadence,
    a note instead, and the moving wearer is never called still."""
    from imu.core.stability import analyze_stability

    rate = 5.0
    t = np.arange(0, 200, 1 / rate)
    phase = 2 * np.pi * 2.8 * t  # running steps, sampled at 5 Hz
    moving = (t >= 50) & (t < 150)
    angles = {"lumbar_inclination": np.where(moving, 4 * np.sin(phase), 0.0),
              "lumbar_lateral_inclination": np.where(moving, 3 * np.sin(phase / 2), 0.0)}
    result = analyze_stability(t, angles, sensor_rate_hz=rate)
    kinds = {s.kind for s in result.activity.segments}
    assert not kinds & {"walking", "running"}
    assert result.gait == [] and "5 samples/s" in result.gait_note
    assert any(n.startswith("walking, running, steps and cadence not measured") for n in result.notes)
    inside = (t > 55) & (t < 145)
    assert not np.isin(result.labels[inside], ["still", "standing", "sitting"]).any()
