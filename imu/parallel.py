"""Work on the second core: a function run in a forked child while this process goes on.

A long report has pieces that need each other's inputs but not each other's results (its
figures and its stability grades, say). Forking shares the parent's arrays with the child
without copying or pickling them; only the child's result (a few hundred kilobytes of PNG,
say) comes back, pickled, through a pipe. Where a process cannot fork (Windows), or when
IMU_NO_FORK is set (to profile one process), the function simply runs in this one, at once.
"""

from __future__ import annotations

import os
import pickle
import sys
import traceback
from typing import Any, Callable


class ChildFailed(RuntimeError):
    """The forked child raised something that could not be sent back as itself."""


class Pending:
    """A result on its way: `result()` waits for it (and raises what the function raised)."""

    def __init__(self, value: Any = None, error: BaseException | None = None,
                 pid: int | None = None, read_fd: int | None = None):
        self._value, self._error, self._pid, self._fd = value, error, pid, read_fd

    def result(self) -> Any:
        if self._pid is not None:
            self._collect()
        if self._error is not None:
            raise self._error
        return self._value

    def _collect(self) -> None:
        # read everything before waiting: the child blocks on a full pipe until it is read
        with os.fdopen(self._fd, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(self._pid, 0)
        self._pid = None
        try:
            ok, payload = pickle.loads(data)
        except Exception:  # the child died before it could say anything (killed, out of memory)
            self._error = ChildFailed(f"the helper process ended without a result "
                                      f"(exit status {os.waitstatus_to_exitcode(status)})")
            return
        if ok:
            self._value = payload
        else:
            self._error = payload


def can_fork() -> bool:
    return hasattr(os, "fork") and not os.environ.get("IMU_NO_FORK") and sys.platform != "win32"


def in_child(function: Callable[..., Any], *args, **kwargs) -> Pending:
    """Start `function(*args, **kwargs)` in a forked child (inline where that is not possible)."""
    if not can_fork():
        try:
            return Pending(function(*args, **kwargs))
        except Exception as err:
            return Pending(error=err)
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:  # the parent
        os.close(write_fd)
        return Pending(pid=pid, read_fd=read_fd)
    # the child: never return into the caller's code, whatever happens
    status = 0
    try:
        os.close(read_fd)
        try:
            message = (True, function(*args, **kwargs))
        except Exception as err:
            message = (False, err)
        try:
            data = pickle.dumps(message)
        except Exception:  # an unpicklable result or exception: send its text instead
            text = "".join(traceback.format_exception(message[1])) if not message[0] else \
                "the result could not be sent back"
            data = pickle.dumps((False, ChildFailed(text)))
        with os.fdopen(write_fd, "wb") as pipe:
            pipe.write(data)
    except BaseException:
        status = 1
    finally:
        os._exit(status)
