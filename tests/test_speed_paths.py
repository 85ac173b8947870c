"""Fast paths give exactly what the general code gives (bit for bit, NaN included)."""

import numpy as np
import pytest

from imu import quat as Q
from imu.core.grid import GridResampler
from imu.samples import TimedSamples


def _random_stream(rng, n=4000, rate=100.0, with_acc=True):
    t = np.cumsum(rng.uniform(0.5, 1.5, n) / rate)
    t[::97] = np.round(t[::97] * rate) / rate  # some samples exactly on a grid time
    quat = Q.normalize(rng.normal(size=(n, 4)))
    quat[rng.random(n) < 0.01] = np.nan  # vibrating samples
    acc = rng.normal(size=(n, 3)) if with_acc else None
    return TimedSamples(t, quat, acc)


def test_grid_interpolation_inside_equals_the_masked_path_bit_for_bit():
    rng = np.random.default_rng(3)
    samples = _random_stream(rng)
    grid = GridResampler(["a"], 100.0, max_gap_s=0.1)
    grid.push("a", samples)
    buf = grid._buffers["a"]
    inside = np.arange(np.ceil(samples.t[0] * 100) + 1, np.floor(samples.t[-1] * 100)) / 100.0
    # one grid time before the first sample sends the same rows through the masked path
    widened = np.concatenate([[samples.t[0] - 0.5], inside])
    fast_q, fast_a = grid._interpolate(buf, inside)
    slow_q, slow_a = grid._interpolate(buf, widened)
    assert np.isnan(slow_q[0]).all()
    exact = np.isin(inside, samples.t)
    assert exact.sum() > 10  # the exact-hit branch is exercised
    assert np.isnan(fast_q).any(axis=1).sum() > 10  # and NaN samples are carried
    np.testing.assert_array_equal(fast_q.view(np.uint64), slow_q[1:].view(np.uint64))
    np.testing.assert_array_equal(fast_a.view(np.uint64), slow_a[1:].view(np.uint64))
    np.testing.assert_array_equal(fast_q[exact], samples.quat[np.searchsorted(samples.t, inside[exact])])


def test_grid_fast_path_is_not_taken_across_an_unbridged_gap():
    t = np.concatenate([np.arange(0, 1, 0.01), np.arange(1.5, 2.5, 0.01)])
    grid = GridResampler(["a"], 100.0, max_gap_s=0.1)
    grid.push("a", TimedSamples(t, np.tile(Q.IDENTITY, (len(t), 1))))
    frame = grid.pull(final=True)
    missing = np.isnan(frame.quat["a"][:, 0])
    assert missing[(frame.t > 1.0) & (frame.t < 1.5)].all()
    assert not missing[(frame.t < 0.99) | (frame.t > 1.5)].any()


def test_anatomy_constants_are_their_matrices_bit_for_bit():
    from imu import anatomy as A

    for constant, matrix in ((A.SENSOR_EARTH_TO_E, [[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]]),
                             (A.NOMINAL_SENSOR_IN_SEGMENT, [[0, 0, -1.0], [0, 1.0, 0], [1.0, 0, 0]])):
        expected = Q.from_matrix(np.array(matrix))
        np.testing.assert_array_equal(constant.view(np.uint64), expected.view(np.uint64))


def test_importing_the_quaternion_and_anatomy_helpers_does_not_load_scipy_spatial():
    import subprocess
    import sys

    code = ("import sys, imu.quat, imu.anatomy, imu.protocols.witmotion; "
            "print('scipy.spatial' in sys.modules)")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "False"


def test_the_report_and_the_live_loop_do_not_import_pandas():
    """pandas (about 0.4 s to import) is for exports and cohorts; a report or live session
    that holds no mobility test never needs it."""
    import subprocess
    import sys

    code = ("import sys, imu.report.make, imu.analysis, imu.report.writer, imu.live.session; "
            "print('pandas' in sys.modules)")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "False"


