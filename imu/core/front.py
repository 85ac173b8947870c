"""The sensor front: the stages each sensor goes through on its own before the grid.

decode -> align the sensor clock -> orient (raw sensors). Notifications in; out, in arrival
order, each sensor's oriented samples and the link events between them. Every sensor's
state here is its own and nothing downstream feeds back into it, so the front can run apart
from the rest of the pipeline: a report reads and decodes a long session in a second
process while the first one grids, measures and tracks (imu.analysis).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imu.core.align import ClockAligner
from imu.core.orient import RawOrientation
from imu.protocols import make_decoder
from imu.samples import DecodeStats, LinkEvent, Notification, NotificationColumns, TimedSamples

# what the front gives, in order: (location, oriented samples) or a link event
Piece = tuple[str, TimedSamples] | LinkEvent


@dataclass
class FrontQuality:
    """One sensor's front, as the data-quality report and the status line read it."""

    stats: DecodeStats | None  # None: no decoder (samples arrived decoded, e.g. a CSV)
    residual_ms: float | None = None  # clock alignment residual
    drift_ppm: float | None = None
    battery_pct: float | None = None


@dataclass
class FrontBatch:
    """A batch of notifications after the front: its pieces, the front's quality so far and
    the host time the batch reached (what a runner is fed when the front runs elsewhere)."""

    pieces: list[Piece]
    quality: dict[str, FrontQuality]
    last_host_time_s: float | None


class SensorFront:
    def __init__(self, sensors: dict[str, dict]):
        """sensors: location -> {"device": decoder name or None, "mode": ..., "rate_hz": nominal}."""
        # device None: samples arrive already decoded and timed (CSV interchange import)
        self.decoders = {loc: make_decoder(s["device"], s.get("mode"))
                         for loc, s in sensors.items() if s.get("device")}
        self.aligners = {loc: ClockAligner(s.get("rate_hz")) for loc, s in sensors.items()}
        self.orienters = {loc: RawOrientation() for loc in sensors}
        self.battery: dict[str, float] = {}

    def feed(self, items: list[Notification | LinkEvent | NotificationColumns]) -> list[Piece]:
        """A chunk of notifications and link events in arrival order -> pieces in that order."""
        pieces: list[Piece] = []
        by_sensor: dict[str, tuple[list[bytes], list[float]]] = {}
        for item in items:
            if isinstance(item, NotificationColumns):
                self._flush(by_sensor, pieces)
                self._columns(item, pieces)
                continue
            if isinstance(item, LinkEvent):
                self._flush(by_sensor, pieces)
                pieces.append(item)
                continue
            if item.sensor not in self.decoders:
                continue
            payloads, times = by_sensor.setdefault(item.sensor, ([], []))
            payloads.append(item.payload)
            times.append(item.host_time_s)
        self._flush(by_sensor, pieces)
        return pieces

    def orient(self, location: str, samples: TimedSamples) -> TimedSamples:
        """Quaternions for the raw samples of a sensor that sends none."""
        return self.orienters[location].fill(samples)

    def quality(self, clock: bool = True) -> dict[str, FrontQuality]:
        """Per sensor; without clock, the clock fit is left out (None), which is cheaper."""
        out = {}
        for loc, aligner in self.aligners.items():
            decoder = self.decoders.get(loc)
            residual = aligner.residual_ms if clock else None
            out[loc] = FrontQuality(decoder.stats if decoder is not None else None, residual,
                                    aligner.drift_ppm if residual is not None else None,
                                    self.battery.get(loc))
        return out

    def _columns(self, columns: NotificationColumns, pieces: list[Piece]) -> None:
        for loc in self.decoders:
            mine = columns.sensor == loc
            if len(columns) and mine.all():  # a recorded file's batches hold one sensor per columns block
                self._flush({loc: (columns.payloads, columns.host_time_s)}, pieces)
                return
            idx = np.flatnonzero(mine)
            if len(idx):
                payloads = [columns.payloads[i] for i in idx.tolist()]
                self._flush({loc: (payloads, columns.host_time_s[idx])}, pieces)

    def _flush(self, by_sensor, pieces: list[Piece]) -> None:
        for loc, (payloads, times) in by_sensor.items():
            block = self.decoders[loc].decode(payloads, np.asarray(times))
            if block.battery_pct is not None:
                self.battery[loc] = block.battery_pct
            if len(block):
                pieces.append((loc, self.orient(loc, self.aligners[loc].align(block))))
        by_sensor.clear()
