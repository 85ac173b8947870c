"""Exposure metrics against hand-computed truth and a brute-force reading of the definitions."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imu.core.exposure import (
    angle_summary, percentiles, slouch_hour_bins, slouches_per_hour, static_bouts, zone_labels,
    zone_percent, zone_scheme,
)
from imu.core.result import Analysis, CalibrationReport, SlouchEpisode
from imu.profile import Thresholds


def test_sagittal_zones_count_extension_separately_and_edges_fall_low():
    values = np.array([-5.0] * 10 + [0.0] * 5 + [20.0] * 15 + [20.5] * 10 + [60.0] * 20
                      + [75.0] * 40)
    zones = zone_percent(values, (20.0, 60.0), lateral=False)
    assert list(zones) == ["<0", "0-20", "20-60", ">60"]
    assert zones == pytest.approx({"<0": 10.0, "0-20": 20.0, "20-60": 30.0, ">60": 40.0})


def test_lateral_zones_use_magnitude():
    values = np.array([-25.0] * 2 + [-12.0] * 3 + [-4.0] * 3 + [9.0] * 2 + [15.0] * 6 + [30.0] * 4)
    zones = zone_percent(values, (10.0, 20.0), lateral=True)
    assert list(zones) == ["0-10", "10-20", ">20"]
    assert zones == pytest.approx({"0-10": 25.0, "10-20": 45.0, ">20": 30.0})


def test_zone_labels_follow_custom_edges_and_bad_edges_are_refused():
    assert zone_labels((15.0, 45.0), lateral=False) == ("<0", "0-15", "15-45", ">45")
    with pytest.raises(ValueError, match="zone edges"):
        zone_percent(np.zeros(3), (60.0, 20.0), lateral=False)


def test_percentiles_of_a_known_ramp_ignore_nan():
    values = np.concatenate([np.arange(101.0), [np.nan] * 7])
    p = percentiles(values)
    assert p == pytest.approx({"p10": 10.0, "p50": 50.0, "p90": 90.0, "p90_p10": 80.0,
                               "min": 0.0, "max": 100.0})
    assert all(math.isnan(v) for v in percentiles(np.full(4, np.nan)).values())


def test_static_bouts_on_a_hand_built_trace():
    rate = 10.0
    parts = [
        np.zeros(50),  # 5.0 s still: a bout
        np.linspace(0, 30, 20),  # moving
        30 + 1.4 * np.sin(np.arange(70)),  # 7.0 s, wobbles within +-1.4 of its first sample
        np.full(30, 50.0),  # 3.0 s still: too short
        np.full(40, 10.0),  # exactly 4.0 s: a bout
    ]
    x = np.concatenate(parts)
    t = np.arange(x.size) / rate
    bouts = static_bouts(t, x, band_deg=1.5, min_s=4.0)
    # the ramp's first sample (0.0) and last (30.0) extend the bouts on either side of it
    assert bouts.start_s == pytest.approx([0.0, 6.9, 17.0])
    assert bouts.durations_s == pytest.approx([5.1, 7.1, 4.0])
    assert bouts.longest_s == pytest.approx(7.1)
    assert bouts.count_longer_than(6.0) == 1


def test_static_bout_ends_at_a_missing_sample():
    x = np.zeros(100)
    x[60] = np.nan
    t = np.arange(100) / 10.0
    bouts = static_bouts(t, x, 1.5, 4.0)
    assert bouts.start_s == pytest.approx([0.0])
    assert bouts.durations_s == pytest.approx([6.0])  # the 3.9 s after the gap is too short


def test_slow_drift_is_cut_where_it_leaves_the_first_sample_band():
    t = np.arange(0, 20, 0.1)
    x = 0.22 * t  # leaves +-1.5 deg of a bout's first sample after 6.9 s
    bouts = static_bouts(t, x, 1.5, 4.0)
    assert bouts.start_s == pytest.approx([0.0, 6.9, 13.8])
    assert bouts.durations_s == pytest.approx([6.9, 6.9, 6.2])


def _reference_bouts(x, band, need):
    """The module docstring's definition, one sample at a time."""
    bouts, i, n = [], 0, len(x)
    while i < n:
        j = i
        while j < n and np.isfinite(x[i]) and abs(x[j] - x[i]) <= band:
            j += 1
        if j - i >= need:
            bouts.append((i, j))
            i = j
        else:
            i += 1
    return bouts


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.floats(-3, 3), st.just(float("nan"))), min_size=2, max_size=120),
       st.integers(1, 12))
