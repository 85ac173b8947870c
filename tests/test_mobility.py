"""The thoracic mobility test (issue 13 item 4): ranges per segment against simulated truth,
left/right asymmetry, what cannot be measured, the live guide over virtual sensors, the
person's earlier tests and the report section."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from imu import anatomy as A
from imu.sim.write import write_simulated_session
from imu.core.mobility import MOVEMENTS, SEGMENTS, measure_mobility
from imu.live import LiveOptions, LiveSession
from imu.report.mobility_section import mobility_from_recording
from imu.people import get_profile
from imu.recording.reader import SessionReader
from imu.recording.session import annotate
from imu.report.mobility_section import add_mobility, render_mobility_section
from imu.sim import simulate
from imu.sim.mobility import mobility_truth

TOL_DEG = 3.0


def _check_against_truth(result, truth, sacral: bool) -> list[str]:
    problems = []
    for movement in MOVEMENTS:
        for segment, r in result.movements[movement].ranges.items():
            if segment == "lumbar" and movement.startswith("rotation") and not sacral:
                if r.range_deg is not None or "not measurable" not in r.note:
                    problems.append(f"{movement} lumbar given without a sacral sensor")
                continue
            true = truth[movement]["ranges"].get(r.angle)
            if r.range_deg is None or true is None or abs(r.range_deg - true) > TOL_DEG:
                problems.append(f"{movement} {segment} {r.angle}: {r.range_deg} vs {true}")
    for pair, (left, right) in {"side_bend": ("side_bend_left", "side_bend_right"),
                                "rotation": ("rotation_left", "rotation_right")}.items():
        angle = result.movements[left].ranges["thoracic"].angle
        true_side = "right" if truth[right]["ranges"][angle] > truth[left]["ranges"][angle] else "left"
        if result.asymmetry[pair]["thoracic"]["larger"] != true_side:
            problems.append(f"{pair} thoracic: {result.asymmetry[pair]['thoracic']} vs {true_side}")
    return problems


@pytest.mark.parametrize("seed, sacral", [(0, True), (3, False)])
def test_ranges_within_3_deg_and_asymmetry_sign_from_a_recording(tmp_path, seed, sacral):
    sim = simulate("mobility", None, seed, sacral=sacral)
    path = write_simulated_session(sim, tmp_path / "m.imu", "mobility", seed)
    result, spans = mobility_from_recording(path, spans=[])  # the guide finds the movements
    assert [m for _, _, m in spans] == list(MOVEMENTS)
    truth = mobility_truth(sim.truth)
    assert _check_against_truth(result, truth, sacral) == []
    lumbar = result.movements["flexion"].ranges["lumbar"]
    assert lumbar.angle == ("lumbar_flexion" if sacral else "lumbar_inclination")
    if not sacral:
        assert "hips" in lumbar.note  # an inclination is never called a flexion


def _synthetic(n_s: float = 12.0):
    t = np.arange(0, n_s, 0.01)
    bump = np.clip(np.sin(np.pi * (t - 2.0) / 6.0), 0, None) * (t > 2.0) * (t < 8.0)
    return t, bump


def test_core_measures_from_the_start_of_the_span_and_refuses_gaps():
    t, bump = _synthetic()
    angles = {"trunk_inclination": 4.0 + 30.0 * bump, "thoracic_flexion": 2.0 + 10.0 * bump,
              "lumbar_inclination": 15.0 * bump}
    r = measure_mobility(t, angles, [(0.0, 12.0, "flexion")])
    ranges = r.movements["flexion"].ranges
    assert ranges["trunk"].range_deg == pytest.approx(30.0, abs=0.2)  # from 4 deg, not from 0
    assert ranges["thoracic"].range_deg == pytest.approx(10.0, abs=0.2)
    assert r.movements["extension"].ranges["trunk"].range_deg is None  # not done: said so
    assert "not done" in r.movements["extension"].ranges["trunk"].note
    gappy = dict(angles, trunk_inclination=np.where((t > 3) & (t < 7), np.nan, angles["trunk_inclination"]))
    g = measure_mobility(t, gappy, [(0.0, 12.0, "flexion")]).movements["flexion"].ranges["trunk"]
    assert g.range_deg is None and "gaps" in g.note
    spike = dict(angles, thoracic_flexion=angles["thoracic_flexion"].copy())
    spike["thoracic_flexion"][200] = 80.0  # one bad sample cannot make a range
    s = measure_mobility(t, spike, [(0.0, 12.0, "flexion")]).movements["flexion"].ranges["thoracic"]
    assert s.range_deg == pytest.approx(10.0, abs=0.5)


def test_rotation_with_one_sensor_is_not_measurable_and_says_why():
    t, bump = _synthetic()
    thoracic = A.heading_quat(-40.0 * bump)  # the whole body turns 40 deg to the right
    r = measure_mobility(t, {"trunk_inclination": np.zeros(len(t))}, [(0.0, 12.0, "rotation_right")],
                         {"thoracic": thoracic})
    ranges = r.movements["rotation_right"].ranges
    assert ranges["thoracic"].range_deg is None
    assert "one sensor cannot tell a twist of the spine from turning the whole body" in ranges["thoracic"].note
    assert ranges["trunk"].range_deg == pytest.approx(40.0, abs=0.3)
    assert "hips and feet included" in ranges["trunk"].note
    assert ranges["lumbar"].range_deg is None
    assert r.asymmetry["rotation"]["thoracic"]["larger"] is None


def test_rotation_is_relative_to_the_start_even_with_a_heading_offset():
    t, bump = _synthetic()
    lumbar = A.heading_quat(np.full(len(t), 123.0))  # sensors' headings disagree by any amount
    thoracic = A.heading_quat(123.0 - 25.0 * bump)
    r = measure_mobility(t, {}, [(0.0, 12.0, "rotation_right")], {"thoracic": thoracic, "lumbar": lumbar})
    assert r.range_of("rotation_right", "thoracic") == pytest.approx(25.0, abs=0.3)


def test_profile_keeps_tests_and_refuses_a_broken_file(tmp_path, monkeypatch):
    monkeypatch.setenv("IMU_HOME", str(tmp_path))
    profile = get_profile("ann")
    entry = {"session": "/x/a.imu", "date": "2026-11-01T10:00:00", "movements": {"flexion": {}}}
    profile.record_mobility_test(entry)
    profile.record_mobility_test(dict(entry, date="2026-11-02T10:00:00"))  # same session: replaced
    assert [t["date"] for t in profile.mobility_tests()] == ["2026-11-02T10:00:00"]
    profile.mobility_path.write_text("{not json")
    with pytest.raises(ValueError, match="mobility.json"):
        profile.mobility_tests()


async def test_live_mobility_test_over_virtual_sensors(tmp_path, monkeypatch):
    monkeypatch.setenv("IMU_HOME", str(tmp_path / "home"))
    profile = get_profile("bo")
    earlier = {"session": "/older.imu", "date": "2026-10-01T09:00:00", "movements": {
        "rotation_left": {"ranges": {"thoracic": {"angle": "thoracic_axial_rotation", "range_deg": 21.0}}}}}
    profile.record_mobility_test(earlier)
    path = tmp_path / "live.imu"
    out = io.StringIO()
    session = LiveSession(LiveOptions(virtual="mobility", sacral=True, speed=8, output=str(path),
                                      profile="bo", test="mobility", stdout=out, desktop=False,
                                      buzz=False, report=False, quiet=True))
    assert await session.run() == 0
    assert session.stop_reason == "mobility test done"
    test = next(g for g in session.guides if hasattr(g, "recorder"))
    assert _check_against_truth(test.result, mobility_truth(session.rig.sim.truth), True) == []
    with SessionReader(path) as reader:
        labels = [(a.label, a.source) for a in reader.annotations()]
    assert labels == [(f"mobility_{m}", "guide") for m in MOVEMENTS]
    text = out.getvalue()
    assert "Rotation left" in text and "[21]" in text  # the earlier test beside this one
    data = json.loads(test.paths["json"].read_text())
    assert set(data["mobility_test"]["movements"]) == set(MOVEMENTS)
    assert "Thoracic" in test.paths["html"].read_text() or "thoracic" in test.paths["html"].read_text()
    # virtual sensors: a simulated wearer is nobody's history
    assert [t["session"] for t in profile.mobility_tests()] == ["/older.imu"]


def test_report_measures_an_annotated_test_and_leaves_other_sessions_alone(tmp_path):
    from imu.analysis import analyze, open_source

    sim = simulate("mobility", None, 5)
    path = write_simulated_session(sim, tmp_path / "r.imu", "mobility", 5)
    plain = analyze(open_source(path))
    assert "mobility_test" not in add_mobility({}, plain, {"file": str(path)})
    for a, b, label in sim.truth.phases:
        if label.startswith("mobility_"):
            annotate(path, a, b, label)  # as someone marking a test with imu annotate
    analysis = analyze(open_source(path))
    summary = add_mobility({}, analysis, {"file": str(path)})
    test = summary["mobility_test"]
    truth = mobility_truth(sim.truth)
    for movement in MOVEMENTS:
        for segment in SEGMENTS:
            r = test["movements"][movement]["ranges"][segment]
            assert abs(r["range_deg"] - truth[movement]["ranges"][r["angle"]]) <= TOL_DEG
    html = render_mobility_section(summary)
    assert "<h2>Thoracic mobility test</h2>" in html and "Left and right" in html
    json.dumps(summary, allow_nan=False)


def test_a_long_rotation_is_not_measured_and_an_unfinished_movement_is_flagged():
    from imu.core.mobility_guide import MobilityGuide, guide_notes
    from imu.profile import Thresholds

    t = np.arange(0, 30, 0.01)
    turn = np.clip((t - 2.0) / 3.0, 0, 1) * 30.0
    segs = {"thoracic": A.heading_quat(-turn), "lumbar": A.heading_quat(np.zeros(len(t)))}
    r = measure_mobility(t, {}, [(0.0, 29.0, "rotation_right")], segs).movements["rotation_right"]
    assert all(x.range_deg is None and "longer than 20 s" in x.note for k, x in r.ranges.items() if k != "lumbar")

    guide = MobilityGuide(Thresholds(), movements=("flexion",))
    guide.begin(0.0)
    bent = {"trunk_inclination": np.clip((t - 2.0) / 2.0, 0, 1) * 40.0}  # bends and stays down
    guide.update(t[:1500], {k: v[:1500] for k, v in bent.items()}, {}, 15.0)
    assert guide.spans == [] and not guide.finished
    guide.end(15.0)
    assert [m for *_, m in guide.spans] == ["flexion"] and guide.finished
    assert "not seen back at the start" in guide_notes(guide)[0]
