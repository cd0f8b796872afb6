"""Diagonal Gaussian helpers for latent variables (VAEAC's prior and proposal, §4.2-4.3)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LATENT_SIGMA_FLOOR = 1e-3  # reference: latent σ = softplus(raw) clamped at 1e-3 (facts §1.4)
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def split_gaussian(params: torch.Tensor, sigma_floor: float = LATENT_SIGMA_FLOOR) -> tuple[torch.Tensor, torch.Tensor]:
    """Split a network output (..., 2d) into μ and σ = max(softplus(raw), floor)."""
    d = params.shape[-1] // 2
    return params[..., :d], F.softplus(params[..., d:]).clamp_min(sigma_floor)


def log_normal(z: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """log N(z | μ, diag σ²) summed over the last dimension."""
    return (-_HALF_LOG_2PI - sigma.log() - 0.5 * ((z - mu) / sigma) ** 2).sum(-1)


def kl_normal(mu_q: torch.Tensor, sigma_q: torch.Tensor, mu_p: torch.Tensor, sigma_p: torch.Tensor) -> torch.Tensor:
    """Analytic KL(N(μq, σq²) ‖ N(μp, σp²)) summed over the last dimension (§4.3.1)."""
    return (sigma_p.log() - sigma_q.log() + (sigma_q ** 2 + (mu_q - mu_p) ** 2) / (2 * sigma_p ** 2) - 0.5).sum(-1)


def normal_gamma_regulariser(mu: torch.Tensor, sigma: torch.Tensor | None, sigma_mu: float = 1e4,
                             sigma_sigma: float = 1e-4) -> torch.Tensor:
    """The prior-in-latent-space regulariser of §4.3.2 (eq. 8), added to the log-likelihood per row.

    −Σ μ²/(2 σ_μ²) + σ_σ Σ (log σ − σ), summed over latent dimensions; ``sigma=None`` (delta prior) keeps
    only the μ term.
    """
    reg = -(mu ** 2).sum(-1) / (2 * sigma_mu ** 2)
    if sigma is not None:
        reg = reg + sigma_sigma * (sigma.log() - sigma).sum(-1)
    return reg