def test_imu_report_of_a_session_file_loads_neither_pandas_nor_matplotlib(tmp_path):
    """Not only the imports: `imu report` of a session file, reading its arguments, opening,
    calibrating, grading and writing, loads no pandas (the import-mapping module once brought
    it, for mappings a session file never has: 60 MB and 0.3 s of every report), and, with
    no run, carry or hold to draw, no matplotlib in the report process: its figures are drawn
    by the processes it forked first thing (0.3 s and 25 MB less)."""
    import subprocess
    import sys

    from imu.sim import simulate
    from imu.sim.write import write_simulated_session

    path = write_simulated_session(simulate("smoke", None, seed=3), tmp_path / "smoke.imu", "smoke", 3)
    code = ("import sys; from imu.cli import main; "
            f"code = main(['report', {str(path)!r}, '-o', {str(tmp_path / 'report')!r}, '--quiet']); "
            "print('exit', code, 'pandas', 'pandas' in sys.modules, 'matplotlib', 'matplotlib' in sys.modules)")
    made = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert made.stdout.strip().splitlines()[-1] == "exit 0 pandas False matplotlib False"
    page = (tmp_path / "report" / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 4  # the session figures are in it all the same


def _step(t0: int, n: int, names: tuple[str, ...]):
    from imu.core.context import CODE_STILL, context_labels
    from imu.core.grid import GridFrame
    from imu.core.pipeline import StepOutput

    t = (t0 + np.arange(n)) / 100.0
    quat = np.tile(Q.IDENTITY, (n, 1))
    quat[::7] = np.nan
    angles = {name: np.sin(t * (k + 1)) for k, name in enumerate(names)}
    return StepOutput(GridFrame(t, {"thoracic": quat}, {}), angles, context_labels(np.full(n, CODE_STILL)))


def _collect(steps):
    from imu.core.pipeline import AnalysisCollector

    collector = AnalysisCollector()
    for step in steps:
        collector.add(step)
    return collector


def test_analysis_collector_builds_what_joining_the_steps_gives():
    from imu.core.pipeline import Pipeline

    pipeline = Pipeline({"thoracic": {"device": None}})
    # "late" appears in the second step, "early" is gone after the second
    steps = [_step(0, 50, ("a", "early")), _step(50, 30, ("a", "early", "late")), _step(80, 40, ("a", "late"))]
    collector = _collect(steps)
    analysis = collector.build(pipeline, [])
    nan = np.full
    expected = {
        "a": np.concatenate([s.angles["a"] for s in steps]).astype(np.float32),
        "early": np.concatenate([steps[0].angles["early"], steps[1].angles["early"], nan(40, np.nan)]).astype(np.float32),
        "late": np.concatenate([nan(50, np.nan), steps[1].angles["late"], steps[2].angles["late"]]).astype(np.float32),
    }
    assert analysis.angles.keys() == expected.keys()
    for name, values in expected.items():
        assert analysis.angles[name].dtype == np.float32
        np.testing.assert_array_equal(analysis.angles[name], values)
    np.testing.assert_array_equal(analysis.t, np.concatenate([s.t for s in steps]))
    np.testing.assert_array_equal(analysis.valid, np.concatenate([np.isfinite(s.grid.quat["thoracic"]).all(axis=1)
                                                                  for s in steps]))
    assert list(analysis.context_labels) == ["still"] * 120
    # a second build, and one after more steps, go on from the first
    again = collector.build(pipeline, [])
    for name, values in expected.items():
        np.testing.assert_array_equal(again.angles[name], values)
        assert again.angles[name] is not analysis.angles[name]
    collector.add(_step(120, 10, ("a",)))
    more = collector.build(pipeline, [])
    np.testing.assert_array_equal(more.angles["late"][:120], expected["late"])
    assert np.isnan(more.angles["late"][120:]).all() and len(more.t) == 130


def test_an_analysis_keeps_its_context_as_one_byte_codes_and_gives_labels_on_request():
    import dataclasses

    from imu.core.result import Analysis, CalibrationReport
    from imu.profile import Thresholds

    labels = np.array(["still", "moving", "uncalibrated", "unknown", "still"], dtype=object)

    def made(context):
        return Analysis(t=np.arange(5.0), angles={}, valid=np.ones(5, bool), context=context, episodes=[],
                        alerts=[], calibration=CalibrationReport(False, "failed", []), sensors={},
                        thresholds=Thresholds(), duration_s=5.0)

    analysis = made(labels)
    assert analysis.context.dtype == np.uint8 and analysis.context.nbytes == 5
    assert list(analysis.context_labels) == list(labels)
    assert made(analysis.context).context is analysis.context  # codes are kept as they are
    assert list(dataclasses.replace(analysis).context_labels) == list(labels)
    with pytest.raises(ValueError, match="walking"):
        made(np.array(["still", "walking"] * 2 + ["still"], dtype=object))


def test_analysis_collector_build_holds_one_series_twice_at_most():
    import tracemalloc

    from imu.core.pipeline import Pipeline

    pipeline = Pipeline({"thoracic": {"device": None}})
    names = tuple(f"angle_{k}" for k in range(6))
    tracemalloc.start()  # before the steps: freeing their time parts must count too
    try:
        steps = [_step(k * 20_000, 20_000, names) for k in range(10)]
        collector = _collect(steps)
        del steps
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        analysis = collector.build(pipeline, [])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert analysis.context.dtype == np.uint8  # codes: no label array is made
    largest = analysis.t.nbytes  # float64: the largest series, joined while its parts are held
    # joining everything while the parts are held would add six angles, t and the rest
    assert peak - before < largest + analysis.angles["angle_0"].nbytes // 2


def test_stream_decoder_gives_what_frame_by_frame_decoding_gives_bit_for_bit():
    from imu.protocols import imu_fw

    rng = np.random.default_rng(5)
    frames, per_frame = 40, 8
    quat = Q.normalize(rng.normal(size=(frames, per_frame, 4)))
    acc, gyro = rng.normal(size=(frames, per_frame, 3)) * 3, rng.normal(size=(frames, per_frame, 3)) * 200
    payloads = imu_fw.encode_samples_batch(np.arange(frames), np.arange(frames) * 80_000, 10_000, quat, acc, gyro,
                                           np.full(frames, 80), 0)
    block = imu_fw.StreamDecoder().decode(payloads, np.arange(frames) * 0.08 + 0.1)
    one_by_one = [imu_fw.decode_frame(p) for p in payloads]
    for name in ("acc", "gyro"):
        expected = np.concatenate([getattr(f, name) for f in one_by_one])
        np.testing.assert_array_equal(getattr(block, name).view(np.uint64), expected.view(np.uint64))
    q = np.concatenate([f.quat for f in one_by_one])  # the decoder renormalises what it keeps
    expected = q / np.sqrt(np.einsum("ij,ij->i", q, q))[:, None]
    np.testing.assert_array_equal(block.quat.view(np.uint64), expected.view(np.uint64))


def _drop_bad_reference(block, stats, quat_expected=False):
    """drop_bad_samples as first written: every row-wise check on every block."""
    norms = np.sqrt(np.einsum("ij,ij->i", block.quat, block.quat))
    absent = np.isnan(norms) & np.all(np.isnan(block.quat), axis=1) & (not quat_expected)
    bad = ~absent & ~(np.abs(norms - 1.0) <= 0.05)
    for arr in (block.acc, block.gyro):
        if arr is not None:
            bad |= ~np.isfinite(arr).all(axis=1)
    stats.samples += int(len(bad) - bad.sum())
    if bad.any():
        stats.bad_samples += int(bad.sum())
        block = block.take(~bad)
        absent, norms = absent[~bad], norms[~bad]
    if len(block) and not absent.all():
        block.quat = block.quat / np.where(absent, 1.0, norms)[:, None]
    return block


def test_drop_bad_samples_equals_the_row_wise_reference():
    from dataclasses import replace

    from imu.protocols.common import drop_bad_samples
    from imu.samples import DecodeStats, SampleBlock

    rng = np.random.default_rng(11)
    n = 500

    def block(damage: str):
        quat = Q.normalize(rng.normal(size=(n, 4))) * rng.uniform(0.98, 1.02, (n, 1))
        acc, gyro = rng.normal(size=(n, 3)), rng.normal(size=(n, 3))
        if "absent" in damage:
            quat[::9] = np.nan
        if "partial" in damage:
            quat[3::11, 2] = np.nan
        if "scaled" in damage:
            quat[5::13] *= 1.2
        if "acc" in damage:
            acc[7::17, 1] = np.inf
        if "gyro" in damage:
            gyro[2::19, 0] = np.nan
        t = np.arange(n) / 100.0
        return SampleBlock(t, t, np.arange(n), quat, acc, None if "no gyro" in damage else gyro)

    for damage in ("", "absent", "partial", "scaled", "acc", "gyro", "absent partial scaled acc gyro",
                   "absent no gyro"):
        for quat_expected in (False, True):
            original = block(damage)
            got_stats, want_stats = DecodeStats(), DecodeStats()
            got = drop_bad_samples(replace(original), got_stats, quat_expected)
            want = _drop_bad_reference(replace(original), want_stats, quat_expected)
            assert (got_stats.samples, got_stats.bad_samples) == (want_stats.samples, want_stats.bad_samples)
            for name in ("device_time_s", "quat", "acc"):
                np.testing.assert_array_equal(getattr(got, name), getattr(want, name))


def test_inclination_and_the_context_speed_equal_their_general_forms_bit_for_bit():
    from imu import anatomy as A
    from imu.core.context import lagged_angular_speed

    rng = np.random.default_rng(2)
    q = Q.normalize(rng.normal(size=(300, 4))) * rng.uniform(0.999, 1.001, (300, 1))
    q[17] = np.nan
    heading = A.heading_deg(q)
    expected = A.joint_angles(A.remove_heading(q))[:, :2]
    for got in (A.inclination(q), A.inclination(q, heading)):
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))
    for previous in (q[:0], q[:10], q[:25], q[:40]):  # none, less than the lag, the lag, more
        joined = np.concatenate([previous, q[40:]])
        idx = np.arange(len(previous), len(joined))
        earlier = np.maximum(idx - 25, 0)
        want = Q.angle_between(joined[earlier], joined[idx]) / (np.maximum(idx - earlier, 1) / 100.0)
        got = lagged_angular_speed(previous, q[40:], 100.0)
        np.testing.assert_array_equal(got, want)


