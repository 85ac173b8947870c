"""Stability's faster readings give exactly what the plain ones gave.

Each plain version below (or the library call it replaced) is the rule as first written (kept here as the specification):
the mode filter restarting from the session's start after every change, the come-back test
reading the whole rest of the session, and the standing test trying every gait segment.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from imu.core.activity import (ACTIVITY_CODE, RUNNING, STILL, STILL_STD_ANGLES, WALKING, Segment, _mode_filter,
                               _postures, _quiet_labels, _still_stds, activity_labels, classify_window,
                               overlay_labels)
from imu.core.sensor_issues import COME_BACK_S, _comes_back
from imu.core.strides import FILTER_BLOCK, acceleration_magnitude, bandpass, fill_nan


def plain_mode_filter(labels, hops):
    labels = list(labels)
    while True:
        runs, start = [], 0
        for i in range(1, len(labels) + 1):
            if i == len(labels) or labels[i] != labels[start]:
                runs.append((start, i))
                start = i
        if len(runs) < 2:
            return labels
        short = next((k for k, (a, b) in enumerate(runs) if b - a < hops), None)
        if short is None:
            return labels
        a, b = runs[short]
        neighbours = [r for r in (runs[short - 1] if short else None,
                                  runs[short + 1] if short + 1 < len(runs) else None) if r is not None]
        pick = max(neighbours, key=lambda r: r[1] - r[0])
        labels[a:b] = [labels[pick[0]]] * (b - a)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("swrmu"), st.integers(1, 9)), max_size=40), st.integers(1, 6))
def test_the_mode_filter_equals_the_restarting_one(runs, hops):
    labels = [label for label, length in runs for _ in range(length)]
    assert _mode_filter(labels, hops) == plain_mode_filter(labels, hops)


def plain_comes_back(smooth, c, size, before, rate, jump_deg):
    tol = max(0.5 * jump_deg, 0.25 * abs(size))
    back = np.sign(size) * (smooth[c + int(0.3 * rate):] - before) < tol
    need = max(1, int(COME_BACK_S * rate))
    edges = np.flatnonzero(np.diff(np.concatenate([[False], back, [False]]).astype(np.int8)))
    return bool(np.any(edges[1::2] - edges[::2] >= need))


def test_the_come_back_read_in_blocks_equals_the_whole_read():
    rng = np.random.default_rng(11)
    answers = []
    for _ in range(1500):
        n = int(rng.integers(0, 30_000))  # past several growing blocks
        x = np.repeat(rng.normal(0, 10, n // 40 + 1), 40)[:n] + rng.normal(0, 1, n)
        if n and rng.random() < 0.5:  # unknown stretches: never "back"
            a = int(rng.integers(0, n))
            x[a:a + int(rng.integers(0, 3000))] = np.nan
        rate = float(rng.choice([5.0, 60.0, 100.0, 400.0]))
        c, size, before = int(rng.integers(0, max(n, 1))), float(rng.normal(0, 15)), float(rng.normal(0, 10))
        expected = plain_comes_back(x, c, size, before, rate, 8.0)
        assert _comes_back(x, c, size, before, rate, 8.0) == expected
        answers.append(expected)
    assert 100 < sum(answers) < len(answers) - 100  # both answers were exercised


def test_a_return_of_just_a_second_across_a_block_edge_counts_once_whole():
    # the return (need samples, or one fewer) placed across the edges of the growing blocks
    rate, need = 100.0, int(COME_BACK_S * 100.0)
    skip = int(0.3 * rate)
    for edge in (4096, 4096 + 8192):
        for length in (need - 1, need):
            for offset in range(-length - 1, 2):
                x = np.full(30_000, 50.0)  # away from the level before (0)
                start = skip + edge + offset
                x[start:start + length] = 0.0
                expected = plain_comes_back(x, 0, 20.0, 0.0, rate, 8.0)
                assert expected == (length >= need)
                assert _comes_back(x, 0, 20.0, 0.0, rate, 8.0) == expected, (edge, length, offset)


def plain_postures(t, incl, segments, fallback):
    deep = np.abs(incl) > 20.0

    def deep_bend(a, b):
        return bool(deep[(t >= a) & (t <= b)].any())

    gait = [i for i, s in enumerate(segments) if s.kind in (WALKING, RUNNING)]
    kinds = []
    for i, seg in enumerate(segments):
        if seg.kind != STILL:
            kinds.append(seg.kind)
            continue
        standing = False
        for g in gait:
            a, b = sorted((i, g))
            start = segments[a].end_s if a == g else segments[a].start_s
            edge = (seg.start_s, min(seg.start_s + 3.0, seg.end_s)) if g < i else \
                (max(seg.end_s - 3.0, seg.start_s), seg.end_s)
            if not deep_bend(start, segments[b].start_s) and not deep_bend(*edge):
                standing = True
                break
        kinds.append("standing" if standing else fallback)
    return kinds


def test_standing_from_the_nearest_gait_equals_trying_every_gait_segment():
    rng = np.random.default_rng(5)
    t = np.arange(0, 600, 0.1)
    for _ in range(300):
        incl = rng.normal(0, 5, len(t))
        for at in rng.uniform(0, 600, int(rng.integers(0, 12))):  # a few deep bends
            incl[int(at * 10):int(at * 10) + 15] = 35.0
        cuts = np.sort(rng.choice(np.arange(1, 599), int(rng.integers(1, 25)), replace=False))
        bounds = np.concatenate([[0.0], cuts, [599.9]])
        kinds = rng.choice([STILL, STILL, WALKING, RUNNING, "moving"], len(bounds) - 1)
        segments = [Segment(str(k), float(a), float(b)) for k, a, b in zip(kinds, bounds[:-1], bounds[1:])]
        expected = plain_postures(t, incl, segments, "sitting")
        merged = _postures(t, {"lumbar_inclination": incl}, segments, "sitting")
        # _postures relabels in place, then merges equal neighbours
        assert [s.kind for s in segments] == expected
        assert len(merged) <= len(segments)


def test_the_long_band_pass_in_blocks_equals_sosfiltfilt_bit_for_bit():
    from scipy.signal import sosfiltfilt

    from imu.core.strides import _band_sos

    rng = np.random.default_rng(2)
    for n in (4 * FILTER_BLOCK + 1, 5 * FILTER_BLOCK + 12_345):
        x = np.cumsum(rng.normal(size=n)) * 0.01 + np.sin(np.arange(n) * 0.3)
        expected = sosfiltfilt(_band_sos(100.0, 0.8, 6.0, 2), x)
        assert np.array_equal(bandpass(x, 100.0, 0.8, 6.0), expected)


def plain_fill_nan(x):
    finite = np.isfinite(x)
    if finite.all() or not finite.any():
        return x.copy()
    idx = np.arange(len(x))
    return np.interp(idx, idx[finite], x[finite])


def test_filling_from_each_gaps_neighbours_equals_interpolating_the_whole_signal():
    rng = np.random.default_rng(4)
    for _ in range(2000):
        n = int(rng.integers(1, 2000))
        x = rng.normal(0, 1, n) * 10 ** rng.uniform(-3, 3)
        x[rng.choice(n, size=int(rng.integers(0, n + 1)), replace=False)] = np.nan  # single and runs
        cut = int(rng.integers(0, n + 1))
        if rng.random() < 0.3:
            x[:cut] = np.nan  # unknown start: held at the first value
        elif rng.random() < 0.3:
            x[cut:] = np.nan  # unknown end: held at the last one
        expected = plain_fill_nan(x)
        assert np.array_equal(fill_nan(x), expected, equal_nan=True)
        own = x.copy()
        assert fill_nan(own, in_place=True) is own and np.array_equal(own, expected, equal_nan=True)


def test_the_magnitude_a_block_at_a_time_equals_the_whole_one():
    rng = np.random.default_rng(6)
    acc = rng.normal(size=(2 * FILTER_BLOCK + 77, 3)).astype(np.float32)
    acc[::13, 1] = np.nan
    expected = np.sqrt(sum(np.square(acc[:, k], dtype=float) for k in range(3)))
    assert np.array_equal(acceleration_magnitude(acc), expected, equal_nan=True)


def test_quiet_windows_labelled_together_as_classify_window_labels_each():
    from imu.profile import Thresholds

    thr = Thresholds()
    rng = np.random.default_rng(8)
    x = rng.normal(size=600)  # the window itself: only its length and finiteness matter here
    for is_acc in (False, True):
        floor = thr.gait_min_amplitude_g if is_acc else thr.gait_min_amplitude_deg
        amps = np.concatenate([rng.uniform(0, floor, 300), [np.nan, 0.0, 0.25 * floor, np.nextafter(floor, 0)]])
        stds = rng.uniform(0, 3 * thr.still_max_std_deg, len(amps))
        stds[::5] = np.nan  # no inclination (a sacral sensor alone)
        stds[1] = thr.still_max_std_deg
        expected = [classify_window(x, 100.0, is_acc, float(sd), thr, True, float(a))[0]
                    for a, sd in zip(amps, stds)]
        assert _quiet_labels(amps, stds, is_acc, thr).tolist() == expected


def whole_session_still_stds(angles, starts, length, block=512):
    """_still_stds as first written: each angle widened to float64 for the whole session."""
    out = np.full(len(starts), -np.inf)
    for name in STILL_STD_ANGLES:
        if name not in angles:
            continue
        x = np.asarray(angles[name], float)
        if len(x) < length:
            continue
        windows = np.lib.stride_tricks.sliding_window_view(x, length)
        for k in range(0, len(starts), block):
            w = windows[starts[k:k + block]]
            finite = np.isfinite(w)
            count = finite.sum(axis=1)
            mean = np.where(finite, w, 0.0).sum(axis=1) / np.maximum(count, 1)
            dev = np.where(finite, w - mean[:, None], 0.0)
            std = np.sqrt((dev * dev).sum(axis=1) / np.maximum(count, 1))
            std[count <= 2] = -np.inf
            out[k:k + block] = np.maximum(out[k:k + block], std)
    out[~np.isfinite(out)] = np.nan
    return out


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(3, 80), st.integers(1, 40), st.booleans())
def test_still_spreads_widened_a_block_at_a_time_equal_the_whole_session_ones(seed, length, block, shuffled):
    rng = np.random.default_rng(seed)
    n = length + int(rng.integers(0, 600))
    angles = {}
    for name in rng.permutation(STILL_STD_ANGLES)[:int(rng.integers(1, 5))]:
        x = (rng.normal(0, 3, n) + np.cumsum(rng.normal(0, 0.2, n))).astype(np.float32)
        x[rng.random(n) < rng.choice([0.0, 0.1, 0.9])] = np.nan
        angles[str(name)] = x
    starts = np.sort(rng.integers(0, n - length + 1, int(rng.integers(0, 200))))
    if shuffled:
        starts = rng.permutation(starts)
    got, want = _still_stds(angles, starts, length, block), whole_session_still_stds(angles, starts, length, block)
    np.testing.assert_array_equal(got.view(np.uint64), want.view(np.uint64))


def test_overlaid_labels_equal_the_masked_ones():
    rng = np.random.default_rng(3)
    t = np.cumsum(rng.uniform(0.005, 0.02, 5000))
    labels = rng.choice(np.array([STILL, WALKING, RUNNING], dtype=object), len(t))
    codes = np.array([ACTIVITY_CODE[label] for label in labels], dtype=np.uint8)
    spans = [(float(a), float(a + d), k) for a, d, k in zip(rng.uniform(-5, t[-1], 30), rng.uniform(0, 8, 30),
                                                           rng.choice(["carry_farmer", "hold_plank", "other"], 30))]
    spans += [(float(t[100]), float(t[200]), "carry_farmer")]  # edges on samples
    want = labels.copy()
    for a, b, k in spans:
        if k != "other":
            want[(t >= a) & (t <= b)] = k
    got = overlay_labels(t, codes, spans, {"carry_farmer", "hold_plank"})
    assert list(activity_labels(got)) == list(want) and list(activity_labels(codes)) == list(labels)
    assert overlay_labels(t, codes, [s for s in spans if s[2] == "other"], {"carry_farmer"}) is codes


def carry_without_gait_by_strings(t, labels, a, b):
    """_carry_without_gait as first written: on label strings, np.unique's order for ties."""
    rows = (t >= a) & (t <= b)
    if not rows.any():
        return "it lies outside the recording"
    inside = labels[rows].astype(str)
    gait = np.isin(inside, ("walking", "running")).mean()
    if gait >= 0.5:
        return None
    kinds, counts = np.unique(inside, return_counts=True)
    top = kinds[np.argmax(counts)]
    doing = {"sitting": "the wearer was seated", "standing": "the wearer stood still",
             "still": "the wearer sat or stood still"}.get(str(top), f"the wearer was {top}")
    return (f"no walking in it ({100 * gait:.0f} % gait; {doing} for "
            f"{100 * counts.max() / len(inside):.0f} % of it), so strides there are not steps")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["still", "sitting", "standing", "walking", "running", "moving",
                                           "unknown", "carry_front"]), st.integers(1, 6)), min_size=1, max_size=12),
       st.floats(-2, 40), st.floats(0, 40))
