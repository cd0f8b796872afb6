"""Missingness mechanisms: which cells of a table to hide. Pluggable by name; MCAR is the paper's (A.2).

A mechanism is ``fn(data, rate, rng) -> bool array`` of the cells to drop, with ``data`` the ground
truth (NaN where truly missing). New mechanisms (MAR, MNAR) register with :func:`register_mechanism`, into
the same kind of :class:`~vaeac_bench.registry.Registry` that holds methods and datasets.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..registry import Registry

Mechanism = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]
#: every mechanism by name; the built-ins below are registered when this module is imported
MECHANISMS: Registry[Mechanism] = Registry("missingness mechanism")


def register_mechanism(name: str) -> Callable[[Mechanism], Mechanism]:
    """Decorator: make a mechanism available under ``name`` (unique; built-in or plugin alike)."""

    def deco(fn: Mechanism) -> Mechanism:
        if not callable(fn):
            raise TypeError(f"mechanism {name!r} must be a function fn(data, rate, rng) -> bool mask")
        return MECHANISMS.register(name, fn)

    return deco


def check_rate(rate: float) -> float:
    """The missing rate as a float in [0, 1), or a ValueError naming ``rate``."""
    rate = float(rate)
    if not 0.0 <= rate < 1.0 or np.isnan(rate):
        raise ValueError(f"missing rate must be in [0, 1), got {rate}")
    return rate


@register_mechanism("mcar")
def mcar(data: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Missing completely at random: each cell is dropped independently with probability ``rate``."""
    return rng.random(data.shape) < check_rate(rate)


def get_mechanism(name: str) -> Mechanism:
    """The mechanism registered under ``name``, or a ValueError listing the known ones."""
    return MECHANISMS.get(name)
