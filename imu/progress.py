"""Progress for long work on the command line (reports, replays, scans), drawn with rich.

On a terminal a bar (or a spinner, when the total is unknown) is drawn on stderr and removed
when the work ends; anything the work prints meanwhile still appears above it. In a pipe or
a log, or with --quiet, nothing is drawn: output stays machine-readable. rich follows
NO_COLOR by itself.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator


class Progress:
    """What a running task reports: `advance_to(done)`, `stage(text)`."""

    def __init__(self, bar=None, task=None, total: float | None = None) -> None:
        self._bar, self._task, self._total = bar, task, total

    def advance_to(self, done: float) -> None:
        """Work done so far; never shown past the total (an estimate may fall a little short)."""
        if self._bar is not None:
            if self._total:
                done = min(done, self._total)
            self._bar.update(self._task, completed=done)

    def stage(self, text: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=text)

    def set_total(self, total: float | None) -> None:
        self._total = total
        if self._bar is not None:
            self._bar.update(self._task, total=total)


def shows_progress(quiet: bool = False, stream=None) -> bool:
    stream = stream if stream is not None else sys.stderr
    return not quiet and bool(getattr(stream, "isatty", lambda: False)())


@contextmanager
def progress(description: str, total: float | None = None, quiet: bool = False,
             unit: Callable[[float], str] | None = None) -> Iterator[Progress]:
    """A transient progress bar on stderr for the `with` block (nothing when not a TTY).

    total: the amount of work (None: a spinner); unit: formats done / total for display
    (e.g. session seconds as m:ss).
    """
    if not shows_progress(quiet):
        yield Progress()
        return
    from rich.console import Console
    from rich.progress import (BarColumn, Progress as RichProgress, ProgressColumn,
                               SpinnerColumn, TextColumn, TimeElapsedColumn)
    from rich.text import Text

    show = unit or (lambda x: f"{x:.0f}")

    class Amount(ProgressColumn):
        def render(self, task) -> Text:
            done = show(task.completed)
            return Text(f"{done} / {show(task.total)}" if task.total else done)

    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), Amount(),
               TimeElapsedColumn()]
    # printing through the bar keeps lines above it on a terminal; a piped stdout is left
    # alone, so its lines still go to the pipe
    bar = RichProgress(*columns, console=Console(stderr=True), transient=True,
                       redirect_stdout=bool(sys.stdout.isatty()), redirect_stderr=False)
    with bar:
        task = bar.add_task(description, total=total)
        yield Progress(bar, task, total)
