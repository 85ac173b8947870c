"""summary.json, events.csv and report.html against a synthetic session with known truth.

The session: 1.5 h on a 10 Hz grid. thoracic_flexion sits at 5 deg with three slouch
episodes held flat (25 deg for 60 s, 35 deg for 30 s, 70 deg for 100 s), 100 s of extension
at -5 deg, and a 50 s data gap of the thoracic sensor. No sacral sensor is worn.
"""

import base64
import csv
import json
import math
from html.parser import HTMLParser

import numpy as np
import pytest

import imu
from imu.core.result import (
    Alert, Analysis, CalibrationReport, SensorQuality, SlouchEpisode,
)
from imu.profile import Thresholds
from imu.report import build_summary, write_report
from imu.report.events import EVENT_COLUMNS, event_rows
from imu.report.figures import minmax_decimate
from imu.samples import DecodeStats

RATE = 10.0
DURATION = 5400.0
EPISODES = [(600.0, 660.0, 25.0), (1800.0, 1830.0, 35.0), (4000.0, 4100.0, 70.0)]
GAP = (5000.0, 5050.0)
VALID_SAMPLES = 54000 - 500


def _span(t, start, end):
    return (t >= start - 1e-9) & (t < end - 1e-9)


def session(calibration_ok=True, lumbar_flexion_nan=False, notes=()):
    t = np.arange(int(DURATION * RATE)) / RATE
    flexion = np.full(t.size, 5.0)
    for start, end, peak in EPISODES:
        flexion[_span(t, start, end)] = peak
    flexion[_span(t, 3000, 3100)] = -5.0
    lateral = np.full(t.size, 3.0)
    lateral[_span(t, 1000, 1100)] = -12.0
    angles = {
        "thoracic_flexion": flexion,
        "thoracic_lateral_bend": lateral,
        "thoracic_axial_rotation": 2.0 * np.sin(t / 5.0),
        "lumbar_inclination": np.full(t.size, 10.0),
        "trunk_inclination": np.full(t.size, 15.0),
    }
    if lumbar_flexion_nan:
        angles["lumbar_flexion"] = np.full(t.size, np.nan)
    valid = ~_span(t, *GAP)
    for values in angles.values():
        values[~valid] = np.nan
    episodes = [SlouchEpisode(s, e, p, s + 5.0) for s, e, p in EPISODES]
    alerts = [Alert(630.0, 600.0, "thoracic_flexion", 25.0, 30.0, 1),
              Alert(4030.0, 4000.0, "thoracic_flexion", 70.0, 30.0, 1),
              Alert(4090.0, 4000.0, "thoracic_flexion", 70.0, 90.0, 2)]
    thoracic_stats = DecodeStats(notifications=107000, samples=535000, bad_notifications=3,
                                 lost_samples=5000, gaps=[GAP], errors={"truncated": 2, "crc": 1})
    sensors = {
        "thoracic": SensorQuality("thoracic", "imu-fw AA:01", 100.0, 535000, thoracic_stats,
                                  clock_residual_ms=1.234, clock_drift_ppm=12.5, battery_pct=81.0),
        "lumbar": SensorQuality("lumbar", "imu-fw AA:02", 100.0, 540000,
                                DecodeStats(notifications=108000, samples=540000)),
    }
    if calibration_ok:
        calibration = CalibrationReport(True, "good", [], (10.0, 14.0),
                                        [(20.0, 25.0), (30.0, 35.0)],
                                        {"thoracic": {"still_spread_deg": np.float64(0.4)}},
                                        sagittal_sign="verified")
    else:
        calibration = CalibrationReport(False, "failed", ["wearer was not still"], None, [])
    return Analysis(t=t, angles=angles, valid=valid, context=np.full(t.size, "still"),
                    episodes=episodes, alerts=alerts, calibration=calibration, sensors=sensors,
                    thresholds=Thresholds(), duration_s=DURATION, notes=list(notes))


SOURCE = {"kind": "recording", "file": "session-01.imu"}


@pytest.fixture(scope="module")
def summary():
    return build_summary(session(), SOURCE)


def _floats(value):
    if isinstance(value, float):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _floats(v)
    elif isinstance(value, list):
        for v in value:
            yield from _floats(v)


