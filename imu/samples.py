"""The data that flows between stages: raw notifications and decoded sample blocks.

A source (BLE, virtual radio, session file) yields `Notification`s. A decoder turns the
notifications of one sensor into a `SampleBlock`: plain numpy arrays, one row per sample.
Alignment then adds session times (`TimedSamples`), which is all the core needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np

LOCATIONS = ("thoracic", "lumbar", "sacral")


class Notification(NamedTuple):
    """One BLE notification exactly as it arrived."""

    sensor: str  # body location: thoracic, lumbar, sacral
    host_time_s: float  # host receive time on the session timeline
    payload: bytes


class LinkEvent(NamedTuple):
    """A change of a sensor's connection, on the session timeline (recorded too)."""

    sensor: str
    host_time_s: float
    kind: str  # connected, reconnected, disconnected, stalled, not_found (imu.ble.link)


@dataclass
class NotificationColumns:
    """Many notifications as columns, in arrival order: the fast path for recorded files."""

    sensor: np.ndarray  # (n,) location names
    host_time_s: np.ndarray  # (n,)
    payloads: list[bytes]

    def __len__(self) -> int:
        return len(self.payloads)


@dataclass
class DecodeStats:
    """What a decoder saw, for the data-quality report."""

    notifications: int = 0
    samples: int = 0
    bad_notifications: int = 0  # dropped: truncated, wrong type, corrupt
    bad_samples: int = 0  # dropped: NaN, non-unit quaternion
    lost_samples: int = 0  # missing by sequence number
    gaps: list[tuple[float, float]] = field(default_factory=list)  # (start_s, end_s) of losses
    errors: dict[str, int] = field(default_factory=dict)  # reason -> count

    def count_error(self, reason: str) -> None:
        self.errors[reason] = self.errors.get(reason, 0) + 1

    def merge(self, other: "DecodeStats") -> "DecodeStats":
        merged = DecodeStats(
            self.notifications + other.notifications,
            self.samples + other.samples,
            self.bad_notifications + other.bad_notifications,
            self.bad_samples + other.bad_samples,
            self.lost_samples + other.lost_samples,
            self.gaps + other.gaps,
            dict(self.errors),
        )
        for reason, n in other.errors.items():
            merged.errors[reason] = merged.errors.get(reason, 0) + n
        return merged


def _empty(n: int, width: int) -> np.ndarray:
    return np.full((n, width), np.nan)


@dataclass
class SampleBlock:
    """Decoded samples of one sensor, before alignment.

    device_time_s: device clock (unwrapped, seconds since the device's counter zero), NaN
        where the device sends no timestamp.
    host_time_s: receive time of the notification that carried the sample.
    seq: unwrapped notification sequence number (-1 where the device has none).
    quat: (n, 4) w, x, y, z, sensor frame -> the sensor's own earth frame (z up); NaN rows
        when the device sent no orientation.
    acc: (n, 3) in g, or None. gyro: (n, 3) in deg/s, or None.
    vibrating: True for samples taken while the sensor's motor ran (never used for angles).
    """

    device_time_s: np.ndarray
    host_time_s: np.ndarray
    seq: np.ndarray
    quat: np.ndarray
    acc: np.ndarray | None = None
    gyro: np.ndarray | None = None
    vibrating: np.ndarray | None = None
    battery_pct: float | None = None

    def __len__(self) -> int:
        return len(self.host_time_s)

    @staticmethod
    def empty(with_acc: bool = False, with_gyro: bool = False) -> "SampleBlock":
        return SampleBlock(
            np.empty(0), np.empty(0), np.empty(0, dtype=np.int64), _empty(0, 4),
            _empty(0, 3) if with_acc else None, _empty(0, 3) if with_gyro else None,
            np.zeros(0, dtype=bool),
        )

    def take(self, index: np.ndarray) -> "SampleBlock":
        return replace(
            self,
            device_time_s=self.device_time_s[index],
            host_time_s=self.host_time_s[index],
            seq=self.seq[index],
            quat=self.quat[index],
            acc=None if self.acc is None else self.acc[index],
            gyro=None if self.gyro is None else self.gyro[index],
            vibrating=None if self.vibrating is None else self.vibrating[index],
        )

    @staticmethod
    def concat(blocks: list["SampleBlock"]) -> "SampleBlock":
        blocks = [b for b in blocks if len(b)]
        if not blocks:
            return SampleBlock.empty()

        def cat(name: str, width: int) -> np.ndarray | None:
            parts = [getattr(b, name) for b in blocks]
            if all(p is None for p in parts):
                return None
            return np.concatenate(
                [p if p is not None else _empty(len(b), width) for p, b in zip(parts, blocks)]
            )

        vib = [b.vibrating if b.vibrating is not None else np.zeros(len(b), bool) for b in blocks]
        battery = [b.battery_pct for b in blocks if b.battery_pct is not None]
        return SampleBlock(
            np.concatenate([b.device_time_s for b in blocks]),
            np.concatenate([b.host_time_s for b in blocks]),
            np.concatenate([b.seq for b in blocks]),
            np.concatenate([b.quat for b in blocks]),
            cat("acc", 3),
            cat("gyro", 3),
            np.concatenate(vib),
            battery[-1] if battery else None,
        )


@dataclass
class TimedSamples:
    """Samples of one sensor on the session timeline: what the core consumes."""

    t: np.ndarray  # session seconds, increasing
    quat: np.ndarray  # (n, 4), NaN rows where unknown
    acc: np.ndarray | None = None  # (n, 3) g
    gyro: np.ndarray | None = None  # (n, 3) deg/s
    vibrating: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.t)

    def take(self, index: np.ndarray) -> "TimedSamples":
        """The samples at `index` (a boolean mask or positions), every column kept."""
        def pick(a):
            return None if a is None else a[index]

        return TimedSamples(self.t[index], self.quat[index], pick(self.acc), pick(self.gyro),
                            pick(self.vibrating))

    @staticmethod
    def concat(parts: list["TimedSamples"]) -> "TimedSamples":
        """Consecutive stretches of one sensor as one (a column only when every part has it)."""
        if len(parts) == 1:
            return parts[0]

        def cat(name: str):
            columns = [getattr(p, name) for p in parts]
            return None if any(c is None for c in columns) else np.concatenate(columns)

        return TimedSamples(cat("t"), cat("quat"), cat("acc"), cat("gyro"), cat("vibrating"))
