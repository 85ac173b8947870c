"""The `imu index`, `imu progress`, `imu cohort` and `imu simulate cohort` commands."""

from __future__ import annotations

import sys
from pathlib import Path

from imu.cohort import DEFAULT_INDEX
from imu.cohort.page import plural


def add_engine_arguments(parser) -> None:
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="a running Dask scheduler (e.g. tcp://host:8786); default: a local "
                             "cluster on this machine's cores")
    parser.add_argument("--workers", type=int, help="local cluster size (default: one per core)")


def add_parsers(sub) -> None:
    s = sub.add_parser("index", help="index session files and CSVs into one Parquet table (incremental)")
    s.add_argument("folders", nargs="+", metavar="DIR",
                   help="folders searched for .imu and interchange .csv files; the index holds "
                        "exactly these (files no longer found leave it)")
    s.add_argument("-o", "--output", default=DEFAULT_INDEX, help=f"index file (default {DEFAULT_INDEX})")
    s.add_argument("--person-from-folder", action="store_true",
                   help="files that name no person belong to the folder they are in")
    s.add_argument("--force", action="store_true", help="analyse every file again")
    add_engine_arguments(s)
    s.set_defaults(func=cmd_index)

    s = sub.add_parser("progress", help="one person's trends over days and weeks (HTML, Parquet)")
    s.add_argument("person", help="the person's profile name, as recorded by `imu live --profile`")
    s.add_argument("--index", default=DEFAULT_INDEX, help=f"index file (default {DEFAULT_INDEX})")
    s.add_argument("-o", "--output", help="output folder (default progress-PERSON)")
    add_engine_arguments(s)
    s.set_defaults(func=cmd_progress)

    s = sub.add_parser("cohort", help="distributions and comparisons across people (HTML, Parquet)")
    s.add_argument("index", help="index file made by `imu index`")
    s.add_argument("--by", choices=("person", "week", "group"), default="person")
    s.add_argument("-o", "--output", help="output folder (default cohort-by-BY)")
    add_engine_arguments(s)
    s.set_defaults(func=cmd_cohort)


def add_simulate_arguments(parser) -> None:
    """`imu simulate cohort -o DIR --people N --days D` shares the simulate parser."""
    group = parser.add_argument_group("cohort (scenario 'cohort': -o is a new folder)")
    group.add_argument("--people", type=int, default=6,
                       help="people p01, p02, ... in turn improving, worsening, stable (default 6)")
    group.add_argument("--days", type=int, default=10, help="working days (Monday to Friday)")
    group.add_argument("--minutes", type=float, default=10.0, help="length of each session")
    group.add_argument("--groups", type=int, default=2,
                       help="groups a, b, ...; later groups start with a higher slouch rate")
    add_engine_arguments(group)


def _progress_printer(total: int | None, what: str):
    """One line, rewritten in place on a terminal; silent when piped."""
    done = [0]

    def on_done(_i, row) -> None:
        done[0] += 1
        if sys.stderr.isatty():
            end = "\n" if done[0] == total else ""
            count = f"{done[0]}/{total}" if total else str(done[0])
            print(f"\r{what}: {count}", end=end, file=sys.stderr, flush=True)
    return on_done


def cmd_index(args) -> int:
    from imu.cohort.index import build_index, find_session_files

    total = len(find_session_files(args.folders)[0])
    result = build_index(args.folders, args.output, scheduler=args.scheduler, workers=args.workers,
                         person_from_folder=args.person_from_folder, force=args.force,
                         on_done=_progress_printer(total, "analysing"))
    table = result.table
    ok = int((table["status"] == "ok").sum()) if len(table) else 0
    print(f"index: {result.path} ({len(table)} files: {ok} analysed, {len(result.failed)} failed; "
          f"{result.analysed} read now, {result.reused} unchanged, {result.removed} gone)")
    for _, row in result.failed.iterrows():
        print(f"  failed: {row['path']}: {row['error']}")
    if table.empty:
        print(f"  no session files (.imu) or interchange CSVs found under {', '.join(map(str, args.folders))}")
    if result.skipped:
        print(f"  skipped {len(result.skipped)} CSV file(s) without the interchange columns")
    return 0


def cmd_progress(args) -> int:
    from imu.cohort.progress import write_progress

    out = Path(args.output or f"progress-{args.person}")
    paths, o = write_progress(args.index, args.person, out, scheduler=args.scheduler,
                              workers=args.workers)
    print(f"progress: {paths['html']}")
    print(f"  {plural(o['sessions'], 'session')} on {plural(o['days'], 'day')}; slouches per hour of wear "
          f"{o['first_week_slouch_per_hour']:.1f} in the first week, "
          f"{o['last_week_slouch_per_hour']:.1f} in the last; trend: {o['trend']}")
    return 0


def cmd_cohort(args) -> int:
    from imu.cohort.report import write_cohort

    out = Path(args.output or f"cohort-by-{args.by}")
    paths = write_cohort(args.index, args.by, out, scheduler=args.scheduler, workers=args.workers)
    print(f"cohort: {paths['html']} (table: {paths['table']})")
    return 0


def cmd_simulate_cohort(args) -> int:
    from imu.cohort.simulated import simulate_cohort

    truth, failed = simulate_cohort(args.output, args.people, args.days, minutes=args.minutes,
                                    seed=args.seed, groups=args.groups, scheduler=args.scheduler,
                                    workers=args.workers,
                                    on_done=_progress_printer(None, "sessions simulated"))
    print(f"wrote a cohort of {args.people} people over {args.days} days into {args.output}; "
          f"truth in {truth.name}")
    for row in failed:
        print(f"  failed: {row['file']}: {row['error']}")
    return 1 if failed else 0
