"""Export: Parquet read back with pyarrow, CSV read back as interchange, against the session."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from imu.export import export_session
from imu.recording.csv_import import read_interchange_csv
from imu.recording.session import read_session
from imu.samples import SampleBlock, TimedSamples
from test_recording_support import write_session

CLOCK_OFFSET_S = 5.0  # the support streams' device clock starts 5 s before the session


def device_clock_alignment(block: SampleBlock) -> TimedSamples:
    """Test stand-in for the aligner: the support streams' device clock minus its known offset."""
    return TimedSamples(block.device_time_s - CLOCK_OFFSET_S, block.quat, block.acc, block.gyro, block.vibrating)


@pytest.fixture
def session(tmp_path):
    path = tmp_path / "s.imu"
    write_session(path)
    return read_session(path)


def test_parquet_holds_every_sample_and_the_metadata(session, tmp_path):
    out = export_session(session, tmp_path / "s.parquet", "parquet", align=device_clock_alignment)
    table = pq.read_table(out)
    assert table.column_names == ["time_s", "sensor", "qw", "qx", "qy", "qz", "ax", "ay", "az",
                                  "gx", "gy", "gz", "label", "device_time_s", "host_time_s", "seq", "vibrating"]
    frame = table.to_pandas()
    assert np.all(np.diff(frame["time_s"]) >= 0)
    for location, block in session.blocks.items():
        rows = frame[frame["sensor"] == location]
        assert len(rows) == len(block)
        assert np.array_equal(rows[["qw", "qx", "qy", "qz"]].to_numpy(), block.quat)
        assert np.array_equal(rows[["ax", "ay", "az"]].to_numpy(), block.acc)
        assert np.array_equal(rows[["gx", "gy", "gz"]].to_numpy(), block.gyro)
        assert np.array_equal(rows["seq"].to_numpy(), block.seq)
        assert np.array_equal(rows["host_time_s"].to_numpy(), block.host_time_s)
        assert np.allclose(rows["time_s"].to_numpy(), block.device_time_s - CLOCK_OFFSET_S)
    labelled = frame[frame["label"] == "sitting"]["time_s"]
    assert labelled.min() >= 0.2 and labelled.max() <= 1.0 and len(labelled) > 100
    meta = table.schema.metadata
    assert json.loads(meta[b"imu.session.metadata"])["subject"] == "S01"
    assert json.loads(meta[b"imu.session.sensors"])["thoracic"]["firmware"] == "1.2.0"
    assert json.loads(meta[b"imu.session.annotations"])[0]["label"] == "sitting"
    assert meta[b"imu.export"] == b"imu.export/1"


def test_csv_export_reads_back_as_interchange(session, tmp_path):
    out = export_session(session.path, tmp_path / "s.csv", "csv", align=device_clock_alignment)
    data = read_interchange_csv(out)
    for location, block in session.blocks.items():
        got = data.samples[location]
        assert np.allclose(got.t, block.device_time_s - CLOCK_OFFSET_S, atol=1e-9)
        assert np.allclose(got.quat, block.quat, atol=1e-9)
        assert np.allclose(got.acc, block.acc, atol=1e-9)
    assert data.dropped_rows == 0
    assert len(data.labels) == 1 and data.labels[0][2] == "sitting"
    assert 0.2 <= data.labels[0][0] < 0.25 and 0.95 < data.labels[0][1] <= 1.0


def test_export_with_the_session_aligner(session, tmp_path):
    pytest.importorskip("imu.core.align")
    out = export_session(session, tmp_path / "aligned.parquet")
    frame = pq.read_table(out).to_pandas()
    assert len(frame) == sum(len(b) for b in session.blocks.values())
    for location in session.blocks:
        t = frame[frame["sensor"] == location]["time_s"].to_numpy()
        host = frame[frame["sensor"] == location]["host_time_s"].to_numpy()
        assert np.all(np.diff(t) >= 0)  # the causal aligner may clamp its first samples together
        assert np.all(t <= host + 1e-6)  # a sample is taken before its notification arrives


def test_export_refuses_bad_requests(session, tmp_path):
    with pytest.raises(ValueError, match="unknown export format 'xlsx'"):
        export_session(session, tmp_path / "s.xlsx", "xlsx", align=device_clock_alignment)
    with pytest.raises(ValueError, match="directory does not exist"):
        export_session(session, tmp_path / "no" / "s.csv", "csv", align=device_clock_alignment)
    with pytest.raises(ValueError, match="one row per decoded sample"):
        export_session(session, tmp_path / "s.csv", "csv",
                       align=lambda b: device_clock_alignment(b.take(np.arange(len(b) - 1))))


def test_angle_and_event_export_match_the_report_analysis(tmp_path):
    """`imu export --what angles|events`: the report's analysis, as Parquet and CSV."""
    import pandas as pd

    from imu.analysis import analyze, open_source
    from imu.cli import main
    from imu.core.exposure import episode_end

    session = tmp_path / "desk.imu"
    assert main(["simulate", "desk", "-o", str(session), "--duration", "240"]) == 0
    assert main(["export", str(session), "--what", "angles"]) == 0
    angles = pq.read_table(tmp_path / "desk.angles.parquet")
    assert angles.schema.metadata[b"imu.export.what"] == b"angles"
    frame = angles.to_pandas()
    analysis = analyze(open_source(session))
    assert len(frame) == len(analysis.t)
    np.testing.assert_array_equal(frame["thoracic_flexion"], analysis.angles["thoracic_flexion"])
    assert list(frame.columns[:4]) == ["time_s", "valid", "context", "slouch"]
    ep = analysis.episodes[0]
    inside = (frame.time_s > ep.start_s) & (frame.time_s < episode_end(ep, analysis.duration_s))
    assert frame.slouch[inside].all() and not frame.slouch[frame.time_s < ep.start_s].any()
    out = tmp_path / "events.csv"
    assert main(["export", str(session), "--what", "events", "--format", "csv", "-o", str(out)]) == 0
    events = pd.read_csv(out)
    starts = events[events.kind == "slouch"].start_s.to_numpy()
    np.testing.assert_allclose(starts, [e.start_s for e in analysis.episodes], atol=1e-3)


def test_export_into_an_unwritable_place_is_one_line(tmp_path, capsys):
    from imu.cli import main

    session = tmp_path / "desk.imu"
    assert main(["simulate", "desk", "-o", str(session), "--duration", "120"]) == 0
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["export", str(session), "-o", str(blocker / "s.parquet")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(blocker) in err
    assert "Errno" not in err and "internal error" not in err
