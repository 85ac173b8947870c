"""Self-validation of the mobility test and of posture-reset detection against simulated truth
(issue 13 items 2 and 4).

Mobility: each case simulates the `mobility` scenario, writes a real session file, runs the
guide over the calibrated recording as `imu live --test mobility` would (it must find all six
movements) and measures the ranges with imu.core.mobility; every range within RANGE_TOL_DEG
of the truth of imu.sim.mobility, the larger side of every left/right pair the true one
(where the true sides differ by EVEN_DEG or more), and what the sensors cannot give (lumbar
rotation and flexion without a sacral sensor) reported as not measured, never as a number.

Resets: the `desk_resets` scenario (four resets among decoys that are not resets) gives
precision and recall; fidgety real-like sessions (imu.sim.realpeople) and plain desk work
must give no reset at all.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from imu.core.mobility import EVEN_DEG, MOVEMENTS, PAIRS, SEGMENTS
from imu.validate_case import Case, format_checks

RANGE_TOL_DEG = 3.0
RESET_SCORE_MIN = 0.9  # precision and recall over the desk_resets cases
MATCH_S = 2.0  # a detection within this of a reset's span is that reset
FIDGETY = ("cal_short_still", "cal_backward", "cal_postures", "cal_side_bending", "desk")


def default_mobility_cases(quick: bool = False) -> list[Case]:
    cases = [Case(f"mobility, three sensors, seed {s}", "mobility", s) for s in range(1 if quick else 3)]
    cases.append(Case("mobility, no sacral sensor", "mobility", 7, None, {"sacral": False}))
    if not quick:
        cases.append(Case("mobility, raw-only lumbar (AHRS)", "mobility", 8, None, {"raw_only": {"lumbar"}}))
    return cases


def default_reset_cases(quick: bool = False) -> list[Case]:
    cases = [Case(f"desk with resets and decoys, seed {s}", "desk_resets", s) for s in range(1 if quick else 3)]
    cases += [Case(f"no resets: {name}", name, 21, 480.0 if name == "desk" else None)
              for name in (FIDGETY[:2] if quick else FIDGETY)]
    return cases


def _write(case: Case, workdir: Path):
    from imu.sim.write import write_simulated_session
    from imu.sim import simulate

    sim = simulate(case.scenario, case.duration_s, case.seed, **case.options)
    path = workdir / f"{case.scenario}-{case.seed}-{abs(hash(case.name)) % 10000}.imu"
    write_simulated_session(sim, path, case.scenario, case.seed)
    return sim, path


def mobility_rows(case: Case, workdir: Path) -> list[dict]:
    from imu.report.mobility_section import mobility_from_recording
    from imu.sim.mobility import mobility_truth

    sim, path = _write(case, workdir)
    result, spans = mobility_from_recording(path, spans=[])
    truth = mobility_truth(sim.truth)
    rows = [{"case": case.name, "check": "movements found by the guide", "value": float(len(spans)),
             "unit": f"of {len(MOVEMENTS)}", "ok": result is not None and len(spans) == len(MOVEMENTS)}]
    if result is None:
        return rows
    sacral = "sacral" in sim.sensors
    errors = []
    for movement in MOVEMENTS:
        for segment, r in result.movements[movement].ranges.items():
            true = truth.get(movement, {}).get("ranges", {}).get(r.angle) if r.angle else None
            if segment == "lumbar" and not sacral and movement.startswith("rotation"):
                rows.append({"case": case.name, "check": f"{movement} lumbar without sacral: not measured",
                             "value": r.range_deg, "unit": "",
                             "ok": r.range_deg is None and "not measurable" in r.note})
                continue
            if segment == "lumbar" and not sacral and r.angle in ("lumbar_flexion", "lumbar_lateral_bend"):
                rows.append({"case": case.name, "check": f"{movement} lumbar named {r.angle} without sacral",
                             "value": None, "unit": "", "ok": False})
                continue
            if r.range_deg is None or true is None:
                rows.append({"case": case.name, "check": f"{movement} {segment} measured", "value": None,
                             "unit": "", "ok": False})
                continue
            errors.append((abs(r.range_deg - true), f"{movement} {segment}", r.range_deg - true))
    if errors:
        worst = max(errors)
        rows.append({"case": case.name, "check": f"range error, worst of {len(errors)} ({worst[1]})",
                     "value": worst[2], "unit": "deg", "ok": worst[0] <= RANGE_TOL_DEG})
    for pair, (left, right) in PAIRS.items():
        for segment in SEGMENTS:
            a = result.asymmetry[pair][segment]
            if a["larger"] is None:
                continue
            name = result.movements[left].ranges[segment].angle
            tl = truth[left]["ranges"].get(name)
            tr = truth[right]["ranges"].get(name)
            if tl is None or tr is None or abs(tr - tl) < EVEN_DEG:
                continue
            true_side = "right" if tr > tl else "left"
            rows.append({"case": case.name, "check": f"{pair.replace('_', ' ')} {segment}: larger side",
                         "value": a["difference_deg"], "unit": f"deg (true {tr - tl:+.1f})",
                         "ok": a["larger"] == true_side})
    return rows


def reset_rows(case: Case, workdir: Path) -> list[dict]:
    from imu.analysis import analyze, open_source
    from imu.sim.mobility import resets_truth

    _, path = _write(case, workdir)
    analysis = analyze(open_source(path))
    found = [e for e in analysis.events if e["event"] == "posture_reset"]
    if case.scenario != "desk_resets":
        return [{"case": case.name, "check": "resets found (none done)", "value": float(len(found)),
                 "unit": "", "ok": not found, "tp": 0, "fp": len(found), "fn": 0}]
    truth = resets_truth(case.duration_s, case.seed)
    hit = [any(r["start_s"] - MATCH_S <= e["t"] <= r["end_s"] + MATCH_S for e in found) for r in truth["resets"]]
    true_pos = [e for e in found if any(r["start_s"] - MATCH_S <= e["t"] <= r["end_s"] + MATCH_S
                                        for r in truth["resets"])]
    decoys = [d["kind"] for d in truth["decoys"]
              if any(d["start_s"] - MATCH_S <= e["t"] <= d["end_s"] + MATCH_S for e in found)]
    tp, fp, fn = len(true_pos), len(found) - len(true_pos), hit.count(False)
    return [{"case": case.name, "check": f"resets found {sum(hit)} of {len(hit)}, false {fp}"
                                         + (f" ({', '.join(decoys)})" if decoys else ""),
             "value": float(len(found)), "unit": "found", "ok": fp == 0 and fn == 0,
             "tp": tp, "fp": fp, "fn": fn}]


def run_mobility_validation(quick: bool = False, progress=None) -> list[dict]:
    rows = []
    mobility, resets = default_mobility_cases(quick), default_reset_cases(quick)
    with tempfile.TemporaryDirectory(prefix="imu-validate-mobility-") as tmp:
        for i, case in enumerate(mobility + resets, 1):
            if progress:
                progress(f"mobility and resets {i}/{len(mobility) + len(resets)}: {case.name}")
            rows += (mobility_rows if case in mobility else reset_rows)(case, Path(tmp))
    return rows


def reset_scores(rows: list[dict]) -> tuple[float, float]:
    """(precision, recall) of reset detection over all reset rows."""
    tp = sum(r.get("tp", 0) for r in rows)
    fp = sum(r.get("fp", 0) for r in rows)
    fn = sum(r.get("fn", 0) for r in rows)
    return (tp / (tp + fp) if tp + fp else 1.0), (tp / (tp + fn) if tp + fn else 1.0)


def format_mobility_table(rows: list[dict]) -> str:
    lines = format_checks(
        "Mobility test and posture resets against truth:",
        f"every range within {RANGE_TOL_DEG:g} deg, the larger side right where the true sides differ by "
        f"{EVEN_DEG:g} deg or more, unmeasurable ranges not given; resets: no miss, no false one, none "
        "on fidgety sessions", rows, (38, 60, 18), "{:+.2f}")
    precision, recall = reset_scores(rows)
    return "\n".join(lines[:-1] + [f"posture resets: precision {precision:.2f}, recall {recall:.2f}",
                                   lines[-1]])
