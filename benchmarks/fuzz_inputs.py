"""Fuzz the `imu` command with mutated inputs and count how each case ended.

Families: CSV interchange files, session files, BLE notifications (`imu decode` and the
decoders), threshold files. Each case runs `imu.cli.main` in-process (stderr captured) under
a time limit, and ends as one of:

  ok            exit 0
  clean_error   exit 2 with exactly one "imu: error:" line
  internal      "imu: internal error" (a bug)
  traceback     an exception escaped main() (a bug)
  hang          over the time limit (a bug)
  noisy         a non-zero exit with more than one stderr line (a bug)

Usage: python benchmarks/fuzz_inputs.py [--cases N] [--seed S] [--family NAME ...]
Prints a table per family and the first reproducer of every bug kind; exits 1 if any bug.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from imu import cli

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from mutations import mutate_bytes, mutate_text  # noqa: E402  (shared with the property tests)
from imu.protocols import DEVICES
from imu.sim import simulate, to_interchange_csv
from imu.sim.write import write_simulated_session

LIMIT_S = 20.0
BUGS = ("internal", "traceback", "hang", "noisy")


class Timeout(Exception):
    pass


def run_cli(argv: list[str]) -> tuple[str, str]:
    """(outcome, stderr) of one in-process `imu` run."""
    err = io.StringIO()

    def alarm(*_):
        raise Timeout

    signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, LIMIT_S)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            rc = cli.main(argv)
    except Timeout:
        return "hang", err.getvalue()
    except BaseException as exc:  # noqa: BLE001 - anything escaping main() is the finding
        return "traceback", f"{type(exc).__name__}: {exc}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    text = err.getvalue()
    lines = [line for line in text.splitlines() if line.strip()]
    if "internal error" in text:
        return "internal", text
    if rc == 0:
        return "ok", text
    if rc == 2 and len(lines) == 1 and lines[0].startswith("imu: error:"):
        return "clean_error", text
    return "noisy", text


SESSION_SQL = [
    "INSERT INTO calibrations (host_time, data) VALUES (?, ?)",
    "INSERT INTO link_events (sensor_id, host_time, kind) VALUES (?, ?, ?)",
    "INSERT INTO annotations (t_start, t_end, label, source) VALUES (?, ?, ?, 'fuzz')",
    "INSERT INTO notifications (sensor_id, host_time, payload) VALUES (?, ?, ?)",
    "INSERT INTO meta (key, value) VALUES (?, ?)",
]
ODD_VALUES = [0, -1, 1.5, 1e12, float("inf"), float("nan"), "text", "", None, b"\x00\x01", "{}", "[1]",
              '{"ok": true}', '{"slouch_enter_deg": 0}', 2**62]


def forge_session(rng: random.Random, path: Path) -> None:
    """Append forged rows (the schema only allows appends) or damage the bytes."""
    if rng.random() < 0.4:
        path.write_bytes(mutate_bytes(rng, path.read_bytes()))
        return
    with sqlite3.connect(path) as conn:
        for _ in range(rng.randint(1, 4)):
            sql = rng.choice(SESSION_SQL)
            params = [rng.choice(ODD_VALUES) for _ in range(sql.count("?"))]
            if "meta" in sql:
                params[0] = rng.choice(["thresholds", "person", "calibration_search", f"k{rng.random()}"])
            with contextlib.suppress(sqlite3.DatabaseError):
                conn.execute(sql, params)


def threshold_text(rng: random.Random) -> str:
    keys = ["slouch_enter_deg", "slouch_exit_deg", "alert_repeat_s", "analysis_rate_hz",
            "max_interpolation_gap_s", "heading_time_constant_s", "sagittal_zones_deg", "bends_required",
            "slouch_signal", "neutral_still_s", "no_such_key"]
    data = {rng.choice(keys): rng.choice(ODD_VALUES[:9] + [[1, 2], [60, 20], 15, 8, 100.0])
            for _ in range(rng.randint(1, 3))}
    text = json.dumps(data, default=str)
    return text if rng.random() > 0.1 else text[: rng.randrange(len(text))]


# --- families ------------------------------------------------------------------------------------
def family_cases(name: str, seeds: Path, rng: random.Random, work: Path):
    """Yield (argv, description) for one case of the family."""
    case = work / f"case-{rng.randrange(10**9)}"
    case.mkdir()
    out = case / "out"
    if name == "csv":
        path = case / "in.csv"
        path.write_text(mutate_text(rng, (seeds / "seed.csv").read_text()))
        return ["report", str(path), "-o", str(out)], path
    if name == "session":
        path = case / "in.imu"
        shutil.copy(seeds / "seed.imu", path)
        forge_session(rng, path)
        return ["report", str(path), "-o", str(out)], path
    if name == "packet":
        device = rng.choice(sorted(DEVICES))
        payload = mutate_bytes(rng, bytes(rng.randrange(256) for _ in range(rng.choice([1, 20, 32, 44, 63]))))
        argv = ["decode", "--device", device, payload.hex() or "00"]
        if device == "movella-dot" and rng.random() < 0.7:
            argv[3:3] = ["--mode", str(rng.choice([2, 26, 3, 99, -1]))]
        return argv, argv
    path = case / "thr.json"
    path.write_text(threshold_text(rng))
    return ["report", str(seeds / "seed.csv"), "-o", str(out), "--thresholds", str(path)], path.read_text()


def make_seeds(folder: Path) -> None:
    sim = simulate("smoke", None, seed=1)
    write_simulated_session(sim, folder / "seed.imu", "smoke", 1)
    to_interchange_csv(sim, folder / "full.csv")
    # a short CSV keeps each case fast: the first 20 s, every other row
    lines = (folder / "full.csv").read_text().splitlines()
    head = [lines[0]] + [ln for ln in lines[1:] if float(ln.split(",")[0]) < 20.0][::2]
    (folder / "seed.csv").write_text("\n".join(head) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=200, help="cases per family")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--family", nargs="*", default=["packet", "thresholds", "csv", "session"])
    parser.add_argument("--keep", type=Path, help="copy the first input of each bug kind here")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    found = 0
    with tempfile.TemporaryDirectory(prefix="imu-fuzz-") as tmp:
        seeds = Path(tmp) / "seeds"
        seeds.mkdir()
        make_seeds(seeds)
        for family in args.family:
            counts, examples, started = {}, {}, time.perf_counter()
            for _ in range(args.cases):
                work = Path(tempfile.mkdtemp(dir=tmp))
                argv, what = family_cases(family, seeds, rng, work)
                outcome, text = run_cli(argv)
                counts[outcome] = counts.get(outcome, 0) + 1
                if outcome in BUGS and outcome not in examples:
                    kept = what
                    if args.keep and isinstance(what, Path):
                        args.keep.mkdir(parents=True, exist_ok=True)
                        kept = args.keep / f"{family}-{outcome}{what.suffix}"
                        shutil.copy(what, kept)
                    examples[outcome] = (kept, text.strip()[:300])
                shutil.rmtree(work, ignore_errors=True)
            took = time.perf_counter() - started
            shown = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            print(f"{family:10s} {args.cases} cases in {took:.0f} s: {shown}")
            for outcome, (what, text) in examples.items():
                found += 1
                print(f"  {outcome}: {what}\n    {text}")
    return 1 if found else 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
