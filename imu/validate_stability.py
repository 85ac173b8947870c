"""Self-validation of activity context, gait, runs, carries and holds against simulated truth.

Each case simulates a session, writes it as a real session file (the carry and hold spans
added as the wearer's annotations, as `imu annotate` would), analyses it as `imu report`
does, runs imu.core.stability on that output, and compares with the truth of
imu.sim.activities. `run_stability_validation()` gives the rows, `format_stability_table()`
the text for `imu validate`.

Acceptance: run lean and lean drift within 2 deg, cadence within 3 %; every breaking-down
carry flagged with its moment within 10 s, no steady carry flagged; hold failure times
within 2 s; walking / running boundaries within 3 s; in each walking or running bout the
step count within 3 % of the wearer's true steps (one per gait cycle of the simulated
pelvis) and the median step time within 20 ms.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from imu.validate import Case

import numpy as np

LEAN_TOL_DEG, CADENCE_TOL, BREAKDOWN_TOL_S, HOLD_TOL_S, BOUNDARY_TOL_S = 2.0, 0.03, 10.0, 2.0, 3.0
STEP_COUNT_TOL, STEP_TIME_TOL_MS = 0.03, 20.0


def default_stability_cases(quick: bool = False, seeds: int = 2) -> list[Case]:
    cases = []
    for seed in range(seeds):
        cases += [Case(f"run with lean drift, seed {seed}", "run_drift", seed),
                  Case(f"steady carries, seed {seed}", "carries", seed),
                  Case(f"breaking-down carries, seed {seed}", "carries_breakdown", seed),
                  Case(f"holds, seed {seed}", "holds", seed)]
    cases.append(Case("walk / run / walk (activity)", "activity", 3, 420.0 if quick else None))
    if not quick:
        cases.append(Case("run, raw-only lumbar (AHRS)", "run_drift", 5, None,
                                   {"raw_only": {"lumbar"}}))
    return cases


def simulate_and_analyze(case: Case, workdir: Path):
    """(stability result, truth dict, analysis) of one case, through a real session file."""
    from imu.analysis import open_source, run_source
    from imu.sim.write import write_simulated_session
    from imu.recording.session import annotate
    from imu.sim import simulate
    from imu.sim.activities import attach_stability_truth, label_annotations

    sim = simulate(case.scenario, case.duration_s, case.seed, **case.options)
    truth = attach_stability_truth(sim)
    path = workdir / f"{case.scenario}-{case.seed}-{abs(hash(case.name)) % 10000}.imu"
    write_simulated_session(sim, path, case.scenario, case.seed)
    for start, end, label in label_annotations(sim.truth):
        annotate(path, start, end, label)
    result = run_source(open_source(path))  # graded as the report grades it
    truth["steps_s"] = true_steps(sim)
    return result.stability, truth, result.analysis


def true_steps(sim) -> np.ndarray:
    """The simulated wearer's step moments: each completed gait cycle of the pelvis."""
    t = np.arange(0.0, sim.duration_s, 0.002)
    cycles = np.floor(sim._wearer.step_phase(t) / (2 * np.pi))
    return t[1:][np.diff(cycles) > 0]


def _boundary_errors(result, truth) -> list[float]:
    """|found - true| for each true walking / running boundary (start and end)."""
    errors = []
    found = [s for s in result.activity.segments if s.kind in ("walking", "running")]
    for a in truth.get("activities", []):
        kind = a["kind"] if a["kind"] in ("walking", "running") else "walking"
        same = [s for s in found if s.kind == kind]
        for key in ("start_s", "end_s"):
            cands = [abs(getattr(s, key) - a[key]) for s in same]
            errors.append(min(cands) if cands else float("inf"))
    return errors


def _gait_rows(case: Case, result, truth) -> list[dict]:
    """Step count and step time of each found walking / running bout against the true steps
    inside the same span."""
    rows = []
    steps = np.asarray(truth.get("steps_s", []))
    for bout in result.gait:
        if bout.end_s - bout.start_s < 20.0 or not len(steps):
            continue
        inside = steps[(steps >= bout.start_s) & (steps <= bout.end_s)]
        if len(inside) < 10:
            continue
        name = f"{bout.kind} {bout.start_s:.0f}-{bout.end_s:.0f} s"
        if bout.note is not None:
            rows.append({"case": case.name, "check": f"{name} steps", "value": None, "unit": "",
                         "ok": False})
            continue
        err = bout.step_count / len(inside) - 1.0
        rows.append({"case": case.name, "check": f"{name} step count error", "value": 100 * err,
                     "unit": "%", "ok": abs(err) <= STEP_COUNT_TOL, "measured": bout.step_count,
                     "true": len(inside)})
        dt = 1000 * (np.median(bout.step_intervals_s) - np.median(np.diff(inside)))
        rows.append({"case": case.name, "check": f"{name} step time error", "value": float(dt),
                     "unit": "ms", "ok": abs(dt) <= STEP_TIME_TOL_MS})
    return rows


