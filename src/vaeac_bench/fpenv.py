"""The CPU's floating-point environment for a fit: denormal numbers flushed to zero (issue 12 §5).

Intel cores take a microcode assist, of the order of a hundred cycles, for every denormal operand or result
(numbers below 1.2e-38 in float32); AMD's cores barely slow down. Adam's first moment of a unit whose gradient
stays zero decays by 0.9 a step, so it enters the denormal range within about 800 steps, and from then on every
update of it is slow: on the Xeon this project runs on, GAIN's Mushroom cell took 23-24 s with denormals and
17.5 s without (docs/performance.md). Flushing them changes only values below 1.2e-38, which are zero for every
purpose of an imputer.

The mode is a property of the calling thread (x86's MXCSR), so it is set for the block and then restored.
Intra-op worker threads keep their own mode: cells run with one thread (the runner's default).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


def denormals_flushed() -> bool:
    """Whether this thread flushes denormals now (probed: a denormal times one is zero only when it does)."""
    return bool((torch.tensor([1e-40], dtype=torch.float32) * 1.0)[0] == 0)


@contextmanager
def flush_denormals() -> Iterator[bool]:
    """Flush denormal results and operands to zero on this thread for the block, then restore the previous mode.

    Yields whether the CPU supports the mode (x86 with SSE3; elsewhere nothing changes and it yields False).
    """
    before = denormals_flushed()
    supported = bool(torch.set_flush_denormal(True))
    try:
        yield supported
    finally:
        if supported and not before:
            torch.set_flush_denormal(False)
