"""LSL outlets: a short replay published and received by a real pylsl inlet."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

pylsl = pytest.importorskip("pylsl")

from imu.analysis import analyze, open_source  # noqa: E402
from imu.lsl import LslSink, angle_channels  # noqa: E402
from imu.recording.reader import SessionReader  # noqa: E402
from imu.replay import replay  # noqa: E402
from test_replay_support import session_file  # noqa: E402


def _inlet(name: str):
    found = pylsl.resolve_byprop("name", name, timeout=5.0)
    assert found, f"no LSL stream named {name}"
    inlet = pylsl.StreamInlet(found[0], max_buflen=360)
    inlet.open_stream(timeout=5.0)
    return inlet


def _pull_all(inlet, expected: int):
    data, stamps = [], []
    for _ in range(200):  # a fast replay hands over a few seconds of data at once
        chunk, ts = inlet.pull_chunk(timeout=0.2, max_samples=100_000)
        if chunk:
            data.append(np.asarray(chunk)), stamps.append(np.asarray(ts))
        if sum(len(s) for s in stamps) >= expected:
            break
    return np.concatenate(data), np.concatenate(stamps)


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    path, _ = session_file(tmp_path_factory.mktemp("lsl"), "smoke", None, seed=2)
    source = open_source(path)
    name = f"imu-test-{uuid.uuid4().hex[:6]}"
    sink = LslSink(source.sensors, grid_rate_hz=source.thresholds.analysis_rate_hz, name=name)
    inlets = {"angles": _inlet(f"{name}-angles")}
    inlets.update({loc: _inlet(f"{name}-{loc}") for loc in source.sensors})
    result = replay(path, sinks=[sink])
    return path, source, sink, inlets, result


def test_angles_outlet_carries_every_angle_at_the_grid_rate(published):
    path, source, sink, inlets, result = published
    info = inlets["angles"].info(timeout=5.0)
    names = angle_channels(source.sensors)
    assert info.type() == "Angles"
    assert info.channel_count() == len(names) == 7  # thoracic and lumbar: no lumbar_flexion
    assert info.get_channel_labels() == names
    assert set(info.get_channel_units()) == {"deg"}
    assert info.nominal_srate() == 100.0
    analysis = analyze(open_source(path))
    values, stamps = _pull_all(inlets["angles"], len(analysis.t))
    assert len(values) == len(analysis.t)
    for j, name in enumerate(names):
        np.testing.assert_array_equal(values[:, j], analysis.angles[name].astype(np.float32))
    np.testing.assert_allclose(np.diff(stamps), np.diff(analysis.t), atol=1e-6)
    assert stamps[0] - sink.origin == pytest.approx(analysis.t[0], abs=1e-6)


def test_orientation_outlets_carry_each_sensors_quaternions_at_its_rate(published):
    path, source, sink, inlets, result = published
    with SessionReader(path) as reader:
        blocks, _, _ = reader.decode()
    for loc, spec in source.sensors.items():
        info = inlets[loc].info(timeout=5.0)
        assert info.type() == "Orientation" and info.channel_count() == 4
        assert info.nominal_srate() == spec["rate_hz"]
        assert info.get_channel_labels() == [f"{loc}_q{c}" for c in "wxyz"]
        block = blocks[loc]
        values, stamps = _pull_all(inlets[loc], len(block))
        assert len(values) == len(block)
        np.testing.assert_allclose(values, block.quat.astype(np.float32), atol=1e-7)
        steps = np.diff(stamps)
        assert (steps > 0).all()
        assert np.median(steps) == pytest.approx(1.0 / spec["rate_hz"], rel=0.02)


def test_angle_channels_follow_the_worn_sensors():
    assert angle_channels(["thoracic"]) == ["trunk_inclination", "trunk_lateral_inclination"]
    three = angle_channels(["thoracic", "lumbar", "sacral"])
    assert "lumbar_flexion" in three and len(three) == 10


def test_no_sensors_is_refused():
    with pytest.raises(ValueError, match="at least one sensor"):
        LslSink({})
