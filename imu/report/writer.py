"""write_report: a session's summary.json, events.csv and report.html in one directory.

The report edge: besides the summary it reads what the recording says about itself
(person, start time, real or virtual sensors), sets the headline numbers against the
person's earlier sessions when the session names a profile kept on this computer, and
records this session into that profile's history.
"""

from __future__ import annotations

import json
from pathlib import Path

from imu.atomic import replacing_dir
from imu.core.envelope import SessionEnvelope
from imu.core.exposure import angle_summary
from imu.core.result import Analysis
from imu.core.stability import StabilityResult, stability_from_analysis
from imu.errors import UserError
from imu.report.events import write_events_csv
from imu.report.html import render_html
from imu.report.mobility_section import add_mobility, render_mobility_section
from imu.report.overview import compare, history_entry, plain_summary, session_facts
from imu.report.resets_section import add_resets, render_resets_section
from imu.report.stability_section import render_stability_section
from imu.report.stability_summary import add_stability
from imu.report.summary import build_summary
from imu.report.training_section import add_training, render_training_section


class ReportOutputError(UserError, OSError):
    """The report folder or one of its files cannot be written; the message names the path."""


def output_problem(path: Path, err: OSError) -> str:
    """One line naming the path and what is wrong with it, in words, not an errno."""
    return f"cannot write {path}: {os_error_words(err)}"


def os_error_words(err: OSError) -> str:
    """What an OSError means, in words."""
    import errno

    words = {errno.EACCES: "permission denied (the folder is read-only for you)",
             errno.EPERM: "permission denied", errno.EROFS: "the file system is read-only",
             errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
             errno.ENOENT: "a folder on the way does not exist",
             errno.ENOTDIR: "a part of the path is a file, not a folder",
             errno.EISDIR: "it is a folder, not a file",
             errno.ENAMETOOLONG: "the name is too long"}
    return words.get(err.errno, err.strerror or type(err).__name__)


def prepare_output_dir(out: Path) -> Path:
    """Create the report folder (and parents) or raise ReportOutputError naming the path."""
    if out.exists() and not out.is_dir():
        raise ReportOutputError(f"cannot write the report into {out}: it is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".imu-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise ReportOutputError(output_problem(Path(err.filename or out), err)) from None
    return out


def write_report(analysis: Analysis, out_dir: str | Path, source: dict,
                 acc: dict | None = None, profile: str | None = None,
                 progress=None, *, stability: StabilityResult | None = None,
                 exposures: dict | None = None, envelope: SessionEnvelope | None = None,
                 images: dict[str, bytes | None] | None = None) -> dict[str, Path]:
    """Write the three report files into out_dir (created if needed); returns their paths.

    source: {"kind": ..., "file": ...} as for `build_summary`. stability, exposures: the
    runner's grades and exposure of the session (imu.runner.RunResult), so the report shows
    what live and replay were given; computed here when absent, with acc (the grid
    acceleration per sensor, which sharpens activity and stride detection).
    profile: the person (else the one the session file names). progress: called with a short
    text before each stage (long sessions take a while). envelope: the session's figure summary
    (imu.core.envelope), gathered from the analysis arrays when absent. images: the session
    figures already drawn (`session_figures`, e.g. in another process while grading ran).
    """
    say = progress or (lambda text: None)
    out = prepare_output_dir(Path(out_dir))
    say("exposure and summary")
    if exposures is None:
        exposures = angle_summary(analysis)
    summary = build_summary(analysis, source, exposures)
    if stability is None:
        say("trunk stability")
        stability = stability_from_analysis(analysis, acc)
    add_stability(summary, analysis, stability)
    add_training(summary, analysis)  # sitting bouts, breaks and lifts (issue 13)

    facts = session_facts(source.get("file") or "", source.get("kind", ""))
    if profile:
        facts.person = profile
    add_resets(summary, analysis, facts, source)  # posture resets and the mobility test (issue 13)
    add_mobility(summary, analysis, source, facts)
    comparison, history_note = _history(summary, facts, source)
    well, work = plain_summary(summary, comparison)

    say("figures")
    if images is None:
        from imu.report.figures import session_figures

        images = session_figures(analysis, exposures, envelope)
    drawn = {}
    if stability.runs or stability.carries or stability.holds:  # matplotlib only for these
        from imu.report.stability_figures import stability_figures

        drawn = stability_figures(stability, analysis.thresholds.hold_deviation_deg)
    extra = render_stability_section(summary, drawn)
    extra += render_training_section(summary)
    extra += render_resets_section(summary) + render_mobility_section(summary)
    zone_bases = {name: e.zone_scheme.basis for name, e in exposures.items()
                  if e.zone_scheme is not None}
    page = render_html(summary, images, extra, facts=facts, comparison=comparison, well=well,
                       work=work, zone_bases=zone_bases, history_note=history_note)

    say("writing files")
    # allow_nan=False: a NaN that slipped through is a bug, not a silent "NaN" token
    summary_text = json.dumps(summary, indent=2, allow_nan=False)
    try:
        with replacing_dir(out) as partial:  # all three files or none of them
            write_events_csv(analysis, partial / "events.csv", stability)
            (partial / "report.html").write_text(page, encoding="utf-8")
            (partial / "summary.json").write_text(summary_text, encoding="utf-8")
    except OSError as err:
        raise ReportOutputError(output_problem(Path(err.filename or out), err)) from None
    return {name: out / name for name in ("summary.json", "events.csv", "report.html")}


def _history(summary: dict, facts, source: dict):
    """(comparison or None, a sentence on where it came from); records this session."""
    from imu.people import existing_profile

    if not facts.person:
        return None, "No person is named in this session, so there is nothing to compare with."
    if facts.sensors in ("virtual", "simulated"):  # a simulated wearer is nobody's history
        return None, (f"Simulated data: not compared with, nor added to, the history of "
                      f"profile {facts.person}.")
    profile = existing_profile(facts.person)
    if profile is None:
        return None, (f"Profile {facts.person} is not kept on this computer, so there is "
                      "nothing to compare with.")
    key = str(Path(source.get("file") or "").resolve()) if source.get("file") else facts.file_name
    entry = history_entry(summary, facts, key)
    try:
        comparison = compare(entry, profile.history())
        profile.record_session(entry)
    except (OSError, ValueError) as err:  # the report matters more than the history
        return None, f"Session history of {facts.person} unavailable ({err})."
    if comparison is None:
        return None, f"First reported session in profile {facts.person}: nothing to compare with yet."
    return comparison, ""