def _interpolate_reference(buf, grid):
    """GridResampler._interpolate as first written: only the usable rows are computed."""
    n = len(grid)
    out = np.full((n, 4), np.nan)
    acc_out = None if buf.acc is None else np.full((n, 3), np.nan)
    if len(buf.t) == 0:
        return out, acc_out
    hi = np.searchsorted(buf.t, grid, side="left")
    lo = hi - 1
    exact = (hi < len(buf.t)) & (buf.t[np.minimum(hi, len(buf.t) - 1)] == grid)
    inside = (lo >= 0) & (hi < len(buf.t))
    ok = inside.copy()
    ok[inside] = buf.bridged[hi[inside]]
    frac = np.zeros(n)
    frac[ok] = (grid[ok] - buf.t[lo[ok]]) / (buf.t[hi[ok]] - buf.t[lo[ok]])
    out[ok] = Q.nlerp(buf.quat[lo[ok]], buf.quat[hi[ok]], frac[ok])
    out[exact] = buf.quat[hi[exact]]
    if acc_out is not None:
        a_lo, a_hi = buf.acc[lo[ok]], buf.acc[hi[ok]]
        acc_out[ok] = a_lo + (a_hi - a_lo) * frac[ok, None]
        acc_out[exact] = buf.acc[hi[exact]]
    return out, acc_out


