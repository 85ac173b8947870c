"""Validation on recordings of real people: treadmill running with a sacral accelerometer.

The data (Alcantara et al. 2022, PeerJ 10:e12752; Apache-2.0) is read at run time from a
folder outside the repository (default: ../shared/realdata beside the checkout, or
$IMU_REALDATA); nothing of it is copied here. `sacral-running/` holds one runner at 2.5,
3.33 and 4.17 m/s on slopes of -10 to +10 deg: per trial 4.96 s of vertical and
anterior-posterior acceleration at 500 Hz (g), and the treadmill's vertical ground reaction
force (body weights) on the same frames. A step starts where the force rises through
CONTACT_BW.

What runs is the project's own core, unchanged: imu.core.gait.bout_steps (steps, step times
and cadence from the acceleration magnitude, exactly as for a worn sensor) and
imu.core.activity.segment_activities (still / walking / running). Per trial:
- step count error: steps found between EDGE_S after the start and EDGE_S before the end,
  against force contacts in the same span (shifted by the median lag of the acceleration
  peak behind the contact, which is reported);
- step time error: each interval between two matched steps against the interval between
  their contacts (ms, mean absolute);
- cadence error: autocorrelation cadence against 60 / the mean contact interval (%).
A 4.96 s trial holds 12-20 steps: enough for these. It is shorter than the activity
classifier's 6 s window and 4 s minimum segment, so activity is judged on the trials of one
condition (speed and slope) joined end to end; a condition with a single trial is judged
alone, and the table says which.
The sweep repeats the step measures on the same data sampled at lower rates (every k-th
sample, as a sensor without an anti-alias filter delivers it): where the rate is too low the
core must say so, not answer.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

RUNNING_DIR = "sacral-running"
CONTACT_BW = 0.1
EDGE_S = 0.3
MATCH_S = 0.12  # a found step belongs to a contact when within this of the contact + lag
SWEEP_HZ = (500.0, 100.0, 50.0, 25.0, 10.0, 5.0)


def default_dir() -> Path:
    env = os.environ.get("IMU_REALDATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "realdata"


@dataclass
class Trial:
    number: int  # row in the files, from 1
    speed_ms: float
    slope_deg: float
    rate_hz: float
    vertical_g: np.ndarray
    ap_g: np.ndarray
    contacts_s: np.ndarray  # force rising through CONTACT_BW

    @property
    def condition(self) -> str:
        return f"{self.speed_ms:g} m/s, {self.slope_deg:+g} deg"

    @property
    def duration_s(self) -> float:
        return len(self.vertical_g) / self.rate_hz


def contact_onsets(force_bw: np.ndarray, rate_hz: float, threshold: float = CONTACT_BW) -> np.ndarray:
    """Times where the vertical force rises through `threshold` (one per contact)."""
    f = np.asarray(force_bw, float)
    rising = np.flatnonzero((f[1:] >= threshold) & (f[:-1] < threshold)) + 1
    keep, last = [], -np.inf
    for i in rising:  # a flicker at the threshold is one contact, not two
        if (i - last) / rate_hz > 0.1:
            keep.append(i)
            last = i
    return np.asarray(keep, float) / rate_hz


def load_running(folder: Path, rate_hz: float = 500.0) -> list[Trial]:
    """The sacral-running trials; ValueError with one line when the files are not as described."""
    import pandas as pd

    folder = Path(folder)
    files = {k: folder / f"{k}_one_sub.csv" for k in ("Accelerometer", "GRF", "Sub_Info")}
    missing = [p.name for p in files.values() if not p.exists()]
    if missing:
        raise ValueError(f"{folder}: missing {', '.join(missing)}")
    try:
        acc = np.loadtxt(files["Accelerometer"], delimiter=",", ndmin=2)
        grf = np.loadtxt(files["GRF"], delimiter=",", ndmin=2)
        info = pd.read_csv(files["Sub_Info"])
    except (ValueError, OSError) as err:
        raise ValueError(f"{folder}: cannot read the running data ({err})") from None
    n = grf.shape[1]
    if acc.shape != (len(grf), 2 * n) or len(info) != len(grf) or not {"Speed", "Slope"} <= set(info):
        raise ValueError(f"{folder}: the files do not match (acceleration {acc.shape}, force "
                         f"{grf.shape}, {len(info)} trial rows)")
    return [Trial(i + 1, float(info.Speed[i]), float(info.Slope[i]), rate_hz, acc[i, :n], acc[i, n:],
                  contact_onsets(grf[i], rate_hz)) for i in range(len(grf))]


def _sampled(trial: Trial, rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """(t, acc (n, 3) in the body frame: x anterior, y up, z right) at rate_hz."""
    k = max(1, int(round(trial.rate_hz / rate_hz)))
    v, ap = trial.vertical_g[::k], trial.ap_g[::k]
    t = np.arange(len(v)) * k / trial.rate_hz
    return t, np.stack([ap, v, np.zeros_like(v)], axis=1)


@dataclass
class TrialResult:
    trial: Trial
    rate_hz: float
    true_steps: int
    found_steps: int | None
    matched: int
    lag_ms: float | None  # median delay of the found step behind its contact
    step_time_err_ms: float | None  # mean |found interval - true interval|
    cadence_true_spm: float
    cadence_spm: float | None
    lag_sd_ms: float | None = None  # spread of that delay, step to step
    note: str | None = None

    @property
    def count_err_pct(self) -> float | None:
        if self.found_steps is None or not self.true_steps:
            return None
        return 100.0 * (self.found_steps - self.true_steps) / self.true_steps

    @property
    def cadence_err_pct(self) -> float | None:
        if self.cadence_spm is None:
            return None
        return 100.0 * (self.cadence_spm / self.cadence_true_spm - 1.0)


def evaluate_trial(trial: Trial, rate_hz: float | None = None) -> TrialResult:
    from imu.core.gait import bout_steps

    rate = rate_hz or trial.rate_hz
    t, acc = _sampled(trial, rate)
    truth = trial.contacts_s
    cad_true = 60.0 / float(np.mean(np.diff(truth)))
    bout = bout_steps(t, {}, {"sacral": acc}, "running trial", t[0], t[-1], sensor_rate_hz=rate)
    if bout.note is not None:
        cadence = float(bout.cadence_spm) if np.isfinite(bout.cadence_spm) else None
        return TrialResult(trial, rate, 0, None, 0, None, None, cad_true, cadence, note=bout.note)
    found = bout.step_times_s
    # the acceleration peak trails the contact by a near-constant lag: estimate it, then match
    after = [f - truth[truth <= f][-1] for f in found if (truth <= f).any()]
    lag = float(np.median(after)) if after else 0.0
    lo, hi = t[0] + EDGE_S, t[-1] - EDGE_S
    inside_true = truth[(truth + lag >= lo) & (truth + lag <= hi)]
    inside_found = found[(found >= lo) & (found <= hi)]
    pairs = []
    for c in inside_true:
        near = inside_found[np.abs(inside_found - (c + lag)) <= MATCH_S]
        if len(near):
            pairs.append((c, near[np.argmin(np.abs(near - (c + lag)))]))
    errs = [abs((f2 - f1) - (c2 - c1)) for (c1, f1), (c2, f2) in zip(pairs[:-1], pairs[1:])
            if 0 < c2 - c1 < 0.6]  # neighbours only
    lags = [f - c for c, f in pairs]
    return TrialResult(trial, rate, len(inside_true), len(inside_found), len(pairs), 1000 * lag,
                       1000 * float(np.mean(errs)) if errs else None, cad_true,
                       float(bout.cadence_spm), 1000 * float(np.std(lags)) if len(lags) > 2 else None)


@dataclass
class ActivityCheck:
    rate_hz: float
    condition: str
    trials: int
    seconds: float
    running_pct: float
    still_pct: float
    labels: dict = field(default_factory=dict)  # label -> percent of time


def activity_by_condition(trials: list[Trial], rate_hz: float | None = None) -> list[ActivityCheck]:
    """segment_activities on the trials of each condition joined end to end (at rate_hz)."""
    from imu.core.activity import segment_activities

    groups: dict[str, list[Trial]] = {}
    for tr in trials:
        groups.setdefault(tr.condition, []).append(tr)
    out = []
    for condition, group in groups.items():
        rate = rate_hz or group[0].rate_hz
        acc = np.concatenate([_sampled(tr, rate)[1] for tr in group])
        t = np.arange(len(acc)) / rate
        labels = segment_activities(t, {}, {"sacral": acc}, sensor_rate_hz=rate).labels.astype(str)
        kinds, counts = np.unique(labels, return_counts=True)
        share = {str(k): 100.0 * c / len(labels) for k, c in zip(kinds, counts)}
        out.append(ActivityCheck(rate, condition, len(group), t[-1] + 1 / rate, share.get("running", 0.0),
                                 share.get("still", 0.0) + share.get("sitting", 0.0) + share.get("standing", 0.0),
                                 share))
    return out


@dataclass
class RealValidation:
    folder: Path
    trials: list[TrialResult]
    sweep: dict[float, list[TrialResult]]
    activity: list[ActivityCheck]

    def checks(self) -> list[tuple[str, float | None, str, bool]]:
        """(what, value, limit text, ok): the acceptance of the real case."""
        ok_trials = [r for r in self.trials if r.found_steps is not None]
        true = sum(r.true_steps for r in ok_trials)
        found = sum(r.found_steps for r in ok_trials)
        count = 100.0 * (found - true) / true if true else None
        cad = [abs(r.cadence_err_pct) for r in ok_trials if r.cadence_err_pct is not None]
        step = [r.step_time_err_ms for r in ok_trials if r.step_time_err_ms is not None]
        worst_still = max((a.still_pct for a in self.activity), default=0.0)
        low = [r for r in self.sweep.get(min(SWEEP_HZ), [])]
        return [
            ("step count error, all trials", count, "within 3 %", count is not None and abs(count) <= 3.0),
            ("cadence error, median |%|", float(np.median(cad)) if cad else None, "within 1 %",
             bool(cad) and float(np.median(cad)) <= 1.0),
            ("step time error, mean ms", float(np.mean(step)) if step else None, "within 20 ms",
             bool(step) and float(np.mean(step)) <= 20.0),
            ("running called still, worst condition and rate %", worst_still, "0 %", worst_still == 0.0),
            (f"at {min(SWEEP_HZ):g} Hz every trial says why, no numbers", float(len(low)), "all",
             bool(low) and all(r.found_steps is None and r.cadence_spm is None and r.note for r in low)),
        ]


def run_real_validation(folder: Path | None = None, progress=None) -> RealValidation:
    """Raises FileNotFoundError when the data is not there, ValueError when it is malformed."""
    base = Path(folder) if folder is not None else default_dir()
    running = base / RUNNING_DIR if (base / RUNNING_DIR).is_dir() else base
    if not (running / "Accelerometer_one_sub.csv").exists():
        raise FileNotFoundError(f"real data not available: no {RUNNING_DIR}/ in {base}")
    trials = load_running(running)
    if progress:
        progress(f"real running: {len(trials)} trials at {trials[0].rate_hz:g} Hz" if trials else "real running")
    results = [evaluate_trial(tr) for tr in trials]
    sweep = {}
    for rate in SWEEP_HZ[1:]:
        sweep[rate] = [evaluate_trial(tr, rate) for tr in trials]
        if progress:
            progress(f"real running at {rate:g} Hz")
    activity = activity_by_condition(trials) + activity_by_condition(trials, min(SWEEP_HZ))
    return RealValidation(running, results, sweep, activity)


def _fmt(v, spec: str) -> str:
    return "-" if v is None or not np.isfinite(v) else format(v, spec)


def format_real_table(v: RealValidation) -> str:
    lines = [f"Real running, sacral accelerometer ({v.folder}):",
             "steps from the project's core against treadmill force contacts (one runner, "
             f"{len(v.trials)} trials of 4.96 s at 500 Hz)", ""]
    header = (f"{'trial':>5s} {'condition':18s} {'true':>5s} {'found':>6s} {'count err':>9s} "
              f"{'lag ms (sd)':>12s} {'step time err ms':>17s} {'cadence':>8s} {'cad err':>8s}")
    lines += [header, "-" * len(header)]
    for r in v.trials:
        lag = f"{_fmt(r.lag_ms, '.0f')} ({_fmt(r.lag_sd_ms, '.0f')})"
        lines.append(f"{r.trial.number:5d} {r.trial.condition:18s} {r.true_steps:5d} "
                     f"{_fmt(r.found_steps, 'd'):>6s} {_fmt(r.count_err_pct, '+.1f'):>8s}% "
                     f"{lag:>12s} {_fmt(r.step_time_err_ms, '.1f'):>17s} "
                     f"{r.cadence_true_spm:8.1f} {_fmt(r.cadence_err_pct, '+.2f'):>7s}%")
    ok = [r for r in v.trials if r.found_steps is not None]
    if ok:
        true, found = sum(r.true_steps for r in ok), sum(r.found_steps for r in ok)
        lag = f"{np.mean([r.lag_ms for r in ok]):.0f} ({_fmt(np.mean([r.lag_sd_ms for r in ok if r.lag_sd_ms is not None]), '.0f')})"
        step = [r.step_time_err_ms for r in ok if r.step_time_err_ms is not None]
        cad = [abs(r.cadence_err_pct) for r in ok]
        lines.append(f"{'all':>5s} {'':18s} {true:5d} {found:6d} {100 * (found - true) / true:+8.1f}% "
                     f"{lag:>12s} {_fmt(np.mean(step) if step else None, '.1f'):>17s} {'':8s} "
                     f"{np.median(cad):7.2f}% (median |err|)")
    lines += ["", "Lower sensor rates (the same trials, every k-th sample):", ""]
    header = f"{'rate Hz':>8s} {'count err':>10s} {'cad err med |%|':>16s} {'step time err ms':>17s}  note"
    lines += [header, "-" * len(header)]
    for rate, rows in [(v.trials[0].rate_hz if v.trials else 500.0, v.trials)] + list(v.sweep.items()):
        ok = [r for r in rows if r.found_steps is not None]
        cad = [abs(r.cadence_err_pct) for r in rows if r.cadence_err_pct is not None]
        true, found = sum(r.true_steps for r in ok), sum(r.found_steps for r in ok)
        count = 100.0 * (found - true) / true if true else None
        step = [r.step_time_err_ms for r in ok if r.step_time_err_ms is not None]
        notes = [r.note for r in rows if r.note]
        note = f"{len(notes)} of {len(rows)} trials: {notes[0]}" if notes else ""
        lines.append(f"{rate:8g} {_fmt(count, '+.1f'):>9s}% {_fmt(np.median(cad) if cad else None, '.2f'):>16s} "
                     f"{_fmt(np.mean(step) if step else None, '.1f'):>17s}  {note}")
    lines += ["", "Activity (trials of one condition joined end to end; 6 s windows):", ""]
    header = f"{'Hz':>4s} {'condition':18s} {'trials':>6s} {'seconds':>8s} {'running %':>10s} {'still %':>8s}  other"
    lines += [header, "-" * len(header)]
    for a in v.activity:
        other = ", ".join(f"{k} {p:.0f} %" for k, p in a.labels.items() if k != "running")
        alone = " (one trial: shorter than a window)" if a.trials == 1 else ""
        lines.append(f"{a.rate_hz:4g} {a.condition:18s} {a.trials:6d} {a.seconds:8.1f} {a.running_pct:10.1f} "
                     f"{a.still_pct:8.1f}  {other}{alone}")
    lines += ["", "Checks:"]
    for what, value, limit, ok in v.checks():
        lines.append(f"  {'ok  ' if ok else 'FAIL'} {what}: {_fmt(value, '.2f')} ({limit})")
    return "\n".join(lines)