def test_static_bouts_match_the_reference_definition(steps, need):
    x = np.cumsum(np.nan_to_num(steps))  # a random walk, then knock some samples out
    x[np.isnan(steps)] = np.nan
    t = np.arange(x.size) * 0.5
    bouts = static_bouts(t, x, 1.5, need * 0.5)
    expected = _reference_bouts(x, 1.5, need)
    assert bouts.start_s.tolist() == pytest.approx([t[i] for i, _ in expected])
    assert bouts.durations_s.tolist() == pytest.approx([(j - i) * 0.5 for i, j in expected])


def test_slouch_rate_and_hour_bins():
    episodes = [SlouchEpisode(s, s + 10.0, 20.0, s + 5.0) for s in (100.0, 3500.0, 3700.0, 7300.0)]
    assert slouches_per_hour(4, 5400.0) == pytest.approx(4 / 1.5)
    starts, counts, lengths = slouch_hour_bins(episodes, 7400.0)
    assert starts.tolist() == [0.0, 3600.0, 7200.0]
    assert counts.tolist() == [2, 1, 1]
    assert lengths.tolist() == pytest.approx([3600.0, 3600.0, 200.0])
    with pytest.raises(ValueError, match="duration"):
        slouches_per_hour(1, 0.0)


def _analysis(angles, valid, t):
    return Analysis(t=t, angles=angles, valid=valid, context=np.full(t.size, "still"),
                    episodes=[], alerts=[], calibration=CalibrationReport(True, "good", []),
                    sensors={}, thresholds=Thresholds(), duration_s=float(t[-1] + 0.01))


def test_angle_summary_uses_valid_samples_and_drops_unknown_angles():
    t = np.arange(1000) / 100.0
    flexion = np.where(t < 5.0, 10.0, 30.0)  # half 0-20, half 20-60
    flexion[:100] = 80.0  # ...but the first second is invalid
    valid = t >= 1.0
    angles = {
        "thoracic_flexion": flexion,
        "thoracic_lateral_bend": np.full(t.size, -12.0),
        "thoracic_axial_rotation": np.sin(t),
        "lumbar_flexion": np.full(t.size, np.nan),
    }
    summary = angle_summary(_analysis(angles, valid, t))
    assert list(summary) == ["thoracic_flexion", "thoracic_lateral_bend", "thoracic_axial_rotation"]
    flex = summary["thoracic_flexion"]
    assert flex.valid_s == pytest.approx(9.0)
    assert flex.coverage_pct == pytest.approx(90.0)
    # relative thoracic flexion: back-curvature classes 0-20 / 20-40 / >40, not ISO inclination
    assert flex.zones_pct == pytest.approx(
        {"<-5": 0.0, "-5-20": 400 / 9, "20-40": 500 / 9, ">40": 0.0})
    assert "curvature" in flex.zone_scheme.basis
    assert flex.percentiles["max"] == 30.0
    assert flex.static.start_s == pytest.approx([1.0, 5.0])
    assert summary["thoracic_lateral_bend"].zones_pct == pytest.approx(
        {"0-10": 0.0, "10-20": 100.0, ">20": 0.0})
    assert summary["thoracic_axial_rotation"].zones_pct is None
    assert summary["thoracic_axial_rotation"].static is None  # a high-passed heading


