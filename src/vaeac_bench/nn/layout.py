"""Where each feature lives in the one-hot input and in a network's distribution-parameter output.

A :class:`FeatureLayout` is built once from a :class:`~vaeac_bench.schema.Schema` and owns every index
tensor the encoding and the likelihood need, so the per-batch work is a few vectorised gathers (no Python
loop over columns). It is plain data: two models never share one unless the caller passes it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..schema import Schema


@dataclass(frozen=True)
class FeatureLayout:
    """Index bookkeeping for mixed real/categorical data (columns in schema order).

    * one-hot input (width :attr:`in_width`): a real column is one slot, a categorical column with K levels
      is K slots (reference code facts §1.1);
    * parameter output (width :attr:`out_width`): all real means first, then (when ``learn_sigma``) all real
      raw sigmas, then the K logits of every categorical column in column order. This is a permutation of
      the reference layout (μ, raw σ per real column interleaved with logits), which changes nothing for a
      fully connected output layer but lets the likelihood slice instead of gather.
    """

    n_features: int
    real_idx: np.ndarray  # (R,) column indices of real features
    cat_idx: np.ndarray  # (C,) column indices of categorical features
    cat_sizes: np.ndarray  # (C,) K of each categorical feature
    src_col: np.ndarray  # (in_width,) the column each one-hot slot comes from
    level: np.ndarray  # (in_width,) the category level of a slot, -1 for a real slot
    learn_sigma: bool = False

    @classmethod
    def from_schema(cls, schema: Schema, learn_sigma: bool = False) -> FeatureLayout:
        """Build the layout of ``schema`` (``learn_sigma``: the generator also outputs a σ per real column)."""
        kinds = schema.n_categories
        src, lev = [], []
        for j, k in enumerate(kinds):
            if k:
                src += [j] * k
                lev += list(range(k))
            else:
                src.append(j)
                lev.append(-1)
        real = np.array([j for j, k in enumerate(kinds) if not k], dtype=np.int64)
        cat = np.array([j for j, k in enumerate(kinds) if k], dtype=np.int64)
        return cls(len(kinds), real, cat, np.array([kinds[j] for j in cat], dtype=np.int64),
                   np.array(src, dtype=np.int64), np.array(lev, dtype=np.int64), bool(learn_sigma))

    # -- sizes ----------------------------------------------------------------------------------------
    @property
    def n_real(self) -> int:
        return int(self.real_idx.size)

    @property
    def n_cat(self) -> int:
        return int(self.cat_idx.size)

    @property
    def in_width(self) -> int:
        """Width of the one-hot encoding of one row."""
        return int(self.src_col.size)

    @property
    def out_width(self) -> int:
        """Width of the generator's parameter vector for one row."""
        return self.n_real * (2 if self.learn_sigma else 1) + int(self.cat_sizes.sum())

    @property
    def max_k(self) -> int:
        return int(self.cat_sizes.max()) if self.n_cat else 0

    # -- torch index tensors (built on demand for a device) ----------------------------------------
    def tensors(self, device: torch.device | str = "cpu") -> LayoutTensors:
        """The index tensors of this layout on ``device``."""
        return LayoutTensors.build(self, torch.device(device))


@dataclass(frozen=True)
class LayoutTensors:
    """Device copies of a layout's indices, plus the padded-gather index the categorical likelihood uses."""

    layout: FeatureLayout
    real_idx: torch.Tensor
    cat_idx: torch.Tensor
    src_col: torch.Tensor
    level: torch.Tensor  # float, so it compares against the float codes directly
    is_real_slot: torch.Tensor  # (in_width,) bool
    cat_gather: torch.Tensor  # (C, max_k) index into the logits block; padded slots point at a -inf column
    cat_valid: torch.Tensor  # (C, max_k) bool: real level (True) or padding (False)

    @classmethod
    def build(cls, layout: FeatureLayout, device: torch.device) -> LayoutTensors:
        c, kmax = layout.n_cat, layout.max_k
        gather = np.zeros((c, kmax), dtype=np.int64)
        valid = np.zeros((c, kmax), dtype=bool)
        total = int(layout.cat_sizes.sum())
        pos = 0
        for i, k in enumerate(layout.cat_sizes):
            gather[i, :k] = np.arange(pos, pos + k)
            gather[i, k:] = total  # one extra column filled with -inf
            valid[i, :k] = True
            pos += int(k)

        def t(a: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
            return torch.as_tensor(a, dtype=dtype, device=device)

        return cls(layout, t(layout.real_idx, torch.long), t(layout.cat_idx, torch.long), t(layout.src_col, torch.long),
                   t(layout.level, torch.float32), t(layout.level < 0, torch.bool), t(gather, torch.long),
                   t(valid, torch.bool))