def compare_case(case: Case, result, truth) -> list[dict]:
    rows = []
    scenario = case.scenario
    if scenario in ("run_drift", "activity"):
        errs = [e for e in _boundary_errors(result, truth)]
        rows.append({"case": case.name, "check": "walk/run boundaries", "value": max(errs) if errs else None,
                     "unit": "s max err", "ok": bool(errs) and max(errs) <= BOUNDARY_TOL_S})
    rows += _gait_rows(case, result, truth)
    for tr in truth.get("runs", []):
        run = max(result.runs, key=lambda r: min(r.end_s, tr["end_s"]) - max(r.start_s, tr["start_s"]),
                  default=None)
        if run is None or min(run.end_s, tr["end_s"]) <= max(run.start_s, tr["start_s"]):
            rows.append({"case": case.name, "check": "run found", "value": None, "unit": "", "ok": False})
            continue
        lean = run.trunk_lean_mean_deg - tr["trunk_lean_mean_deg"]
        drift = run.lean_drift_deg - tr["lean_drift_deg"]
        rows.append({"case": case.name, "check": "run lean error", "value": lean, "unit": "deg",
                     "ok": abs(lean) <= LEAN_TOL_DEG, "measured": run.trunk_lean_mean_deg,
                     "true": tr["trunk_lean_mean_deg"]})
        rows.append({"case": case.name, "check": "run lean drift error", "value": drift, "unit": "deg",
                     "ok": abs(drift) <= LEAN_TOL_DEG, "measured": run.lean_drift_deg, "true": tr["lean_drift_deg"]})
        if tr.get("cadence_spm"):
            cad = run.cadence_spm / tr["cadence_spm"] - 1.0
            rows.append({"case": case.name, "check": "run cadence error", "value": 100 * cad, "unit": "%",
                         "ok": abs(cad) <= CADENCE_TOL, "measured": run.cadence_spm, "true": tr["cadence_spm"]})
    for tc in truth.get("carries", []):
        found = [c for c in result.carries if c.kind == tc["kind"] and abs(c.start_s - tc["start_s"]) < 5.0]
        c = found[0] if found else None
        name = f"{tc['kind']} {'breakdown' if tc['breakdown'] else 'steady'}"
        if c is None:
            rows.append({"case": case.name, "check": name, "value": None, "unit": "", "ok": False})
        elif tc["breakdown"]:
            err = None if c.breakdown_at_s is None else c.breakdown_at_s - tc["breakdown_at_s"]
            rows.append({"case": case.name, "check": name + " moment error", "value": err, "unit": "s",
                         "ok": c.breakdown and err is not None and abs(err) <= BREAKDOWN_TOL_S})
        else:
            rows.append({"case": case.name, "check": name + " not flagged", "value": float(c.breakdown),
                         "unit": "flagged", "ok": not c.breakdown})
    for th in truth.get("holds", []):
        kind = th["kind"].removeprefix("hold_")
        found = [h for h in result.holds if h.kind == kind and abs(h.start_s - th["start_s"]) < 2.0]
        h = found[0] if found else None
        err = None if h is None or h.time_to_failure_s is None else h.time_to_failure_s - th["time_to_failure_s"]
        rows.append({"case": case.name, "check": f"{kind} failure time error", "value": err, "unit": "s",
                     "ok": err is not None and abs(err) <= HOLD_TOL_S})
    return rows


def run_stability_validation(quick: bool = False, seeds: int = 2,
                             cases: list[Case] | None = None, progress=None) -> list[dict]:
    """One row per check: case, check, value, unit, ok (and measured / true where useful).
    `progress(text)` is called before each case."""
    rows = []
    cases = cases or default_stability_cases(quick, seeds)
    with tempfile.TemporaryDirectory(prefix="imu-validate-stability-") as tmp:
        for i, case in enumerate(cases, 1):
            if progress:
                progress(f"activity and stability {i}/{len(cases)}: {case.name}")
            result, truth, _ = simulate_and_analyze(case, Path(tmp))
            rows += compare_case(case, result, truth)
    return rows


def format_stability_table(rows: list[dict]) -> str:
    lines = ["Activity, gait and trunk stability against truth:",
             f"(limits: lean and drift {LEAN_TOL_DEG:g} deg, cadence {100 * CADENCE_TOL:g} %, breakdown "
             f"moment {BREAKDOWN_TOL_S:g} s, hold failure {HOLD_TOL_S:g} s, boundaries {BOUNDARY_TOL_S:g} s, "
             f"step count {100 * STEP_COUNT_TOL:g} %, step time {STEP_TIME_TOL_MS:g} ms)", ""]
    header = f"{'case':36s} {'check':40s} {'value':>9s} {'unit':10s} {'ok':>4s}"
    lines += [header, "-" * len(header)]
    for r in rows:
        v = r["value"]
        value = "-" if v is None else f"{v:+.2f}"
        lines.append(f"{r['case']:36s} {r['check']:40s} {value:>9s} {r['unit']:10s} {'yes' if r['ok'] else 'NO':>4s}")
    passed = sum(r["ok"] for r in rows)
    lines += ["", f"{passed} of {len(rows)} checks within their limits"]
    return "\n".join(lines)
