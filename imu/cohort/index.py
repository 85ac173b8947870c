"""The session index: one tidy Parquet table, one row per session file or interchange CSV.

Incremental: a file whose path, size and modification time match its row (indexed by this
software version) is not opened again; one whose time changed but whose content hash did
not (a copy, a touch) keeps its row too. Only new or changed files go to the Dask workers,
and the cluster is not even started when there are none. Failed files keep a row with
status "failed" and the reason, so they are listed, and retried only when they change.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

import imu
from imu.cohort.identity import SESSION_SUFFIXES, fingerprint, is_interchange_csv



@dataclass
class IndexResult:
    path: Path
    table: pd.DataFrame
    reused: int = 0
    analysed: int = 0
    removed: int = 0
    skipped: list[str] = field(default_factory=list)  # CSVs that are not interchange files
    written: bool = False

    @property
    def failed(self) -> pd.DataFrame:
        return self.table[self.table["status"] == "failed"]


def find_session_files(folders: list[str | Path]) -> tuple[list[Path], list[str]]:
    """Session files and interchange CSVs under the folders (recursively), and skipped CSVs."""
    found, skipped = [], []
    for folder in folders:
        root = Path(folder)
        if not root.exists():
            raise ValueError(f"{root}: no such folder")
        candidates = [root] if root.is_file() else _walk(root)
        for path in candidates:
            suffix = path.suffix.lower()
            if suffix in SESSION_SUFFIXES:
                found.append(path.resolve())
            elif suffix == ".csv":
                (found.append(path.resolve()) if is_interchange_csv(path) else skipped.append(str(path)))
    return sorted(set(found)), skipped


def _walk(root: Path):
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.endswith(".report"))  # reports hold no sessions
        for name in sorted(files):
            yield Path(folder) / name


def read_index(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: no such index (make one with `imu index FOLDER -o {path}`)")
    try:
        table = pd.read_parquet(path)
    except Exception as err:  # pyarrow raises several types for a file that is not Parquet
        raise ValueError(f"{path}: not a readable index ({type(err).__name__})") from None
    missing = [c for c in ("path", "status", "person", "start") if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: not a session index (no {', '.join(missing)} column)")
    return table


def build_index(folders: list[str | Path], out: str | Path, *, scheduler: str | None = None,
                workers: int | None = None, person_from_folder: bool = False, force: bool = False,
                on_done=None) -> IndexResult:
    """Index the folders into `out` (Parquet), reusing the rows of unchanged files."""
    out = Path(out)
    files, skipped = find_session_files(folders)
    old = _previous_rows(out) if not force else {}
    rows, todo, touched = {}, [], False
    for path in files:
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime_ns)
        previous = old.pop(str(path), None)
        if previous is not None and _still_valid(previous, key, path, person_from_folder):
            touched |= previous["mtime_ns"] != st.st_mtime_ns
            rows[str(path)] = previous | {"mtime_ns": st.st_mtime_ns}
        else:
            todo.append({"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
                         "person_from_folder": person_from_folder})
    result = IndexResult(out, pd.DataFrame(), reused=len(rows), analysed=len(todo),
                         removed=len(old), skipped=skipped)
    if todo:
        from imu.cohort.rows import index_session
        from imu.cohort.runner import dask_client, run_each

        with dask_client(scheduler, workers) as client:
            done = run_each(client, index_session, todo, on_done)
        for task, row in zip(todo, done):
            rows[task["path"]] = {"path": task["path"], "file": Path(task["path"]).name,
                                  "size": task["size"], "mtime_ns": task["mtime_ns"]} | row | {
                                  "person_from_folder": person_from_folder}
    result.table = _tidy(list(rows.values()))
    if todo or old or touched or not out.exists():
        write_index(result.table, out)
        result.written = True
    return result


def _previous_rows(out: Path) -> dict[str, dict]:
    if not out.exists():
        return {}
    table = read_index(out)
    return {r["path"]: r for r in table.to_dict("records")}


def _still_valid(previous: dict, key: tuple, path: Path, person_from_folder: bool) -> bool:
    if previous.get("indexed_with") != imu.__version__:
        return False  # a newer analysis may give other numbers
    if bool(previous.get("person_from_folder", False)) != person_from_folder:
        return False
    if (previous["size"], previous["mtime_ns"]) == key[1:]:
        return True
    # same size, other time: the content decides (a hash costs far less than an analysis)
    return previous["size"] == key[1] and previous.get("fingerprint") == fingerprint(path)


def _tidy(rows: list[dict]) -> pd.DataFrame:
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=["path", "status", "person", "start", "error"])
    for column in ("person", "group", "error"):
        if column not in table:
            table[column] = None
    table["start"] = pd.to_datetime(table.get("start"), errors="coerce")
    table = table.sort_values(["person", "start", "path"], na_position="last", kind="stable")
    return table.reset_index(drop=True)


def write_index(table: pd.DataFrame, out: Path) -> None:
    """Write atomically: a reader never sees half an index."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    table.to_parquet(tmp, index=False)
    tmp.replace(out)
