"""Pieces every stream decoder in this package shares."""

from __future__ import annotations

import numpy as np

from imu.samples import DecodeStats, SampleBlock

UNIT_TOLERANCE = 0.05  # |q| further than this from 1 is damage, not quantisation


def check_host_times(payloads: list, host_times) -> np.ndarray:
    """Host receive times as a float array, one per payload (ValueError otherwise)."""
    host_times = np.asarray(host_times, dtype=float).reshape(-1)
    if len(host_times) != len(payloads):
        raise ValueError(f"{len(payloads)} payloads but {len(host_times)} host times")
    return host_times


def drop_bad_samples(block: SampleBlock, stats: DecodeStats, quat_expected: bool = False) -> SampleBlock:
    """Remove and count samples with a non-unit quaternion or a non-finite acc/gyro value.

    All-NaN quaternion rows mean "no orientation sent" and are kept, unless the payload
    should have carried one (`quat_expected`). Kept quaternions are renormalised.
    """
    norms = np.sqrt(np.einsum("ij,ij->i", block.quat, block.quat))
    nan_norm = np.isnan(norms)
    # the row-wise checks below only where a whole-array check finds something (they are
    # slow over rows of three or four, and the usual block has nothing to find)
    if nan_norm.any() and not quat_expected:
        absent = nan_norm & np.all(np.isnan(block.quat), axis=1)
    else:
        absent = np.zeros(len(norms), dtype=bool)
    bad = ~absent & ~(np.abs(norms - 1.0) <= UNIT_TOLERANCE)
    for arr in (block.acc, block.gyro):
        if arr is not None:
            finite = np.isfinite(arr)
            if not finite.all():
                bad |= ~finite.all(axis=1)
    stats.samples += int(len(bad) - bad.sum())
    if bad.any():
        stats.bad_samples += int(bad.sum())
        stats.count_error("non-unit quaternion or non-finite value")
        block = block.take(~bad)
        absent, norms = absent[~bad], norms[~bad]
    if len(block) and not absent.all():
        block.quat = block.quat / np.where(absent, 1.0, norms)[:, None]
    return block
