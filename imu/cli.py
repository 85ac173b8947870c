"""The `imu` command. Each subcommand is a thin edge over the package; bad input gives one
line naming the problem and a non-zero exit, never a traceback (IMU_DEBUG=1 shows one)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

from imu import __version__
from imu.errors import UserError

EXIT_BAD_INPUT = 2


class LazyHelp:
    """Help text computed only when help is shown: listing the scenarios or labels imports
    modules that would slow every command's start by about a second."""

    def __init__(self, make) -> None:
        self.make = make

    def __str__(self) -> str:
        return self.make()

    def strip(self) -> str:
        return str(self).strip()

    def __mod__(self, params) -> str:
        return str(self) % params

    def __bool__(self) -> bool:
        return True


def _scenario_help() -> str:
    from imu.sim import SCENARIOS

    return "one of: " + ", ".join(sorted(SCENARIOS))


def _label_help() -> str:
    from imu.labels import known_labels

    return "one of: " + ", ".join(known_labels())


def _mode_help() -> str:
    from imu.protocols.movella_dot import MODES

    return "Movella DOT payload mode: " + ", ".join(f"{m} ({p.name})" for m, p in MODES.items())


def _thresholds(args):
    from imu.profile import load_thresholds

    return load_thresholds(args.thresholds) if getattr(args, "thresholds", None) else None


def _mapping(args):
    """--map FILE, with --column / --sensor pairs laid over it (None: the sidecar, if any)."""
    from imu.reading import sidecar_mapping
    from imu.recording.mapping import load_mapping, with_pairs

    path = args.map or sidecar_mapping(Path(args.input))
    base = load_mapping(path) if path else None
    return with_pairs(base, args.column or [], args.sensor or [])


# --- simulate ------------------------------------------------------------------------
def _location_values(pairs, flag: str) -> dict[str, float]:
    out = {}
    for pair in pairs or ():
        location, sep, value = pair.partition("=")
        try:
            out[location.strip()] = float(value)
        except ValueError:
            raise UserError(f"{flag} takes LOCATION=HZ (e.g. lumbar=5), got {pair!r}") from None
        if not sep:
            raise UserError(f"{flag} takes LOCATION=HZ (e.g. lumbar=5), got {pair!r}")
    return out


def cmd_simulate(args) -> int:
    from imu.sim import SCENARIOS, simulate
    from imu.sim.write import truth_path, write_simulated_session

    if args.scenario == "cohort":  # many people over many days: a folder of sessions
        from imu.cohort.commands import cmd_simulate_cohort

        return cmd_simulate_cohort(args)
    if args.scenario not in SCENARIOS:
        raise UserError(f"unknown scenario {args.scenario!r}; known: {', '.join(sorted(SCENARIOS))}")
    out = Path(args.output)
    if out.exists():
        raise UserError(f"{out} exists; session files are never overwritten")
    csv_rates = _location_values(args.csv_rate, "--csv-rate")
    if (csv_rates or args.raw_only) and out.suffix.lower() != ".csv":
        raise UserError("--csv-rate and --raw-only write CSV files: give -o NAME.csv")
    sim = simulate(args.scenario, args.duration, args.seed, sacral=True if args.sacral else None,
                   loss_rate=args.loss, rates_hz={loc: 100.0 for loc in csv_rates} or None)
    if out.suffix.lower() == ".csv":
        from imu.sim import to_interchange_csv

        to_interchange_csv(sim, out, rates_hz=csv_rates, raw_only=set(args.raw_only or ()))
        sim.truth.save(truth_path(out))
    else:
        write_simulated_session(sim, out, args.scenario, args.seed)
    print(f"wrote {out} ({sim.duration_s:.0f} s, sensors: {', '.join(sim.sensors)}); truth in {truth_path(out).name}")
    return 0


