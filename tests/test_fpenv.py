"""fpenv.flush_denormals: denormals are flushed inside the block, and the thread's previous mode comes back."""

from __future__ import annotations

import pytest
import torch

from vaeac_bench.fpenv import denormals_flushed, flush_denormals


def test_denormals_are_flushed_inside_and_the_mode_is_restored():
    tiny = torch.tensor([1e-39], dtype=torch.float32)  # below float32's smallest normal (1.2e-38)
    assert not denormals_flushed() and float(tiny * 1.0) > 0
    with flush_denormals() as supported:
        if supported:  # x86: the product of a denormal is zero inside the block
            assert denormals_flushed() and float(tiny * 1.0) == 0.0
    assert not denormals_flushed() and float(tiny * 1.0) > 0


def test_a_mode_set_by_the_caller_is_kept():
    if not torch.set_flush_denormal(True):
        pytest.skip("this CPU has no flush-to-zero mode")
    try:
        with flush_denormals():
            pass
        assert denormals_flushed()  # the caller's own setting survives the block
    finally:
        torch.set_flush_denormal(False)
