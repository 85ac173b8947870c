"""Running: lean, lean drift, cadence and grade on the real pipeline output (simulate ->
session file -> analyze -> imu.core.stability), against the simulated truth."""

import numpy as np
import pytest

from imu.core.running import run_metrics
from imu.validate import Case
from imu.validate_stability import simulate_and_analyze


@pytest.fixture(scope="module", params=[0, 3])
def run_case(request, tmp_path_factory):
    return simulate_and_analyze(Case("run", "run_drift", request.param),
                                tmp_path_factory.mktemp("run"))


def test_lean_drift_and_cadence_against_truth(run_case):
    result, truth, _ = run_case
    (true_run,) = truth["runs"]
    (run,) = result.runs
    assert run.lean_reference == "standing"
    assert run.trunk_lean_mean_deg == pytest.approx(true_run["trunk_lean_mean_deg"], abs=2.0)
    assert run.lean_drift_deg == pytest.approx(true_run["lean_drift_deg"], abs=2.0)
    assert run.lean_drift_deg > 2.0  # the simulated lean creeps forward 4-7 deg
    assert run.cadence_spm == pytest.approx(true_run["cadence_spm"], rel=0.03)
    assert run.step_regularity > 0.8 and run.symmetry == pytest.approx(1.0, abs=0.15)
    assert run.sagittal_range_deg > 0 and run.lateral_range_deg > 0 and run.rotation_range_deg > 0
    assert run.grade in ("good", "fair", "poor") and run.reasons


def test_grade_names_the_broken_limit():
    t = np.arange(0, 120, 0.01)
    phase = 2 * np.pi * 2.8 * t
    lean = 15.0 + 6.0 * t / 120 + 2 * np.sin(phase)
    angles = {"trunk_inclination": lean, "lumbar_inclination": 3 * np.sin(phase),
              "trunk_lateral_inclination": 2 * np.sin(phase / 2)}
    m = run_metrics(t, angles, 0.0, 120.0)
    assert m.cadence_spm == pytest.approx(168, rel=0.01)
    assert m.lean_drift_deg == pytest.approx(6.0 * 0.8, abs=0.5)  # last fifth minus first fifth
    assert m.grade == "poor"
    assert any("trunk lean" in r for r in m.reasons) and any("drifted" in r for r in m.reasons)
    assert m.rotation_range_deg is None
