"""A report keeps the session's angles and acceleration in files, not in memory (issue 9).

The columns are real files in a real temporary folder; the report reads them back a
stretch at a time and gives what the in-memory run gives.
"""

import errno
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import imu.spill as spill
from imu.analysis import open_source, run_source
from imu.core.columns import MemoryColumns
from imu.core.stability import MaskedSeries
from imu.spill import SpillColumns, SpilledSeries


def test_a_spilled_column_reads_back_what_was_appended(tmp_path):
    rng = np.random.default_rng(0)
    pieces = [rng.normal(size=int(k)).astype(np.float32) for k in rng.integers(0, 500, size=20)]
    pieces[3][:10] = np.nan
    whole = np.concatenate(pieces)
    with SpillColumns(tmp_path) as columns:
        column = columns.column(np.float32)
        for piece in pieces:
            column.append(piece.astype(np.float64))  # kept as the column's dtype
        assert len(column) == len(whole)
        series = column.series()
        assert isinstance(series, SpilledSeries) and series.dtype == np.float32 and len(series) == len(whole)
        for _ in range(200):
            a, b = sorted(rng.integers(-len(whole) - 5, len(whole) + 5, size=2))
            part = series[a:b]
            assert np.array_equal(part, whole[a:b], equal_nan=True)
            assert part.flags.writeable  # the reader's own array (a mask may write NaN into it)
        assert series[7] == whole[7] and series[-1] == whole[-1]
        with pytest.raises(IndexError):
            series[len(whole)]
        # anything else reads it whole, and is still right
        assert np.array_equal(series[::3], whole[::3], equal_nan=True)
        assert np.array_equal(series[whole > 0], whole[whole > 0])
        assert np.array_equal(np.asarray(series, float), whole.astype(float), equal_nan=True)
        # appended after a read: the next series holds the new samples too
        column.append(np.ones(4, np.float32))
        assert len(column.series()) == len(whole) + 4 and column.series()[-4:].tolist() == [1.0] * 4
        folder = columns.folder
        assert folder.is_dir() and len(list(folder.iterdir())) == 1
    assert not folder.exists()  # removed on close


def test_a_cut_column_file_is_an_error_not_short_data(tmp_path):
    with SpillColumns(tmp_path) as columns:
        column = columns.column(np.float32)
        column.append(np.arange(100, dtype=np.float32))
        series = column.series()
        with open(series.path, "r+b") as f:
            f.truncate(40 * 4)
        assert np.array_equal(series[10:40], np.arange(10, 40, dtype=np.float32))
        with pytest.raises(OSError, match="ended early"):
            series[30:60]


def test_a_full_disk_keeps_the_column_in_memory_without_losing_a_sample(tmp_path, monkeypatch):
    """A full disk cannot be made here: the file's writes are made to fail with ENOSPC after
    two pieces (a mock, and only of the failing write)."""
    with SpillColumns(tmp_path) as columns:
        column = columns.column(np.float32)
        pieces = [np.arange(k * 100, k * 100 + 100, dtype=np.float32) for k in range(6)]
        column.append(pieces[0])
        column.append(pieces[1])
        real = column._file

        class FullDisk:
            def write(self, data):
                raise OSError(errno.ENOSPC, "No space left on device")

            def close(self):
                real.close()

        column._file = FullDisk()
        for piece in pieces[2:]:
            column.append(piece)
        series = column.series()
        assert isinstance(series, np.ndarray)  # in memory now
        assert np.array_equal(series, np.concatenate(pieces))
        assert not (columns.folder / "0.bin").exists()