def _bits_equal(got, want):
    """The same bits wherever there is a number (signed zeros too), NaN where NaN. (The sign
    bit of a NaN is left out: it records which operand numpy's loop took a NaN from, which
    differs between its strided and contiguous loops; a NaN stands for "unknown" either way.)"""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    number = ~np.isnan(want)
    np.testing.assert_array_equal(got[number].view(np.uint64), want[number].view(np.uint64))


def test_grid_interpolation_equals_the_row_selecting_reference_across_gaps_and_ends():
    rng = np.random.default_rng(21)
    for rate, with_acc, gap_periods in ((100.0, True, 0.0), (100.0, False, 0.0), (5.0, True, 2.0)):
        samples = _random_stream(rng, rate=rate, with_acc=with_acc)
        keep = rng.random(len(samples.t)) > 0.02  # lost samples: some gaps are not bridged
        keep[200:260] = False  # and one long gap
        samples = TimedSamples(samples.t[keep], samples.quat[keep], None if samples.acc is None else samples.acc[keep])
        grid = GridResampler(["a"], 100.0, max_gap_s=0.015 if rate == 100.0 else 0.1, gap_periods=gap_periods)
        grid.push("a", samples)
        buf = grid._buffers["a"]
        assert (~buf.bridged).sum() > 20
        # grid times before the first sample, on samples, inside, across gaps and past the last
        times = np.arange(np.floor(samples.t[0] * 100) - 30, np.ceil(samples.t[-1] * 100) + 30) / 100.0
        for part in (times, times[:1], times[40:41], times[-5:], np.asarray(samples.t[100:140])):
            got_q, got_a = grid._interpolate(buf, part)
            want_q, want_a = _interpolate_reference(buf, part)
            _bits_equal(got_q, want_q)
            if with_acc:
                _bits_equal(got_a, want_a)
            else:
                assert got_a is None and want_a is None
    one = GridResampler(["a"], 100.0, max_gap_s=0.1)  # a single sample: only its own time is known
    one.push("a", TimedSamples(np.array([1.0]), Q.IDENTITY[None].copy(), np.ones((1, 3))))
    for part in (np.array([0.99, 1.0, 1.01]), np.empty(0)):
        for got, want in zip(one._interpolate(one._buffers["a"], part), _interpolate_reference(one._buffers["a"], part)):
            _bits_equal(got, want)


