"""Deterministic seeds derived from names, so every split, mask and model seed is reproducible."""

from __future__ import annotations

import zlib

import numpy as np


def derive_seed(*keys: object) -> int:
    """A 32-bit seed from any mix of ints and strings (stable across processes and platforms)."""
    entropy = [k if isinstance(k, int) and k >= 0 else zlib.crc32(str(k).encode()) for k in keys]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def rng_for(*keys: object) -> np.random.Generator:
    """A NumPy generator seeded by :func:`derive_seed`."""
    return np.random.default_rng(derive_seed(*keys))