def test_sensor_noise_around_neutral_is_not_extension():
    """A still, upright wearer with 2 deg of sensor noise: all neutral, none extension."""
    rng = np.random.default_rng(1)
    noise = rng.normal(0.0, 2.0, 20_000)
    scheme = zone_scheme("trunk_inclination", Thresholds())
    zones = scheme.percent(noise)
    assert list(zones) == ["<-5", "-5-20", "20-60", ">60"]
    assert zones["<-5"] < 1.0 and zones["-5-20"] > 99.0  # 2.5 sigma
    # a real backward lean well past the band is still extension
    assert scheme.percent(np.full(10, -12.0))["<-5"] == 100.0
    assert scheme.classify(np.array([-5.0, -5.01, np.nan])).tolist() == [1, 0, -1]


def test_each_angle_kind_gets_its_own_standard():
    thr = Thresholds()
    inclination = zone_scheme("trunk_inclination", thr)
    assert inclination.edges == (20.0, 60.0) and "inclination" in inclination.basis
    assert zone_scheme("lumbar_inclination", thr).edges == (20.0, 60.0)
    curvature = zone_scheme("thoracic_flexion", thr)
    assert curvature.edges == (20.0, 40.0)
    assert zone_scheme("lumbar_flexion", thr) is None  # no standard gives classes for it
    assert zone_scheme("thoracic_axial_rotation", thr) is None
    lateral = zone_scheme("trunk_lateral_inclination", thr)
    assert lateral.classes == ("neutral", "intermediate", "awkward")
    assert lateral.percent(np.array([-25.0, 5.0])) == {"0-10": 50.0, "10-20": 0.0, ">20": 50.0}
    # 50 deg: intermediate as an inclination, awkward as relative flexion
    assert inclination.classify(np.array([50.0]))[0] == 2
    assert curvature.classify(np.array([50.0]))[0] == 3


def test_a_wider_dead_band_from_the_profile_changes_labels_and_classes():
    from imu.profile import thresholds_from_dict

    thr = thresholds_from_dict({"zone_neutral_band_deg": 8})
    scheme = zone_scheme("trunk_inclination", thr)
    assert scheme.labels[0] == "<-8"
    assert scheme.percent(np.array([-7.0, -9.0])) == pytest.approx(
        {"<-8": 50.0, "-8-20": 50.0, "20-60": 0.0, ">60": 0.0})


def test_angle_summary_refuses_misshaped_angles():
    t = np.arange(10) / 10.0
    with pytest.raises(ValueError, match="thoracic_flexion"):
        angle_summary(_analysis({"thoracic_flexion": np.zeros(9)}, np.ones(10, bool), t))


def test_degree_histogram_counts_valid_samples_per_whole_degree_like_np_histogram():
    rng = np.random.default_rng(11)
    t = np.arange(5000) / 100.0
    flexion = np.concatenate([rng.normal(25, 12, 4000), np.arange(-3.0, 7.0, 0.01)])  # whole degrees too
    flexion[rng.integers(0, 5000, 300)] = np.nan
    valid = np.ones(5000, bool)
    valid[100:400] = False
    flexion[150:250] = 500.0  # invalid: no bin for it
    lateral = np.full(5000, -7.5)
    summary = angle_summary(_analysis({"thoracic_flexion": flexion, "thoracic_lateral_bend": lateral},
                                      valid, t))
    used = flexion[valid & np.isfinite(flexion)]
    edges = np.arange(np.floor(used.min()), np.floor(used.max()) + 2)
    want, _ = np.histogram(used, bins=edges)
    histogram = summary["thoracic_flexion"].histogram
    assert histogram.lo_deg == int(np.floor(used.min()))
    assert histogram.counts.dtype == np.int64
    np.testing.assert_array_equal(histogram.counts, want)
    assert histogram.counts[0] > 0 and histogram.counts[-1] > 0  # trimmed to the filled bins
    assert int(histogram.counts.sum()) == used.size
    constant = summary["thoracic_lateral_bend"].histogram
    assert constant.lo_deg == -8 and constant.counts.tolist() == [5000 - 300]
