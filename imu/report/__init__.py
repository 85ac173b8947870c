"""Post-session outputs: summary.json (contract "imu.summary/1"), events.csv, report.html."""

from imu.report.summary import SCHEMA, build_summary
from imu.report.writer import write_report

__all__ = ["SCHEMA", "build_summary", "write_report"]