def test_summary_header_and_json_round_trip_without_nan(summary):
    assert summary["schema"] == "imu.summary/1"
    assert summary["generated_by"] == {"software": "imu", "version": imu.__version__}
    assert summary["source"] == SOURCE
    assert summary["duration_s"] == DURATION
    assert json.loads(json.dumps(summary, allow_nan=False)) == summary
    assert all(math.isfinite(x) for x in _floats(summary))
    assert summary["method"]["thresholds"]["sagittal_zones_deg"] == [20.0, 60.0]
    assert summary["method"]["software_version"] == imu.__version__
    assert summary["context_s"] == {"still": DURATION}


def test_summary_angles_match_hand_computed_exposure(summary):
    angles = summary["angles"]
    assert list(angles) == ["thoracic_flexion", "thoracic_lateral_bend", "thoracic_axial_rotation",
                            "lumbar_inclination", "trunk_inclination"]
    flex = angles["thoracic_flexion"]
    assert flex["kind"] == "sagittal"
    assert (flex["p10"], flex["p50"], flex["p90"], flex["min"], flex["max"]) == (5, 5, 5, -5, 70)
    pct = lambda samples: round(100 * samples / VALID_SAMPLES, 2)  # noqa: E731
    # -5 deg lies inside the neutral dead band; relative flexion uses back-curvature classes
    assert flex["zones"] == {"<-5": 0.0, "-5-20": pct(51600), "20-40": pct(900),
                             ">40": pct(1000)}
    assert flex["valid_s"] == VALID_SAMPLES / RATE
    # constant stretches between changes: 600, 60, 1140, 30, 1170, 100, 900, 100, 900, 350 s
    assert flex["static"] == {"count": 10, "total_s": 5350.0, "longest_s": 1170.0, "over_1min": 8}
    assert angles["thoracic_lateral_bend"]["zones"] == {"0-10": pct(52500), "10-20": pct(1000),
                                                        ">20": 0.0}
    assert angles["thoracic_axial_rotation"]["zones"] is None
    assert angles["thoracic_axial_rotation"]["static"] is None


def test_summary_slouch_alerts_sensors_calibration(summary):
    slouch = summary["slouch"]
    assert (slouch["count"], slouch["total_s"], slouch["per_hour"]) == (3, 190.0, 2.0)
    assert slouch["events"][2] == {"start_s": 4000.0, "end_s": 4100.0, "duration_s": 100.0,
                                   "peak_deg": 70.0, "open": False}
    alerts = summary["alerts"]
    assert alerts["count"] == 3
    assert alerts["moments"][2]["t"] == 4090.0 and alerts["moments"][2]["held_s"] == 90.0
    assert alerts["moments"][0]["reason"] == "thoracic flexion 25 deg from neutral for 30 s"
    thoracic = summary["sensors"]["thoracic"]
    assert thoracic["lost_pct"] == round(100 * 5000 / 540000, 3)
    assert thoracic["gaps"] == [{"start_s": 5000.0, "end_s": 5050.0}]
    assert thoracic["errors"] == {"truncated": 2, "crc": 1}
    assert (thoracic["clock_residual_ms"], thoracic["battery_pct"]) == (1.234, 81.0)
    assert summary["sensors"]["lumbar"]["clock_residual_ms"] is None
    cal = summary["calibration"]
    assert cal["neutral"] == {"start_s": 10.0, "end_s": 14.0} and len(cal["bends"]) == 2
    assert cal["details"] == {"thoracic": {"still_spread_deg": 0.4}}


def test_not_measured_names_missing_sacral_sensor_and_gaps(summary):
    lines = summary["not_measured"]
    assert any(line.startswith("lumbar_flexion: no sacral sensor worn") for line in lines)
    assert any(line.startswith("thoracic sensor: 1 data gap totalling 50.0 s") for line in lines)
    assert any("unknown for 50.0 s" in line for line in lines)
    assert "trunk_lateral_inclination: not computed by this analysis." in lines
    assert not any("alibration" in line for line in lines)


def test_not_measured_reports_failed_calibration_nan_angle_and_notes():
    s = build_summary(session(calibration_ok=False, lumbar_flexion_nan=True,
                              notes=["Running metrics: no running detected."]), SOURCE)
    assert "lumbar_flexion" not in s["angles"]  # all-NaN angles are absent, not NaN
    lines = s["not_measured"]
    assert any(line.startswith("lumbar_flexion: no sacral sensor worn") for line in lines)
    assert any(line.startswith("Calibration failed (wearer was not still)") for line in lines)
    assert "Running metrics: no running detected." in lines
    assert "lumbar_lateral_inclination: not computed by this analysis." in lines
    assert s["calibration"]["ok"] is False and s["calibration"]["neutral"] is None