def _multiply_reference(a, b):
    """imu.quat.multiply as first written (strided columns of (n, 4) stacks)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    out = np.empty(np.broadcast_shapes(a.shape, b.shape))
    out[..., 0] = aw * bw - ax * bx - ay * by - az * bz
    out[..., 1] = aw * bx + ax * bw + ay * bz - az * by
    out[..., 2] = aw * by - ax * bz + ay * bw + az * bx
    out[..., 3] = aw * bz + ax * by - ay * bx + az * bw
    return out


def test_quaternion_components_give_the_products_of_the_stacked_form_bit_for_bit():
    from imu import anatomy as A

    rng = np.random.default_rng(8)
    a, b = Q.normalize(rng.normal(size=(200, 4))), Q.normalize(rng.normal(size=(200, 4)))
    a[5], b[9] = np.nan, np.nan
    a[11] = [1.0, 0.0, -0.0, 0.0]  # signed zeros
    for x, y in ((a, b), (A.SENSOR_EARTH_TO_E, b), (a, Q.conjugate(A.NOMINAL_SENSOR_IN_SEGMENT)), (a[0], b[0])):
        want = _multiply_reference(x, y)
        _bits_equal(Q.multiply(x, y), want)
        _bits_equal(Q.from_parts(Q.multiply_parts(Q.parts(x), Q.parts(y))), want)
    _bits_equal(Q.from_parts(Q.conjugate_parts(Q.parts(a))), Q.conjugate(a))
    stored = Q.from_parts(Q.parts(a))
    assert all(p.flags.c_contiguous for p in Q.parts(stored))  # each component in one piece
    heading = rng.uniform(-200, 200, 200)
    heading[3] = np.nan
    _bits_equal(Q.from_parts(A.heading_parts(heading)), A.heading_quat(heading))
    # a heading quaternion's zero components as the number 0.0: the same products
    _bits_equal(Q.from_parts(Q.multiply_parts(A.heading_parts(heading), Q.parts(a))),
                Q.multiply(A.heading_quat(heading), a))
    for axial in (False, True):
        _bits_equal(np.stack(A.zxy_parts(Q.parts(a), axial), axis=-1), A._zxy_angles(a, axial))


def _angles_reference(computer, frame):
    """AngleComputer.segments and .compute as first written, on (n, 4) stacks."""
    from imu import anatomy as A
    from imu.core.angles import INCLINATIONS, JOINTS
    from imu.core.calibrate import to_anatomical_earth

    seg = {loc: Q.multiply(to_anatomical_earth(frame.quat[loc]), Q.conjugate(m))
           for loc, m in computer.calibration.mounting.items() if loc in frame.quat}
    angles = {}
    for names, loc in INCLINATIONS:
        if loc in seg:
            tilt = A.inclination(seg[loc], A.heading_deg(seg[loc]))
            angles[names[0]], angles[names[1]] = tilt[:, 0], tilt[:, 1]
    for name, distal, proximal in JOINTS:
        if name not in computer._trackers or distal not in seg or proximal not in seg:
            continue
        relative = A.heading_deg(seg[distal]) - A.heading_deg(seg[proximal])
        slow = computer._trackers[name].update((relative + 180.0) % 360.0 - 180.0)
        aligned = Q.multiply(A.heading_quat(np.nan_to_num(slow)), seg[proximal])
        joint = A.joint_angles(Q.multiply(Q.conjugate(aligned), seg[distal]))
        joint[np.isnan(slow)] = np.nan
        for k, part in enumerate(("flexion", "lateral_bend", "axial_rotation")):
            angles[f"{name}_{part}"] = joint[:, k]
    return seg, angles


def test_angles_on_quaternion_components_equal_the_stacked_computation_bit_for_bit():
    from imu.core.angles import AngleComputer
    from imu.core.calibrate import Calibration
    from imu.core.grid import GridFrame
    from imu.profile import Thresholds

    rng = np.random.default_rng(13)
    n = 3000
    t = np.arange(n) / 100.0
    locations = ("thoracic", "lumbar", "sacral")
    quat = {}
    for k, loc in enumerate(locations):
        q = Q.normalize(np.tile([1.0, 0.1 * k, 0.2, -0.1], (n, 1)) + rng.normal(scale=0.3, size=(n, 4)))
        q[rng.random(n) < 0.02] = np.nan  # unknown rows
        q[500 + 40 * k: 700 + 40 * k] = np.nan  # a sensor gone for a while
        quat[loc] = q
    for present in (locations, ("thoracic", "lumbar"), ("thoracic",)):
        mounting = {loc: Q.normalize(rng.normal(size=4)) for loc in present}
        calibration = Calibration(mounting, {loc: float(rng.uniform(-180, 180)) for loc in present}, 0.0)
        fast, plain = AngleComputer(calibration, Thresholds()), AngleComputer(calibration, Thresholds())
        for chunk in (np.arange(0, 1), np.arange(1, 1234), np.arange(1234, n)):  # chunked: trackers carry on
            frame = GridFrame(t[chunk], {loc: quat[loc][chunk] for loc in present}, {})
            want_seg, want = _angles_reference(plain, frame)
            seg = fast.segments(frame)
            assert seg.keys() == want_seg.keys()
            for loc in seg:
                _bits_equal(seg[loc], want_seg[loc])
            got = fast.compute(frame, seg)
            assert got.keys() == want.keys() and len(got) == (12 if len(present) == 3 else 7 if len(present) == 2 else 2)
            for name in got:
                _bits_equal(got[name], want[name])


def _decide_all_reference(tracker, ends):
    """ActivityTracker._decide_all as first written: gait_signal and the quiet test per window."""
    from imu.core.activity import (MOVING, STILL, UNKNOWN, _step_band_amplitudes, _still_stds,
                                   classify_window)
    from imu.core.strides import gait_signal

    labels, pending = [], []
    length = len(next(iter(tracker._buf.values())))
    spreads = _still_stds(tracker._buf, np.asarray(ends, dtype=int) - tracker.window, tracker.window) if ends else []
    for end, spread in zip(ends, spreads):
        rows = slice(end - tracker.window, end)
        window = {k: v[rows] for k, v in tracker._buf.items()}
        spread = float(spread)
        if len(tracker._quiet) >= length and tracker._quiet[len(tracker._quiet) - length:][rows].all() \
                and np.isfinite(spread):
            labels.append(STILL if spread <= tracker.thr.still_max_std_deg else MOVING)
            continue
        signal, name = gait_signal(window, {k: v[rows] for k, v in tracker._acc.items()} or None)
        labels.append(UNKNOWN if signal is None else None)
        if signal is not None:
            pending.append((len(labels) - 1, signal, name, spread))
    amplitudes = _step_band_amplitudes([p[1] for p in pending], tracker.rate)
    for (which, signal, name, spread), amplitude in zip(pending, amplitudes):
        labels[which], _ = classify_window(signal, tracker.rate, "acceleration" in name, spread, tracker.thr,
                                           amplitude=amplitude)
    return labels


def _activity_day(seed: int, rate: float, n: int, with_acc: bool):
    """Still, walking and running stretches with NaN gaps of every length (some make half a
    window unknown), at `rate`; the acceleration of two sensors, one often missing."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate
    period = 40 * rate
    phase_of_day = (t % (period / rate)) / (period / rate)
    amp = np.select([phase_of_day < 0.4, phase_of_day < 0.7], [0.05, 3.0], 6.0)
    step_hz = np.where(phase_of_day < 0.7, 1.9, 2.8)
    phase = 2 * np.pi * np.cumsum(step_hz) / rate
    angles = {"lumbar_inclination": amp * np.sin(phase) + rng.normal(0, 0.1, n),
              "trunk_inclination": amp * np.sin(phase + 0.5) + 10 + rng.normal(0, 0.1, n),
              "trunk_lateral_inclination": amp * np.sin(phase / 2) + rng.normal(0, 0.1, n)}
    for name, x in angles.items():
        for _ in range(12):
            a = int(rng.integers(0, n))
            x[a: a + int(rng.integers(1, int(5 * rate)))] = np.nan
    angles["trunk_inclination"][int(3 * rate): int(6 * rate)] = np.nan  # exactly half of a window, and more
    acc = None
    if with_acc:
        acc = {loc: np.column_stack([0.02 * rng.normal(size=n), 0.02 * rng.normal(size=n),
                                     1 + 0.05 * amp * np.sin(phase + k) + 0.01 * rng.normal(size=n)])
               for k, loc in enumerate(("sacral", "thoracic"))}
        acc["sacral"][rng.random(n) < 0.3] = np.nan  # often too little of the preferred sensor
        acc["sacral"][: int(20 * rate)] = np.nan
    quiet = np.abs(amp * np.sin(phase)) < 0.5
    quiet[rng.random(n) < 0.01] = False
    lost = slice(int(100 * rate), int(108 * rate))  # quiet, but no angle to measure the spread by
    for x in angles.values():
        x[lost] = np.nan
    quiet[lost] = True
    return angles, acc, quiet


