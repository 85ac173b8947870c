"""One validation case: a simulated session to check against its truth (shared by the
validation modules, so none of them imports another's runner)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Case:
    name: str
    scenario: str
    seed: int
    duration_s: float | None = None
    options: dict = field(default_factory=dict)
