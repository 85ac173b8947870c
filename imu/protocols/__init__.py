"""Sans-I/O decoders: bytes in, samples out. One decoder per device profile.

Every decoder is a stateful stream decoder with the same face as
`imu.protocols.imu_fw.StreamDecoder`: `decode(payloads, host_times) -> SampleBlock` and a
`stats` attribute (`imu.samples.DecodeStats`). `make_decoder(device)` builds one by name.
"""

from __future__ import annotations

from imu.protocols import imu_fw

DEVICES = ("imu-fw",)


def make_decoder(device: str, mode: str | int | None = None):
    if device == "imu-fw":
        return imu_fw.StreamDecoder()
    raise ValueError(f"unknown device profile {device!r}; known: {', '.join(DEVICES)}")
