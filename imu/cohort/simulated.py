"""Write a simulated cohort (imu.sim.cohort) with the sessions simulated on Dask workers."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from imu.sim.cohort import make_people, plan_cohort, save_truth, write_planned_session


def simulate_cohort(folder: str | Path, people: int, days: int, *, minutes: float = 10.0,
                    seed: int = 0, groups: int = 2, scheduler: str | None = None,
                    workers: int | None = None, on_done=None) -> tuple[Path, list[dict]]:
    """Sessions for `people` people over `days` working days into `folder` (new or empty);
    returns the truth file and the rows of sessions that failed (normally none)."""
    from imu.cohort.runner import dask_client, run_each

    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ValueError(f"{folder} exists and is not an empty folder; session files are never overwritten")
    cast = make_people(people, seed, groups)
    plan = plan_cohort(cast, days, minutes, seed)
    folder.mkdir(parents=True, exist_ok=True)
    with dask_client(scheduler, workers) as client:
        rows = run_each(client, partial(write_planned_session, str(folder)), plan, on_done)
    written = [r for r in rows if r.get("status") != "failed"]
    failed = [{"file": p.file, "error": r["error"]} for p, r in zip(plan, rows) if r.get("status") == "failed"]
    return save_truth(folder, cast, written, days), failed
