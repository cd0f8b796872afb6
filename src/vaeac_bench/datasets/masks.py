"""Missingness mechanisms: which cells of a table to hide. Pluggable by name; MCAR is the paper's (A.2).

A mechanism is ``fn(data, rate, rng) -> bool array`` of the cells to drop, with ``data`` the ground
truth (NaN where truly missing). New mechanisms (MAR, MNAR) register with :func:`register_mechanism`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Mechanism = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]
MECHANISMS: dict[str, Mechanism] = {}


def register_mechanism(name: str) -> Callable[[Mechanism], Mechanism]:
    """Decorator: make a mechanism available under ``name``."""

    def deco(fn: Mechanism) -> Mechanism:
        if name in MECHANISMS:
            raise ValueError(f"mechanism {name!r} is registered twice")
        MECHANISMS[name] = fn
        return fn

    return deco


def check_rate(rate: float) -> float:
    rate = float(rate)
    if not 0.0 <= rate < 1.0 or np.isnan(rate):
        raise ValueError(f"missing rate must be in [0, 1), got {rate}")
    return rate


@register_mechanism("mcar")
def mcar(data: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Missing completely at random: each cell is dropped independently with probability ``rate``."""
    return rng.random(data.shape) < check_rate(rate)


def get_mechanism(name: str) -> Mechanism:
    try:
        return MECHANISMS[name]
    except KeyError:
        raise ValueError(f"unknown missingness mechanism {name!r}; known: {sorted(MECHANISMS)}") from None
