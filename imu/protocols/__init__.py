"""Sans-I/O decoders: bytes in, samples out. One decoder per device profile.

Every decoder is a stateful stream decoder with one face, the `Decoder` protocol:
`decode(payloads, host_times) -> SampleBlock` and a `stats` attribute (`imu.samples.DecodeStats`).
`make_decoder(device, mode)` builds one by name:
`mode` is the Movella DOT payload mode (default Custom mode 5) or the WitMotion output rate
in Hz (default 10, the factory setting); imu-fw takes none.
"""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from imu.protocols import imu_fw, movella_dot, witmotion
from imu.samples import DecodeStats, SampleBlock

DEVICES = ("imu-fw", "movella-dot", "witmotion")


@runtime_checkable
class Decoder(Protocol):
    """One sensor's notification stream, decoded in order, a batch at a time.

    `decode` takes the batch's payloads and their host receive times (session seconds, one per
    payload) and returns the samples they hold, with device time and sequence unwrapped across
    batches; damaged payloads are dropped and counted in `stats`, never raised. Decoding a
    stream whole or in any batches gives the same samples.
    """

    stats: DecodeStats

    def decode(self, payloads: Sequence[bytes], host_times: np.ndarray) -> SampleBlock: ...


def make_decoder(device: str, mode: str | int | None = None) -> Decoder:
    """A fresh decoder for the device profile; ValueError for an unknown device or mode."""
    if device == "imu-fw":
        if mode not in (None, ""):
            raise ValueError(f"device imu-fw has no payload modes (got mode {mode!r})")
        return imu_fw.StreamDecoder()
    if device == "movella-dot":
        return movella_dot.DotStreamDecoder(mode=movella_dot.payload_mode(mode).mode)
    if device == "witmotion":
        if mode in (None, ""):
            return witmotion.WitStreamDecoder()
        try:
            rate = float(mode)
        except (TypeError, ValueError):
            raise ValueError(f"witmotion mode is the output rate in Hz, got {mode!r}") from None
        return witmotion.WitStreamDecoder(rate_hz=rate)
    raise ValueError(f"unknown device profile {device!r}; known: {', '.join(DEVICES)}")
