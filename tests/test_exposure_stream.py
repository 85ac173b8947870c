"""The streaming exposure accumulator against angle_summary of the whole session."""

from dataclasses import replace

import numpy as np
import pytest

from imu.core.exposure import angle_summary, grid_step
from imu.core.exposure_stream import PERCENTILE_ERROR_DEG, ExposureAccumulator
from imu.core.result import Analysis, CalibrationReport
from imu.profile import Thresholds


def _analysis(t, angles, valid, thresholds):
    return Analysis(t=t, angles=angles, valid=valid, context=np.full(t.size, "still"),
                    episodes=[], alerts=[], calibration=CalibrationReport(True, "good", []),
                    sensors={}, thresholds=thresholds, duration_s=float(t[-1]))


def assert_same_exposure(streamed: dict, offline: dict) -> None:
    """Everything equal except the percentiles, which are within the stated bound."""
    assert list(streamed) == list(offline)
    for name, want in offline.items():
        got = streamed[name]
        assert got.name == want.name
        assert got.valid_s == want.valid_s, name
        assert got.coverage_pct == want.coverage_pct, name
        assert got.zones_pct == want.zones_pct, name
        assert got.zone_scheme == want.zone_scheme, name
        assert got.percentiles["min"] == want.percentiles["min"], name
        assert got.percentiles["max"] == want.percentiles["max"], name
        for key in ("p10", "p50", "p90"):
            assert abs(got.percentiles[key] - want.percentiles[key]) <= PERCENTILE_ERROR_DEG + 1e-9, (name, key)
        assert abs(got.percentiles["p90_p10"] - want.percentiles["p90_p10"]) <= 2 * PERCENTILE_ERROR_DEG + 1e-9
        assert got.histogram.lo_deg == want.histogram.lo_deg, name
        assert got.histogram.counts.dtype == np.int64
        np.testing.assert_array_equal(got.histogram.counts, want.histogram.counts, err_msg=name)
        if want.static is None:
            assert got.static is None, name
            continue
        np.testing.assert_array_equal(got.static.start_s, want.static.start_s, err_msg=name)
        np.testing.assert_allclose(got.static.end_s, want.static.end_s, rtol=0, atol=1e-9, err_msg=name)


