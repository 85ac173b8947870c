"""Dask as the engine: a local cluster by default, or a running scheduler by address.

Dask only maps work to workers and gathers the small tables they return; the functions it
runs are the package's own (analysis, aggregation). A task that raises becomes a failure
row with its reason, so one bad session never stops the others.
"""

from __future__ import annotations

import logging
import os
import warnings
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator

from imu.errors import UserError


class EngineError(UserError, ConnectionError):
    """The cluster could not be started or reached (one line for the user)."""


@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None) -> Iterator[object]:
    """A distributed Client: on `scheduler` (an address such as tcp://host:8786), or on a
    new LocalCluster of `workers` single-threaded processes (default: one per core)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as err:  # the CLI turns this into "pip install -e '.[cohort]'"
        raise ImportError(str(err), name="distributed") from None
    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as err:
            raise EngineError(f"cannot reach the Dask scheduler at {scheduler}: {err}") from None
        try:
            yield client
        finally:
            client.close()
        return
    if workers is None:
        workers = os.cpu_count() or 1
    if workers < 1:
        raise EngineError(f"workers must be at least 1, got {workers}")
    # the scheduler's small HTTP server moves to a free port when 8787 is taken: not news
    warnings.filterwarnings("ignore", message="Port .* is already in use", category=UserWarning)
    # one thread per process: the pipeline is numpy-heavy Python, the GIL would serialise threads
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.ERROR)
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def run_each(client, fn: Callable, items: Iterable, on_done: Callable | None = None) -> list:
    """fn(item) for every item on the cluster; results in item order. A task that raised (or
    whose worker died) gives {"status": "failed", "error": reason} in its place."""
    from distributed import as_completed

    items = list(items)
    if not items:
        return []
    futures = client.map(fn, items, pure=False)
    slot = {f.key: i for i, f in enumerate(futures)}
    results: list = [None] * len(items)
    for future in as_completed(futures):
        i = slot[future.key]
        if future.status == "finished":
            results[i] = future.result()
        else:  # "error", or "cancelled" when the cluster lost it
            try:
                err = future.exception()
            except BaseException as lost:  # a cancelled future raises instead of returning
                err = lost
            results[i] = {"status": "failed", "error": describe_error(err)}
        future.release()
        if on_done is not None:
            on_done(i, results[i])
    return results


def describe_error(err: BaseException | None) -> str:
    if err is None:
        return "unknown error"
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def aggregate_groups(client, table, key: str | list[str], fn: Callable):
    """fn(rows of one group) -> dict for every group of `table` by `key`, run on the cluster;
    a DataFrame with the key column(s) first. A group that failed keeps its key and error."""
    import pandas as pd

    keys = [key] if isinstance(key, str) else list(key)
    groups = [(name if isinstance(name, tuple) else (name,), rows)
              for name, rows in table.groupby(keys, sort=True)]
    results = run_each(client, fn, [rows for _, rows in groups])
    records = [dict(zip(keys, name)) | result for (name, _), result in zip(groups, results)]
    return pd.DataFrame(records, columns=None if records else keys)
