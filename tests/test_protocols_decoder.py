"""The Decoder protocol: what make_decoder returns for every device, and the contract the
pipeline and the session reader rely on (batches in order, damaged payloads counted)."""

from __future__ import annotations

import numpy as np
import pytest

from imu.protocols import DEVICES, Decoder, imu_fw, make_decoder, movella_dot, witmotion
from imu.samples import DecodeStats, SampleBlock

N = 12


def _stream(device: str) -> list[bytes]:
    angle = np.radians(np.linspace(0.0, 30.0, N))
    quat = np.column_stack([np.cos(angle / 2), np.sin(angle / 2), np.zeros(N), np.zeros(N)])
    acc = np.tile([0.0, 0.0, 1.0], (N, 1))
    gyro = np.tile([5.0, 0.0, 0.0], (N, 1))
    if device == "imu-fw":
        return [imu_fw.encode_samples(i, 10_000 * i, 10_000, quat[i:i + 1], acc[i:i + 1], gyro[i:i + 1])
                for i in range(N)]
    if device == "movella-dot":
        return [movella_dot.encode_payload(movella_dot.DEFAULT_MODE, 16_667 * i, quat[i], acc[i], gyro[i]) for i in range(N)]
    return [witmotion.encode_samples(quat[i], acc[i], gyro[i]) for i in range(N)]


@pytest.mark.parametrize("device", DEVICES)
def test_every_decoder_has_the_protocol_and_decodes_in_batches_as_whole(device):
    whole, batched = make_decoder(device), make_decoder(device)
    assert isinstance(whole, Decoder) and isinstance(whole.stats, DecodeStats)
    payloads = _stream(device)
    host = 0.1 + 0.01 * np.arange(len(payloads))
    one = whole.decode(payloads, host)
    parts = [batched.decode(payloads[:5], host[:5]), batched.decode(payloads[5:], host[5:])]
    two = SampleBlock.concat(parts)
    assert isinstance(one, SampleBlock) and len(one) == N
    np.testing.assert_array_equal(one.quat, two.quat)
    np.testing.assert_array_equal(one.device_time_s, two.device_time_s)
    assert whole.stats.notifications == len(payloads) and whole.stats.bad_notifications == 0


@pytest.mark.parametrize("device", DEVICES)
def test_a_damaged_payload_is_counted_not_raised(device):
    decoder = make_decoder(device)
    payloads = _stream(device)
    payloads[3] = payloads[3][:3]  # cut short in the air
    block = decoder.decode(payloads, 0.01 * np.arange(len(payloads)))
    assert len(block) < N
    assert decoder.stats.bad_notifications >= 1 or decoder.stats.bad_samples >= 1


def test_an_object_without_stats_is_not_a_decoder():
    class Bare:
        def decode(self, payloads, host_times):
            return SampleBlock.empty()

    assert not isinstance(Bare(), Decoder)
