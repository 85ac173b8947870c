"""`imu live`: the live loop (connect, guided calibration, monitor, alert, record).

Entry points: `run_live(LiveOptions(...)) -> exit code`, `add_live_arguments(parser)` and
`cmd_live(args)` for the CLI, `main_job()` for the README (real sensors, else a virtual
desk session at 10x). `python -m imu.live ...` runs it directly.
"""

from imu.live.command import (add_live_arguments, cmd_live, main_job, options_from_args, run_live,
                              run_live_async, run_session)
from imu.live.session import LiveOptions, LiveSession

__all__ = ["LiveOptions", "LiveSession", "add_live_arguments", "cmd_live", "main_job",
           "options_from_args", "run_live", "run_live_async", "run_session"]
