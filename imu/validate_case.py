"""One validation case: a simulated session to check against its truth (shared by the
validation modules, so none of them imports another's runner)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class Case:
    name: str
    scenario: str
    seed: int
    duration_s: float | None = None
    options: dict = field(default_factory=dict)


def format_checks(title: str, limits: str, rows: list[dict], widths: tuple[int, int, int],
                  value_format: str = "{:.1f}") -> list[str]:
    """A table of checks against truth, one row per check ({"case", "check", "value", "unit",
    "ok", optional "detail"}), the last line counting those within their limits. widths:
    of the case, check and unit columns (longer text is cut)."""
    case_w, check_w, unit_w = widths
    lines = [title, f"(limits: {limits})", ""]
    header = f"{'case':{case_w}s} {'check':{check_w}s} {'value':>8s} {'unit':{unit_w}s} {'ok':>4s}"
    lines += [header, "-" * len(header)]
    for r in rows:
        v = r["value"]
        value = "-" if v is None or not math.isfinite(v) else value_format.format(v)
        line = (f"{r['case']:{case_w}s} {r['check'][:check_w]:{check_w}s} {value:>8s} "
                f"{r['unit'][:unit_w]:{unit_w}s} {'yes' if r['ok'] else 'NO':>4s}")
        if not r["ok"] and r.get("detail"):
            line += f"  ({r['detail']})"
        lines.append(line)
    return lines + ["", f"{sum(bool(r['ok']) for r in rows)} of {len(rows)} checks within their limits"]