# --- report --------------------------------------------------------------------------
def cmd_report(args) -> int:
    from imu.report.make import make_report

    out_dir = Path(args.output or (str(args.input) + ".report"))
    paths = make_report(args.input, out_dir, _thresholds(args), _mapping(args), args.calibration,
                        not args.no_bends, args.profile, args.quiet)
    summary = json.loads(Path(paths["summary.json"]).read_text())
    slouch = summary.get("slouch", {})
    print(f"report: {paths['report.html']}")
    print(f"  {summary.get('duration_s', 0) / 60:.1f} min, {slouch.get('count', 0)} slouch events, "
          f"{summary.get('alerts', {}).get('count', 0)} alerts, calibration "
          f"{summary.get('calibration', {}).get('quality')}")
    return 0


# --- export, annotate, decode ----------------------------------------------------------
def cmd_export(args) -> int:
    from imu.export import export_analysis, export_session

    suffix = "" if args.what == "samples" else f".{args.what}"
    out = Path(args.output or Path(args.input).with_suffix(f"{suffix}.{args.format}"))
    if out.exists():
        raise UserError(f"{out} exists; choose another -o")
    if args.what == "samples":
        export_session(args.input, out, args.format)
    else:
        export_analysis(args.input, out, args.format, args.what, _thresholds(args))
    print(f"wrote {out}")
    return 0


def cmd_annotate(args) -> int:
    from imu.recording.session import annotate

    if args.to_s <= args.from_s:
        raise UserError("--to must be after --from")
    annotate(args.input, args.from_s, args.to_s, args.label)
    print(f"annotated {args.input}: {args.label} {args.from_s:g}-{args.to_s:g} s")
    return 0


def cmd_decode(args) -> int:
    from imu.protocols.describe import describe, parse_hex

    from imu.report.summary import json_safe

    payload = parse_hex(" ".join(args.hex))
    fields = describe(args.device, payload, args.mode)
    text = json.dumps(fields, allow_nan=True)
    if "NaN" in text or "Infinity" in text:  # JSON has no NaN: show null and say why
        fields = json_safe(fields)
        fields["problems"] = fields.get("problems", []) + [
            "non-finite values (NaN or infinity) shown as null: the pipeline drops such samples"]
    print(json.dumps(fields, indent=2, allow_nan=False))
    return 0


# --- validate ------------------------------------------------------------------------
def cmd_validate(args) -> int:
    """Simulated truth, then the real recordings; exit 1 when any check is outside its limit."""
    import time

    from imu.validate import format_table, run_validation
    from imu.validate_real import format_real_table, run_real_validation
    from imu.validate_stability import format_stability_table, run_stability_validation

    began = time.monotonic()

    def progress(text: str) -> None:
        if not args.quiet:
            print(f"[{time.monotonic() - began:5.0f} s] {text}", file=sys.stderr, flush=True)

    if args.real_only:
        results, rows = [], []
    else:
        results = run_validation(quick=args.quick, seeds=args.seeds, progress=progress)
        print(format_table(results), flush=True)
        print(flush=True)
        rows = run_stability_validation(quick=args.quick, progress=progress)
        print(format_stability_table(rows), flush=True)
        print(flush=True)
    real_ok = True
    try:
        progress("real recordings")
        real = run_real_validation(Path(args.real) if args.real else None, progress=progress)
    except FileNotFoundError as err:
        if args.real:  # asked for explicitly: not having it is an error
            raise UserError(str(err)) from None
        print(f"{err} (point --real at a folder holding sacral-running/)")
    else:
        print(format_real_table(real))
        real_ok = all(ok for *_, ok in real.checks())
    more_failed = 0  # calibration, then issue 13's sitting and lifts, mobility and resets
    if not args.real_only:
        from imu.validate import calibration_validation, mobility_validation, training_validation

        for validation in (calibration_validation, training_validation, mobility_validation):
            table, failed_here = validation(quick=args.quick, progress=progress)
            print(table, flush=True)
            print(flush=True)
            more_failed += failed_here
    failed = (sum(bool(r.failures()) for r in results) + sum(not r["ok"] for r in rows) + (not real_ok)
              + more_failed)
    if failed:
        print(f"\nvalidation FAILED: {failed} case(s) or check(s) outside their limits", file=sys.stderr)
        return 1
    print("\nvalidation passed: every check within its limit")
    return 0