def test_no_writable_temporary_folder_keeps_every_column_in_memory(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(spill.tempfile, "mkdtemp", refuse)
    with SpillColumns(tmp_path) as columns:
        column = columns.column(np.float32)
        column.append(np.arange(5, dtype=np.float32))
        assert np.array_equal(column.series(), np.arange(5, dtype=np.float32))


def test_a_masked_series_reads_nan_where_masked_and_leaves_the_angle_alone():
    x = np.arange(20, dtype=np.float32)
    mask = np.zeros(20, bool)
    mask[[2, 3, 15]] = True
    masked = MaskedSeries(x, mask)
    part = masked[1:5]
    assert np.isnan(part[1:3]).all() and part[0] == 1 and part[3] == 4
    assert np.array_equal(x, np.arange(20, dtype=np.float32))  # the angle itself is unchanged
    assert len(masked) == 20 and masked.dtype == np.float32
    assert np.isnan(np.asarray(masked)[15])


class WholeReadForbidden(SpilledSeries):
    def __array__(self, dtype=None, copy=None):
        raise AssertionError("the whole series was read")

    def __getitem__(self, key):
        if not (isinstance(key, slice) and key.step in (None, 1)) and not isinstance(key, (int, np.integer)):
            raise AssertionError(f"the series was read whole through [{type(key).__name__}]")
        return super().__getitem__(key)


@pytest.fixture(scope="module")
def slipped_session(tmp_path_factory):
    """A desk session whose thoracic sensor slips 20 deg at 400 s and stays: the grading
    masks everything after it, so it reads the angles through the mask."""
    from imu import quat as Q
    from imu.sim import simulate
    from imu.sim.wearer import Wearer
    from imu.sim.write import write_simulated_session

    original = Wearer.sensor_kinematics
    tip = Q.from_axis_angle(np.array([1.0, 0.0, 0.0]), np.array(20.0))

    def slipping(self, location, mounting, t):
        if location != "thoracic":
            return original(self, location, mounting, t)
        t = np.asarray(t, float)
        before, after = original(self, location, mounting, t), original(self, location, Q.multiply(mounting, tip), t)
        late = (t >= 400.0)[:, None]
        return tuple(np.where(late, b, a) for a, b in zip(before, after))

    Wearer.sensor_kinematics = slipping
    try:
        sim = simulate("desk", 600.0, 0, loss_rate=0.0)
    finally:
        Wearer.sensor_kinematics = original
    path = tmp_path_factory.mktemp("slip") / "slip.imu"
    write_simulated_session(sim, path, "desk", 0)
    return path


def stability_facts(result):
    s = result.stability
    return ([i.as_dict() for i in s.sensor_issues], [g.as_dict() for g in s.activity.segments], s.codes.tolist(),
            s.invalid.tolist(), s.notes, repr(s.gait), s.lean_reference_deg)


def test_grading_from_spilled_columns_equals_grading_in_memory_and_never_reads_a_series_whole(
        slipped_session, tmp_path, monkeypatch):
    in_memory = run_source(open_source(slipped_session), columns=MemoryColumns())
    assert [i.kind for i in in_memory.stability.sensor_issues] == ["slipped"]
    monkeypatch.setattr(spill, "SpilledSeries", WholeReadForbidden)
    with SpillColumns(tmp_path) as columns:
        spilled = run_source(open_source(slipped_session), columns=columns)
        assert all(isinstance(v, WholeReadForbidden) for v in spilled.analysis.angles.values())
        assert all(isinstance(v, WholeReadForbidden) for v in spilled.acc.values())
        for series in (spilled.analysis.t, spilled.analysis.valid, spilled.analysis.context):
            assert isinstance(series, WholeReadForbidden)
        assert np.array_equal(spilled.analysis.valid[0:len(in_memory.analysis.valid)], in_memory.analysis.valid)
        assert np.array_equal(spilled.analysis.context[0:len(in_memory.analysis.context)], in_memory.analysis.context)
        assert np.array_equal(spilled.analysis.t[0:len(in_memory.analysis.t)], in_memory.analysis.t)
        assert stability_facts(spilled) == stability_facts(in_memory)
        assert spilled.exposures.keys() == in_memory.exposures.keys()
        for name, values in in_memory.analysis.angles.items():
            assert np.array_equal(spilled.analysis.angles[name][0:len(values)], values, equal_nan=True)


class InMemory(MemoryColumns):
    """The columns of an ordinary run, where a report would spill them."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


def test_the_report_from_spilled_columns_is_the_in_memory_report_and_leaves_no_file(
        slipped_session, tmp_path, monkeypatch):
    from imu.report.make import make_report

    with monkeypatch.context() as patch:
        patch.setattr(spill, "SpillColumns", lambda: InMemory())
        memory = make_report(slipped_session, tmp_path / "memory")
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(spill, "SpilledSeries", WholeReadForbidden)
    monkeypatch.setattr(spill.tempfile, "tempdir", str(temporary))
    spilled = make_report(slipped_session, tmp_path / "spilled")
    for name in ("summary.json", "events.csv"):
        assert spilled[name].read_bytes() == memory[name].read_bytes(), name
    summary = json.loads(spilled["summary.json"].read_text())
    assert [(i["sensor"], i["kind"]) for i in summary["sensor_issues"]] == [("thoracic", "slipped")]
    assert list(temporary.iterdir()) == []  # the report's folder of columns is gone


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 3000), st.integers(1, 9), st.lists(st.floats(-10, 400, allow_nan=False), max_size=12),
       st.sampled_from(["left", "right"]))
def test_a_spilled_time_axis_is_searched_as_the_whole_array_is(n, every, values, side):
    """Looked up through its marks (every `every`-th value here, so most lookups cross them)
    and one stretch read from the file: the same index as np.searchsorted on the array, for
    values before, inside (on a sample and between two) and after the axis."""
    import tempfile

    t = np.cumsum(np.random.default_rng(n).choice([0.01, 0.01, 0.02, 1.5], size=n)) - 1.0
    values = values + [float(t[0]), float(t[-1]), float(t[n // 2])]
    saved = spill.INDEX_EVERY
    spill.INDEX_EVERY = every
    try:
        with tempfile.TemporaryDirectory() as folder, SpillColumns(folder) as columns:
            column = columns.column(np.float64, increasing=True)
            for piece in np.array_split(t, 5):
                column.append(piece)
            axis = column.series()
            assert np.array_equal(np.searchsorted(axis, values, side=side), np.searchsorted(t, values, side=side))
            for value in values:
                assert np.searchsorted(axis, value, side=side) == np.searchsorted(t, value, side=side)
    finally:
        spill.INDEX_EVERY = saved