def test_a_carry_without_gait_is_told_from_codes_as_from_label_strings(runs, a, length):
    from imu.core.stability import _carry_without_gait

    labels = np.array([label for label, n in runs for _ in range(n)], dtype=object)  # runs of equal length tie
    t = np.arange(len(labels)) * 0.5
    codes = np.array([ACTIVITY_CODE[label] for label in labels], dtype=np.uint8)
    assert _carry_without_gait(t, codes, a, a + length) == carry_without_gait_by_strings(t, labels, a, a + length)


def test_grading_from_the_kept_magnitudes_equals_grading_from_the_three_axes(tmp_path):
    """The report keeps only |a| per sensor, as float32 (an 8-hour session's three axes were
    69 MB); every reader of the acceleration needs no more. Graded from those magnitudes, a
    session with carries and walking gives the activity labels, sensor issues and grades it
    gives from the full (n, 3) acceleration, to float32 rounding."""
    from imu.analysis import analyze, open_source
    from imu.core.stability import AccCollector, stability_from_analysis
    from imu.recording.session import annotate
    from imu.sim import simulate
    from imu.sim.activities import label_annotations
    from imu.sim.write import write_simulated_session

    sim = simulate("carries", None, 2)
    path = write_simulated_session(sim, tmp_path / "carries.imu", "carries", 2)
    for start, end, label in label_annotations(sim.truth):
        annotate(path, start, end, label)
    kept, axes = AccCollector(), {}

    def on_step(out):
        kept(out)
        for loc, a in out.grid.acc.items():
            axes.setdefault(loc, []).append(np.asarray(a, np.float32))

    analysis = analyze(open_source(path), on_step=on_step)
    magnitudes = kept.acc
    axes = {loc: np.concatenate(parts) for loc, parts in axes.items()}
    assert set(magnitudes) == set(axes) and len(axes) >= 2
    for loc, a in axes.items():
        assert magnitudes[loc].dtype == np.float32 and magnitudes[loc].shape == (len(a),)
        np.testing.assert_allclose(magnitudes[loc], np.linalg.norm(a.astype(float), axis=1), rtol=3e-7)

    from_magnitudes = stability_from_analysis(analysis, magnitudes)
    from_axes = stability_from_analysis(analysis, axes)
    assert np.array_equal(from_magnitudes.codes, from_axes.codes)
    assert np.array_equal(from_magnitudes.invalid, from_axes.invalid)
    assert from_magnitudes.sensor_issues == from_axes.sensor_issues
    assert from_magnitudes.notes == from_axes.notes
    assert len(from_axes.carries) >= 2 and from_axes.walking is not None
    assert [c.kind for c in from_magnitudes.carries] == [c.kind for c in from_axes.carries]
    for mine, theirs in zip(from_magnitudes.carries, from_axes.carries):
        assert (mine.strides, mine.grade, mine.breakdown) == (theirs.strides, theirs.grade, theirs.breakdown)
        np.testing.assert_allclose(mine.cadence_spm, theirs.cadence_spm, rtol=1e-6)
        np.testing.assert_allclose(mine.lateral_bend_range_deg, theirs.lateral_bend_range_deg, rtol=1e-6)
    assert [b.step_count for b in from_magnitudes.gait] == [b.step_count for b in from_axes.gait]
    assert sum(b.step_count for b in from_axes.gait) > 100
    for mine, theirs in zip(from_magnitudes.gait, from_axes.gait):
        np.testing.assert_allclose(mine.step_times_s, theirs.step_times_s, atol=1e-6)