# --- live, scan, demo -----------------------------------------------------------------
def cmd_scan(args) -> int:
    import asyncio

    from imu.live.scan import scan_nearby
    from imu.progress import progress

    with progress("scanning", total=args.timeout, quiet=args.quiet,
                  unit=lambda s: f"{s:.0f} s") as bar:
        found = asyncio.run(scan_nearby(args.timeout, args.virtual, bar))  # no Bluetooth: BleError
    if not found:
        print("no devices found")
    for d in found:
        print(f"{d['address']:20s} {d['rssi']:>5} dBm  {d['profile'] or '-':12s} {d['name'] or ''}")
    return 0


def cmd_live(args) -> int:
    from imu.live import cmd_live as run_live_command
    from imu.live.command import options_from_args

    if not args.dashboard:
        return run_live_command(args)
    from dashboards.live_runner import run_live_dashboard

    return run_live_dashboard(options_from_args(args),
                              fallback=not (args.real_only or args.sensors_file))


def cmd_replay(args) -> int:
    if args.screenshot:
        import dashboards

        if args.at is None:
            raise UserError("--screenshot needs --at T (session seconds)")
        print(f"wrote {dashboards.screenshot(args.input, args.screenshot, args.at)}")
        return 0
    if args.dashboard:
        import dashboards

        return dashboards.run_replay_dashboard(args.input, args.speed or 1.0, args.from_s)
    from imu.live.status import describe_event
    from imu.live.sinks import TerminalAlertSink
    from imu.replay import AlertSink, JsonlSink, replay

    class PrintSink:  # the same event lines `imu live` prints
        def step(self, update) -> None:
            for event in update.events:
                if event["event"] != "alert":
                    print(describe_event(event), flush=True)

    sinks = [JsonlSink(sys.stdout)] if args.jsonl else [PrintSink()]
    if args.alerts or not args.jsonl:
        terminal = TerminalAlertSink(lambda text: print(text, flush=True))
        sinks.append(AlertSink(terminal.alert))
    if args.lsl:
        from imu.lsl import lsl_sink_for

        sinks.append(lsl_sink_for(args.input))
    from imu.progress import progress
    from imu.report.overview import session_facts
    from imu.timefmt import clock

    total = session_facts(args.input, "csv" if str(args.input).lower().endswith(".csv")
                          else "session").end_hint_s
    with progress("replaying", total=total, quiet=args.quiet or args.jsonl, unit=clock) as bar:
        class Position:  # where the replay is, on the session timeline
            def step(self, update) -> None:
                bar.advance_to(update.t)

        result = replay(args.input, speed=args.speed, from_s=args.from_s, sinks=[*sinks, Position()],
                        calibration_spans=args.calibration, bends=not args.no_bends,
                        mapping=_mapping(args))
    if not args.jsonl:
        a = result.analysis
        print(f"replayed {a.duration_s / 60:.1f} min: {len(a.episodes)} slouch events, "
              f"{len(a.alerts)} alerts")
    return 0


def cmd_demo(args) -> int:
    """The README's main job: `imu live` on real sensors, or on virtual ones when none exist."""
    from imu.live import main_job

    return main_job(args.output)


