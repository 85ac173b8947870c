"""`imu report` / `imu replay` with --calibration FROM:TO and --no-bends, as a user runs them."""

import json

import pytest

from test_cli import imu, smoke_session  # noqa: F401 (pytest finds the shared session fixture here)


@pytest.fixture(scope="module")
def smoke(smoke_session):  # noqa: F811
    return smoke_session


def summary_of(path, out, *options):
    result = imu("report", path, "-o", out, *options)
    assert result.returncode == 0, result.stderr
    return json.loads((out / "summary.json").read_text())


def test_named_span_calibrates_there_and_applies_to_the_whole_session(smoke, tmp_path):
    sim, path = smoke
    bends = [(s, e) for s, e, k in sim.truth.phases if k == "calibrate_bend"]
    span = f"1:{bends[-1][1] + 3:.1f}"
    summary = summary_of(path, tmp_path / "a", "--calibration", span)
    cal = summary["calibration"]
    assert cal["ok"] and cal["quality"] == "good" and cal["sagittal_signs_verified"]
    assert 1.0 <= cal["neutral"]["start_s"] and len(cal["bends"]) >= 2
    assert summary["slouch"]["count"] == len(sim.truth.episodes)
    # angles from the first seconds on, the calibration's own bends included
    assert summary["angles"]["thoracic_flexion"]["valid_s"] > 0.95 * summary["duration_s"]


def test_no_bends_option_gives_a_neutral_only_calibration(smoke, tmp_path):
    sim, path = smoke
    summary = summary_of(path, tmp_path / "b", "--no-bends")
    cal = summary["calibration"]
    assert cal["ok"] and cal["quality"] == "nominal" and cal["bends"] == []
    assert cal["angle_trust"]["thoracic_flexion"] == "trusted"
    assert cal["angle_trust"]["thoracic_lateral_bend"].startswith("approximate")
    assert summary["slouch"]["count"] == len(sim.truth.episodes)


def test_span_without_a_still_moment_is_refused_with_the_reason(smoke, tmp_path):
    sim, path = smoke
    walk = next((s, e) for s, e, k in sim.truth.phases if k == "walk")
    summary = summary_of(path, tmp_path / "c", "--calibration", f"{walk[0] + 1:.1f}:{walk[1] - 1:.1f}")
    cal = summary["calibration"]
    assert not cal["ok"] and "no still neutral" in cal["reasons"][0]
    assert any("angles not measured" in line for line in summary["not_measured"])


@pytest.mark.parametrize("span", ["10:5", "abc", "3"])
def test_bad_span_is_one_clear_error(smoke, tmp_path, span):
    result = imu("report", smoke[1], "-o", tmp_path / "d", "--calibration", span)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "--calibration" in result.stderr and "FROM" in result.stderr


def test_replay_with_a_named_span_gives_the_report_events(smoke, tmp_path):
    from imu.analysis import analyze, open_source

    sim, path = smoke
    source = open_source(path)
    source.calibration_spans = [(1.0, 40.0)]
    expected = [(e["event"], round(e["t"], 6)) for e in analyze(source).events
                if e["event"] in ("slouch_start", "slouch_end", "alert")]
    result = imu("replay", path, "--jsonl", "--calibration", "1:40")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[0]["event"] == "calibration" and events[0]["ok"]
    replayed = [(e["event"], round(e["t"], 6)) for e in events
                if e["event"] in ("slouch_start", "slouch_end", "alert")]
    assert expected and replayed == expected
