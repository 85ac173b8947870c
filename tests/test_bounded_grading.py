"""The grading read a block at a time gives what reading the whole session gave (issue 9:
memory that does not grow with the session).

The gait signal and its step band, the running sums of the segmentation's windows, the
moving mean a slip's return is looked for in, the frozen-sensor masks and the context
counts are each made a block at a time now. Each test sets the block far smaller than in a
report, so a short signal crosses many block edges, and compares with the whole-session
reading as first written (kept here as the specification).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import imu.core.activity as activity
import imu.core.gait_band as gait_band
import imu.core.sensor_issues as sensor_issues
from imu.core.activity import PrefixSums, segment_activities
from imu.core.context import CONTEXT_LABELS, context_counts
from imu.core.gait_band import SEGMENT_BAND_HZ, SessionBand, SessionGaitSignal
from imu.core.strides import bandpass, gait_signal
from imu.profile import Thresholds


def gappy(rng, n: int, scale: float = 1.0) -> np.ndarray:
    """float32 values with single missing samples, runs of them, and unknown starts / ends."""
    x = (1.0 + scale * rng.normal(size=n)).astype(np.float32)
    x[rng.choice(n, size=n // 20, replace=False)] = np.nan
    for _ in range(int(rng.integers(0, 6))):
        a = int(rng.integers(0, n))
        x[a:a + int(rng.integers(1, n // 3 + 2))] = np.nan
    return x


def test_the_gait_signal_read_by_stretches_is_the_whole_filled_signal(monkeypatch):
    monkeypatch.setattr(gait_band, "_SCAN", 7)  # the search for a gap's neighbour crosses many chunks
    rng = np.random.default_rng(11)
    for case in range(300):
        n = int(rng.integers(10, 1500))
        acc = {"lumbar": gappy(rng, n)} if case % 3 else {}
        angles = {"trunk_inclination": gappy(rng, n, 10.0)}
        if case % 5 == 0:
            acc = {"lumbar": np.full(n, np.nan, np.float32)}  # never finite: an angle is chosen
        whole, name = gait_signal(angles, acc)
        signal = SessionGaitSignal.of(angles, acc, n)
        if whole is None:
            assert signal is None
            continue
        assert signal.name == name
        for _ in range(10):
            a = int(rng.integers(0, n))
            b = int(rng.integers(a + 1, n + 1))
            assert np.array_equal(signal.rows(a, b), whole[a:b], equal_nan=True), (case, a, b)


def test_the_step_band_in_blocks_with_margins_is_the_whole_sessions_band():
    rate, n = 100.0, 150_000
    rng = np.random.default_rng(3)
    t = np.arange(n) / rate
    x = 1.0 + 0.2 * np.sin(2 * np.pi * 1.8 * t) * (np.sin(2 * np.pi * t / 600) > 0) + 0.01 * rng.normal(size=n)
    signal = SessionGaitSignal(lambda a, b: x[a:b], n, "lumbar acceleration")
    whole = bandpass(x, rate, *SEGMENT_BAND_HZ)
    blocks = SessionBand(signal, rate, block=20_000)
    parts = list(blocks.blocks())
    assert [(lo, hi) for lo, hi, _, _ in parts] == [(lo, min(n, lo + 20_000)) for lo in range(0, n, 20_000)]
    band = np.concatenate([p[3] for p in parts])
    assert np.max(np.abs(band - whole)) <= 1e-13
    assert np.array_equal(np.concatenate([p[2] for p in parts]), x)
    # a block read again is the same block
    assert np.array_equal(blocks.block(3)[1], parts[3][3])
    # the margins are what makes it so: without them each block's edges ring
    bare = np.concatenate([p[3] for p in SessionBand(signal, rate, block=20_000, margin_s=0.0).blocks()])
    assert np.max(np.abs(bare - whole)) > 1e-3


@pytest.fixture(scope="module")
def activity_session(tmp_path_factory):
    """Ten minutes of standing, walking and running (both sensors' acceleration kept)."""
    from imu.analysis import open_source, run_source
    from imu.sim import simulate
    from imu.sim.write import write_simulated_session

    sim = simulate("activity", None, 2)
    path = tmp_path_factory.mktemp("activity") / "activity.imu"
    write_simulated_session(sim, path, "activity", 2)
    result = run_source(open_source(path))
    return result.analysis, result.acc


def segments_with(monkeypatch, analysis, acc, block: int):
    monkeypatch.setattr(gait_band, "BAND_BLOCK", block)
    result = segment_activities(analysis.t, analysis.angles, acc, analysis.valid, analysis.thresholds,
                                sensor_rate_hz=100.0)
    return result.codes, [(s.kind, s.start_s, s.end_s, s.cadence_spm) for s in result.segments]


def window_features(analysis, acc, block: int):
    """The segmentation's per-window valid share, gap flag and step-band spread."""
    n = len(analysis.t)
    signal = SessionGaitSignal.of(analysis.angles, acc, n)
    centres = np.arange(0, n, 100)
    starts, stops = np.maximum(centres - 300, 0), np.minimum(centres + 300, n)
    return activity._window_band_features(SessionBand(signal, 100.0, block=block), analysis.valid, starts, stops)


def test_the_segmentation_in_small_blocks_equals_the_one_block_segmentation(monkeypatch, activity_session):
    """Blocks of 80 s (the band's margin is 120 s), so every window, boundary refinement and
    running sum crosses block edges; one block is the whole-session reading."""
    analysis, acc = activity_session
    whole, small = window_features(analysis, acc, len(analysis.t)), window_features(analysis, acc, 8_000)
    for mine, theirs in zip(small[:3], whole[:3]):
        assert np.array_equal(mine, theirs)  # bit for bit: the label thresholds see the same numbers
    assert len(small[3]) == -(-len(analysis.t) // 8_000) and len(whole[3]) == 1
    codes, segments = segments_with(monkeypatch, analysis, acc, len(analysis.t) + 1)
    kinds = {s[0] for s in segments}
    assert {"walking", "running"} <= kinds and len(segments) >= 4
    small_codes, small_segments = segments_with(monkeypatch, analysis, acc, 8_000)
    assert np.array_equal(small_codes, codes)
    assert small_segments == segments
    # from the angles alone (no acceleration) too
    assert segments_with(monkeypatch, analysis, None, 8_000)[1] == segments_with(
        monkeypatch, analysis, None, len(analysis.t) + 1)[1]


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 400), st.lists(st.integers(0, 300), max_size=8), st.integers(1, 50), st.booleans())
def test_running_sums_fed_in_stretches_are_one_passes_sums(n, cuts, block, square):
    rng = np.random.default_rng(n)
    values = rng.normal(size=n) * 10 ** rng.uniform(-3, 6)
    positions = np.sort(rng.integers(0, n + 1, size=int(rng.integers(0, 30))))
    expected = np.concatenate([[0.0], np.cumsum(values * values if square else values)])[positions]
    saved = activity.PREFIX_BLOCK
    activity.PREFIX_BLOCK = block
    try:
        sums = PrefixSums(positions, np.float64, square)
        for lo, hi in zip([0] + sorted(c % (n + 1) for c in cuts), sorted(c % (n + 1) for c in cuts) + [n]):
            sums.add(values[lo:hi])
    finally:
        activity.PREFIX_BLOCK = saved
    assert np.array_equal(sums.out, expected)


