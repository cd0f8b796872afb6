"""Negative log-likelihood of the hidden pixels given the observed ones, −log p(x_b | x_{1-b}, b) (appendix C).

* IS-S, eq. (18): z_s ~ q_φ(z | x, b), NLL = −log (1/S) Σ_s p_θ(x_b | z_s, x_{1-b}, b) p_ψ(z_s | x_{1-b}, b)
  / q_φ(z_s | x, b); needs a proposal network (VAEAC).
* MC-S, eq. (17): z_s ~ p_ψ(z | x_{1-b}, b), NLL = −log (1/S) Σ_s p_θ(x_b | z_s, x_{1-b}, b); works for every
  model (GSNN too) but needs many more samples (the paper's table 9 uses S = 10⁴).

Both are batched over objects (``batch_size`` rows at a time) and over samples (``sample_chunk`` at a time,
combined with a running log-sum-exp, so S = 10⁴ never holds 10⁴ decoded images at once) and return one value
per object in nats; the caller reports mean ± std over objects as the paper does. The model is put in
``eval()`` mode (BatchNorm running statistics) for the estimate and restored afterwards.

The tabular estimators (``methods/vaeac/estimators.py``) compute the same equations but are tied to the
tabular :class:`~vaeac_bench.methods.vaeac.model.Batch` / feature layout, so they cannot score images; these work
on any model with the :class:`LatentModel` interface (e.g. :class:`~vaeac_bench.nn.conv.BernoulliImageModel`).
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np
import torch

from .argcheck import check_int
from .nn.gaussian import log_normal


class LatentModel(Protocol):
    """What the estimators need: the prior, the proposal, the decoder and the masked log-likelihood."""

    def prior(self, x: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, Any]: ...

    def proposal(self, x: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...

    def decode(self, z: torch.Tensor, ctx: Any) -> torch.Tensor: ...

    def log_likelihood(self, params: torch.Tensor, x: torch.Tensor, b: torch.Tensor) -> torch.Tensor: ...


def _as_images(x: np.ndarray | torch.Tensor, name: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x).float()
    if t.dim() == 3:  # (N, H, W) masks: add the channel axis
        t = t.unsqueeze(1)
    if t.dim() != 4:
        raise ValueError(f"{name} must be (N, C, H, W) images or (N, H, W) masks, got shape {tuple(t.shape)}")
    return t


def _log_likelihood(kind: str, model: LatentModel, x: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor,
                    n_samples: int, generator: torch.Generator | None, batch_size: int,
                    sample_chunk: int) -> np.ndarray:
    check_int(n_samples, "n_samples", 1)
    if batch_size < 1 or sample_chunk < 1:
        raise ValueError(f"batch_size and sample_chunk must be >= 1, got {batch_size}, {sample_chunk}")
    xt, bt = _as_images(x, "x"), _as_images(b, "b")
    if bt.shape[1] == 1 and xt.shape[1] > 1:
        bt = bt.expand(-1, xt.shape[1], -1, -1)
    if xt.shape != bt.shape:
        raise ValueError(f"x and b must describe the same images, got shapes {tuple(xt.shape)} and {tuple(bt.shape)}")
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    params = list(model.parameters()) if isinstance(model, torch.nn.Module) else []
    dev = params[0].device if params else torch.device("cpu")
    was_training = isinstance(model, torch.nn.Module) and model.training
    if isinstance(model, torch.nn.Module):
        model.eval()  # BatchNorm with running statistics: an estimate must not depend on its batch
    out = []
    try:
        with torch.inference_mode():
            for s in range(0, xt.shape[0], batch_size):
                xb, bb = xt[s:s + batch_size].to(dev), bt[s:s + batch_size].to(dev)
                mu_p, sig_p, ctx = model.prior(xb, bb)
                if kind == "is":
                    mu_q, sig_q = model.proposal(xb, bb)
                    mu, sig = mu_q, sig_q
                else:
                    mu, sig = mu_p, sig_p
                acc = torch.full((xb.shape[0],), -math.inf, dtype=torch.float64, device=dev)
                for k in range(0, n_samples, sample_chunk):
                    m = min(sample_chunk, n_samples - k)
                    eps = torch.randn((m, *mu.shape), generator=generator).to(dev, mu.dtype)
                    z = mu + sig * eps
                    log_w = model.log_likelihood(model.decode(z, ctx), xb, bb)
                    if kind == "is":
                        log_w = log_w + log_normal(z, mu_p, sig_p) - log_normal(z, mu_q, sig_q)
                    acc = torch.logaddexp(acc, torch.logsumexp(log_w.double(), dim=0))
                out.append((acc - math.log(n_samples)).cpu().numpy())
    finally:
        if was_training:
            model.train()
    return np.concatenate(out) if out else np.zeros(0)


def is_nll(model: LatentModel, x: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor, n_samples: int = 100,
           *, generator: torch.Generator | None = None, batch_size: int = 64, sample_chunk: int = 100) -> np.ndarray:
    """IS-S estimate (18) of −log p(x_b | x_{1-b}, b) per object in nats; ``b`` is 1/True where unobserved."""
    return -_log_likelihood("is", model, x, b, n_samples, generator, batch_size, sample_chunk)


def mc_nll(model: LatentModel, x: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor, n_samples: int = 100,
           *, generator: torch.Generator | None = None, batch_size: int = 64, sample_chunk: int = 100) -> np.ndarray:
    """MC-S estimate (17) of −log p(x_b | x_{1-b}, b) per object in nats; an upper bound in expectation."""
    return -_log_likelihood("mc", model, x, b, n_samples, generator, batch_size, sample_chunk)
