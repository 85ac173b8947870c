"""The session clock: seconds since session start, optionally running faster than real time.

Live sessions run at speed 1. Tests, demos and replays run the sensors and the host on one
accelerated clock (speed 10 -> ten session seconds per wall second), so a minute of
streaming takes six seconds and every timestamp stays on the session timeline.
"""

from __future__ import annotations

import asyncio


class SessionClock:
    """Session time from the event loop's monotonic clock, scaled by `speed`."""

    def __init__(self, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError(f"clock speed must be positive, got {speed}")
        self.speed = float(speed)
        self._origin = asyncio.get_running_loop().time()

    def reset(self) -> None:
        """Make now the session's time zero."""
        self._origin = asyncio.get_running_loop().time()

    def now(self) -> float:
        return (asyncio.get_running_loop().time() - self._origin) * self.speed

    def __call__(self) -> float:
        return self.now()

    def wall_seconds(self, session_seconds: float) -> float:
        return session_seconds / self.speed

    async def sleep(self, session_seconds: float) -> None:
        await asyncio.sleep(max(0.0, session_seconds) / self.speed)

    async def sleep_until(self, session_time_s: float) -> None:
        """Wait for an absolute session time (no drift from accumulated sleeps)."""
        delay = session_time_s - self.now()
        if delay > 0:
            await asyncio.sleep(delay / self.speed)
