"""Work on the second core: a function or a generator run in a forked child while this
process goes on.

A long report has pieces that need each other's inputs but not each other's results (its
figures and its stability grades, say), and stages that can run a batch ahead of the next
(reading and decoding, against gridding and tracking). Forking shares the parent's arrays
with the child without copying or pickling them; only what the child makes comes back,
pickled, through a pipe: one result (`in_child`), or a generator's items as they come
(`ChildIterator`). Where a process cannot fork (Windows), or when IMU_NO_FORK is set (to
profile one process), the work simply runs in this one.
"""

from __future__ import annotations

import os
import pickle
import queue
import signal
import sys
import threading
import traceback
from typing import Any, Callable, Generator, Iterator


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
        _call_and_send(function, args, kwargs, write_fd)
    except BaseException:
        status = 1
    finally:
        os._exit(status)


def _call_and_send(function, args, kwargs, write_fd: int) -> None:
    """A child's one call: its result, or what it raised, pickled into write_fd."""
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


class Standby:
    """A child forked now, while this process is still small, that waits for one call sent
    later (`submit`): for work whose inputs are small but exist only after this process has
    grown (a report's figures need the exposure and envelope, not the session's arrays). A
    child forked late starts with the whole grown process as its own resident memory, and
    every page either process writes afterwards is copied. The function and its arguments
    travel pickled, so the function must be importable by name. `close()` ends a child never
    given its call. Where a process cannot fork, `submit` runs the call inline."""

    def __init__(self):
        self._pid: int | None = None
        self._owner = os.getpid()
        if not can_fork():
            return
        call_read, self._call_write = os.pipe()
        self._result_read, result_write = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if not pid:
            _stand_by(call_read, result_write, (self._call_write, self._result_read))  # never returns
        os.close(call_read)
        os.close(result_write)
        self._pid = pid

    def submit(self, function: Callable[..., Any], *args, **kwargs) -> Pending:
        """Hand the child its call (once); the Pending gives the result."""
        if self._pid is None:
            try:
                return Pending(function(*args, **kwargs))
            except Exception as err:
                return Pending(error=err)
        try:
            data = pickle.dumps((function, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # nothing can be sent: the child must not wait for it
            self.close()
            raise
        pid, self._pid = self._pid, None
        self._send(data)
        return Pending(pid=pid, read_fd=self._result_read)

    def close(self) -> None:
        """End a child that was never given its call."""
        if self._pid is None:
            return
        pid, self._pid = self._pid, None
        self._send(b"")
        os.close(self._result_read)
        os.waitpid(pid, 0)

    def _send(self, data: bytes) -> None:
        # length first: a process forked after this one holds the pipe's write end too, so
        # the child cannot wait for the end of the pipe to know it has the whole call
        message = memoryview(len(data).to_bytes(8, "little") + data)
        try:
            while message:
                message = message[os.write(self._call_write, message):]
        except BrokenPipeError:  # the child is gone: the Pending (or waitpid) says how it ended
            pass
        finally:
            os.close(self._call_write)

    def __del__(self) -> None:  # a child never given its call must not outlive its owner
        if getattr(self, "_pid", None) is not None and os.getpid() == self._owner:
            self.close()


def _stand_by(call_read: int, result_write: int, parents_ends: tuple[int, int]) -> None:
    """The child's side of `Standby`: wait for the call, make it, send the result; exit
    quietly when told there is none, or when the parent is gone."""
    status = 0
    try:
        for fd in parents_ends:
            os.close(fd)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
        with os.fdopen(call_read, "rb") as pipe:
            size = int.from_bytes(pipe.read(8) or bytes(8), "little")
            data = pipe.read(size) if size else b""
        if len(data) == size and size:
            function, args, kwargs = pickle.loads(data)
            _call_and_send(function, args, kwargs, result_write)
    except BaseException:
        status = 1
    finally:
        os._exit(status)


class ChildIterator:
    """A generator `make(*args)` run in a child forked at once, before anyone asks for its
    items: iterate this object (once) for them and `yield from` it for the generator's
    return value. `ahead`: how many items the child may have ready beyond the one being
    read (each held, pickled, in the child's memory). `close()` ends a child that is not
    done; iterating to the end, an error or stopping early closes it too. Where a process
    cannot fork, the generator runs inline when iterated."""

    def __init__(self, make: Callable[..., Iterator], *args, ahead: int = 1):
        self._make, self._args = make, args
        self._pid: int | None = None
        self._finished = False
        self._owner = os.getpid()
        if not can_fork():
            return
        read_fd, write_fd = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if not pid:
            _produce(read_fd, write_fd, make, args, ahead)  # never returns
        os.close(write_fd)
        self._pid, self._pipe = pid, os.fdopen(read_fd, "rb", buffering=1 << 20)

    def __iter__(self) -> Generator[Any, None, Any]:
        if self._pid is None:
            if self._finished:
                raise RuntimeError("a ChildIterator is iterated once")
            self._finished = True
            return (yield from self._make(*self._args))
        try:
            while True:
                try:
                    kind, payload = pickle.load(self._pipe)
                except EOFError:
                    raise ChildFailed("the reading process ended without finishing") from None
                if kind == "item":
                    yield payload
                elif kind == "done":
                    self._finished = True
                    return payload
                else:
                    self._finished = True
                    raise payload
        finally:
            self.close()

    def close(self) -> None:
        """End the child if it is not done (kill it: its work is not needed) and reap it."""
        if self._pid is None:
            return
        if not self._finished:
            try:
                os.kill(self._pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._pipe.close()
        os.waitpid(self._pid, 0)
        self._pid = None

    def __enter__(self) -> "ChildIterator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:  # a child nobody iterated must not outlive its owner
        if getattr(self, "_pid", None) is not None and os.getpid() == self._owner:
            self.close()


def _produce(read_fd: int, write_fd: int, make, args, ahead: int = 1) -> None:
    """The child's side of `ChildIterator`: send every item, then the return value (or the
    error), and end without returning into the caller's code. A sending thread writes the
    items while this one makes the next ones, up to `ahead` of them waiting."""
    status = 0
    try:
        os.close(read_fd)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
        with os.fdopen(write_fd, "wb", buffering=1 << 20) as pipe:
            waiting: queue.Queue[bytes | None] = queue.Queue(maxsize=max(1, ahead))
            sender = threading.Thread(target=_send_all, args=(waiting, pipe), daemon=True)
            sender.start()
            iterator = make(*args)
            try:
                while True:
                    waiting.put(pickle.dumps(("item", next(iterator)), protocol=pickle.HIGHEST_PROTOCOL))
            except StopIteration as stop:
                message = ("done", stop.value)
            except Exception as err:
                message = ("error", err)
            try:
                last = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception:  # an unpicklable error: its text instead
                text = "".join(traceback.format_exception(message[1])) if message[0] == "error" \
                    else "the result could not be sent back"
                last = pickle.dumps(("error", ChildFailed(text)))
            waiting.put(last)
            waiting.put(None)
            sender.join()
    except BaseException:
        status = 1
    finally:
        os._exit(status)


def _send_all(waiting: "queue.Queue[bytes | None]", pipe) -> None:
    """Write each pickled item as it comes, flushed at once (an item's tail left in the
    buffer would keep the parent waiting for the next one); the parent gone (a broken
    pipe), the whole child ends: nothing it makes can be delivered."""
    try:
        while (data := waiting.get()) is not None:
            pipe.write(data)
            pipe.flush()
    except BaseException:
        os._exit(1)