# --- parser --------------------------------------------------------------------------
def _calibration_span(text: str) -> tuple[float, float]:
    """FROM:TO in session seconds, for --calibration."""
    try:
        start, end = (float(x) for x in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected FROM:TO in seconds, e.g. 10:40, got {text!r}") from None
    if not (0 <= start < end):
        raise argparse.ArgumentTypeError(f"FROM must be >= 0 and before TO, got {text!r}")
    return start, end


def _add_mapping_arguments(s) -> None:
    s.add_argument("--map", metavar="FILE", help="import mapping (TOML or JSON) for a CSV or XDF file in another "
                   "layout; default: INPUT.map.toml when it exists (docs/data-formats.md)")
    s.add_argument("--column", action="append", metavar="NAME=COLUMN",
                   help="read interchange column NAME from the file's COLUMN (e.g. time_s=Time); repeatable")
    s.add_argument("--sensor", action="append", metavar="NAME=LOCATION",
                   help="the file's sensor NAME is worn at LOCATION (thoracic, lumbar, sacral or an alias "
                   "such as T4, L1, pelvis); repeatable")


def _add_calibration_arguments(s) -> None:
    s.add_argument("--calibration", metavar="FROM:TO", type=_calibration_span, action="append",
                   help="a span (session seconds) holding a calibration: a still, upright moment, "
                        "then bends if any; repeat for a sensor re-attached later. Each applies "
                        "to the recording up to the next one")
    s.add_argument("--no-bends", action="store_true",
                   help="the recording holds no calibration bends: flexion axes from the "
                        "sensors' mounting")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="imu", description="Open wearable spine-motion pipeline.")
    p.add_argument("--version", action="version", version=f"imu {__version__}")
    sub = p.add_subparsers(dest="command")

    s = sub.add_parser("simulate", help="write a simulated session (with ground truth)")
    s.add_argument("scenario", help=LazyHelp(_scenario_help))
    s.add_argument("-o", "--output", required=True, help="session file (.imu) or CSV (.csv)")
    s.add_argument("--duration", type=float, help="seconds (scenario default otherwise)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--sacral", action="store_true", help="also wear a sacral sensor")
    s.add_argument("--loss", type=float, help="fraction of notifications lost")
    s.add_argument("--csv-rate", action="append", metavar="LOCATION=HZ",
                   help="CSV only: write this sensor at a lower rate (a divisor of 100 Hz, e.g. lumbar=5)")
    s.add_argument("--raw-only", action="append", metavar="LOCATION",
                   help="CSV only: leave this sensor's quaternion empty (acceleration and rate only)")
    from imu.cohort.commands import add_parsers as add_cohort_parsers, add_simulate_arguments

    add_simulate_arguments(s)
    s.set_defaults(func=cmd_simulate)

    s = sub.add_parser("report", help="summary.json, events.csv and report.html for a session or CSV")
    s.add_argument("input")
    s.add_argument("-o", "--output", help="output folder (default INPUT.report)")
    s.add_argument("--thresholds", help="JSON profile of thresholds")
    _add_mapping_arguments(s)
    _add_calibration_arguments(s)
    s.add_argument("--profile", help="the person, for the comparison with their earlier sessions "
                                     "(default: the profile the session names)")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("export", help="export a session's samples, angles or events to Parquet or CSV")
    s.add_argument("input")
    s.add_argument("--what", choices=("samples", "angles", "events"), default="samples",
                   help="samples: every sensor sample (default); angles: the angle time series "
                        "on the analysis grid; events: slouches, alerts, calibration, gaps")
    s.add_argument("--thresholds", help="JSON profile of thresholds (angles, events)")
    s.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    s.add_argument("-o", "--output")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("annotate", help="add a labelled span to a session file")
    s.add_argument("input")
    s.add_argument("--from", dest="from_s", type=float, required=True)
    s.add_argument("--to", dest="to_s", type=float, required=True)
    s.add_argument("--label", required=True, help=LazyHelp(_label_help))
    s.set_defaults(func=cmd_annotate)

    s = sub.add_parser("decode", help="decode one notification given as hex")
    s.add_argument("--device", required=True, choices=("imu-fw", "movella-dot", "witmotion"))
    s.add_argument("--mode", type=int, help=LazyHelp(_mode_help))
    s.add_argument("hex", nargs="+")
    s.set_defaults(func=cmd_decode)

    s = sub.add_parser("validate", help="accuracy against simulated truth and real recordings; "
                                        "exits 1 when a check fails")
    s.add_argument("--quick", action="store_true", help="fewer, shorter sessions")
    s.add_argument("--seeds", type=int, default=3)
    s.add_argument("--real", metavar="DIR",
                   help="folder of real recordings (default: ../shared/realdata beside the checkout, "
                        "or $IMU_REALDATA; skipped with a note when absent)")
    s.add_argument("--real-only", action="store_true", help="only the real recordings")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    s.set_defaults(func=cmd_validate)

    from imu.live.arguments import add_live_arguments

    s = sub.add_parser("live", help="live slouch alerts: calibrate, monitor, alert, record")
    add_live_arguments(s)
    s.add_argument("--dashboard", action="store_true", help="show the live dashboard (pyqtgraph)")
    s.set_defaults(func=cmd_live)

    s = sub.add_parser("replay", help="play a recorded session through the live pipeline")
    s.add_argument("input")
    s.add_argument("--speed", type=float, default=0.0, help="0 = as fast as possible (default)")
    s.add_argument("--from", dest="from_s", type=float, default=0.0, help="start at session time T")
    s.add_argument("--jsonl", action="store_true", help="events as JSON lines on stdout")
    s.add_argument("--alerts", action="store_true", help="fire the alert sinks")
    s.add_argument("--dashboard", action="store_true", help="show the replay viewer")
    s.add_argument("--lsl", action="store_true", help="publish angles and orientations over LSL")
    s.add_argument("--screenshot", metavar="PNG", help="render the dashboard at --at T and exit")
    s.add_argument("--at", type=float, help="session time for --screenshot")
    _add_mapping_arguments(s)
    _add_calibration_arguments(s)
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_replay)

    s = sub.add_parser("scan", help="list BLE devices nearby and which sensor profile each matches")
    s.add_argument("--timeout", type=float, default=5.0)
    s.add_argument("--virtual", action="store_true", help="scan a virtual radio with simulated sensors")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_scan)

    s = sub.add_parser("demo", help="imu live on real sensors, or a virtual desk session at 10x")
    s.add_argument("-o", "--output", help="session file")
    s.set_defaults(func=cmd_demo)
    add_cohort_parsers(sub)  # index, progress, cohort
    return p


