"""Which files hold a recording session, and reading one in a second process.

Light on purpose: this module and what it imports (the session reader, the sensor front)
load in a fraction of a second. A report forks its reading process from here first thing,
so the file is read, decoded, clock-aligned and oriented (imu.core.front) while the report
process imports the analysis (scipy among it) and finds the calibration plan: about two
seconds in which the second core would otherwise stand idle.
"""

from __future__ import annotations

from pathlib import Path

from imu.core.front import FrontBatch, SensorFront
from imu.parallel import ChildIterator, can_fork
from imu.samples import NotificationColumns

TABLE_SUFFIXES = (".csv", ".txt", ".tsv", ".xdf", ".xdfz")  # read whole, not as a session file
SIDECAR_SUFFIXES = (".map.toml", ".map.json")
# batches the reading process may have ready (about 5 MB each, pickled): enough to run ahead
# through the report's start-up, small next to the report's own memory
READ_AHEAD_BATCHES = 8


def is_session_file(path: str | Path) -> bool:
    """A path that `imu.analysis.open_source` opens as a session file (if it is one)."""
    path = Path(path)
    return path.is_file() and path.suffix.lower() not in TABLE_SUFFIXES


def sidecar_mapping(path: Path) -> Path | None:
    """DATA.map.toml (or .map.json) beside a data file, or imu-map.toml inside a folder."""
    candidates = [path / "imu-map.toml", path / "imu-map.json"] if path.is_dir() else \
        [Path(str(path) + suffix) for suffix in SIDECAR_SUFFIXES]
    return next((c for c in candidates if c.is_file()), None)


def session_sensors(reader) -> dict[str, dict]:
    """A SessionReader's sensors as the pipeline takes them: location -> device, mode, rate."""
    return {loc: {"device": s["device"], "mode": s.get("mode"), "rate_hz": (s.get("details") or {}).get("rate_hz")}
            for loc, s in reader.sensors.items()}


def last_host_time(batch) -> float:
    """The host time a (non-empty) batch of notifications and link events reaches."""
    last = batch[-1]
    return float(last.host_time_s[-1]) if isinstance(last, NotificationColumns) else last.host_time_s


def front_batches(path: Path):
    """The session file's batches through one sensor front (what the reading process
    makes); returns the file's integrity as the whole read found it."""
    from imu.recording.reader import SessionReader

    with SessionReader(path) as reader:
        front = SensorFront(session_sensors(reader))
        for batch in reader.iter_batches():
            yield FrontBatch(front.feed(batch), front.quality(), last_host_time(batch) if batch else None)
        return reader.integrity


def start_reading(path: str | Path) -> ChildIterator | None:
    """The reading process of the session file at `path`, forked now (iterate it for the
    FrontBatches; `close()` it if they are not wanted). None where the platform cannot fork
    or the path is no session file (tables are read whole, in the report's process)."""
    if not can_fork() or not is_session_file(path):
        return None
    return ChildIterator(front_batches, Path(path), ahead=READ_AHEAD_BATCHES)


class ReadAhead:
    """A reading process's batches with the first ones kept for a second look: the report's
    calibration plan reads the session's start from them (`until`), and the runner is then
    fed every batch (`batches`), so the start is read and put through the sensor front once,
    not a second time in the report process."""

    def __init__(self, reading: ChildIterator):
        self._stream = iter(reading)
        self._kept: list[FrontBatch] = []
        self._ended, self._integrity = False, None

    def until(self, horizon_s: float) -> list[FrontBatch]:
        """The batches up to the first that reaches past horizon_s (or all, when the
        session ends before it): what a pipeline fed batch by batch up to horizon_s reads."""
        def past(batch: FrontBatch) -> bool:
            return batch.last_host_time_s is not None and batch.last_host_time_s > horizon_s

        for k, batch in enumerate(self._kept):  # read already
            if past(batch):
                return self._kept[:k + 1]
        while not self._ended:
            try:
                batch = next(self._stream)
            except StopIteration as end:
                self._ended, self._integrity = True, end.value
                break
            self._kept.append(batch)
            if past(batch):
                break
        return list(self._kept)

    def batches(self):
        """Every batch, the kept ones first; returns the file's integrity as the read found it."""
        kept, self._kept = self._kept, []
        yield from kept
        del kept  # this generator lives as long as the read: the start's batches go now
        if self._ended:
            return self._integrity
        return (yield from self._stream)
