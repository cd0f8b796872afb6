"""vaeac-bench: a benchmark suite and library reproducing VAEAC (Ivanov, Figurnov & Vetrov, ICLR 2019)."""

from __future__ import annotations

__version__ = "0.1.0"
