"""`python -m imu.live [flags]`: the same as `imu live`."""

import argparse
import sys

from imu.live.command import add_live_arguments, cmd_live

parser = add_live_arguments(argparse.ArgumentParser(prog="imu live", description=(
    "Live slouch alerts: connect, calibrate, monitor, alert, record.")))
sys.exit(cmd_live(parser.parse_args()))
