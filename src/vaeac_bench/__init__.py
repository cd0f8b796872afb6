"""vaeac-bench: a benchmark suite and library reproducing VAEAC (Ivanov, Figurnov & Vetrov, ICLR 2019)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    from .imputer import MethodImputer, VAEACImputer, imputer_class, make_imputer

__all__ = ["MethodImputer", "VAEACImputer", "__version__", "imputer_class", "make_imputer"]
_LAZY = ("MethodImputer", "VAEACImputer", "imputer_class", "make_imputer")


def __getattr__(name: str) -> Any:
    """Lazy exports: ``from vaeac_bench import VAEACImputer`` imports torch only when asked for."""
    if name in _LAZY:
        from . import imputer

        return getattr(imputer, name)
    raise AttributeError(f"module 'vaeac_bench' has no attribute {name!r}")
