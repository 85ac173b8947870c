"""Replay: the recorded notifications through the live pipeline give the report's events."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from imu.analysis import analyze, open_source
from imu.replay import PIPELINE_EVENTS, AlertSink, JsonlSink, replay
from test_replay_support import session_file, session_file_with_gap

GAP = (150.0, 170.0)


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    directory = tmp_path_factory.mktemp("replay")
    desk, _ = session_file(directory, "desk", 300.0, seed=3)
    sacral, _ = session_file(directory, "desk_sacral", 300.0, seed=4)
    gap, _ = session_file_with_gap(directory, "lumbar", GAP)
    return {"desk": desk, "desk_sacral": sacral, "gap": gap}


@pytest.fixture(scope="module")
def analyses(sessions):
    return {name: analyze(open_source(path)) for name, path in sessions.items()}


class Recorder:
    def __init__(self):
        self.updates = []

    def step(self, update):
        self.updates.append(update)


class FakeClock:
    """Session pacing without waiting: sleep advances the time at once."""

    def __init__(self):
        self.t = 1000.0
        self.slept = 0.0

    def now(self):
        return self.t

    def sleep(self, seconds):
        assert seconds > 0
        self.t += seconds
        self.slept += seconds


@pytest.mark.parametrize("name", ["desk", "desk_sacral", "gap"])
def test_replay_events_equal_the_report_events(sessions, analyses, name):
    expected = analyses[name].events
    assert any(e["event"] == "slouch_start" for e in expected), "a session without slouches proves little"
    assert any(e["event"] == "alert" for e in expected)
    result = replay(sessions[name])
    assert result.pipeline_events == expected
    assert result.events[0]["event"] == "calibration"
    assert result.events[0]["quality"] == analyses[name].calibration.quality
    # the angles too, sample for sample
    for angle, values in analyses[name].angles.items():
        np.testing.assert_array_equal(result.analysis.angles[angle], values)


def test_sacral_session_gives_lumbar_flexion(analyses):
    assert "lumbar_flexion" in analyses["desk_sacral"].angles
    assert "lumbar_flexion" not in analyses["desk"].angles


@pytest.mark.parametrize("name", ["desk", "gap"])
def test_replay_from_a_time_inside_an_episode_gives_the_same_later_events(sessions, analyses, name):
    episode = analyses[name].episodes[0]
    from_s = episode.start_s + 10.0  # counted, not yet ended: its start event lies before from_s
    recorder = Recorder()
    result = replay(sessions[name], from_s=from_s, sinks=[recorder])
    later = [e for e in analyses[name].events if e["t"] >= from_s]
    assert result.pipeline_events == later
    assert later[0]["event"] in ("alert", "slouch_end") and later[0]["start_s"] == episode.start_s
    assert result.events[0]["event"] == "calibration"  # state is stated once, even from T
    shown_t = np.concatenate([u.out.t for u in recorder.updates])
    assert shown_t.min() >= from_s and len(shown_t) > 0
    assert result.analysis.events == analyses[name].events  # the silent part ran all the same


def test_gap_and_reconnect_come_from_the_recorded_link_events(sessions, analyses):
    recorder = Recorder()
    result = replay(sessions["gap"], sinks=[recorder])
    links = [e for e in result.events if e["event"] in ("gap", "reconnect")]
    assert links == [{"event": "gap", "t": GAP[0], "sensor": "lumbar"},
                     {"event": "reconnect", "t": GAP[1], "sensor": "lumbar", "gap_s": GAP[1] - GAP[0]}]
    t = result.analysis.t
    inside = (t > GAP[0] + 0.2) & (t < GAP[1] - 0.2)
    assert np.isnan(result.analysis.angles["lumbar_inclination"][inside]).all()  # never invented
    assert np.isfinite(result.analysis.angles["trunk_inclination"][inside]).mean() > 0.95
    during = [u for u in recorder.updates if GAP[0] + 3 < u.t < GAP[1]]
    after = [u for u in recorder.updates if GAP[1] + 5 < u.t < GAP[1] + 30]
    assert during and after
    assert not during[-1].status["lumbar"]["connected"]
    assert during[-1].status["lumbar"]["rate_hz"] == 0
    assert during[-1].status["thoracic"]["connected"]
    lumbar = after[-1].status["lumbar"]
    assert lumbar["connected"] and lumbar["last_gap"] == GAP
    assert lumbar["rate_hz"] == pytest.approx(60.0, rel=0.1)  # simulated lumbar rate


def test_paced_replay_follows_the_session_clock(sessions):
    clock = FakeClock()
    shown = []  # (session time reached, clock time when a sink got it)
    sink = type("Sink", (), {"step": lambda self, u: shown.append((u.t, clock.now()))})()
    start, speed, from_s = clock.t, 8.0, 240.0
    result = replay(sessions["desk"], speed=speed, from_s=from_s, sinks=[sink], clock=clock)
    assert len(shown) > 50
    for t, wall in shown:  # processing takes no fake time: each step arrives exactly when due
        assert t >= from_s
        assert wall == pytest.approx(start + (t - from_s) / speed, abs=1e-6)
    delivered = shown[-1][0]
    assert clock.slept == pytest.approx((delivered - from_s) / speed, abs=1e-6)
    assert delivered == pytest.approx(result.analysis.duration_s, abs=0.5)


def test_jsonl_lines_carry_the_live_vocabulary(sessions):
    stream, alerts = io.StringIO(), []
    result = replay(sessions["gap"], sinks=[JsonlSink(stream), AlertSink(alerts.append)])
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines == json.loads(json.dumps(result.events))
    assert lines[0]["event"] == "calibration" and lines[0]["quality"] in ("good", "fair", "nominal")
    fields = {"slouch_start": {"start_s"}, "slouch_end": {"start_s", "end_s", "peak_deg"},
              "alert": {"reason", "angle", "value_deg", "held_s"}, "gap": {"sensor"},
              "reconnect": {"sensor"}, "calibration": {"quality"},
              "sitting_bout": {"start_s", "end_s", "duration_s"}}  # seated throughout (issue 13)
    assert {line["event"] for line in lines} == set(fields)
    for line in lines:
        assert fields[line["event"]] <= set(line) and isinstance(line["t"], float)
    assert alerts == [e for e in result.events if e["event"] == "alert"] and alerts
    assert {"slouch_start", "slouch_end", "alert"} <= {e["event"] for e in result.pipeline_events} \
        <= set(PIPELINE_EVENTS)


def test_jsonl_sink_writes_a_file(sessions, tmp_path):
    out = tmp_path / "events.jsonl"
    result = replay(sessions["desk"], from_s=200.0, sinks=[JsonlSink(out)])
    assert [json.loads(line) for line in out.read_text().splitlines()] == json.loads(json.dumps(result.events))


@pytest.mark.parametrize("kwargs, message", [
    ({"speed": -1.0}, "speed"), ({"speed": float("nan")}, "speed"),
    ({"from_s": -5.0}, "from"), ({"from_s": 10_000.0}, "past the end"),
])
def test_bad_arguments_give_one_clear_error(sessions, kwargs, message):
    with pytest.raises(ValueError, match=message):
        replay(sessions["desk"], **kwargs)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        replay(tmp_path / "nope.imu")


def test_replay_reads_a_csv_through_the_same_mapping_as_the_report(tmp_path):
    """Sensors named in the lab's own words: replay and report need the same mapping and agree."""
    import pandas as pd

    from imu.recording.mapping import with_pairs
    from imu.sim import simulate, to_interchange_csv

    plain = tmp_path / "plain.csv"
    to_interchange_csv(simulate("smoke", None, seed=4), plain)
    frame = pd.read_csv(plain)
    frame["sensor"] = frame["sensor"].map({"thoracic": "upper_box", "lumbar": "lower_box"})
    path = tmp_path / "lab.csv"
    frame.to_csv(path, index=False)
    mapping = with_pairs(None, [], ["upper_box=thoracic", "lower_box=lumbar"])
    with pytest.raises(ValueError):
        replay(path)  # without the mapping no row belongs to a known sensor
    replayed = replay(path, mapping=mapping)
    reported = analyze(open_source(path, None, mapping))
    assert reported.episodes and replayed.analysis.episodes == reported.episodes