def test_activity_tracker_reads_windows_off_the_buffer_as_gait_signal_reads_each_window():
    from imu.core.activity import ActivityTracker

    class Plain(ActivityTracker):
        def _decide_all(self, ends):
            return _decide_all_reference(self, ends)

    seen = set()
    for seed, rate, with_acc, use_quiet in ((1, 25.0, True, True), (2, 25.0, False, True), (3, 25.0, True, False),
                                            (4, 5.0, False, True), (5, 5.0, True, True)):
        n = int(200 * rate)
        angles, acc, quiet = _activity_day(seed, rate, n, with_acc)
        plain = Plain(rate).update(angles, acc, quiet if use_quiet else None)
        seen |= set(plain)
        cuts = [0, 1, 7, int(3.3 * rate), int(61 * rate), n]  # chunks from one sample to a minute
        fast, got = ActivityTracker(rate), []
        for a, b in zip(cuts[:-1], cuts[1:]):
            got += list(fast.update({k: v[a:b] for k, v in angles.items()},
                                    None if acc is None else {k: v[a:b] for k, v in acc.items()},
                                    quiet[a:b] if use_quiet else None))
        assert got == list(plain)
    assert seen == {"walking", "running", "still", "moving", "unknown"}
    # a single angle, too few samples for a window, no angle for gait at all
    one = {"trunk_lateral_inclination": np.zeros(30)}
    assert list(ActivityTracker(25.0).update(one)) == list(Plain(25.0).update(one))
    only = {"lumbar_inclination": np.sin(np.arange(400) / 3.0)}
    assert list(ActivityTracker(25.0).update(only)) == list(Plain(25.0).update(only))


