"""Post-session outputs: summary.json (contract "imu.summary/1"), events.csv, report.html.

The names below load on first use: the writer brings matplotlib, which parts that only need
the HTML helpers or the summary (the live mobility test, for one) should not pay for."""

from importlib import import_module

__all__ = ["SCHEMA", "build_summary", "write_report"]
_HOMES = {"SCHEMA": "imu.report.summary", "build_summary": "imu.report.summary",
          "write_report": "imu.report.writer"}


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'imu.report' has no attribute {name!r}")
