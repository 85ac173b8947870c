"""The flags of `imu live`, in a module of their own: building the `imu` command's parser
must not load the live loop (Bluetooth, the session, the sinks) for every command."""

from __future__ import annotations

import argparse


def add_live_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p = parser
    p.add_argument("--virtual", nargs="?", const="", default=None, metavar="SCENARIO|CSV",
                   help="simulated sensors on a virtual radio: a scenario (default desk) or a "
                        "CSV interchange file")
    p.add_argument("--speed", type=float, default=1.0, help="virtual only: session seconds per second")
    p.add_argument("-o", "--output", help="session file (default imu-DATE-TIME.imu here)")
    p.add_argument("--jsonl", action="store_true", help="events as JSON lines on stdout, no status line")
    p.add_argument("--duration", type=float, help="stop after this many session seconds")
    p.add_argument("--profile", help="per-person profile (thresholds, sensors, calibration)")
    p.add_argument("--sensors", dest="sensors_file", help="sensor-choice JSON file")
    p.add_argument("--lsl", action="store_true", help="stream angles to a Lab Streaming Layer outlet")
    p.add_argument("--no-desktop", dest="desktop", action="store_false", help="no desktop notifications")
    p.add_argument("--no-buzz", dest="buzz", action="store_false", help="no buzz on the thoracic sensor")
    p.add_argument("--sacral", action="store_true", help="virtual scenario: also wear a sacral sensor")
    p.add_argument("--reuse-calibration", action="store_true",
                   help="skip the guided calibration; use the profile's last one")
    p.add_argument("--no-report", dest="report", action="store_false", help="no report at the end")
    p.add_argument("--seed", type=int, default=0, help="virtual scenario seed")
    p.add_argument("--real-only", action="store_true",
                   help="exit (code 3) when no real sensor connects, instead of running virtual ones")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no status line: instructions, alerts and errors only")
    p.add_argument("--reset", action="store_true",
                   help="guide a posture reset once calibrated (any time later: p then Enter)")
    p.add_argument("--test", choices=["mobility"],
                   help="mobility: the guided thoracic mobility test (flexion, extension, side bending "
                        "and rotation both ways); the session ends when it is done")
    return p