def test_bad_source_is_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="source must be a dict with a 'kind'"):
        build_summary(session(), {"file": "x.imu"})


def test_event_rows_cover_every_kind_in_time_order():
    rows = event_rows(session())
    kinds = [r["kind"] for r in rows]
    assert sorted(set(kinds)) == ["alert", "calibration", "gap", "slouch"]
    assert (kinds.count("slouch"), kinds.count("alert"), kinds.count("gap"),
            kinds.count("calibration")) == (3, 3, 1, 3)
    starts = [float(r["start_s"]) for r in rows]
    assert starts == sorted(starts)
    gap = next(r for r in rows if r["kind"] == "gap")
    assert (gap["sensor"], gap["duration_s"]) == ("thoracic", "50.000")
    last_slouch = [r for r in rows if r["kind"] == "slouch"][-1]
    assert (last_slouch["peak_deg"], last_slouch["angle"]) == ("70.00", "thoracic_flexion")
    failed = event_rows(session(calibration_ok=False))
    assert failed[0]["kind"] == "calibration" and "wearer was not still" in failed[0]["reason"]


class _PageScan(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.links, self.tags, self.text = [], [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        for key in ("src", "href"):
            if key in attrs and tag != "img":
                self.links.append(attrs[key])

    def handle_data(self, data):
        self.text.append(data)


def test_write_report_files_and_self_contained_html(tmp_path):
    analysis = session(notes=["<script>alert('x')</script> & friends"])
    source = {"kind": "recording", "file": "night <shift>.imu"}
    paths = write_report(analysis, tmp_path / "out" / "report", source)
    assert set(paths) == {"summary.json", "events.csv", "report.html"}
    assert all(p.exists() for p in paths.values())
    assert json.loads(paths["summary.json"].read_text())["slouch"]["count"] == 3
    with paths["events.csv"].open(newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == EVENT_COLUMNS
        assert len(list(reader)) == 10

    page = paths["report.html"].read_text()
    scan = _PageScan()
    scan.feed(page)
    scan.close()
    assert len(scan.images) == 5  # timeline, slouch rate, traces, zones, distributions
    for src in scan.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert scan.links == [] and "script" not in scan.tags
    assert "http://" not in page and "https://" not in page
    text = " ".join(scan.text)
    for expected in ("1:30:00", "slouches per hour", "2.0", "3:10", "lumbar_flexion: no sacral",
                     "thoracic flexion 70 deg from neutral for 90 s", "truncated: 2",
                     "<script>alert('x')</script> & friends", "night <shift>.imu", "good"):
        assert expected in text, expected
    assert "<script>" not in page  # the note arrived escaped, as text


def test_minmax_decimation_keeps_a_one_sample_spike_and_gaps():
    t = np.arange(1_000_000) / 100.0
    y = np.zeros(t.size)
    y[123_457] = 50.0
    y[500_000:600_000] = np.nan
    tx, ty = minmax_decimate(t, y, 1000)
    assert tx.size == ty.size == 2000
    assert np.nanmax(ty) == 50.0
    assert np.isnan(ty).sum() == 2 * 100  # the 100 columns wholly inside the gap
    assert np.all(np.diff(tx) >= 0)
    short_t, short_y = minmax_decimate(t[:50], y[:50], 1000)
    assert short_y is not None and short_y.size == 50


def test_report_of_a_session_without_any_valid_angle(tmp_path):
    t = np.arange(600) / RATE
    analysis = Analysis(
        t=t, angles={"thoracic_flexion": np.full(t.size, np.nan)}, valid=np.zeros(t.size, bool),
        context=np.full(t.size, "still"), episodes=[SlouchEpisode(40.0, None, 18.0, 45.0)],
        alerts=[], calibration=CalibrationReport(False, "failed", ["bends too small"]),
        sensors={}, thresholds=Thresholds(), duration_s=60.0)
    paths = write_report(analysis, tmp_path, {"kind": "csv", "file": None})
    s = json.loads(paths["summary.json"].read_text())
    assert s["angles"] == {}
    assert "thoracic_flexion: no valid samples in this session." in s["not_measured"]
    assert any(line.startswith("Slouch events: thoracic_flexion was not measured")
               for line in s["not_measured"])
    # an episode still open at the end of the session ends with it
    assert s["slouch"]["events"] == [{"start_s": 40.0, "end_s": 60.0, "duration_s": 20.0,
                                      "peak_deg": 18.0, "open": True}]
    scan = _PageScan()
    scan.feed(paths["report.html"].read_text())
    assert len(scan.images) == 2  # timeline and slouch rate: there is no trace to draw
    page = paths["report.html"].read_text()
    # nothing is praised that was not measured
    assert "Calibration failed" in page and "Slouching could not be measured" in page
    assert "Upright most of the time" not in page


def _session_file(path, **metadata):
    from imu.recording.session import SessionWriter

    sensors = [{"location": "thoracic", "device": "imu-fw"}, {"location": "lumbar", "device": "imu-fw"}]
    with SessionWriter(path, metadata, sensors):
        pass
    return path


def test_report_opens_with_who_when_how_long_and_which_sensors(tmp_path, monkeypatch):
    monkeypatch.setenv("IMU_HOME", str(tmp_path / "home"))
    path = _session_file(tmp_path / "ana.imu", source="live", profile="ana",
                         started_local="2026-11-30T09:15:00")
    paths = write_report(session(), tmp_path / "out", {"kind": "session", "file": str(path)})
    page = paths["report.html"].read_text()
    title = page[page.index("<title>") + 7: page.index("</title>")]
    assert title == "Posture report: ana, 30 Nov 2026 09:15" and str(tmp_path) not in title
    head = page[: page.index("The session at a glance")]
    for expected in ("Posture report: ana", "Mon 30 Nov 2026, 09:15", "1 h 30 min of data",
                     "real sensors", "What went well", "What to work on"):
        assert expected in head, expected
    # the opening comes before the tables of thresholds and data quality
    assert page.index("What went well") < page.index("Data quality") < page.index("Method")


def test_virtual_and_simulated_sessions_say_so(tmp_path):
    virtual = _session_file(tmp_path / "v.imu", source="virtual", virtual="desk", profile="x")
    simulated = _session_file(tmp_path / "s.imu", source="simulated", scenario="desk", seed=3)
    from imu.report.overview import session_facts

    v = session_facts(virtual, "session")
    assert v.sensors == "virtual" and "not a person" in v.sensors_text and v.person == "x"
    assert v.started is not None and v.started_is_wear_time  # written when the wear began
    sim = session_facts(simulated, "session")
    assert sim.sensors == "simulated" and not sim.started_is_wear_time
    assert session_facts(tmp_path / "x.csv", "csv").sensors == "unknown"


def test_headline_numbers_against_the_persons_earlier_sessions(tmp_path, monkeypatch):
    from imu.people import get_profile

    monkeypatch.setenv("IMU_HOME", str(tmp_path / "home"))
    profile = get_profile("ana")
    profile.save_thresholds(Thresholds())  # the profile exists on this computer
    for day, per_hour in ((1, 6.0), (2, 8.0), (3, 7.0)):
        profile.record_session({"session": f"earlier-{day}", "started": f"2026-11-0{day}T09:00:00",
                                "calibration_ok": True, "slouch_per_hour": per_hour,
                                "slouched_pct": 1.0, "longest_slouch_s": 30.0,
                                "trunk_neutral_pct": 90.0})
    path = _session_file(tmp_path / "today.imu", source="live", profile="ana",
                         started_local="2026-11-30T09:15:00")
    for _ in range(2):  # reporting twice records the session once
        paths = write_report(session(), tmp_path / "out", {"kind": "session", "file": str(path)})
    page = paths["report.html"].read_text()
    # this session: 2.0 slouches per hour against a usual (median) 7.0: better
    assert "usual 7.0 &middot; better than usual" in page
    assert "median of this person's 3 earlier calibrated sessions" in page
    assert "against your usual 7.0 (median of 3 earlier sessions)" in page
    history = profile.history()
    assert [h["session"] for h in history][-1] == str(path.resolve()) and len(history) == 4


def test_virtual_sessions_stay_out_of_a_persons_history(tmp_path, monkeypatch):
    from imu.people import get_profile

    monkeypatch.setenv("IMU_HOME", str(tmp_path / "home"))
    profile = get_profile("ana")
    profile.save_thresholds(Thresholds())
    path = _session_file(tmp_path / "v.imu", source="virtual", virtual="desk", profile="ana")
    paths = write_report(session(), tmp_path / "out", {"kind": "session", "file": str(path)})
    assert profile.history() == []
    assert "Simulated data: not compared with" in paths["report.html"].read_text()


def test_a_report_never_creates_a_profile(tmp_path, monkeypatch):
    monkeypatch.setenv("IMU_HOME", str(tmp_path / "home"))
    path = _session_file(tmp_path / "bo.imu", source="live", profile="bo")
    paths = write_report(session(), tmp_path / "out", {"kind": "session", "file": str(path)})
    assert not (tmp_path / "home").exists()
    assert "Profile bo is not kept on this computer" in paths["report.html"].read_text()


def test_slouch_rate_bins_fit_a_short_session():
    from imu.report.figures import rate_bin_s
    from imu.core.exposure import slouch_bins

    assert rate_bin_s(1200.0) == 300.0 and rate_bin_s(8 * 3600.0) == 3600.0
    episodes = [SlouchEpisode(s, s + 10, 20.0, s + 5) for s in (10.0, 20.0, 700.0)]
    starts, counts, lengths = slouch_bins(episodes, 1200.4, 300.0)
    assert counts.tolist() == [2, 0, 1, 0] and lengths[-1] == pytest.approx(300.4)


def test_unwritable_report_folder_is_one_line_naming_the_path(tmp_path):
    import os

    from imu.report.writer import ReportOutputError

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
        with pytest.raises(ReportOutputError) as err:
            write_report(session(), locked / "report", {"kind": "csv", "file": None})
        assert str(locked / "report") in str(err.value) and "permission denied" in str(err.value)
        assert "Errno" not in str(err.value)
    finally:
        locked.chmod(0o700)


def test_report_under_a_file_is_one_line_naming_the_path(tmp_path):
    from imu.report.writer import ReportOutputError

    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(ReportOutputError) as err:
        write_report(session(), blocker / "report", {"kind": "csv", "file": None})
    assert str(blocker) in str(err.value) and "Errno" not in str(err.value)
    with pytest.raises(ReportOutputError, match="is a file, not a folder"):
        write_report(session(), blocker, {"kind": "csv", "file": None})


def test_report_command_in_a_pipe_prints_results_not_progress(tmp_path):
    """Progress bars are for terminals: piped, stderr stays empty and stdout is two lines."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from imu.cli import main

    session = tmp_path / "desk.imu"
    assert main(["simulate", "desk", "-o", str(session), "--duration", "120"]) == 0
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]), MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, "-m", "imu.cli", "report", str(session)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0 and done.stderr == ""
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("report: ")


def test_figures_drawn_from_the_analysis_without_its_arrays_are_the_same():
    """The report sends its figure processes the analysis without its per-sample arrays and
    events (beside the envelope): the figures they draw are those of the whole analysis."""
    import pickle

    from imu.core.envelope import SessionEnvelope
    from imu.core.exposure import angle_summary
    from imu.report.figure_plan import without_series
    from imu.report.figures import session_figures

    analysis = session()
    exposures = angle_summary(analysis)
    envelope = SessionEnvelope.from_arrays(analysis.t, analysis.angles, analysis.valid, analysis.context)
    light = without_series(analysis)
    assert len(light.t) == 0 and light.angles == {} and light.events == []
    assert len(pickle.dumps(light)) < len(pickle.dumps(analysis)) / 20
    assert session_figures(light, exposures, envelope) == session_figures(analysis, exposures, envelope)
    assert len(analysis.t) > 0 and analysis.angles  # the original keeps its arrays


def test_figures_drawn_in_parts_are_the_figures_drawn_at_once():
    """A report shares its figures among processes: the parts make up the whole, byte for byte."""
    from imu.core.exposure import angle_summary
    from imu.report.figure_plan import FIGURES, figure_sets
    from imu.report.figures import session_figures

    analysis = session()
    exposures = angle_summary(analysis)
    whole = session_figures(analysis, exposures)
    for samples, cores in ((100, 2), (10 ** 9, 2), (100, 1), (10 ** 9, 8)):
        sets = figure_sets(samples, cores)
        assert sorted(n for names in sets for n in names) == sorted(FIGURES)  # each once
        parts = {k: v for names in sets for k, v in session_figures(analysis, exposures, only=names).items()}
        assert parts == whole
    assert len(figure_sets(100, 2)) == 2 and len(figure_sets(10 ** 9, 2)) == 1  # a long grading keeps its core
    assert len(figure_sets(100, 1)) == 1 and len(figure_sets(10 ** 9, 8)) == 2
