"""SessionEnvelope: the figures' summary of a session, gathered step by step in bounded memory,
against direct computations on the whole arrays; and the report figures drawn from it."""

from dataclasses import dataclass

import numpy as np
import pytest

from imu.core.context import CONTEXT_LABELS, context_codes, context_labels
from imu.core.envelope import SessionEnvelope, group_edges
from imu.report.figures import (
    degree_bars, distribution_figure, minmax_decimate, timeline_figure, trace_figure,
)

DT = 0.01
PNG = b"\x89PNG\r\n\x1a\n"


def session(n=50_000, seed=0, jump=None):
    """t (with an optional skipped stretch (at, steps)), three angles (one appearing late, NaN
    stretches), valid with holes, context codes in runs."""
    rng = np.random.default_rng(seed)
    steps = np.arange(n)
    if jump is not None:
        at, skipped = jump
        steps[at:] += skipped
    t = 12.5 + steps * DT
    flexion = (20 * np.sin(steps / 3000) + rng.normal(0, 2, n)).astype(np.float32)
    flexion[rng.integers(0, n, 5)] = 88.0  # lone spikes
    lateral = rng.normal(0, 5, n).astype(np.float32)
    lateral[n // 3: n // 3 + 700] = np.nan
    late = np.full(n, np.nan, dtype=np.float32)
    late[n // 2:] = rng.normal(10, 3, n - n // 2)
    valid = rng.random(n) > 0.05
    valid[n // 5: n // 5 + 900] = False
    codes = np.repeat(rng.integers(0, len(CONTEXT_LABELS), n // 500 + 1), 500)[:n].astype(np.uint8)
    angles = {"thoracic_flexion": flexion, "thoracic_lateral_bend": lateral, "lumbar_flexion": late}
    return t, angles, valid, codes


def fed_in_chunks(t, angles, valid, codes, max_bins, seed=1):
    """As the pipeline feeds it: random step sizes, an angle absent until its first value."""
    rng = np.random.default_rng(seed)
    envelope = SessionEnvelope(DT, max_bins)
    start = 0
    while start < t.size:
        stop = min(t.size, start + int(rng.integers(0, 3000)))
        part = slice(start, stop)
        present = {k: v[part] for k, v in angles.items()
                   if k != "lumbar_flexion" or stop > t.size // 2}
        envelope.add(t[part], present, valid[part], codes[part])
        start = stop
    return envelope


def direct_bins(t, envelope):
    """Bin of each sample at the envelope's final width, computed from scratch."""
    steps = np.rint((t - t[0]) / DT).astype(np.int64)
    return steps // envelope.steps_per_bin


@pytest.mark.parametrize("max_bins", [7, 64, 4096])
def test_fed_in_random_steps_equals_the_whole_at_once(max_bins):
    t, angles, valid, codes = session(jump=(30_000, 12_345))
    streamed = fed_in_chunks(t, angles, valid, codes, max_bins)
    whole = SessionEnvelope.from_arrays(t, angles, valid, context_labels(codes), DT, max_bins)
    assert (streamed.bins, streamed.steps_per_bin) == (whole.bins, whole.steps_per_bin)
    assert sorted(streamed.angle_names) == sorted(whole.angle_names)
    for name in whole.angle_names:
        for a, b in zip(streamed.minmax(name), whole.minmax(name)):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(streamed.sample_counts(), whole.sample_counts())
    np.testing.assert_array_equal(streamed.valid_counts(), whole.valid_counts())
    np.testing.assert_array_equal(streamed.context_counts(), whole.context_counts())
    for a, b in zip(streamed.bin_times(), whole.bin_times()):
        np.testing.assert_array_equal(a, b)
    assert streamed.context_runs(100) == whole.context_runs(100)


@pytest.mark.parametrize("max_bins", [5, 300, 100_000])
def test_bin_min_max_and_counts_equal_a_direct_computation(max_bins):
    t, angles, valid, codes = session(n=10_000, jump=(4_000, 501))
    envelope = fed_in_chunks(t, angles, valid, codes, max_bins)
    bins = direct_bins(t, envelope)
    assert envelope.bins == bins[-1] + 1
    edges = np.searchsorted(bins, np.arange(envelope.bins + 1))  # bins are non-decreasing
    for name, values in angles.items():
        low, high = envelope.minmax(name)
        expected = np.full((envelope.bins, 2), np.nan)
        for b in range(envelope.bins):
            y = np.where(valid, values, np.nan)[edges[b]:edges[b + 1]]
            if np.isfinite(y).any():
                expected[b] = np.nanmin(y), np.nanmax(y)
        np.testing.assert_array_equal(np.column_stack([low, high]), expected)
    np.testing.assert_array_equal(envelope.sample_counts(), np.bincount(bins))
    np.testing.assert_array_equal(envelope.valid_counts(),
                                  np.bincount(bins[valid], minlength=envelope.bins))
    first, last = envelope.bin_times()
    filled = np.bincount(bins) > 0
    np.testing.assert_array_equal(first[filled], [t[bins == b][0] for b in np.flatnonzero(filled)])
    np.testing.assert_array_equal(last[filled], [t[bins == b][-1] for b in np.flatnonzero(filled)])


def test_bins_stay_bounded_and_no_coarser_than_needed_on_a_long_input():
    envelope = SessionEnvelope(DT, max_bins=1000)
    n_total, chunk = 2_000_000, 100_000
    t = np.arange(n_total) * DT
    y = np.sin(t / 7.0) * t / 100  # the extremes near the end
    for start in range(0, n_total, chunk):
        part = slice(start, start + chunk)
        envelope.add(t[part], {"a": y[part]}, np.ones(chunk, bool), np.ones(chunk, np.uint8))
        assert envelope.bins <= 1000
    assert envelope.bins > 500  # one doubling fewer would not have fitted
    assert envelope.steps_per_bin == 2048 and envelope.bin_s == pytest.approx(20.48)
    assert envelope.sample_count == envelope.valid_count == n_total
    low, high = envelope.minmax("a")
    assert (low.min(), high.max()) == (y.astype(np.float32).min(), y.astype(np.float32).max())


def test_short_session_keeps_every_sample():
    t, angles, valid, codes = session(n=3000)
    envelope = SessionEnvelope.from_arrays(t, angles, valid, codes, DT)
    assert envelope.steps_per_bin == 1 and envelope.bins == 3000
    tx, ty = envelope.trace("thoracic_flexion", 1600)
    y = np.where(valid, angles["thoracic_flexion"], np.nan).astype(float)
    np.testing.assert_array_equal(tx, t)
    np.testing.assert_array_equal(ty, y)
    np.testing.assert_array_equal(ty, minmax_decimate(t, y, 1600)[1])


@pytest.mark.parametrize("columns", [512, 1000, 1600])
def test_trace_equals_minmax_decimation_of_the_samples(columns):
    """No gaps and a sample count that fills every bin: the columns of the trace and of
    minmax_decimate hold the same samples, whatever way the envelope was fed."""
    t, angles, valid, codes = session(n=4096 * 8)
    envelope = fed_in_chunks(t, angles, valid, codes, 4096)
    assert envelope.steps_per_bin == 8 and envelope.bins == 4096
    column = np.searchsorted(group_edges(4096, columns), np.arange(t.size) // 8, "right") - 1
    for name, values in angles.items():
        y = np.where(valid, values, np.nan).astype(float)
        tx, ty = envelope.trace(name, columns)
        assert tx.size == ty.size == 2 * columns and np.all(np.diff(tx) >= 0)
        if 4096 % columns == 0:
            ex, ey = minmax_decimate(t, y, columns)
            np.testing.assert_array_equal(tx, ex)
            np.testing.assert_array_equal(ty, ey)
        # every sample lies within its column, and the extremes are reached
        seen = np.isfinite(y)
        assert np.all(y[seen] >= ty[0::2][column[seen]]) and np.all(y[seen] <= ty[1::2][column[seen]])
        assert np.nanmax(ty) == np.nanmax(y) and np.nanmin(ty) == np.nanmin(y)


def test_a_skipped_stretch_is_a_gap():
    t, angles, valid, codes = session(n=40_000, jump=(20_000, 60_000))
    valid[:] = True
    codes[:] = 1
    envelope = fed_in_chunks(t, angles, valid, codes, 256)
    tx, ty = envelope.trace("thoracic_flexion", 100)
    margin = 2 * envelope.bin_s  # a column is at most two bins wide here
    inside = (tx > t[19_999] + margin) & (tx < t[20_000] - margin)
    assert inside.sum() > 40 and np.isnan(ty[inside]).all()
    beside = (tx <= t[19_999]) | (tx >= t[20_000])
    assert np.isfinite(ty[beside]).all()  # (no sample of this angle is NaN)
    runs = envelope.context_runs(4000)
    assert [label for *_, label in runs] == ["still", "still"]
    (a0, a1, _), (b0, b1, _) = runs
    assert (a0, b0) == (t[0], t[20_000])
    assert a1 == pytest.approx(t[19_999] + DT, abs=envelope.bin_s)
    assert b1 == pytest.approx(t[-1] + DT)


def test_context_seconds_and_counts_are_exact():
    t, angles, valid, codes = session(n=30_000, jump=(10_000, 7))
    envelope = fed_in_chunks(t, angles, valid, codes, 50)
    counts = np.bincount(codes, minlength=len(CONTEXT_LABELS))
    assert envelope.context_seconds() == {label: c * DT
                                          for label, c in zip(CONTEXT_LABELS, counts) if c}
    assert envelope.sample_count == t.size and envelope.valid_count == int(valid.sum())
    np.testing.assert_array_equal(envelope.context_counts().sum(axis=0), counts)


def test_context_runs_give_the_prevailing_label():
    codes = np.array([1] * 600 + [2] * 300 + [1] * 100 + [2] * 1000, dtype=np.uint8)
    t = np.arange(codes.size) * DT
    envelope = SessionEnvelope.from_arrays(t, {}, np.ones(codes.size, bool), codes, DT, max_bins=4)
    # bins of 512 samples: 512 still; 188 still and 324 moving; moving; moving
    assert envelope.steps_per_bin == 512
    runs = envelope.context_runs(10)
    assert [label for *_, label in runs] == ["still", "moving"]
    assert runs[0][:2] == (0.0, pytest.approx(512 * DT))
    assert runs[1][0] == pytest.approx(512 * DT)
    assert runs[1][1] == pytest.approx(t[-1] + DT)
    assert envelope.context_runs(1) == [(0.0, pytest.approx(t[-1] + DT), "moving")]


def test_bad_input_is_refused():
    envelope = SessionEnvelope(DT)
    envelope.add(np.arange(10) * DT, {}, np.ones(10, bool), np.zeros(10, np.uint8))
    with pytest.raises(ValueError):  # time going back
        envelope.add(np.arange(5) * DT, {}, np.ones(5, bool), np.zeros(5, np.uint8))
    with pytest.raises(ValueError):
        envelope.add(np.array([1.0]), {}, np.ones(1, bool), np.array([9], np.uint8))
    with pytest.raises(ValueError):  # refused whole: nothing of it is counted
        envelope.add(np.array([1.0, 1.01]), {"a": np.ones(3)}, np.ones(2, bool), np.zeros(2, np.uint8))
    assert envelope.sample_count == 10 and envelope.angle_names == []
    with pytest.raises(ValueError):
        SessionEnvelope(0.0)


# --- distribution bars ------------------------------------------------------------------------
@dataclass(frozen=True)
class DegreeHistogram:  # the shape imu.core.exposure gives each AngleExposure
    lo_deg: int
    counts: np.ndarray


@dataclass(frozen=True)
class Exposure:  # what distribution_figure reads of an AngleExposure
    percentiles: dict
    histogram: DegreeHistogram


def degree_histogram(y):
    y = y[np.isfinite(y)]
    degree = np.floor(y).astype(np.int64)
    return DegreeHistogram(int(degree.min()), np.bincount(degree - degree.min()))


def test_degree_bars_equal_a_histogram_of_the_samples():
    rng = np.random.default_rng(3)
    y = rng.normal(12, 20, 50_000)
    y = y[(y > -60.5) & (y < 100.5)]
    h = degree_histogram(y)
    percent, edges = degree_bars(h.lo_deg, h.counts)
    counts, _ = np.histogram(y, bins=edges)
    np.testing.assert_allclose(percent, 100 * counts / y.size)
    assert np.all(np.diff(edges) == 1) and edges[0] == np.floor(y.min())

    wide = np.concatenate([y, [-150.2, 170.9]])  # a 322-degree span: bars of 2 degrees
    h = degree_histogram(wide)
    percent, edges = degree_bars(h.lo_deg, h.counts)
    assert len(percent) <= 180 and np.all(np.diff(edges) == 2) and edges[0] == -151
    np.testing.assert_allclose(percent, 100 * np.histogram(wide, bins=edges)[0] / wide.size)

    percent, edges = degree_bars(5, np.array([40]))  # a constant angle: ten bars
    assert edges.tolist() == list(range(5, 16)) and percent.tolist() == [100.0] + [0.0] * 9


# --- figures of a simulated session -----------------------------------------------------------
@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """A simulated desk session through the analysis, the envelope fed from every step."""
    from imu.analysis import analyze, open_source
    from imu.core.exposure import angle_summary
    from imu.sim import simulate
    from imu.sim.write import write_simulated_session

    sim = simulate("desk", 300, seed=6)
    path = tmp_path_factory.mktemp("envelope") / "desk.imu"
    write_simulated_session(sim, path, "desk", 6)
    envelopes = []

    def on_step(out):
        n = len(out.t)
        if n == 0:
            return
        if not envelopes:
            envelopes.append(SessionEnvelope(0.01, max_bins=1024))  # the default 100 Hz grid
        valid = np.ones(n, bool)
        for q in out.grid.quat.values():
            valid &= np.isfinite(q).all(axis=1)
        envelopes[0].add(out.t, out.angles, valid, context_codes(out.context))

    analysis = analyze(open_source(path), on_step)
    return analysis, envelopes[0], angle_summary(analysis)


def test_streamed_envelope_of_a_simulated_session_equals_the_analysis_one(simulated):
    analysis, streamed, _ = simulated
    whole = SessionEnvelope.from_arrays(analysis.t, analysis.angles, analysis.valid,
                                        analysis.context, max_bins=1024)
    assert streamed.steps_per_bin == whole.steps_per_bin > 1
    for name in analysis.angles:
        for a, b in zip(streamed.minmax(name), whole.minmax(name)):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(streamed.context_counts(), whole.context_counts())
    assert streamed.valid_count == int(analysis.valid.sum())
    assert streamed.sample_count == analysis.t.size
    labels, counts = np.unique(analysis.context_labels.astype(str), return_counts=True)
    assert streamed.context_seconds() == {k: pytest.approx(c * 0.01) for k, c in zip(labels, counts)}


def test_figures_of_a_simulated_session_are_png(simulated, tmp_path):
    analysis, envelope, exposures = simulated
    names = list(exposures)
    assert len(names) >= 3
    trace = trace_figure(analysis, names, envelope)
    timeline = timeline_figure(analysis, envelope)
    valid = np.asarray(analysis.valid, bool)
    with_histograms = {name: Exposure(e.percentiles, degree_histogram(
        np.asarray(analysis.angles[name], float)[valid])) for name, e in exposures.items()}
    distributions = distribution_figure(with_histograms)
    for png in (trace, timeline, distributions):
        assert png.startswith(PNG) and len(png) > 5000
    # the exposures' own histograms (angle_summary's) draw the same picture
    assert distribution_figure(exposures) == distributions