def plain_moving_mean(x, window):
    """The centred mean of the finite values, as first written: whole-session running sums."""
    h, n = window // 2, len(x)
    x = np.asarray(x, float)
    finite = np.isfinite(x)
    sums = np.concatenate([[0.0], np.cumsum(np.where(finite, x, 0.0))])
    counts = np.concatenate([[0], np.cumsum(finite)])
    idx = np.arange(n)
    a, b = np.clip(idx - h, 0, n), np.clip(idx + h + 1, 0, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts[b] > counts[a], (sums[b] - sums[a]) / np.maximum(counts[b] - counts[a], 1), np.nan)


def test_the_moving_mean_read_by_stretches_is_the_whole_sessions(monkeypatch):
    monkeypatch.setattr(sensor_issues, "ROLLING_BLOCK", 37)
    rng = np.random.default_rng(5)
    for case in range(200):
        n = int(rng.integers(1, 700))
        x = gappy(rng, n, 20.0) * np.float32(10 ** rng.uniform(-2, 3))
        window = int(rng.integers(1, 90))
        expected = plain_moving_mean(x, window)
        mean = sensor_issues._MovingMean(x, window)
        assert len(mean) == n
        for _ in range(5):
            lo = int(rng.integers(0, n))
            hi = int(rng.integers(lo, n + 30))
            assert np.array_equal(mean[lo:hi], expected[lo:hi], equal_nan=True), (case, lo, hi)


