"""Work in a forked child: its result, its errors, and the inline fallback."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from imu.parallel import ChildFailed, ChildIterator, Standby, can_fork, in_child

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


def _counting(n: int, fail_at: int | None = None):
    for k in range(n):
        if k == fail_at:
            raise ValueError(f"damaged at {k}")
        yield np.full(50_000, k)  # each item larger than a pipe's buffer
    return "read to the end"


def iterate_in_child(make, *args):
    """A generator's items from a forked child, one item ahead (as a report reads)."""
    return iter(ChildIterator(make, *args))


def _drain(generator):
    items = []
    while True:
        try:
            items.append(next(generator))
        except StopIteration as stop:
            return items, stop.value


@needs_fork
def test_a_generators_items_arrive_in_order_with_its_return_value():
    items, value = _drain(iterate_in_child(_counting, 6))
    assert [int(x[0]) for x in items] == list(range(6)) and all(len(x) == 50_000 for x in items)
    assert value == "read to the end"


@needs_fork
def test_an_error_in_the_generator_arrives_after_the_items_before_it():
    got = []
    with pytest.raises(ValueError, match="damaged at 3"):
        for item in iterate_in_child(_counting, 6, 3):
            got.append(int(item[0]))
    assert got == [0, 1, 2]


def _waits_for_the_parent(marker: Path):
    """Yields a small item, then makes the next one only once the parent has had the first
    (it writes `marker`): the parent must not need the second item to read the first."""
    yield "first"
    for _ in range(3000):  # up to 30 s, then it gives up and says so
        if marker.exists():
            yield "made while the parent worked on the first"
            return
        time.sleep(0.01)
    yield "the parent never received the first"


@needs_fork
def test_the_parent_has_each_item_while_the_child_makes_the_next(tmp_path):
    # the overlap of the two processes: an item held back in the child's buffer until the
    # next is made would leave the parent idle for the whole of the child's work
    marker = tmp_path / "parent-has-the-first"
    generator = iterate_in_child(_waits_for_the_parent, marker)
    assert next(generator) == "first"
    marker.touch()
    assert next(generator) == "made while the parent worked on the first"
    generator.close()


def _children() -> set[int]:
    """This process's children (Linux: /proc lists them per thread)."""
    found = set()
    for path in Path("/proc/self/task").glob("*/children"):
        found |= {int(pid) for pid in path.read_text().split()}
    return found


@needs_fork
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_stopping_early_ends_the_child():
    before = _children()
    generator = iterate_in_child(_counting, 1000)
    next(generator)
    assert len(_children() - before) == 1  # the reading child runs
    generator.close()  # it is killed and reaped, not left running
    assert _children() == before


def test_without_fork_the_generator_runs_here(monkeypatch):
    monkeypatch.setenv("IMU_NO_FORK", "1")
    items, value = _drain(iterate_in_child(_counting, 3))
    assert len(items) == 3 and value == "read to the end"


def _marking(directory: Path, n: int):
    """Marks each item in `directory` as it is made (the parent counts how far it got)."""
    for k in range(n):
        (directory / f"made-{k}").touch()
        yield np.full(50_000, k)  # larger than a pipe's buffer: only `ahead` can hold it
    return "all made"


def _wait_for(predicate, tries: int = 3000) -> bool:
    for _ in range(tries):  # up to 30 s
        if predicate():
            return True
        time.sleep(0.01)
    return False


@needs_fork
def test_a_child_iterator_works_ahead_before_anyone_asks(tmp_path):
    # started at once, it makes `ahead` items (and the one in the pipe) while nobody reads
    reading = ChildIterator(_marking, tmp_path, 10, ahead=4)
    assert _wait_for(lambda: len(list(tmp_path.glob("made-*"))) >= 5)
    assert len(list(tmp_path.glob("made-*"))) <= 7  # bounded: it waits for the reader
    items, value = _drain(iter(reading))
    assert [int(x[0]) for x in items] == list(range(10)) and value == "all made"


@needs_fork
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_a_child_iterator_closed_unread_leaves_no_process(tmp_path):
    before = _children()
    reading = ChildIterator(_marking, tmp_path, 1000, ahead=2)
    assert len(_children() - before) == 1
    reading.close()
    assert _children() == before
    reading.close()  # twice is harmless


def test_without_fork_a_child_iterator_runs_when_iterated(monkeypatch, tmp_path):
    monkeypatch.setenv("IMU_NO_FORK", "1")
    reading = ChildIterator(_marking, tmp_path, 3, ahead=4)
    assert not list(tmp_path.glob("made-*"))  # nothing made before it is iterated
    items, value = _drain(iter(reading))
    assert len(items) == 3 and value == "all made"


def _resident_mb() -> float:
    """This process's resident memory now (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _sleep_then(seconds: float, value):
    time.sleep(seconds)
    return value


@needs_fork
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_a_standby_child_keeps_the_small_memory_it_was_forked_with():
    """What Standby is for: forked before this process grows, the child runs its call
    without the grown process's memory as its own (a child forked then would hold it)."""
    standby = Standby()
    grown = np.ones(40_000_000)  # 320 MB, written: resident here
    late = in_child(_resident_mb)
    early = standby.submit(_resident_mb)
    assert late.result() > 300
    assert early.result() < late.result() - 250
    assert grown[-1] == 1.0


@needs_fork
def test_a_standby_call_arrives_whole_with_its_arguments_and_its_error_comes_back():
    blob = os.urandom(3_000_000)  # larger than a pipe's buffer, both ways
    assert Standby().submit(bytes.__add__, blob, b"!").result() == blob + b"!"
    with pytest.raises(ValueError, match="no figure today"):
        Standby().submit(_fail, "no figure today").result()


@needs_fork
def test_a_standby_gets_its_call_while_a_process_forked_after_it_holds_the_pipe():
    """A child forked after the standby inherits the call pipe's write end: the call must
    still arrive (and close must still end the child) without waiting for that one."""
    def too_long(signum, frame):
        raise TimeoutError("the standby waited for the pipe's end: a deadlock")

    previous = signal.signal(signal.SIGALRM, too_long)
    signal.alarm(15)  # a failure, not a test run that hangs
    standby, unused = Standby(), Standby()  # two in a row, as a report makes them
    sibling = in_child(_sleep_then, 20.0, "late")
    try:
        assert standby.submit(_sum_of, np.arange(10.0)).result() == 45.0
        unused.close()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        os.kill(sibling._pid, signal.SIGKILL)
    with pytest.raises(ChildFailed):
        sibling.result()


@needs_fork
def test_a_call_that_cannot_be_sent_raises_here_and_ends_the_child():
    standby = Standby()
    pid = standby._pid
    with pytest.raises(Exception, match="pickle"):
        standby.submit(_sum_of, lambda: None)  # a lambda does not pickle
    with pytest.raises(ChildProcessError):  # the child was told and reaped
        os.waitpid(pid, os.WNOHANG)


@needs_fork
def test_a_standby_never_given_a_call_ends_when_closed():
    standby = Standby()
    pid = standby._pid
    standby.close()
    with pytest.raises(ChildProcessError):  # reaped: no zombie left behind
        os.waitpid(pid, os.WNOHANG)
    standby.close()  # twice is harmless


def test_without_fork_a_standby_runs_its_call_here(monkeypatch):
    monkeypatch.setenv("IMU_NO_FORK", "1")
    seen = []
    assert Standby().submit(seen.append, 5).result() is None
    assert seen == [5]
    with pytest.raises(ValueError, match="inline"):
        Standby().submit(_fail, "inline").result()
