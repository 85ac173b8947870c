"""The example recordings that ship with the project stay readable and consistent."""

from pathlib import Path

import pytest

from imu.analysis import analyze, open_source
from imu.recording.reader import SessionReader
from imu.replay import replay

RECORDINGS = Path(__file__).resolve().parent.parent / "recordings"
PIPELINE_EVENTS = ("slouch_start", "slouch_end", "alert")


def comparable(events):
    return [(e["event"], round(e["t"], 6)) for e in events if e["event"] in PIPELINE_EVENTS]


def test_live_recording_reports_exactly_what_was_alerted_live():
    path = RECORDINGS / "desk-sacral-5min.imu"
    analysis = analyze(open_source(path))
    assert analysis.calibration.ok and "lumbar_flexion" in analysis.angles
    with SessionReader(path) as reader:
        live = [r.data for r in reader.events() if r.kind in PIPELINE_EVENTS]
    assert live and comparable(live) == comparable(analysis.events)
    assert comparable(replay(path).events) == comparable(analysis.events)


@pytest.mark.parametrize("name", ["smoke-labelled.csv"])
def test_csv_example_reports(name):
    analysis = analyze(open_source(RECORDINGS / name))
    assert analysis.calibration.ok and len(analysis.episodes) == 1
