"""Masked log-likelihood of mixed real/categorical data, and sampling from it.

A network's parameter vector follows :class:`~vaeac_bench.nn.layout.FeatureLayout`: Gaussian means of the
real columns (σ fixed at 1 unless the layout learns it), then the logits of each categorical column.
Only the cells selected by ``weight`` enter the sum, which is how VAEAC scores the unobserved features
x_b and marginalises truly missing ones out (eq. 9): pass ``weight = b ∧ ¬missing``.

Numerical guards follow the reference code (reference code facts §1.4): categorical probabilities are
clamped from below at ``min_prob`` (1e-4) and renormalised; a learnt Gaussian σ = softplus(raw) is
floored at ``sigma_floor``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .layout import LayoutTensors

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
MIN_PROB = 1e-4  # reference: categorical probabilities >= 1e-4
SIGMA_FLOOR = 1e-2  # reference GaussianLoss floor, used only when σ is learnt


def _split(params: torch.Tensor, lt: LayoutTensors) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    r = lt.layout.n_real
    mu = params[..., :r]
    if lt.layout.learn_sigma:
        return mu, params[..., r:2 * r], params[..., 2 * r:]
    return mu, None, params[..., r:]


def gaussian_sigma(raw: torch.Tensor | None, sigma_floor: float = SIGMA_FLOOR) -> torch.Tensor | None:
    """σ = softplus(raw) floored at ``sigma_floor`` (None when σ is fixed at 1)."""
    return None if raw is None else F.softplus(raw).clamp_min(sigma_floor)


def categorical_log_probs(logits: torch.Tensor, lt: LayoutTensors, min_prob: float = MIN_PROB) -> torch.Tensor:
    """Clamped, renormalised log-probabilities of every categorical column: (..., C, max_k).

    Padding slots (columns with fewer than ``max_k`` levels) hold -inf.
    """
    pad = torch.full((*logits.shape[:-1], 1), float("-inf"), dtype=logits.dtype, device=logits.device)
    grouped = torch.cat([logits, pad], dim=-1)[..., lt.cat_gather]  # (..., C, max_k)
    p = torch.softmax(grouped, dim=-1).clamp_min(min_prob) * lt.cat_valid
    logp = p.log() - p.sum(dim=-1, keepdim=True).log()
    return logp.masked_fill(~lt.cat_valid, float("-inf"))


def log_prob(params: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, lt: LayoutTensors, *,
             min_prob: float = MIN_PROB, sigma_floor: float = SIGMA_FLOOR) -> torch.Tensor:
    """Σ_i weight_i · log p(x_i | params) per row.

    ``params`` is (..., rows, out_width) (leading sample dimensions broadcast), ``x`` (rows, D) in the
    numeric layout (NaN allowed where ``weight`` is 0), ``weight`` (rows, D) float 0/1. Returns (..., rows).
    """
    mu, raw_sigma, logits = _split(params, lt)
    total = torch.zeros(params.shape[:-1], dtype=params.dtype, device=params.device)
    layout = lt.layout
    if layout.n_real:
        xr = torch.nan_to_num(x.index_select(-1, lt.real_idx), nan=0.0)
        wr = weight.index_select(-1, lt.real_idx)
        sigma = gaussian_sigma(raw_sigma, sigma_floor)
        if sigma is None:  # σ fixed at 1 (A.2: optimises RMSE)
            lp = -HALF_LOG_2PI - 0.5 * (xr - mu) ** 2
        else:
            lp = -HALF_LOG_2PI - sigma.log() - 0.5 * ((xr - mu) / sigma) ** 2
        total = total + (lp * wr).sum(-1)
    if layout.n_cat:
        xc = torch.nan_to_num(x.index_select(-1, lt.cat_idx), nan=0.0).long()
        wc = weight.index_select(-1, lt.cat_idx)
        logp = categorical_log_probs(logits, lt, min_prob)  # (..., rows, C, K)
        idx = xc.unsqueeze(-1).expand(*logp.shape[:-1], 1)
        lp = logp.gather(-1, idx).squeeze(-1)
        total = total + (lp * wc).sum(-1)
    return total


def sample(params: torch.Tensor, lt: LayoutTensors, *, most_probable: bool = True,
           generator: torch.Generator | None = None, min_prob: float = MIN_PROB,
           sigma_floor: float = SIGMA_FLOOR) -> torch.Tensor:
    """Values (..., rows, D) in the numeric layout drawn from the distributions ``params`` describes.

    ``most_probable=True`` is the reference sampler: the Gaussian mean and the most probable category.
    Otherwise real values are drawn from N(μ, σ²) (σ = 1 when fixed) and categories from their clamped
    probabilities.
    """
    layout = lt.layout
    mu, raw_sigma, logits = _split(params, lt)
    out = torch.empty((*params.shape[:-1], layout.n_features), dtype=params.dtype, device=params.device)
    if layout.n_real:
        vals = mu
        if not most_probable:
            sigma = gaussian_sigma(raw_sigma, sigma_floor)
            noise = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
            vals = mu + noise * (1.0 if sigma is None else sigma)
        out[..., lt.real_idx] = vals
    if layout.n_cat:
        logp = categorical_log_probs(logits, lt, min_prob)
        if most_probable:
            codes = logp.argmax(-1)
        else:
            flat = logp.exp().reshape(-1, logp.shape[-1])
            codes = torch.multinomial(flat, 1, generator=generator).reshape(logp.shape[:-1])
        out[..., lt.cat_idx] = codes.to(out.dtype)
    return out
