"""The VAEAC model: one module, three objectives (VAEAC, GSNN/hybrid, NN), likelihood estimators, sampler.

Tensors follow the suite's numeric layout (standardised real values, categorical codes, NaN = missing).
A :class:`Batch` carries a batch's raw values, its one-hot encoding and its truly-missing mask; ``b`` is the
float 0/1 mask of unobserved features (1 = to be generated), with ``missing ⊆ b`` always.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from torch import nn

from ...nn import (
    LATENT_SIGMA_FLOOR,
    MIN_PROB,
    SIGMA_FLOOR,
    FeatureLayout,
    build_seeded,
    full_input,
    kl_normal,
    log_normal,
    log_prob,
    normal_gamma_regulariser,
    observed_input,
    one_hot,
    sample,
    split_gaussian,
)
from .networks import ArchConfig, PriorContext, VAEACNetworks


@dataclass
class Batch:
    """Rows of data in every form the networks need (built once per data set, sliced per batch)."""

    x: torch.Tensor  # (rows, D) values with NaN
    x_onehot: torch.Tensor  # (rows, in_width), NaN -> 0 / all-zero one-hot
    missing: torch.Tensor  # (rows, D) float 0/1: truly missing

    @classmethod
    def from_values(cls, x: torch.Tensor, model: VAEACModel) -> Batch:
        return cls(x, one_hot(x, model.lt), torch.isnan(x).to(x.dtype))

    def __getitem__(self, idx: torch.Tensor | slice) -> Batch:
        return Batch(self.x[idx], self.x_onehot[idx], self.missing[idx])

    def __len__(self) -> int:
        return int(self.x.shape[0])


@dataclass(frozen=True)
class ObjectiveConfig:
    """Objective of eq. (16) plus the delta prior (D.2) and the numerical guards of facts §1.4."""

    alpha: float = 1.0  # 1: VAEAC (6); 0: GSNN (15); in between: hybrid (16)
    delta_prior: bool = False  # NN: p(z|x_{1-b},b) is a point mass at the prior mean (D.2)
    sigma_mu: float = 1e4  # Normal-Gamma prior regulariser (§4.3.2)
    sigma_sigma: float = 1e-4
    latent_sigma_floor: float = LATENT_SIGMA_FLOOR
    min_prob: float = MIN_PROB
    sigma_floor: float = SIGMA_FLOOR

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must lie in [0, 1] (eq. 16), got {self.alpha!r}")
        if self.delta_prior and self.alpha != 0.0:
            raise ValueError("delta_prior (the NN model of D.2) is a special case of GSNN: it needs alpha=0")


class VAEACModel(nn.Module):
    """Proposal, prior and generator networks with the hybrid objective (16) and the estimators (17), (18)."""

    def __init__(self, layout: FeatureLayout, arch: ArchConfig | None = None, objective: ObjectiveConfig | None = None,
                 *, fused: bool = True, zero_latent_heads: bool = False, generator: torch.Generator | None = None,
                 device: torch.device | str = "cpu"):
        """Build the networks for ``layout``; weights are drawn from ``generator`` (never the global RNG).

        ``zero_latent_heads`` starts the prior's and the proposal's output layers at zero, so both begin as
        N(0, softplus(0)²) and the KL term starts at 0 (a deliberate difference from the reference's
        default init, used by the fast mode: see docs/vaeac.md for the measured effect).
        """
        super().__init__()
        arch = arch or ArchConfig()
        objective = objective or ObjectiveConfig()
        if objective.alpha == 0.0 and arch.with_proposal:
            arch = replace(arch, with_proposal=False)  # α = 0 never trains the proposal
        self.layout = layout
        self.arch = arch
        self.objective = objective
        self.fused = fused
        if generator is None:
            generator = torch.Generator().manual_seed(0)
        self.nets = build_seeded(
            lambda: VAEACNetworks(layout.in_width, layout.n_features, layout.out_width, arch, fused), generator, device)
        if zero_latent_heads:
            with torch.no_grad():
                for net in (self.nets.prior, self.nets.proposal):
                    if net is not None:
                        net.head.weight.zero_()
                        net.head.bias.zero_()
        self._lt = layout.tensors(device)

    # the index tensors follow the module's device
    @property
    def lt(self):  # noqa: ANN201 - LayoutTensors
        dev = next(self.parameters()).device
        if self._lt.real_idx.device != dev:
            self._lt = self.layout.tensors(dev)
        return self._lt

    # -- the networks -----------------------------------------------------------------------------------
    def prior(self, batch: Batch, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, PriorContext]:
        """μ_ψ, σ_ψ (None for the delta prior) and the generator context for ``x_{1-b}``, ``b``."""
        params, ctx = self.nets.run_prior(observed_input(batch.x_onehot, b, self.lt))
        mu, sigma = split_gaussian(params, self.objective.latent_sigma_floor)
        return mu, (None if self.objective.delta_prior else sigma), ctx

    def proposal(self, batch: Batch, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """μ_φ, σ_φ of q(z | x, b); the proposal also sees the truly-missing mask (§4.3.3)."""
        if self.nets.proposal is None:
            raise RuntimeError("this model has no proposal network (alpha=0: GSNN/NN); use the MC estimator")
        params, _ = self.nets.proposal(full_input(batch.x_onehot, batch.missing, b))
        return split_gaussian(params, self.objective.latent_sigma_floor)

    def decode(self, z: torch.Tensor, ctx: PriorContext) -> torch.Tensor:
        return self.nets.generator(z, ctx)

    def rec_weight(self, batch: Batch, b: torch.Tensor) -> torch.Tensor:
        """Cells scored by the reconstruction term: unobserved and not truly missing (eq. 9)."""
        return b * (1.0 - batch.missing)

    def rec_log_prob(self, params: torch.Tensor, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """Σ_i w_i log p(x_i | params) per row in the layout's output family (the paper's, or a mixture)."""
        obj = self.objective
        fn = getattr(self.layout, "log_prob", log_prob)  # a layout may bring its own family (nn/mixture.py)
        return fn(params, x, w, self.lt, min_prob=obj.min_prob, sigma_floor=obj.sigma_floor)

    # -- training objective ------------------------------------------------------------------------------
    def n_noise(self) -> int:
        """How many latent noise draws per row the training objective uses (0, 1 or 2)."""
        obj = self.objective
        return int(obj.alpha > 0) + int(obj.alpha < 1 and not obj.delta_prior)

    def loss(self, batch: Batch, b: torch.Tensor, generator: torch.Generator | None = None,
             noise: torch.Tensor | None = None) -> torch.Tensor:
        """−mean over rows of α·L_VAEAC + (1−α)·L_GSNN + the prior regulariser (eqs. 6, 8, 9, 15, 16).

        ``noise`` (:meth:`n_noise`, rows, d) are the standard-normal draws of the reparameterisation; drawn
        from ``generator`` when not given (passing them keeps the function free of RNG calls).
        """
        obj = self.objective
        if noise is None and self.n_noise():
            noise = torch.randn((self.n_noise(), len(batch), self.arch.latent_dim), generator=generator,
                                dtype=batch.x.dtype, device=batch.x.device)
        mu_p, sig_p, ctx = self.prior(batch, b)
        w = self.rec_weight(batch, b)
        zs = []
        k = 0
        if obj.alpha > 0:
            mu_q, sig_q = self.proposal(batch, b)
            zs.append(mu_q + sig_q * noise[k])
            k += 1
        if obj.alpha < 1:
            zs.append(mu_p if sig_p is None else mu_p + sig_p * noise[k])
        z = zs[0] if len(zs) == 1 else torch.stack(zs)
        rec = self.rec_log_prob(self.decode(z, ctx), batch.x, w)
        if len(zs) == 2:
            rec_q, rec_p = rec[0], rec[1]
        else:
            rec_q = rec_p = rec
        vlb = normal_gamma_regulariser(mu_p, sig_p, obj.sigma_mu, obj.sigma_sigma)
        if obj.alpha > 0:
            vlb = vlb + obj.alpha * (rec_q - kl_normal(mu_q, sig_q, mu_p, sig_p))
        if obj.alpha < 1:
            vlb = vlb + (1.0 - obj.alpha) * rec_p
        return -vlb.mean()

    # -- likelihood estimators -----------------------------------------------------------------------------
    def iwae(self, batch: Batch, b: torch.Tensor, n_samples: int,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """Importance-sampling estimate (18) of log p(x_b | x_{1-b}, b) per row, z_s ~ q(z | x, b)."""
        mu_p, sig_p, ctx = self.prior(batch, b)
        if sig_p is None:
            raise RuntimeError("the IWAE estimator needs a stochastic prior; the NN model's MC estimate is exact")
        mu_q, sig_q = self.proposal(batch, b)
        shape = (n_samples, *mu_q.shape)
        z = mu_q + sig_q * torch.randn(shape, generator=generator, dtype=mu_q.dtype, device=mu_q.device)
        rec = self.rec_log_prob(self.decode(z, ctx), batch.x, self.rec_weight(batch, b))
        log_w = rec + log_normal(z, mu_p, sig_p) - log_normal(z, mu_q, sig_q)
        return torch.logsumexp(log_w, dim=0) - math.log(n_samples)

    def mc(self, batch: Batch, b: torch.Tensor, n_samples: int,
           generator: torch.Generator | None = None) -> torch.Tensor:
        """Monte-Carlo estimate (17) of log p(x_b | x_{1-b}, b) per row, z_s ~ p(z | x_{1-b}, b)."""
        mu_p, sig_p, ctx = self.prior(batch, b)
        if sig_p is None:  # a point mass: the estimate is exact with one sample
            z = mu_p.unsqueeze(0)
            n_samples = 1
        else:
            shape = (n_samples, *mu_p.shape)
            z = mu_p + sig_p * torch.randn(shape, generator=generator, dtype=mu_p.dtype, device=mu_p.device)
        rec = self.rec_log_prob(self.decode(z, ctx), batch.x, self.rec_weight(batch, b))
        return torch.logsumexp(rec, dim=0) - math.log(n_samples)

    # -- imputation ------------------------------------------------------------------------------------------
    def sample_imputations(self, batch: Batch, n: int, most_probable: bool = True,
                           generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` draws (n, rows, D) of every feature given the observed ones (b = missing mask).

        z comes from the prior; the generator's mean / most probable category is returned (the reference
        sampler) unless ``most_probable=False``, which samples x too. Observed cells are not copied back here.
        """
        b = batch.missing
        mu_p, sig_p, ctx = self.prior(batch, b)
        if sig_p is None:
            z = mu_p.expand(n, *mu_p.shape)
        else:
            z = mu_p + sig_p * torch.randn((n, *mu_p.shape), generator=generator, dtype=mu_p.dtype, device=mu_p.device)
        params = self.decode(z, ctx)
        draw = getattr(self.layout, "sample", sample)  # the layout's own output family, if it has one
        return draw(params, self.lt, most_probable=most_probable, generator=generator,
                    min_prob=self.objective.min_prob, sigma_floor=self.objective.sigma_floor)
