"""Torch one-hot encoding of the suite's numeric layout (real values, categorical codes, NaN = missing).

Same convention as :func:`vaeac_bench.encoding.one_hot` and the reference code's one-hot layer (reference
code facts §1.1): a real column passes through with NaN -> 0, a categorical column becomes its K-wide
one-hot vector, and a missing categorical becomes the all-zero vector.
"""

from __future__ import annotations

import torch

from .layout import LayoutTensors


def one_hot(x: torch.Tensor, lt: LayoutTensors) -> torch.Tensor:
    """Encode ``x`` (rows, D) into (rows, in_width) with one gather and one comparison (no column loop)."""
    xe = x.index_select(-1, lt.src_col)
    cat = (xe == lt.level).to(x.dtype)  # NaN never equals a level: a missing categorical is all zeros
    return torch.where(lt.is_real_slot, torch.nan_to_num(xe, nan=0.0), cat)


def expand_mask(mask: torch.Tensor, lt: LayoutTensors) -> torch.Tensor:
    """Repeat a per-column mask (rows, D) over each column's one-hot slots: (rows, in_width)."""
    return mask.index_select(-1, lt.src_col)


def observed_input(x_onehot: torch.Tensor, b: torch.Tensor, lt: LayoutTensors) -> torch.Tensor:
    """``concat(x ∘ (1 - b), b)`` in one-hot form: what the prior network sees (§4.2).

    ``b`` is the float 0/1 mask of unobserved columns. An unobserved categorical becomes all zeros (the
    reference code zeroes the code first, so it looks like level 0; the mask bit carries the same
    information either way, see docs/vaeac.md).
    """
    keep = 1.0 - expand_mask(b, lt)
    return torch.cat([x_onehot * keep, b], dim=-1)


def full_input(x_onehot: torch.Tensor, missing: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``concat(x, missing, b)``: what the proposal network sees, with the truly-missing mask (§4.3.3)."""
    return torch.cat([x_onehot, missing, b], dim=-1)
