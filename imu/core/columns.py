"""Where a run keeps the per-sample series it collects (a session's angles, its acceleration).

A collector asks its `columns` for one column per series, appends each step's values to
it, and at the end takes the column's `series()`: what the analysis then reads. The
default, `MemoryColumns`, keeps the pieces in memory and joins them into one numpy array.
A report passes columns kept in files instead (imu.spill), whose series are read a stretch
at a time: the session's angles then need no memory that grows with the session. Whatever
reads a series other than by slices (`x[a:b]`), `len(x)` and `x.dtype` makes it whole;
a time axis (a column made `increasing`) is also looked up with np.searchsorted, and
`time_axis(t)` keeps it as it is where a reader would make it an array.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Column(Protocol):
    def append(self, values: np.ndarray) -> None: ...  # values on, in order

    def __len__(self) -> int: ...

    def series(self): ...


class MemoryColumn:
    """A series' pieces in memory, joined once into one array."""

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)
        self._parts: list[np.ndarray] = []
        self._n = 0

    def append(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=self.dtype)
        self._parts.append(values)
        self._n += len(values)

    def __len__(self) -> int:
        return self._n

    def series(self) -> np.ndarray:
        """The pieces as one new array, which then stands in for them: the pieces are let go
        at once, and a later append goes on from it (a later series is a new array again, so
        two analyses built from one run never share one)."""
        if not self._parts:
            return np.empty(0, self.dtype)
        joined = np.concatenate(self._parts)
        self._parts[:] = [joined]
        return joined


class MemoryColumns:
    """The default: every column in memory."""

    def column(self, dtype, increasing: bool = False) -> MemoryColumn:
        return MemoryColumn(dtype)


def time_axis(t):
    """A time axis as its readers take it: a series read by stretches (it has its own
    searchsorted, which np.searchsorted calls) as it is, anything else as a float64 array."""
    if not isinstance(t, np.ndarray) and hasattr(t, "searchsorted") and getattr(t, "dtype", None) == np.float64:
        return t
    return np.asarray(t, float)