def os_error_line(err: OSError) -> str:
    """An OSError as one line naming the path and the problem in words (no "[Errno 13]")."""
    if err.filename is None or err.errno is None:
        return str(err)
    from imu.report.writer import os_error_words

    return f"{err.filename}: {os_error_words(err)}"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # `imu` alone: what it can do
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        if os.environ.get("IMU_DEBUG"):
            return args.func(args)
        # library warnings (numpy on an all-NaN slice, pandas dtypes) are not for the user: what
        # matters reaches the report's notes or the one error line
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return args.func(args)
    except KeyboardInterrupt:
        return 130
    except ImportError as err:  # an optional part that is not installed
        from dashboards.qtcheck import library_import_error

        system = library_import_error(err)
        if system is not None:  # a system library, not a Python package
            print(f"imu: error: {system}", file=sys.stderr)
            return EXIT_BAD_INPUT
        extra = {"pyqtgraph": "dashboard", "PySide6": "dashboard", "pylsl": "lsl",
                 "dask": "cohort", "distributed": "cohort"}.get(
            (err.name or "").split(".")[0], "dev")
        print(f"imu: error: {err.name or err} is not installed; pip install -e '.[{extra}]'",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # output piped into `head` and the like: not an error
        sys.stderr.close()
        return 0
    except UserError as err:  # every error of the package a user can fix (imu.errors)
        if os.environ.get("IMU_DEBUG"):
            raise
        print(f"imu: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (ValueError, OSError) as err:  # bad input found by a library, or the file system
        if os.environ.get("IMU_DEBUG"):
            raise
        text = os_error_line(err) if isinstance(err, OSError) else str(err)
        print(f"imu: error: {text}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as err:  # a bug: still one line, the traceback on request
        if os.environ.get("IMU_DEBUG"):
            raise
        print(f"imu: internal error ({type(err).__name__}: {err}); rerun with IMU_DEBUG=1 "
              "for details", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
