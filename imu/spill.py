"""Columns kept in files while a report is made, read back a stretch at a time.

An eight-hour session's time axis, seven angles, validity, context and two acceleration
magnitudes are about 130 MB; held in memory they made a report's peak grow with the
recording. `SpillColumns`
writes each collected series to a file in a temporary folder as the pass goes on, and the
analysis reads stretches of it back (`SpilledSeries[a:b]`, a new array each time). The
operating system's file cache keeps the recent ones at hand; the process holds only what
it reads. When the folder cannot be written (no room left on the disk), a column keeps its
values in memory instead, as an ordinary run does. The folder is removed on close.

    with SpillColumns() as columns:
        result = run_source(source, columns=columns)
        ...  # everything that reads result.analysis.angles, before the block ends
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from imu.core.columns import MemoryColumn

INDEX_EVERY = 4096  # an increasing series keeps every this-many-th value in memory


class SpilledSeries:
    """A float series in a file: `len(x)`, `x.dtype`, `x[a:b]` (read from the file, a new
    writable array), `x[i]`; any other index, and np.asarray(x), read it whole."""

    ndim = 1

    def __init__(self, path: Path, dtype: np.dtype, n: int, marks: np.ndarray | None = None):
        """marks: every INDEX_EVERY-th value of an increasing series (its searchsorted then
        reads one stretch of the file per value looked up)."""
        self.path, self.dtype, self._n = path, np.dtype(dtype), n
        self._marks = marks
        self._file = None  # opened on the first read, closed by close()

    def __len__(self) -> int:
        return self._n

    @property
    def shape(self) -> tuple[int]:
        return (self._n,)

    @property
    def size(self) -> int:
        return self._n

    def searchsorted(self, v, side: str = "left", sorter=None):
        """np.searchsorted on an increasing series (np.searchsorted(series, v) calls this):
        the marks place each value within one stretch, which is read and searched."""
        if self._marks is None or sorter is not None:
            return np.searchsorted(self.read(0, self._n), v, side=side, sorter=sorter)
        values = np.asarray(v, dtype=float)
        out = np.empty(values.shape, np.int64)
        for k, value in np.ndenumerate(values):
            j = int(np.searchsorted(self._marks, value, side=side))  # marks[j - 1] < (<=) value
            if j == 0:
                out[k] = 0
                continue
            lo = (j - 1) * INDEX_EVERY
            out[k] = lo + int(np.searchsorted(self.read(lo, j * INDEX_EVERY + 1), value, side=side))
        return out if values.ndim else np.int64(out[()])

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows [start, stop), clipped to the series."""
        start, stop = max(0, start), min(self._n, stop)
        out = np.empty(max(0, stop - start), self.dtype)
        if len(out):
            if self._file is None:
                self._file = open(self.path, "rb", buffering=0)
            self._file.seek(start * self.dtype.itemsize)
            view, got = memoryview(out).cast("B"), 0
            while got < out.nbytes:  # a read may return less than asked; none at the file's end
                more = self._file.readinto(view[got:])
                if not more:
                    raise OSError(f"{self.path}: the report's temporary file ended early "
                                  f"({got} of {out.nbytes} bytes)")
                got += more
        return out

    def __getitem__(self, key):
        if isinstance(key, slice) and key.step in (None, 1):
            start, stop, _ = key.indices(self._n)
            return self.read(start, stop)
        if isinstance(key, (int, np.integer)):
            i = int(key) + (self._n if key < 0 else 0)
            if not 0 <= i < self._n:
                raise IndexError(f"index {int(key)} out of range for {self._n} samples")
            return self.read(i, i + 1)[0]
        return self.read(0, self._n)[key]

    def __array__(self, dtype=None, copy=None):
        whole = self.read(0, self._n)
        return whole if dtype is None else whole.astype(dtype)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class SpilledColumn:
    """One collected series written to its file as it arrives (in memory if it cannot be).
    increasing: the series is a time axis, looked up with np.searchsorted."""

    def __init__(self, path: Path, dtype, increasing: bool = False):
        self.path, self.dtype = path, np.dtype(dtype)
        self._marks: list[np.ndarray] | None = [] if increasing else None
        self._file = open(path, "wb", buffering=0)  # unbuffered: a failed write is this one
        self._memory: MemoryColumn | None = None
        self._series: SpilledSeries | None = None
        self._n = 0

    def append(self, values: np.ndarray) -> None:
        values = np.ascontiguousarray(values, dtype=self.dtype)
        if self._marks is not None:
            self._marks.append(values[(-len(self)) % INDEX_EVERY::INDEX_EVERY].copy())
        if self._memory is None:
            try:
                data = memoryview(values).cast("B")
                while len(data):
                    data = data[self._file.write(data):]
            except OSError:
                self._to_memory()
            else:
                self._n += len(values)
                return
        self._memory.append(values)

    def _to_memory(self) -> None:
        """No room for the file: what it holds goes to memory, and so does the rest."""
        self._file.close()
        self._memory = MemoryColumn(self.dtype)
        kept = self._n * self.dtype.itemsize
        self._memory.append(np.fromfile(self.path, dtype=self.dtype, count=self._n) if kept else
                            np.empty(0, self.dtype))
        self.path.unlink(missing_ok=True)

    def __len__(self) -> int:
        return self._n if self._memory is None else len(self._memory)

    def series(self):
        if self._memory is not None:
            return self._memory.series()
        if self._series is None or len(self._series) != self._n:
            self.close_series()
            marks = None if self._marks is None else np.concatenate(self._marks or [np.empty(0, self.dtype)])
            self._series = SpilledSeries(self.path, self.dtype, self._n, marks)
        return self._series

    def close_series(self) -> None:
        if self._series is not None:
            self._series.close()

    def close(self) -> None:
        self._file.close()
        self.close_series()


class SpillColumns:
    """A temporary folder of spilled columns (a context manager; removed on close)."""

    def __init__(self, parent: str | os.PathLike | None = None):
        try:
            self.folder: Path | None = Path(tempfile.mkdtemp(prefix="imu-report-", dir=parent))
        except OSError:  # no writable temporary folder: every column stays in memory
            self.folder = None
        self._columns: list[SpilledColumn] = []

    def column(self, dtype, increasing: bool = False) -> SpilledColumn | MemoryColumn:
        if self.folder is None:
            return MemoryColumn(dtype)
        try:
            column = SpilledColumn(self.folder / f"{len(self._columns)}.bin", dtype, increasing)
        except OSError:
            return MemoryColumn(dtype)
        self._columns.append(column)
        return column

    def close(self) -> None:
        for column in self._columns:
            column.close()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> SpillColumns:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
