"""The stability entry point end to end: summary.json keys, the HTML section, the validation
table, and the issue 5 simulator scenarios."""

import json

import pytest

from imu.report.stability_figures import stability_figures
from imu.report.stability_section import render_stability_section
from imu.report.stability_summary import add_stability
from imu.report.summary import build_summary
from imu.sim import SCENARIOS, simulate_truth
from imu.sim.activities import ACTIVITY_PHASE_LABELS, BUILDERS, stability_truth
from imu.sim.scenarios import PHASE_LABELS
from imu.validate import Case
from imu.validate_stability import compare_case, format_stability_table, simulate_and_analyze


@pytest.fixture(scope="module")
def carries(tmp_path_factory):
    case = Case("breaking carries", "carries_breakdown", 3)
    return case, simulate_and_analyze(case, tmp_path_factory.mktemp("c"))


def test_summary_gains_the_stability_keys_and_stays_strict_json(carries):
    _, (result, _, analysis) = carries
    summary = add_stability(build_summary(analysis, {"kind": "recording", "file": None}), analysis, result)
    text = json.dumps(summary, allow_nan=False)
    back = json.loads(text)
    assert {"activities", "running", "carries", "holds", "sensor_issues", "gait", "context_s"} <= set(back)
    kinds = [a["kind"] for a in back["activities"]]
    assert "walking" in kinds and "carry_suitcase_left" in kinds
    carry = back["carries"][0]
    for key in ("start_s", "end_s", "kind", "lateral_bend_mean_deg", "lateral_bend_range_deg",
                "rotation_range_deg", "breakdown", "breakdown_at_s", "grade", "reasons"):
        assert key in carry
    assert back["holds"] == {"tests": [], "mcgill": None}


def test_html_section_has_tables_and_per_stride_figures(carries):
    _, (result, _, analysis) = carries
    summary = add_stability({}, analysis, result)
    figures = stability_figures(result)
    assert set(figures) == {f"carry_{i}" for i in range(4)}
    assert all(png.startswith(b"\x89PNG") for png in figures.values())
    html = render_stability_section(summary, figures)
    assert html.count("<img") == 4 and "carry suitcase right" in html and "breakdown" in html
    assert render_stability_section({"activities": []}, {}) == ""


def test_validation_rows_and_table(carries):
    case, (result, truth, _) = carries
    rows = compare_case(case, result, truth)
    assert all(r["ok"] for r in rows)
    assert len([r for r in rows if r["check"].startswith("carry")]) == 4
    steps = [r for r in rows if r["check"].endswith("step count error")]
    assert steps and all(abs(r["value"]) <= 3.0 for r in steps)  # the walking between carries
    table = format_stability_table(rows)
    assert f"{len(rows)} of {len(rows)} checks" in table and "carry_front breakdown moment error" in table


def test_scenarios_are_registered_with_truth():
    for name in BUILDERS:
        assert name in SCENARIOS
    assert set(ACTIVITY_PHASE_LABELS) <= set(PHASE_LABELS)
    truth = simulate_truth("holds", seed=4)
    assert {p[2] for p in truth.phases} <= set(PHASE_LABELS)
    info = stability_truth("holds", truth.t[-1], 4, truth)
    json.dumps(info, allow_nan=False)
    assert len(info["holds"]) == 6
    for h in info["holds"]:
        # the commanded deviation reaches 10 deg at the failure time
        phase = [p for p in truth.phases if p[2] == h["kind"] and abs(p[0] - h["start_s"]) < 1e-6]
        assert phase and phase[0][1] > h["failure_at_s"] > phase[0][0]
    again = stability_truth("holds", truth.t[-1], 4)
    assert again["holds"] == info["holds"]
    with pytest.raises(ValueError):
        simulate_truth("carries", duration_s=60.0)


def test_grading_masks_the_callers_angles_only_while_it_runs(carries, monkeypatch):
    """analyze_stability writes NaN into the caller's float32 angles where samples are
    unusable, instead of a masked copy of every angle, and puts the values back: the caller's
    arrays come back bit for bit, the grades equal those from copies, and an error half-way
    through still gives the arrays back."""
    import numpy as np

    import imu.core.stability as stability

    _, (_, _, analysis) = carries
    t = analysis.t
    valid = analysis.valid.copy()
    valid[len(t) // 3:len(t) // 3 + 3000] = False  # an unusable stretch: masking has work to do
    owned = {k: v.copy() for k, v in analysis.angles.items()}
    before = {k: v.copy() for k, v in owned.items()}
    assert all(v.dtype == np.float32 for v in owned.values())

    def grades(result):
        return (repr(result.carries), repr(result.activity.segments), list(result.labels), repr(result.notes))

    in_place = stability.analyze_stability(t, owned, valid, analysis.annotations, analysis.thresholds)
    for k in before:
        np.testing.assert_array_equal(owned[k].view(np.uint32), before[k].view(np.uint32))
    copied = stability.analyze_stability(t, {k: v.astype(np.float64) for k, v in owned.items()}, valid,
                                         analysis.annotations, analysis.thresholds)
    assert grades(in_place) == grades(copied) and in_place.carries

    seen = {}

    def fail(t, masked, *args, **kwargs):
        seen["nan"] = all(np.isnan(v[len(t) // 3:len(t) // 3 + 3000]).all() for v in masked.values())
        raise RuntimeError("half-way")

    monkeypatch.setattr(stability, "segment_activities", fail)
    with pytest.raises(RuntimeError):
        stability.analyze_stability(t, owned, valid, analysis.annotations, analysis.thresholds)
    assert seen["nan"]  # the grading saw the stretch as missing
    for k in before:
        np.testing.assert_array_equal(owned[k].view(np.uint32), before[k].view(np.uint32))
