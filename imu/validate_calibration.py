"""Calibration against the truth of simulated people who behave like real ones.

Each case simulates a scenario of `imu.sim.realpeople` (or the tidy desk), optionally with
only some of the sensors, writes a real session file (or a CSV, whose sensor axes are not
declared) without labels, so the calibration is found in the data, and analyses it exactly
as `imu report` does. Measured per case:
- the calibration's quality and what it says about the sagittal sign;
- whether the flexion sign is right: the correlation of the measured sagittal angles with
  the true ones (a flipped sign gives a negative correlation);
- the fraction of the session that has angles;
- the RMSE of each sagittal angle against the truth.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MIN_COVERAGE = 0.95  # fraction of the session with angles
MAX_RMSE_DEG = 3.0
SAGITTAL = ("thoracic_flexion", "trunk_inclination", "lumbar_inclination", "lumbar_flexion",
            "sacral_inclination")


@dataclass
class CalibrationCase:
    name: str
    scenario: str
    seed: int = 1
    sensors: tuple[str, ...] | None = None  # None: every sensor the scenario wears
    options: dict = field(default_factory=dict)  # simulate() keyword arguments


@dataclass
class CalibrationResult:
    case: CalibrationCase
    ok: bool
    quality: str
    sagittal_sign: str
    reasons: list[str]
    sign_correct: dict[str, bool]  # angle -> measured correlates positively with truth
    coverage: float  # fraction of the session with the main sagittal angle
    rmse_deg: dict[str, float]
    dropped: list[str]

    @property
    def flipped(self) -> list[str]:
        return [name for name, right in self.sign_correct.items() if not right]

    def failures(self) -> list[str]:
        """What falls outside the limits: refused, a flipped sign (worst of all when the
        calibration calls it verified), angles over less than MIN_COVERAGE of the session,
        a sagittal RMSE over MAX_RMSE_DEG."""
        out = []
        if not self.ok:
            out.append("refused: " + "; ".join(self.reasons))
        if self.flipped:
            out.append(f"flexion sign flipped ({', '.join(self.flipped)}) with the sign called "
                       f"{self.sagittal_sign}")
        if self.ok and self.coverage < MIN_COVERAGE:
            out.append(f"angles over {100 * self.coverage:.1f} % of the session")
        out += [f"{name} RMSE {rmse:.2f} deg" for name, rmse in self.rmse_deg.items() if rmse > MAX_RMSE_DEG]
        return out


def default_cases() -> list[CalibrationCase]:
    return [
        CalibrationCase("desk (tidy calibration)", "desk", 1, options={"duration_s": 300.0}),
        CalibrationCase("lean back among the bends", "cal_backward", 1),
        CalibrationCase("thoracic sensor upside down, no bends", "cal_rotated", 2),
        CalibrationCase("lumbar upside down + lean back", "cal_rotated_backward", 3),
        CalibrationCase("held postures instead of bends", "cal_postures", 4),
        CalibrationCase("still 1 s at a time", "cal_short_still", 5),
        CalibrationCase("no bends at all", "cal_no_bends", 6),
        CalibrationCase("side-bending, 3 sensors", "cal_side_bending", 7),
        CalibrationCase("thoracic only", "cal_backward", 8, ("thoracic",)),
        CalibrationCase("lumbar only", "cal_backward", 9, ("lumbar",)),
        CalibrationCase("sacral only", "cal_side_bending", 10, ("sacral",)),
        CalibrationCase("CSV (axes not declared), lean back", "cal_rotated_backward", 3, options={"csv": True}),
        CalibrationCase("CSV (axes not declared), no bends", "cal_no_bends", 6, options={"csv": True}),
    ]


def sign_and_error(analysis, truth) -> tuple[dict, dict, float]:
    """Per sagittal angle: sign right (correlation with truth > 0) and RMSE; coverage."""
    index = np.clip(np.searchsorted(truth.t, analysis.t), 0, len(truth.t) - 1)
    signs, rmse = {}, {}
    for name in SAGITTAL:
        if name not in analysis.angles or name not in truth.angles:
            continue
        measured = analysis.angles[name].astype(float)
        true = truth.angles[name][index]
        ok = np.isfinite(measured)
        if ok.sum() < 100 or np.std(true[ok]) < 1.0:
            continue
        signs[name] = bool(np.corrcoef(measured[ok], true[ok])[0, 1] > 0)
        rmse[name] = float(np.sqrt(np.mean((measured[ok] - true[ok]) ** 2)))
    main = next((n for n in SAGITTAL if n in analysis.angles), None)
    coverage = 0.0
    if main is not None and len(analysis.t) > 1:
        step = float(np.median(np.diff(analysis.t)))
        coverage = float(np.isfinite(analysis.angles[main]).sum() * step / truth.t[-1])
    return signs, rmse, coverage


def write_session(sim, path: Path, sensors: tuple[str, ...] | None) -> Path:
    """The simulated session as a session file, keeping only `sensors` when given."""
    from imu.sim.write import write_simulated_session

    if sensors is not None:
        unknown = set(sensors) - set(sim.sensors)
        if unknown:
            raise ValueError(f"the scenario wears no {', '.join(sorted(unknown))} sensor")
        sim.notifications = [n for n in sim.notifications if n.sensor in sensors]
        sim.sensors = {k: v for k, v in sim.sensors.items() if k in sensors}
    return write_simulated_session(sim, path, "sim", 0)


def run_case(case: CalibrationCase, workdir: Path) -> CalibrationResult:
    from imu.analysis import analyze, open_source
    from imu.sim import simulate

    options = dict(case.options)
    duration = options.pop("duration_s", None)
    as_csv = options.pop("csv", False)  # a CSV does not declare its sensors' axes
    sim = simulate(case.scenario, duration, case.seed, **options)
    stem = "".join(c if c.isalnum() else "-" for c in f"{case.scenario}-{case.seed}-{case.name}")
    if as_csv:
        from imu.sim import to_interchange_csv

        path = workdir / f"{stem}.csv"
        to_interchange_csv(sim, path, labels=False)
    else:
        path = write_session(sim, workdir / f"{stem}.imu", case.sensors)
    analysis = analyze(open_source(path))
    cal = analysis.calibration
    signs, rmse, coverage = sign_and_error(analysis, sim.truth)
    return CalibrationResult(case, cal.ok, cal.quality, getattr(cal, "sagittal_sign", "?"),
                             list(cal.reasons), signs, coverage, rmse,
                             list(getattr(cal, "dropped", [])))


def run_calibration_validation(cases: list[CalibrationCase] | None = None) -> list[CalibrationResult]:
    with tempfile.TemporaryDirectory(prefix="imu-validate-cal-") as tmp:
        return [run_case(c, Path(tmp)) for c in (cases or default_cases())]


def format_calibration_table(results: list[CalibrationResult]) -> str:
    lines = ["Calibration on simulated people who behave like real ones "
             "(session files, no labels):", ""]
    header = (f"{'case':38s} {'quality':10s} {'sign':10s} {'flexion sign':>13s} {'angles':>7s} "
              f"{'thor.flex':>9s} {'trunk.incl':>10s} {'lumb.incl':>9s} {'sacr.incl':>9s}")
    lines += [header, "-" * len(header)]
    for r in results:
        sign = "-" if not r.sign_correct else ("FLIPPED" if r.flipped else "right")
        cells = [f"{r.rmse_deg[n]:.2f}" if n in r.rmse_deg else "-"
                 for n in ("thoracic_flexion", "trunk_inclination", "lumbar_inclination", "sacral_inclination")]
        quality = r.quality if r.ok else "refused"
        lines.append(f"{r.case.name:38s} {quality:10s} {r.sagittal_sign:10s} {sign:>13s} "
                     f"{100 * r.coverage:6.1f}% {cells[0]:>9s} {cells[1]:>10s} {cells[2]:>9s} {cells[3]:>9s}")
    lines += ["", "RMSE in degrees against truth over the samples with angles; 'sign' is what the "
              "calibration says about the sagittal sign, 'flexion sign' what the truth says."]
    for r in results:
        if r.failures():
            lines.append(f"  FAILED {r.case.name}: {'; '.join(r.failures())}")
    bad = sum(bool(r.failures()) for r in results)
    lines.append(f"{len(results) - bad} of {len(results)} calibration cases within their limits "
                 f"(accepted, sign right, angles over >= {100 * MIN_COVERAGE:.0f} % of the session, "
                 f"sagittal RMSE <= {MAX_RMSE_DEG:g} deg)")
    return "\n".join(lines)


if __name__ == "__main__":
    print(format_calibration_table(run_calibration_validation()))
