"""Sans-I/O decoders: bytes in, samples out. One decoder per device profile.

Every decoder is a stateful stream decoder with the same face as
`imu.protocols.imu_fw.StreamDecoder`: `decode(payloads, host_times) -> SampleBlock` and a
`stats` attribute (`imu.samples.DecodeStats`). `make_decoder(device, mode)` builds one by name:
`mode` is the Movella DOT payload mode (default Custom mode 5) or the WitMotion output rate
in Hz (default 10, the factory setting); imu-fw takes none.
"""

from __future__ import annotations

from imu.protocols import imu_fw, movella_dot, witmotion

DEVICES = ("imu-fw", "movella-dot", "witmotion")


def make_decoder(device: str, mode: str | int | None = None):
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