def _random_session(rng, n: int, dt: float):
    """Angles with plateaus (static bouts of 1-30 s, some within the band, some just out of it),
    ramps, NaN stretches and invalid stretches; lumbar_inclination appears a third of the way
    in, lumbar_flexion is missing from some steps (decided by the caller)."""
    t = 37.25 + np.arange(n) * dt
    angles = {}
    names = ("thoracic_flexion", "thoracic_lateral_bend", "thoracic_axial_rotation", "lumbar_flexion",
             "lumbar_inclination", "trunk_inclination", "trunk_lateral_inclination")
    for k, name in enumerate(names):
        parts, size = [], 0
        while size < n:
            length = int(rng.integers(1, 3000))
            kind = rng.integers(4)
            level = rng.uniform(-30, 90)
            if kind == 0:  # a plateau wobbling inside, or now and then just outside, the band
                part = level + rng.uniform(-1.6, 1.6) * np.sin(np.arange(length) / rng.uniform(5, 200))
            elif kind == 1:  # a ramp
                part = level + np.cumsum(rng.normal(0, 0.3, length))
            elif kind == 2:  # noise
                part = level + rng.normal(0, 5, length)
            else:  # exactly still, values on whole and hundredth degrees too
                part = np.full(length, np.round(level, int(rng.integers(0, 3))))
            parts.append(part)
            size += length
        x = np.concatenate(parts)[:n]
        for _ in range(int(rng.integers(0, 6))):
            a = int(rng.integers(0, n))
            x[a: a + int(rng.integers(1, 800))] = np.nan
        if name == "lumbar_inclination":
            x[: n // 3] = np.nan
        angles[name] = x
    valid = np.ones(n, bool)
    for _ in range(8):
        a = int(rng.integers(0, n))
        valid[a: a + int(rng.integers(1, 500))] = False
    return t, angles, valid


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_random_chunks_give_the_offline_summary(seed):
    rng = np.random.default_rng(seed)
    n = 60_000
    thresholds = Thresholds()
    dt = 1.0 / thresholds.analysis_rate_hz
    t, angles, valid = _random_session(rng, n, dt)
    # the offline summary takes the grid's own step as the accumulator does: equal to the last bit
    assert grid_step(t) != dt and abs(grid_step(t) - dt) < 1e-12

    accumulator = ExposureAccumulator(thresholds, dt)
    collected = {name: np.full(n, np.nan, np.float32) for name in angles}
    start, step_starts = 0, []
    while start < n:
        step_starts.append(t[start])
        stop = min(n, start + int(rng.integers(1, 5001)))
        step = {name: x[start:stop] for name, x in angles.items()
                if not (name == "lumbar_inclination" and stop <= n // 3)
                and not (name == "lumbar_flexion" and rng.random() < 0.1)}
        accumulator.add(t[start:stop], step, valid[start:stop])
        for name, x in step.items():  # as AnalysisCollector keeps them: float32, NaN when absent
            collected[name][start:stop] = x
        start = stop
    analysis = _analysis(t, collected, valid, thresholds)
    offline = angle_summary(analysis)

    assert len(offline) == len(angles)
    assert sum(e.static.count for e in offline.values() if e.static is not None) > 50
    assert offline["lumbar_inclination"].coverage_pct < 67.0
    crossing = sum(np.count_nonzero(np.searchsorted(step_starts, e.static.start_s, side="right")
                                    < np.searchsorted(step_starts, e.static.end_s - dt / 2, side="right"))
                   for e in offline.values() if e.static is not None)
    assert crossing > 20  # bouts that began in one step and went on into another
    assert_same_exposure(accumulator.result(), offline)


def test_bouts_spanning_many_steps_and_decided_late():
    """A bout longer than many one-sample steps; another that starts in the last samples of a
    step and is only known to be one steps later; a bout still open at the end."""
    thresholds = Thresholds()
    dt = 0.01
    x = np.concatenate([
        np.linspace(0, 50, 300),  # moving
        np.full(2000, 10.0),  # 20 s still
        np.linspace(10, 40, 30),
        40 + 1.5 * np.sin(np.arange(450)),  # 4.5 s within +-1.5 of its first sample
        np.full(30, 70.0),
        np.full(600, 20.0),  # open at the end
    ])
    t = np.arange(x.size) * dt
    valid = np.ones(x.size, bool)
    offline = angle_summary(_analysis(t, {"trunk_inclination": x.astype(np.float32)}, valid, thresholds))
    assert offline["trunk_inclination"].static.count == 3
    for sizes in ([1], [7, 1, 399], [400], [401, 1], [x.size]):
        accumulator = ExposureAccumulator(thresholds, 1.0 / thresholds.analysis_rate_hz)
        start, k = 0, 0
        while start < x.size:
            stop = min(x.size, start + sizes[k % len(sizes)])
            accumulator.add(t[start:stop], {"trunk_inclination": x[start:stop]}, valid[start:stop])
            start, k = stop, k + 1
        assert_same_exposure(accumulator.result(), offline)


def test_result_midway_then_more_data():
    """result() reads the state without ending it: more steps afterwards continue the bouts."""
    thresholds = Thresholds()
    t = np.arange(3000) * 0.01
    x = np.full(3000, 5.0)
    valid = np.ones(3000, bool)
    accumulator = ExposureAccumulator(thresholds, 1.0 / thresholds.analysis_rate_hz)
    accumulator.add(t[:1000], {"thoracic_flexion": x[:1000]}, valid[:1000])
    assert accumulator.result()["thoracic_flexion"].static.durations_s == pytest.approx([10.0])
    accumulator.add(t[1000:], {"thoracic_flexion": x[1000:]}, valid[1000:])
    assert_same_exposure(accumulator.result(),
                         angle_summary(_analysis(t, {"thoracic_flexion": x.astype(np.float32)}, valid, thresholds)))


def test_memory_does_not_grow_with_the_session():
    """After an hour of a wobbling angle, the state is the fine histogram and a short tail."""
    thresholds = Thresholds()
    accumulator = ExposureAccumulator(thresholds, 0.01)
    rng = np.random.default_rng(5)
    for step in range(120):
        t = (step * 3000 + np.arange(3000)) * 0.01
        accumulator.add(t, {"trunk_inclination": 20 + 10 * np.sin(t / 7) + rng.normal(0, 3, 3000)},
                        np.ones(3000, bool))
    state = accumulator._angles["trunk_inclination"]
    assert state.fine.size <= 100 * 100  # the angle's range in 0.01 deg bins, whole degrees
    assert state.bouts.tail_x.size < accumulator.need


def test_values_too_spread_to_be_angles_are_refused():
    accumulator = ExposureAccumulator(Thresholds(), 0.01)
    accumulator.add(np.arange(3) * 0.01, {"trunk_inclination": np.array([10.0, -100.0, 40.0])}, np.ones(3, bool))
    with pytest.raises(ValueError, match="spans"):
        accumulator.add(np.arange(3, 5) * 0.01, {"trunk_inclination": np.array([900.0, 0.0])}, np.ones(2, bool))


def test_a_simulated_session_streamed_step_by_step(tmp_path):
    """The steps of a real run through the runner, accumulated, against its Analysis."""
    from imu.analysis import open_source, run_source
    from test_replay_support import session_file

    path, _ = session_file(tmp_path, "desk", 600.0, seed=3)
    steps = []
    result = run_source(open_source(path), on_step=lambda update: steps.append(update.out), grade=False)
    analysis = result.analysis
    thresholds = analysis.thresholds
    accumulator = ExposureAccumulator(thresholds, 1.0 / thresholds.analysis_rate_hz)
    for out in steps:
        valid = np.ones(len(out.t), bool)
        for q in out.grid.quat.values():
            valid &= np.isfinite(q).all(axis=1)
        accumulator.add(out.t, out.angles, valid)

    assert len(steps) >= 4
    assert accumulator.samples == len(analysis.t)
    streamed, offline = accumulator.result(), angle_summary(analysis)
    assert len(offline) >= 5
    assert any(e.static is not None and e.static.count for e in offline.values())
    # the grid step given before any data and the median step of the whole time axis may
    # differ in the last bit: valid time and bout ends then do too, by that much
    assert abs(1.0 / thresholds.analysis_rate_hz - grid_step(analysis.t)) < 1e-12
    for exposure in offline.values():
        assert streamed[exposure.name].valid_s == pytest.approx(exposure.valid_s, rel=1e-12)
    exact = {name: replace(e, valid_s=streamed[name].valid_s) for name, e in offline.items()}
    assert_same_exposure(streamed, exact)
    # the runner behind a report accumulates the same, step by step
    assert_same_exposure(result.exposures, exact)
    assert all(result.exposures[name].valid_s == streamed[name].valid_s for name in streamed)