@settings(max_examples=300, deadline=None)
@given(st.integers(2, 60), st.lists(st.sampled_from([0.01, 0.02, 0.0100000001, 5.0, -0.01, 0.0]), min_size=1,
                                    max_size=200),
       st.floats(-1e5, 1e5, allow_nan=False), st.booleans())
def test_the_median_step_counted_by_blocks_equals_numpys_median(block, steps, start, irregular):
    """median_step is np.median(np.diff(t)) bit for bit: few distinct steps counted block by
    block (tiny blocks here, so many merges), many of them sorted whole; even and odd
    counts, repeated and negative steps, a time axis far from zero."""
    import imu.core.exposure as exposure

    t = start + np.cumsum(np.concatenate([[0.0], steps]))
    if irregular:
        t = t + np.random.default_rng(len(steps)).normal(0, 1e-3, len(t))
    saved = exposure.STEP_BLOCK, exposure.MOST_DISTINCT_STEPS
    exposure.STEP_BLOCK, exposure.MOST_DISTINCT_STEPS = block, 8
    try:
        found = exposure.median_step(t)
    finally:
        exposure.STEP_BLOCK, exposure.MOST_DISTINCT_STEPS = saved
    expected = float(np.median(np.diff(t)))
    assert found == expected or (np.isnan(found) and np.isnan(expected))