def _greedy_bouts_reference(x, need, band_deg):
    """greedy_bouts as first written: the sliding max and min over the whole series."""
    from scipy.ndimage import maximum_filter1d, minimum_filter1d

    from imu.core.exposure import first_outside

    if x.size < need:
        return [], []
    missing = ~np.isfinite(x)
    upper = maximum_filter1d(np.where(missing, np.inf, x), need, origin=-(need // 2))
    lower = minimum_filter1d(np.where(missing, -np.inf, x), need, origin=-(need // 2))
    last_start = x.size - need
    with np.errstate(invalid="ignore"):
        begins = (upper[: last_start + 1] <= x[: last_start + 1] + band_deg) & (
            lower[: last_start + 1] >= x[: last_start + 1] - band_deg)
    starts = np.flatnonzero(begins)
    bout_starts, bout_ends, position = [], [], 0
    while True:
        k = np.searchsorted(starts, position)
        if k == starts.size:
            break
        start = int(starts[k])
        end = first_outside(x, start + need, x[start], band_deg)
        bout_starts.append(start)
        bout_ends.append(end)
        position = end
    return bout_starts, bout_ends


def test_greedy_bouts_asked_between_bouts_only_equal_the_whole_series_search():
    from imu.core.exposure import greedy_bouts

    rng = np.random.default_rng(17)
    n = 20_000
    # held postures (small noise) between stretches of movement, drifts, NaN gaps
    level = np.repeat(rng.uniform(-30, 30, 60), n // 60 + 1)[:n]
    noise = np.where(np.repeat(rng.random(60) < 0.4, n // 60 + 1)[:n], 3.0, 0.3)
    x = level + noise * rng.normal(size=n) + np.cumsum(rng.normal(0, 0.01, n))
    x[rng.random(n) < 0.002] = np.nan
    x[5000:5600] = np.nan
    x = x.astype(np.float32).astype(float)  # as the exposure sees angles: many equal values
    steps = np.round(x * 2) / 2  # coarse values: exactly on a band's edge often
    infinite = steps.copy()
    infinite[100:130], infinite[300:301], infinite[7000:7500], infinite[9000:9100] = np.inf, -np.inf, np.inf, -np.inf
    cases = [(x, 400, 1.5), (x, 40, 1.5), (x, 3, 0.2), (x, 1, 0.0), (steps, 400, 1.5), (steps, 25, 0.5),
             (infinite, 400, 1.5), (infinite, 20, 0.5), (infinite, 1, 0.0), (np.full(50, np.inf), 10, 1.5),
             (steps, 2, 0.0), (x[:399], 400, 1.5), (x[:400], 400, 1.5), (np.full(1000, np.nan), 50, 1.5),
             (np.zeros(1000), 50, 0.0), (np.zeros(0), 1, 1.5)]
    found = 0
    for values, need, band in cases:
        got = greedy_bouts(values, need, band)
        assert got == _greedy_bouts_reference(values, need, band)
        found += len(got[0])
    assert found > 200


def test_forward_window_extremes_equal_scipys_sliding_filters():
    from scipy.ndimage import maximum_filter1d, minimum_filter1d

    from imu.core.exposure import _forward_extremes

    rng = np.random.default_rng(31)
    x = np.round(rng.normal(size=3000), 1)
    x[rng.random(3000) < 0.02] = np.nan
    x[[5, 6, 900]], x[[50, 2999]] = np.inf, -np.inf
    for need in (1, 2, 3, 7, 400, 1000):
        for part in (x, x[:need], x[:need + 1], x[17:17 + 2 * need - 1], x[3:]):
            if len(part) < need:
                continue
            missing = ~np.isfinite(part)
            count = len(part) - need + 1
            want_max = maximum_filter1d(np.where(missing, np.inf, part), need, origin=-(need // 2))[:count]
            want_min = minimum_filter1d(np.where(missing, -np.inf, part), need, origin=-(need // 2))[:count]
            got_max, got_min = _forward_extremes(part, need)
            np.testing.assert_array_equal(got_max, want_max)
            np.testing.assert_array_equal(got_min, want_min)


def test_sitting_tracker_takes_every_fourth_grid_sample_whatever_the_chunks():
    from imu.core.sitting import SittingTracker
    from imu.profile import Thresholds

    rate, n = 100.0, 30_000
    angles, acc, quiet = _activity_day(6, rate, n, True)
    t = np.arange(n) / rate
    speed = np.where(quiet, 1.0, 50.0)
    results = []
    for cuts in ([0, n], [0, 1, 2, 5, 9, 4001, 4003, 17_777, n]):
        tracker, fed, events = SittingTracker(Thresholds(), rate), [], []
        feed = tracker.activity.update

        def spy(sub, acc_sub, quiet_sub, feed=feed, fed=fed):
            fed.append((sub, acc_sub, quiet_sub))
            return feed(sub, acc_sub, quiet_sub)

        tracker.activity.update = spy
        for a, b in zip(cuts[:-1], cuts[1:]):
            events += tracker.update(t[a:b], {k: v[a:b] for k, v in angles.items()},
                                     {k: v[a:b] for k, v in acc.items()}, speed[a:b])
        events += tracker.finish()
        kept = np.arange(n) % tracker.decimate == 0  # the absolute grid's every decimate-th sample
        for name, x in angles.items():
            np.testing.assert_array_equal(np.concatenate([f[0][name] for f in fed]), x[kept])
        np.testing.assert_array_equal(np.concatenate([f[1]["thoracic"] for f in fed]), acc["thoracic"][kept])
        np.testing.assert_array_equal(np.concatenate([f[2] for f in fed]), quiet[kept])
        results.append((events, tracker.bouts, tracker.breaks))
    assert tracker.decimate == 4 and results[0] == results[1]


def test_zone_counts_equal_the_classified_samples_counted():
    from imu.core.exposure import ZoneScheme

    rng = np.random.default_rng(23)
    values = np.concatenate([rng.uniform(-90, 90, 5000), np.round(rng.uniform(-90, 90, 5000)),  # on edges often
                             [np.nan, np.inf, -np.inf, 0.0, -0.0, -5.0, 5.0, 20.0, 60.0, -20.0, -60.0]])
    for edges in ((20.0, 60.0), (10.0, 20.0), (0.5, 1.0)):
        for scheme in (ZoneScheme(edges, False, 5.0, ""), ZoneScheme(edges, False, 0.0, ""),
                       ZoneScheme(edges, True, 0.0, ""), ZoneScheme(edges, False, 0.25, "")):
            for x in (values, values[:0], values[-11:], np.full(3, np.nan)):
                k = scheme.classify(x)
                want = np.bincount(k[k >= 0], minlength=len(scheme.labels))
                got = scheme.counts(x)
                assert got.dtype == np.int64
                np.testing.assert_array_equal(got, want)


def test_context_speed_on_components_equals_the_stacked_form_with_numpys_sum_bit_for_bit():
    from imu.core.context import lagged_angular_speed

    def plain_angle(a, b):  # angle_between_unit as first written
        return np.degrees(2.0 * np.arccos(np.clip(np.abs(np.sum(a * b, axis=-1)), 0.0, 1.0)))

    def plain_speed(previous, q, rate):  # lagged_angular_speed as first written
        lag = max(int(round(0.25 * rate)), 1)
        joined = Q.normalize(np.concatenate([previous, q]))
        idx = np.arange(len(previous), len(joined))
        earlier = np.maximum(idx - lag, 0)
        return plain_angle(joined[earlier], joined[idx]) / (np.maximum(idx - earlier, 1) / rate)

    rng = np.random.default_rng(29)
    q = Q.normalize(rng.normal(size=(500, 4))) * rng.uniform(0.99, 1.01, (500, 1))
    q[[3, 60, 61]] = np.nan
    a, b = Q.normalize(q[:250]), Q.normalize(q[250:])
    _bits_equal(Q.angle_between_unit(a, b), plain_angle(a, b))
    component_major = Q.from_parts(Q.parts(q))  # as imu.core.angles stores segments
    for rate in (100.0, 5.0, 1.0):
        for previous in (0, 1, 10, 25, 40):
            for source in (q, component_major):
                _bits_equal(lagged_angular_speed(source[:previous], source[previous:], rate),
                            plain_speed(q[:previous], q[previous:], rate))
    assert len(lagged_angular_speed(q[:5], q[:0], 100.0)) == 0
