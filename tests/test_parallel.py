"""Work in a forked child: its result, its errors, and the inline fallback."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from imu.parallel import ChildFailed, can_fork, in_child

needs_fork = pytest.mark.skipif(not can_fork(), reason="this platform cannot fork")


def _sum_of(values: np.ndarray) -> float:
    return float(values.sum())


def _fail(message: str):
    raise ValueError(message)


@needs_fork
def test_the_child_sees_the_parents_arrays_and_its_result_comes_back():
    values = np.arange(1_000_000, dtype=float)  # shared by the fork, not sent
    pending = in_child(_sum_of, values)
    assert pending.result() == float(values.sum())


@needs_fork
def test_a_result_larger_than_a_pipe_buffer_arrives_whole():
    blob = os.urandom(3_000_000)
    assert in_child(lambda: blob).result() == blob


@needs_fork
def test_the_childs_error_is_raised_in_the_parent_as_itself():
    pending = in_child(_fail, "no figure today")
    with pytest.raises(ValueError, match="no figure today"):
        pending.result()


@needs_fork
def test_a_child_that_dies_gives_one_clear_error():
    pending = in_child(lambda: os.kill(os.getpid(), signal.SIGKILL))
    with pytest.raises(ChildFailed, match="ended without a result"):
        pending.result()


def test_without_fork_the_function_runs_here(monkeypatch):
    monkeypatch.setenv("IMU_NO_FORK", "1")
    seen = []
    pending = in_child(seen.append, 5)
    assert seen == [5]  # ran at once, in this process
    assert pending.result() is None
    with pytest.raises(ValueError, match="inline"):
        in_child(_fail, "inline").result()
