"""The `imu` command. Each subcommand is a thin edge over the package; bad input gives one
line naming the problem and a non-zero exit, never a traceback (IMU_DEBUG=1 shows one)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from imu import __version__

EXIT_BAD_INPUT = 2


class UserError(Exception):
    """A problem the user can fix; printed as one line."""


def _thresholds(args):
    from imu.profile import load_thresholds

    return load_thresholds(args.thresholds) if getattr(args, "thresholds", None) else None


# --- simulate ------------------------------------------------------------------------
def write_simulated_session(sim, out: Path, scenario: str, seed: int,
                            extra_metadata: dict | None = None) -> Path:
    """Write a simulated session as a real session file, with its truth beside it.
    extra_metadata: e.g. the person (`profile`), `group` and `started_local` of a cohort."""
    from imu.recording.session import SessionWriter

    sensors = [
        {"location": loc, "device": info.get("device", "imu-fw"), "name": f"IMU-{loc.upper()}-SIM",
         "address": f"SIM:{i:02d}", "firmware": "sim-1", "details": {"rate_hz": info["rate_hz"]}}
        for i, (loc, info) in enumerate(sim.sensors.items())
    ]
    metadata = {"software": f"imu {__version__}", "source": "simulated", "scenario": scenario,
                "seed": seed, "duration_s": sim.duration_s, **(extra_metadata or {})}
    with SessionWriter(out, metadata, sensors) as writer:
        writer.add_notifications(sim.notifications)
    sim.truth.save(truth_path(out))
    return out


def truth_path(session_path: Path) -> Path:
    return Path(str(session_path) + ".truth.npz")


def cmd_simulate(args) -> int:
    from imu.sim import SCENARIOS, simulate

    if args.scenario == "cohort":  # many people over many days: a folder of sessions
        from imu.cohort.commands import cmd_simulate_cohort

        return cmd_simulate_cohort(args)
    if args.scenario not in SCENARIOS:
        raise UserError(f"unknown scenario {args.scenario!r}; known: {', '.join(sorted(SCENARIOS))}")
    out = Path(args.output)
    if out.exists():
        raise UserError(f"{out} exists; session files are never overwritten")
    sim = simulate(args.scenario, args.duration, args.seed, sacral=True if args.sacral else None,
                   loss_rate=args.loss)
    if out.suffix.lower() == ".csv":
        from imu.sim import to_interchange_csv

        to_interchange_csv(sim, out)
        sim.truth.save(truth_path(out))
    else:
        write_simulated_session(sim, out, args.scenario, args.seed)
    print(f"wrote {out} ({sim.duration_s:.0f} s, sensors: {', '.join(sim.sensors)}); truth in {truth_path(out).name}")
    return 0


# --- report --------------------------------------------------------------------------
def make_report(input_path, out_dir, thresholds=None) -> dict:
    from imu.analysis import analyze, open_source
    from imu.core.stability import AccCollector
    from imu.report import write_report

    source = open_source(input_path, thresholds)
    acc = AccCollector()
    analysis = analyze(source, on_step=acc)
    return write_report(analysis, Path(out_dir), source.describe(), acc.acc)


def cmd_report(args) -> int:
    out_dir = Path(args.output or (str(args.input) + ".report"))
    paths = make_report(args.input, out_dir, _thresholds(args))
    summary = json.loads(Path(paths["summary.json"]).read_text())
    slouch = summary.get("slouch", {})
    print(f"report: {paths['report.html']}")
    print(f"  {summary.get('duration_s', 0) / 60:.1f} min, {slouch.get('count', 0)} slouch events, "
          f"{summary.get('alerts', {}).get('count', 0)} alerts, calibration "
          f"{summary.get('calibration', {}).get('quality')}")
    return 0


# --- export, annotate, decode ----------------------------------------------------------
def cmd_export(args) -> int:
    from imu.recording.export import export_session

    out = Path(args.output or Path(args.input).with_suffix("." + args.format))
    if out.exists():
        raise UserError(f"{out} exists; choose another -o")
    export_session(args.input, out, args.format)
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

    payload = parse_hex(" ".join(args.hex))
    print(json.dumps(describe(args.device, payload, args.mode), indent=2))
    return 0


# --- validate ------------------------------------------------------------------------
def cmd_validate(args) -> int:
    from imu.validate import format_table, run_validation

    from imu.validate_stability import format_stability_table, run_stability_validation

    rows = run_validation(quick=args.quick, seeds=args.seeds)
    print(format_table(rows))
    print()
    print(format_stability_table(run_stability_validation(quick=args.quick)))
    return 0


# --- live, scan, demo -----------------------------------------------------------------
def cmd_scan(args) -> int:
    import asyncio

    from imu.ble.scan import BleError, scan

    async def look() -> list[dict]:
        if not args.virtual:
            return await scan(args.timeout)
        from imu.ble.clock import SessionClock
        from imu.live.virtual import VirtualRig
        from imu.sim.radio import VirtualRadio

        async with VirtualRadio() as radio:  # three simulated sensors advertising nearby
            await radio.power_on()
            rig = VirtualRig.from_spec(radio, SessionClock(), "smoke", sacral=True)
            await rig.start()
            try:
                return await scan(args.timeout, backend=radio)
            finally:
                await rig.stop()

    try:
        found = asyncio.run(look())
    except BleError as err:
        raise UserError(str(err)) from None
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

    return run_live_dashboard(options_from_args(args))


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
    result = replay(args.input, speed=args.speed, from_s=args.from_s, sinks=sinks)
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
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="imu", description="Open wearable spine-motion pipeline.")
    p.add_argument("--version", action="version", version=f"imu {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("simulate", help="write a simulated session (with ground truth)")
    s.add_argument("scenario")
    s.add_argument("-o", "--output", required=True, help="session file (.imu) or CSV (.csv)")
    s.add_argument("--duration", type=float, help="seconds (scenario default otherwise)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--sacral", action="store_true", help="also wear a sacral sensor")
    s.add_argument("--loss", type=float, help="fraction of notifications lost")
    from imu.cohort.commands import add_parsers as add_cohort_parsers, add_simulate_arguments

    add_simulate_arguments(s)
    s.set_defaults(func=cmd_simulate)

    s = sub.add_parser("report", help="summary.json, events.csv and report.html for a session or CSV")
    s.add_argument("input")
    s.add_argument("-o", "--output", help="output folder (default INPUT.report)")
    s.add_argument("--thresholds", help="JSON profile of thresholds")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("export", help="export a session's samples to Parquet or CSV")
    s.add_argument("input")
    s.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    s.add_argument("-o", "--output")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("annotate", help="add a labelled span to a session file")
    s.add_argument("input")
    s.add_argument("--from", dest="from_s", type=float, required=True)
    s.add_argument("--to", dest="to_s", type=float, required=True)
    s.add_argument("--label", required=True)
    s.set_defaults(func=cmd_annotate)

    s = sub.add_parser("decode", help="decode one notification given as hex")
    s.add_argument("--device", required=True, choices=("imu-fw", "movella-dot", "witmotion"))
    s.add_argument("--mode", type=int, help="Movella DOT payload mode id")
    s.add_argument("hex", nargs="+")
    s.set_defaults(func=cmd_decode)

    s = sub.add_parser("validate", help="angle and event accuracy against simulated truth")
    s.add_argument("--quick", action="store_true", help="fewer, shorter sessions")
    s.add_argument("--seeds", type=int, default=3)
    s.set_defaults(func=cmd_validate)

    from imu.live import add_live_arguments

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
    s.set_defaults(func=cmd_replay)

    s = sub.add_parser("scan", help="list BLE devices nearby and which sensor profile each matches")
    s.add_argument("--timeout", type=float, default=5.0)
    s.add_argument("--virtual", action="store_true", help="scan a virtual radio with simulated sensors")
    s.set_defaults(func=cmd_scan)

    s = sub.add_parser("demo", help="imu live on real sensors, or a virtual desk session at 10x")
    s.add_argument("-o", "--output", help="session file")
    s.set_defaults(func=cmd_demo)
    add_cohort_parsers(sub)  # index, progress, cohort
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except ImportError as err:  # an optional part that is not installed
        extra = {"pyqtgraph": "dashboard", "PySide6": "dashboard", "pylsl": "lsl",
                 "dask": "cohort", "distributed": "cohort"}.get(
            (err.name or "").split(".")[0], "dev")
        print(f"imu: error: {err.name or err} is not installed; pip install -e '.[{extra}]'",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # output piped into `head` and the like: not an error
        sys.stderr.close()
        return 0
    except (UserError, ValueError, OSError) as err:
        if os.environ.get("IMU_DEBUG"):
            raise
        print(f"imu: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as err:  # a bug: still one line, the traceback on request
        if os.environ.get("IMU_DEBUG"):
            raise
        print(f"imu: internal error ({type(err).__name__}: {err}); rerun with IMU_DEBUG=1 "
              "for details", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
