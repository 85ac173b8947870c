"""Many sessions, many people: the session index, progress over weeks, cohort reports.

All on Dask (`imu.cohort.runner`): the per-session analysis is the package's own, Dask only
maps sessions (and groups of index rows) to workers and gathers the small tables back.
"""

DEFAULT_INDEX = "imu-index.parquet"  # in the current folder, for index, progress and cohort