def plain_frozen_stretches(angles, win, thr):
    """The frozen stretches as first written: whole-session masks per sensor."""
    still, moves = {}, {}
    for sensor, names in sensor_issues._INCLINATION.items():
        for nm in names:
            if nm in angles:
                spread = np.concatenate([s for _, _, s in sensor_issues._rolling_std_blocks(angles[nm], win)])
                below, above = spread < thr.sensor_stopped_std_deg, spread > thr.sensor_moving_std_deg
                still[sensor] = below if sensor not in still else still[sensor] & below
                moves[sensor] = above if sensor not in moves else moves[sensor] | above
    out = {}
    for sensor in still:
        others = [k for k in still if k != sensor]
        if not others:
            continue
        frozen = still[sensor] & np.logical_or.reduce([moves[o] for o in others])
        edges = np.flatnonzero(np.diff(np.concatenate([[False], frozen, [False]]).astype(np.int8)))
        out[sensor] = list(zip(edges[::2].tolist(), edges[1::2].tolist()))
    return out


def test_frozen_stretches_found_block_by_block_are_the_whole_masks_stretches(monkeypatch):
    monkeypatch.setattr(sensor_issues, "ROLLING_BLOCK", 64)
    thr = Thresholds()
    rng = np.random.default_rng(9)
    found_any = 0
    for case in range(150):
        n = int(rng.integers(20, 1200))
        angles = {}
        for name in ("trunk_inclination", "trunk_lateral_inclination", "lumbar_inclination"):
            level = np.repeat(rng.normal(0, 10, size=n // 40 + 1), 40)[:n]
            noise = rng.normal(0, 1, n) * np.repeat(rng.choice([0.0, 0.05, 5.0], size=n // 25 + 1), 25)[:n]
            angles[name] = (level + noise).astype(np.float32)
        if case % 4 == 0:
            angles["lumbar_inclination"][: n // 2] = np.nan
        win = int(rng.integers(2, 60))
        expected = plain_frozen_stretches(angles, win, thr)
        got = sensor_issues._frozen_stretches(angles, win, thr)
        assert got == expected, case
        found_any += sum(len(v) for v in got.values())
    assert found_any > 100  # the cases hold many stretches, across block edges
    # one sensor alone: nothing to compare it with
    assert sensor_issues._frozen_stretches({"trunk_inclination": np.zeros(100, np.float32)}, 10, thr) == {}


def test_context_counts_by_blocks_are_the_whole_arrays(monkeypatch):
    import imu.core.context as context

    monkeypatch.setattr(context, "COUNT_BLOCK", 13)
    rng = np.random.default_rng(1)
    for n in (0, 1, 12, 13, 14, 500):
        codes = rng.integers(0, len(CONTEXT_LABELS), size=n).astype(np.uint8)
        expected = np.bincount(codes, minlength=len(CONTEXT_LABELS))
        assert context_counts(codes) == {label: int(c) for label, c in zip(CONTEXT_LABELS, expected) if c}
        assert context_counts(np.array(CONTEXT_LABELS, dtype=object)[codes]) == context_counts(codes)

