"""`imu live`: the live loop (connect, guided calibration, monitor, alert, record).

Entry points: `run_live(LiveOptions(...)) -> exit code`, `add_live_arguments(parser)` and
`cmd_live(args)` for the CLI, `main_job()` for the README (real sensors, else a virtual
desk session at 10x). `python -m imu.live ...` runs it directly.
"""

import importlib

# where each entry point lives; loaded on first use, so that `imu.live.arguments` (the CLI's
# parser) does not pull in the live loop
_HOMES = {"LiveOptions": "imu.live.session", "LiveSession": "imu.live.session",
          "add_live_arguments": "imu.live.arguments"}

__all__ = ["LiveOptions", "LiveSession", "add_live_arguments", "cmd_live", "main_job",
           "options_from_args", "run_live", "run_live_async", "run_session"]


def __getattr__(name: str):
    if name not in __all__:
        raise AttributeError(f"module 'imu.live' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES.get(name, "imu.live.command")), name)
