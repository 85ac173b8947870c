"""Index, progress and cohort reports on a real Dask cluster, against a simulated cohort's truth.

The module's cohort (three people: improving, worsening, stable, over eight working days) is
simulated and indexed on a LocalCluster with two worker processes; the default engine (a
LocalCluster the command starts itself) indexes a small folder with a damaged file and CSVs.
"""

import logging
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")

from imu.cohort.aggregate import person_summary, trend, usable  # noqa: E402
from imu.cohort.index import build_index, read_index  # noqa: E402
from imu.cohort.progress import person_history, write_progress  # noqa: E402
from imu.cohort.report import write_cohort  # noqa: E402
from imu.cohort.simulated import simulate_cohort  # noqa: E402
from imu.report.make import make_report  # noqa: E402
from imu.sim import simulate, to_interchange_csv  # noqa: E402
from imu.sim.cohort import load_truth  # noqa: E402

PEOPLE, DAYS, MINUTES = 3, 8, 8.0
# the scheduler's HTTP server moves off 8787 when another cluster on the machine holds it
pytestmark = pytest.mark.filterwarnings("ignore:Port .* is already in use:UserWarning")


@pytest.fixture(scope="module")
def cluster():
    """A real scheduler with two single-threaded worker processes."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=logging.ERROR) as c:
        yield c.scheduler_address


@pytest.fixture(scope="module")
def cohort(tmp_path_factory, cluster):
    root = tmp_path_factory.mktemp("cohort")
    folder = root / "sessions"
    truth_file, failed = simulate_cohort(folder, PEOPLE, DAYS, minutes=MINUTES, seed=1,
                                         scheduler=cluster)
    assert failed == []
    index = root / "index.parquet"
    result = build_index([folder], index, scheduler=cluster)
    return {"root": root, "folder": folder, "index": index, "result": result,
            "truth": load_truth(folder)}


def test_index_has_one_tidy_row_per_session_matching_the_truth(cohort):
    truth, table = cohort["truth"], cohort["result"].table
    assert cohort["result"].analysed == len(truth["sessions"]) == len(table)
    assert (table["status"] == "ok").all(), table[["file", "error"]]
    by_file = table.set_index("file")
    exact = 0
    for s in truth["sessions"]:
        row = by_file.loc[s["file"]]
        assert row["person"] == s["person"] and row["group"] == s["group"]
        assert row["start"] == pd.Timestamp(s["start_local"])
        assert row["duration_s"] == pytest.approx(s["duration_s"], abs=1.0)
        assert abs(row["slouch_count"] - s["true_slouches"]) <= 1
        exact += row["slouch_count"] == s["true_slouches"]
        assert row["slouch_s"] == pytest.approx(s["true_slouch_s"], abs=6.0 * max(1, s["true_slouches"]))
    assert exact >= 0.9 * len(truth["sessions"])
    # tidy: one value per cell (the workers sent rows, never arrays of samples)
    for column in table.columns:
        assert not any(isinstance(v, (list, dict, np.ndarray)) for v in table[column]), column
    for column in ("wear_s", "calibration_quality", "slouch_per_worn_hour", "slouch_pct",
                   "thoracic_flexion_p50", "sitting_s", "run_grade_good", "lost_pct_max"):
        assert column in table.columns


def test_improving_person_falls_worsening_rises_stable_does_not(cohort):
    rows = usable(read_index(cohort["index"]))
    people = {p["name"]: p for p in cohort["truth"]["people"]}
    slopes = {}
    for name, p in people.items():
        summary = person_summary(rows[rows["person"] == name])
        slopes[p["trend"]] = summary["trend_per_week"]
        if p["trend"] == "improving":
            assert summary["trend"] == "falling"
            assert summary["last_week_slouch_per_hour"] < summary["first_week_slouch_per_hour"]
        elif p["trend"] == "worsening":
            assert summary["trend"] == "rising"
            assert summary["last_week_slouch_per_hour"] > summary["first_week_slouch_per_hour"]
    assert abs(slopes["stable"]) < 0.5 * min(abs(slopes["improving"]), abs(slopes["worsening"]))


def test_unchanged_folder_is_not_read_again_and_changes_are_found(cohort, tmp_path, cluster):
    folder = tmp_path / "copy"
    folder.mkdir()
    for path in sorted(cohort["folder"].glob("*.imu"))[:4]:
        shutil.copy2(path, folder / path.name)  # copy2 keeps the time: the index sees them as new paths
    index = tmp_path / "index.parquet"
    first = build_index([folder], index, scheduler=cluster)
    assert first.analysed == len(first.table)
    stamp = index.stat().st_mtime_ns

    again = build_index([folder], index, scheduler="tcp://127.0.0.1:1")  # no cluster needed
    assert (again.analysed, again.reused, again.written) == (0, len(first.table), False)
    assert index.stat().st_mtime_ns == stamp

    files = sorted(folder.glob("*.imu"))
    os.utime(files[0], ns=(files[0].stat().st_atime_ns, files[0].stat().st_mtime_ns + 10**9))
    touched = build_index([folder], index, scheduler="tcp://127.0.0.1:1")
    assert touched.analysed == 0 and touched.written  # same content: kept, new time stored

    from imu.recording.session import annotate
    annotate(files[1], 60.0, 70.0, "carry_farmer")
    files[2].unlink()
    changed = build_index([folder], index, scheduler=cluster)
    assert (changed.analysed, changed.removed) == (1, 1)
    assert len(read_index(index)) == len(first.table) - 1


def test_default_engine_lists_a_failed_session_and_keeps_the_others(cohort, tmp_path):
    folder = tmp_path / "alice"
    folder.mkdir()
    for path in sorted(cohort["folder"].glob("p01-*.imu"))[:2]:
        shutil.copy(path, folder / path.name)
    (folder / "broken.imu").write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 8)
    to_interchange_csv(simulate("smoke", None, seed=5), folder / "phone.csv")
    (folder / "notes.csv").write_text("when,what\n1,coffee\n")
    reported = sorted(folder.glob("p01-*.imu"))[0]
    make_report(reported, str(reported) + ".report")  # its summary.json is read, not recomputed
    index = tmp_path / "index.parquet"
    result = build_index([folder], index, person_from_folder=True)  # default: own LocalCluster
    table = result.table.set_index("file")
    assert result.skipped == [str(folder / "notes.csv")]
    assert table.loc["broken.imu", "status"] == "failed" and table.loc["broken.imu", "error"]
    assert table.loc[reported.name, "summary_from"] == "report"
    assert table.loc[sorted(folder.glob("p01-*.imu"))[1].name, "summary_from"] == "computed"
    assert table.loc[reported.name, "slouch_count"] == cohort["result"].table.set_index("file").loc[
        reported.name, "slouch_count"]
    assert table.loc["phone.csv", "status"] == "ok"
    assert table.loc["phone.csv", "person"] == "alice"  # a CSV names no one: its folder does
    assert pd.isna(table.loc["phone.csv", "start"])  # session-time CSV: start unknown, not guessed
    assert (table.drop(index=["broken.imu"])["status"] == "ok").all()
    assert set(table.loc[["p01-20260105.imu"], "person"]) == {"p01"}  # recorded person wins

    paths = write_cohort(index, "person", tmp_path / "out")  # default engine again
    page = paths["html"].read_text()
    assert "broken.imu" in page and "Sessions left out" in page


def test_progress_page_and_tables_for_the_improving_person(cohort, cluster, tmp_path):
    improving = next(p["name"] for p in cohort["truth"]["people"] if p["trend"] == "improving")
    paths, overall = write_progress(cohort["index"], improving, tmp_path / "progress",
                                    scheduler=cluster)
    assert overall["trend"] == "falling"
    page = paths["html"].read_text()
    assert f"Progress of {improving}" in page and "falling" in page
    assert page.count("data:image/png;base64,") >= 4
    weeks = pd.read_parquet(paths["weeks"])
    assert len(weeks) == 2 and weeks["slouch_per_hour"].iloc[-1] < weeks["slouch_per_hour"].iloc[0]
    days = pd.read_parquet(paths["days"])
    assert days["sessions"].sum() == sum(s["person"] == improving for s in cohort["truth"]["sessions"])
    history = person_history(cohort["index"], improving, before=days["day"].iloc[2])
    assert len(history) == 2


def test_progress_shows_run_and_carry_grades_when_there_are_some(cohort, cluster, tmp_path):
    table = read_index(cohort["index"])
    mine = table["person"] == "p03"
    table.loc[mine, "runs"] = 1
    table.loc[mine, "run_grade_good"] = 1
    table.loc[mine & (table["start"] >= "2026-01-12"), ["run_grade_good", "run_grade_poor"]] = [0, 1]
    index = tmp_path / "graded.parquet"
    table.to_parquet(index)
    paths, _ = write_progress(index, "p03", tmp_path / "out", scheduler=cluster)
    page = paths["html"].read_text()
    assert 'alt="run grades per week"' in page and 'alt="carry grades per week"' not in page
    weeks = pd.read_parquet(paths["weeks"])
    assert weeks["run_grade_poor"].tolist()[0] == 0 and weeks["run_grade_poor"].tolist()[-1] > 0


@pytest.mark.parametrize("by, rows", [("person", PEOPLE), ("week", 2), ("group", 2)])
def test_cohort_report_by_person_week_and_group(cohort, cluster, tmp_path, by, rows):
    paths = write_cohort(cohort["index"], by, tmp_path / by, scheduler=cluster)
    table = pd.read_parquet(paths["table"])
    assert len(table) == rows
    assert table["sessions"].sum() == len(cohort["truth"]["sessions"])
    page = paths["html"].read_text()
    assert page.count("data:image/png;base64,") >= 2 and "Traceback" not in page
    if by == "person":
        trends = dict(zip(table["person"], table["trend"]))
        for p in cohort["truth"]["people"]:
            if p["trend"] != "stable":
                assert trends[p["name"]] == {"improving": "falling", "worsening": "rising"}[p["trend"]]


def test_trend_needs_sessions_on_several_days_and_names_only_clear_changes():
    start = pd.Timestamp("2026-03-02 09:00")
    def rows(values, days=None):
        days = range(len(values)) if days is None else days
        return pd.DataFrame({"start": [start + pd.Timedelta(days=d) for d in days],
                             "slouch_per_worn_hour": values})
    assert trend(rows([30, 25, 20, 15, 10]))["trend"] == "falling"
    assert trend(rows([10, 15, 20, 25, 30]))["trend"] == "rising"
    assert trend(rows([20, 35, 10, 30, 15]))["trend"] == "no clear change"
    assert trend(rows([30, 20, 10, 5], days=[0, 0, 1, 1]))["trend"].startswith("not enough")


def imu(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "imu.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=600)


def test_cli_commands_and_one_line_errors(cohort, cluster, tmp_path):
    folder = tmp_path / "few"
    folder.mkdir()
    for path in sorted(cohort["folder"].glob("p02-*.imu"))[:3]:
        shutil.copy(path, folder / path.name)
    out = imu("index", folder, "-o", tmp_path / "i.parquet", "--scheduler", cluster)
    assert out.returncode == 0, out.stderr
    assert "3 files: 3 analysed, 0 failed; 3 read now" in out.stdout
    out = imu("index", folder, "-o", tmp_path / "i.parquet")
    assert out.returncode == 0 and "0 read now, 3 unchanged" in out.stdout, out.stderr
    out = imu("cohort", cohort["index"], "--by", "group", "-o", tmp_path / "g",
              "--scheduler", cluster)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "g" / "cohort.html").exists()
    out = imu("progress", "p02", "--index", cohort["index"], "-o", tmp_path / "p",
              "--scheduler", cluster)
    assert out.returncode == 0 and (tmp_path / "p" / "progress.html").exists(), out.stderr
    assert "trend: rising" in out.stdout  # p02 is the worsening person (see make_people)
    out = imu("simulate", "cohort", "-o", tmp_path / "tiny", "--people", "1", "--days", "1",
              "--minutes", "3", "--scheduler", cluster)
    assert out.returncode == 0, out.stderr
    assert len(list((tmp_path / "tiny").glob("*.imu"))) == 1
    assert (tmp_path / "tiny" / "cohort-truth.json").exists()
    (tmp_path / "empty").mkdir()
    out = imu("index", tmp_path / "empty", "-o", tmp_path / "e.parquet")
    assert out.returncode == 0 and "no session files" in out.stdout, out.stderr
    for args, words in [(("progress", "nobody", "--index", tmp_path / "i.parquet"), ["nobody", "p02"]),
                        (("cohort", tmp_path / "missing.parquet"), ["no such index"]),
                        (("cohort", cohort["folder"] / "cohort-truth.json"), ["not a readable index"]),
                        (("index", tmp_path / "nowhere"), ["no such folder"]),
                        (("cohort", tmp_path / "e.parquet"), ["no analysed session"]),
                        (("simulate", "cohort", "-o", cohort["folder"], "--people", "2"),
                         ["not an empty folder"]),
                        (("simulate", "cohort", "-o", tmp_path / "new", "--days", "0"), ["--days"])]:
        result = imu(*args)
        assert result.returncode == 2
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
        for word in words:
            assert word in lines[0], lines[0]
