"""vaeac-bench: a benchmark suite and library reproducing VAEAC (Ivanov, Figurnov & Vetrov, ICLR 2019)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    from .imputer import VAEACImputer

__all__ = ["VAEACImputer", "__version__"]


def __getattr__(name: str) -> Any:
    """Lazy exports: ``from vaeac_bench import VAEACImputer`` imports torch only when asked for."""
    if name == "VAEACImputer":
        from .imputer import VAEACImputer

        return VAEACImputer
    raise AttributeError(f"module 'vaeac_bench' has no attribute {name!r}")
