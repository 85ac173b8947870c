"""Self-validation: the pipeline against the simulated wearer's ground truth.

Each case simulates a session (real firmware frames through a real session file), analyses
it exactly as `imu report` does, and compares angles and slouch episodes with the truth; no
simulated sensor slips, so any slip or came-off finding is a false one and fails the case.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from imu.core.result import Analysis
from imu.validate_case import Case

SAGITTAL_RMSE_MAX_DEG = 2.0  # sagittal angles against truth
EPISODE_SCORE_MIN = 0.9  # slouch precision and recall
ANGLES_CHECKED = ("thoracic_flexion", "lumbar_flexion", "lumbar_inclination", "trunk_inclination",
                  "thoracic_lateral_bend", "trunk_lateral_inclination")
START_TOLERANCE_S = 2.0


@dataclass
class CaseResult:
    case: Case
    angle_errors: dict[str, tuple[float, float]]  # name -> (rmse, bias) in degrees
    true_episodes: int
    found_episodes: int
    matched: int
    start_errors_s: list[float]
    peak_errors_deg: list[float]
    calibration: str
    sensor_issues: list[str] = field(default_factory=list)  # slips / stops found (none are real)

    @property
    def precision(self) -> float:
        return self.matched / self.found_episodes if self.found_episodes else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.true_episodes if self.true_episodes else 1.0

    def failures(self) -> list[str]:
        """What is outside its limit (empty when the case passes)."""
        out = []
        for name in ("thoracic_flexion", "lumbar_flexion", "lumbar_inclination", "trunk_inclination"):
            if name in self.angle_errors and self.angle_errors[name][0] > SAGITTAL_RMSE_MAX_DEG:
                out.append(f"{name} RMSE {self.angle_errors[name][0]:.2f} deg > {SAGITTAL_RMSE_MAX_DEG:g}")
        if self.precision < EPISODE_SCORE_MIN:
            out.append(f"slouch precision {self.precision:.2f} < {EPISODE_SCORE_MIN:g}")
        if self.recall < EPISODE_SCORE_MIN:
            out.append(f"slouch recall {self.recall:.2f} < {EPISODE_SCORE_MIN:g}")
        out += [f"false sensor problem: {issue}" for issue in self.sensor_issues]
        if self.calibration not in ("good", "fair"):
            out.append(f"calibration {self.calibration}")
        return out


def default_cases(quick: bool = False, seeds: int = 3) -> list[Case]:
    duration = 480.0 if quick else None
    cases = []
    for seed in range(seeds):
        cases.append(Case(f"desk seed {seed}", "desk", seed, duration))
    cases += [
        Case("desk + sacral sensor", "desk_sacral", 11, duration),
        Case("desk, 200/60 Hz, 3 % loss", "desk", 12, duration,
             {"rates_hz": {"thoracic": 200.0, "lumbar": 60.0}, "loss_rate": 0.03}),
        Case("desk, raw-only lumbar (AHRS)", "desk", 13, duration, {"raw_only": {"lumbar"}}),
    ]
    return cases


def compare(analysis: Analysis, truth) -> tuple[dict, int, int, int, list, list]:
    """Angle errors and episode matching of an analysis against simulated truth."""
    errors = {}
    index = np.searchsorted(truth.t, analysis.t)
    inside = index < len(truth.t)
    for name in ANGLES_CHECKED:
        if name not in analysis.angles or name not in truth.angles:
            continue
        measured = analysis.angles[name][inside].astype(float)
        diff = measured - truth.angles[name][index[inside]]
        diff = diff[np.isfinite(diff)]
        if len(diff):
            errors[name] = (float(np.sqrt(np.mean(diff ** 2))), float(np.mean(diff)))
    true_eps = list(truth.episodes)
    found = analysis.episodes
    matched, starts, peaks = 0, [], []
    used = set()
    for ep in true_eps:
        best = None
        for i, f in enumerate(found):
            if i in used:
                continue
            err = abs(f.start_s - ep["start_s"])
            if err <= START_TOLERANCE_S and (best is None or err < best[1]):
                best = (i, err)
        if best is not None:
            used.add(best[0])
            matched += 1
            starts.append(best[1])
            peaks.append(abs(found[best[0]].peak_deg - ep["peak_deg"]))
    return errors, len(true_eps), len(found), matched, starts, peaks


def run_case(case: Case, workdir: Path) -> CaseResult:
    from imu.analysis import open_source, run_source
    from imu.sim.write import write_simulated_session
    from imu.sim import simulate

    sim = simulate(case.scenario, case.duration_s, case.seed, **case.options)
    path = workdir / f"{case.scenario}-{case.seed}.imu"
    write_simulated_session(sim, path, case.scenario, case.seed)
    result = run_source(open_source(path))
    analysis = result.analysis
    errors, n_true, n_found, matched, starts, peaks = compare(analysis, sim.truth)
    # no simulated sensor slips or comes off: any such finding is a posture mistaken for one
    issues = result.stability.sensor_issues
    return CaseResult(case, errors, n_true, n_found, matched, starts, peaks,
                      analysis.calibration.quality, [i.sentence() for i in issues])


def run_validation(quick: bool = False, seeds: int = 3, cases: list[Case] | None = None,
                   progress=None) -> list[CaseResult]:
    """`progress(text)` is called before each case."""
    cases = cases or default_cases(quick, seeds)
    out = []
    with tempfile.TemporaryDirectory(prefix="imu-validate-") as tmp:
        for i, case in enumerate(cases, 1):
            if progress:
                progress(f"angles and slouches {i}/{len(cases)}: {case.name}")
            out.append(run_case(case, Path(tmp)))
    return out


def format_table(results: list[CaseResult]) -> str:
    short = {"thoracic_flexion": "thor.flex", "lumbar_flexion": "lumb.flex",
             "lumbar_inclination": "lumb.incl", "trunk_inclination": "trunk.incl",
             "thoracic_lateral_bend": "thor.lat", "trunk_lateral_inclination": "trunk.lat"}
    lines = ["Angle error against truth, RMSE / bias in degrees (after calibration):", ""]
    header = f"{'case':32s} {'cal':7s} " + " ".join(f"{short[a]:>13s}" for a in ANGLES_CHECKED)
    lines += [header, "-" * len(header)]
    for r in results:
        cells = []
        for a in ANGLES_CHECKED:
            cells.append(f"{r.angle_errors[a][0]:5.2f} / {r.angle_errors[a][1]:+5.2f}"
                         if a in r.angle_errors else f"{'-':>13s}")
        lines.append(f"{r.case.name:32s} {r.calibration:7s} " + " ".join(f"{c:>13s}" for c in cells))
    lines += ["", "Slouch events (start within 2 s counts as found):", ""]
    header = (f"{'case':32s} {'true':>5s} {'found':>6s} {'precision':>10s} {'recall':>7s} "
              f"{'start err mean/max s':>21s} {'peak err max deg':>17s}")
    lines += [header, "-" * len(header)]
    for r in results:
        start = (f"{np.mean(r.start_errors_s):.2f} / {np.max(r.start_errors_s):.2f}"
                 if r.start_errors_s else "-")
        peak = f"{np.max(r.peak_errors_deg):.2f}" if r.peak_errors_deg else "-"
        lines.append(f"{r.case.name:32s} {r.true_episodes:5d} {r.found_episodes:6d} "
                     f"{r.precision:10.2f} {r.recall:7.2f} {start:>21s} {peak:>17s}")
    failed = [(r.case.name, f) for r in results for f in r.failures()]
    lines += ["", f"(limits: sagittal angle RMSE {SAGITTAL_RMSE_MAX_DEG:g} deg, slouch precision and recall "
                  f"{EPISODE_SCORE_MIN:g}, calibration good or fair, no sensor reported slipped or off)"]
    lines += [f"FAIL {name}: {what}" for name, what in failed]
    lines.append(f"{len(results) - len({n for n, _ in failed})} of {len(results)} cases within their limits")
    return "\n".join(lines)


def calibration_validation(quick: bool = False, progress=None) -> tuple[str, int]:
    """The calibration cases of `imu.validate_calibration` (simulated people who sway, lean
    back, hold postures, wear sensors upside down): the table, and how many cases fail."""
    from imu.validate_calibration import (default_cases, format_calibration_table,
                                          run_calibration_validation)

    if progress is not None:
        progress("calibration cases")
    cases = default_cases()
    results = run_calibration_validation(cases[:7] if quick else cases)
    return format_calibration_table(results), sum(bool(r.failures()) for r in results)


def training_validation(quick: bool = False, progress=None) -> tuple[str, int]:
    """Sitting bouts, break reminders and lifts (imu.validate_training, issue 13): the table,
    and how many checks fail."""
    from imu.validate_training import format_training_table, run_training_validation

    rows = run_training_validation(quick=quick, progress=progress)
    return format_training_table(rows), sum(not r["ok"] for r in rows)


def mobility_validation(quick: bool = False, progress=None) -> tuple[str, int]:
    """The mobility-test and posture-reset cases of `imu.validate_mobility` (issue 13): the
    table, and how many checks fail."""
    from imu.validate_mobility import format_mobility_table, run_mobility_validation

    rows = run_mobility_validation(quick=quick, progress=progress)
    return format_mobility_table(rows), sum(not r["ok"] for r in rows)
