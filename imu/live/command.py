"""The `imu live` command: its flags, its entry points and the README's main job."""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import replace

from imu.ble import BleError
from imu.errors import UserError
from imu.live.arguments import add_live_arguments  # noqa: F401 (the live entry points in one place)
from imu.live.session import (EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_NO_SENSORS, LiveOptions,
                              LiveSession, NoRealSensors)

FALLBACK_SPEED = 10.0  # the virtual desk session a sensorless `imu live` runs instead


async def run_live_async(options: LiveOptions) -> int:
    return await run_session(LiveSession(options))


async def run_session(session: LiveSession) -> int:
    """Run a session; BLE and input problems become one line and an exit code."""
    try:
        return await session.run()
    except (NoRealSensors, BleError) as err:  # nothing to record from
        print(f"imu: {err}", file=sys.stderr, flush=True)
        return EXIT_NO_SENSORS
    except UserError as err:
        print(f"imu: error: {err}", file=sys.stderr, flush=True)
        return EXIT_BAD_INPUT


def run_live(options: LiveOptions, fallback: bool = False) -> int:
    """Run one live session; returns the exit code (0 ok, 2 bad input, 3 no Bluetooth or
    sensors missing, 130 interrupted before recording).

    fallback: with no real sensors (no Bluetooth, no sensor choice, none connected) say so
    in one line and run a virtual desk session at 10x instead (the README's main job).
    """
    try:
        if fallback and options.virtual is None:
            return asyncio.run(_with_fallback(options))
        return asyncio.run(run_live_async(options))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


async def _with_fallback(options: LiveOptions) -> int:
    try:
        return await LiveSession(options).run()
    except NoRealSensors as err:
        say_falling_back(err)
    except UserError as err:
        print(f"imu: error: {err}", file=sys.stderr, flush=True)
        return EXIT_BAD_INPUT
    return await run_live_async(virtual_instead(options))


def say_falling_back(err: Exception) -> None:
    why = str(err).split(";")[0]
    print(f"imu: no real sensors ({why}); running a virtual desk session at "
          f"{FALLBACK_SPEED:g}x instead", file=sys.stderr, flush=True)


def virtual_instead(options: LiveOptions) -> LiveOptions:
    """The options of the virtual desk session that replaces a sensorless real one."""
    return replace(options, virtual="", speed=FALLBACK_SPEED)


def options_from_args(args: argparse.Namespace) -> LiveOptions:
    return LiveOptions(virtual=args.virtual, speed=args.speed, output=args.output, jsonl=args.jsonl,
                       duration=args.duration, profile=args.profile, sensors_file=args.sensors_file,
                       lsl=args.lsl, desktop=args.desktop, buzz=args.buzz, seed=args.seed,
                       sacral=args.sacral, reuse_calibration=args.reuse_calibration,
                       report=args.report, quiet=args.quiet, reset=getattr(args, "reset", False),
                       test=getattr(args, "test", None))


def cmd_live(args: argparse.Namespace) -> int:
    """`imu live`: real sensors; without any, virtual ones (unless --real-only or --sensors)."""
    fallback = not (args.real_only or args.sensors_file)
    return run_live(options_from_args(args), fallback=fallback)


def main_job(output: str | None = None, profile: str | None = None) -> int:
    """The README's main job: real sensors if there are any, else a virtual desk at 10x."""
    return run_live(LiveOptions(output=output, profile=profile), fallback=True)
