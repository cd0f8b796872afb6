"""A mixture output family (issue 13 §1): K complete rows per latent draw, so multiple imputations keep every mode.

The paper's generator gives each real column one Gaussian (σ = 1 on standardised data, A.2, or a learnt σ,
§4.3.2) and each categorical column one categorical, independent given z; a multimodal p(x_b | z, x_{1-b}, b)
can only come from the latent code. With :class:`MixtureLayout` the generator outputs, for every row, K mixture
weights and K complete sets of the paper's parameters (per real column a mean and a learnt σ, per categorical
column its logits): p(x_b | z, ·) = Σ_k π_k Π_i p_k(x_i). The weights of the modes are learnt by maximum
likelihood like everything else (a mixture density network, Bishop 1994). A component is a whole row, not a
column, so the unobserved columns stay coupled within it: with nothing observed, (c = a, x ≈ -2), (a, +2) and
(b, 0) are three components, where independent per-column mixtures would draw c and x apart.

Parameter layout of one row (width :attr:`MixtureLayout.out_width`): the K weight logits, then K blocks of the
base layout's parameters (with a learnt σ: R means, R raw σ's, the categorical logits). ``K = 1`` is exactly the
paper's family with a learnt σ.

A layout of this family carries its own ``log_prob`` and ``sample`` (methods below), which ``VAEACModel`` calls
where a layout has them and the paper's functions (:mod:`.likelihood`) otherwise; those functions are unchanged
and do the per-component work here. So the paper's models never run (or depend on) this module.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch
import torch.nn.functional as F

from ..schema import Schema
from .layout import FeatureLayout, LayoutTensors
from .likelihood import MIN_PROB, SIGMA_FLOOR, categorical_log_probs, log_prob, sample


@dataclass(frozen=True)
class MixtureLayout(FeatureLayout):
    """A :class:`FeatureLayout` (σ learnt) whose rows are a K-component mixture of its product distributions."""

    n_components: int = 2

    def __post_init__(self) -> None:
        if int(self.n_components) < 1:
            raise ValueError(f"n_components must be >= 1, got {self.n_components!r}")
        if not self.learn_sigma:
            raise ValueError("a mixture layout learns every component's σ: build it with learn_sigma=True")

    @classmethod
    def from_schema(cls, schema: Schema, learn_sigma: bool = True, n_components: int = 2) -> MixtureLayout:  # type: ignore[override]
        """The layout of ``schema`` with ``n_components`` components per row."""
        base = FeatureLayout.from_schema(schema, learn_sigma=True)
        return cls(**{f.name: getattr(base, f.name) for f in fields(FeatureLayout)}, n_components=int(n_components))

    @property
    def component_width(self) -> int:
        """Width of one component's parameters (the base layout's, σ learnt)."""
        return super().out_width

    @property
    def out_width(self) -> int:
        """K weight logits + K component blocks."""
        return self.n_components * (1 + self.component_width)

    # the output family's functions, found by the model on the layout (see the module docstring)
    def log_prob(self, params: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, lt: LayoutTensors,
                 **kw: float) -> torch.Tensor:
        """:func:`mixture_log_prob`."""
        return mixture_log_prob(params, x, weight, lt, **kw)

    def sample(self, params: torch.Tensor, lt: LayoutTensors, **kw: object) -> torch.Tensor:
        """:func:`mixture_sample`."""
        return mixture_sample(params, lt, **kw)  # type: ignore[arg-type]


def sigma_positions(layout: FeatureLayout) -> np.ndarray:
    """Indices of the raw σ outputs in a parameter vector of ``layout`` (empty when σ is fixed)."""
    r = layout.n_real
    if not layout.learn_sigma:
        return np.zeros(0, dtype=np.int64)
    if not isinstance(layout, MixtureLayout):
        return np.arange(r, 2 * r)
    k, w = layout.n_components, layout.component_width
    return (k + np.arange(k)[:, None] * w + np.arange(r, 2 * r)[None, :]).ravel()


def split_components(params: torch.Tensor, layout: MixtureLayout) -> tuple[torch.Tensor, torch.Tensor]:
    """Log mixture weights (..., K) and the component parameters (..., K, component_width)."""
    k = layout.n_components
    comp = params[..., k:].reshape(*params.shape[:-1], k, layout.component_width)
    return F.log_softmax(params[..., :k], dim=-1), comp


def mixture_log_prob(params: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, lt: LayoutTensors, *,
                     min_prob: float = MIN_PROB, sigma_floor: float = SIGMA_FLOOR) -> torch.Tensor:
    """log Σ_k π_k Π_i p_k(x_i)^{weight_i} per row: the paper's masked likelihood per component, log-sum-exp.

    Shapes as :func:`~vaeac_bench.nn.likelihood.log_prob`: ``params`` (..., rows, out_width), ``x`` and
    ``weight`` (rows, D); returns (..., rows).
    """
    log_w, comp = split_components(params, lt.layout)
    per = log_prob(comp, x.unsqueeze(-2), weight.unsqueeze(-2), lt, min_prob=min_prob, sigma_floor=sigma_floor)
    return torch.logsumexp(log_w + per, dim=-1)


def mixture_sample(params: torch.Tensor, lt: LayoutTensors, *, most_probable: bool = True,
                   generator: torch.Generator | None = None, min_prob: float = MIN_PROB,
                   sigma_floor: float = SIGMA_FLOOR) -> torch.Tensor:
    """Values (..., rows, D) drawn from the distributions ``params`` describes.

    ``most_probable=True`` gives the mixture's mean Σ_k π_k μ_k per real column (the squared-error optimal
    point, as the paper's family gives its mean) and the most probable category of the mixture's marginal;
    otherwise a component is drawn from the weights and a whole row from it (the paper's sampler).
    """
    layout = lt.layout
    log_w, comp = split_components(params, layout)
    if not most_probable:
        k = layout.n_components
        pick = torch.multinomial(log_w.exp().reshape(-1, k), 1, generator=generator).reshape(*log_w.shape[:-1], 1, 1)
        chosen = comp.gather(-2, pick.expand(*comp.shape[:-2], 1, comp.shape[-1])).squeeze(-2)
        return sample(chosen, lt, most_probable=False, generator=generator, min_prob=min_prob,
                      sigma_floor=sigma_floor)
    w = log_w.exp()
    out = torch.empty((*params.shape[:-1], layout.n_features), dtype=params.dtype, device=params.device)
    r = layout.n_real
    if r:
        out[..., lt.real_idx] = (w.unsqueeze(-1) * comp[..., :r]).sum(-2)
    if layout.n_cat:
        logp = categorical_log_probs(comp[..., 2 * r:], lt, min_prob)  # (..., K, C, max_k)
        marginal = torch.logsumexp(log_w[..., None, None] + logp, dim=-3)  # (..., C, max_k)
        out[..., lt.cat_idx] = marginal.argmax(-1).to(out.dtype)
    return out
