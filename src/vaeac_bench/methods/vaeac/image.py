"""VAEAC on binary images: the tabular :class:`VAEACModel` with image networks (A.1, A.3) and the shared harness.

:class:`ImageVAEACModel` *subclasses* :class:`VAEACModel` and overrides only what images change, so the hybrid
objective (16) (VAEAC α = 1, GSNN α = 0), the IWAE (18) and MC (17) estimators and the sampler are the tabular
code, unchanged:

* the networks: :class:`~vaeac_bench.nn.conv.ConvImageNetworks` (ResNet, skip concatenations, A.1) or the one-hidden
  layer :class:`~vaeac_bench.nn.conv.FCImageNetworks` (A.1: enough for MNIST);
* the network inputs: prior concat(x ⊙ (1 − b), b), proposal concat(x, b) (reference facts §2);
* the likelihood: each pixel is a binary categorical column of a :class:`FeatureLayout`, and the generator's
  Bernoulli logit l becomes the two logits (0, l), so softmax gives exactly (1 − σ(l), σ(l)) and the tabular
  ``log_prob`` computes the Bernoulli log-likelihood of the unobserved pixels (A.3). The tabular guard applies:
  probabilities are clamped at ``min_prob`` (1e-4, facts §1.4), i.e. at most 9.2 nats per pixel;
* a :class:`Batch` of images holds the flattened pixels (rows, H·W) and no truly-missing pixel.

Training runs through :func:`vaeac_bench.nn.harness.fit_loop` as is (best epoch by validation IWAE, or MC for
GSNN; resumable checkpoints; progress bar), with ``model.eval()`` around every validation pass so that
BatchNorm uses its running statistics (the reference never switches, facts §2).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from ...nn import FeatureLayout, split_gaussian
from ...nn.conv import CONV_ARCHS, ConvArch, ConvImageNetworks, FCImageNetworks, ImageContext
from ...nn.harness import LoopResult, LoopState, fit_loop
from .model import Batch, ObjectiveConfig, VAEACModel
from .training import make_optimizer, validation_score

NETWORKS = ("conv", "fc")
#: the paper's epochs (A.3 / table 5: 30 on MNIST; 50 on Omniglot), recorded beside the epochs a run had
PAPER_EPOCHS = {"mnist": 30, "omniglot": 50, "omniglot28": 50}

MaskFn = Callable[[int, int, int, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class FCArch:
    """The FC network's sizes, with the two fields :class:`VAEACModel` reads (``latent_dim``, ``with_proposal``)."""

    latent_dim: int = 16
    hidden: int = 256
    with_proposal: bool = True


def pixel_layout(n_pixels: int) -> FeatureLayout:
    """Every pixel a binary categorical column: the tabular likelihood then is the Bernoulli one (A.3)."""
    if n_pixels < 1:
        raise ValueError(f"n_pixels must be >= 1, got {n_pixels}")
    idx = np.arange(n_pixels, dtype=np.int64)
    return FeatureLayout(n_pixels, np.zeros(0, dtype=np.int64), idx, np.full(n_pixels, 2, dtype=np.int64),
                         np.repeat(idx, 2), np.tile(np.array([0, 1], dtype=np.int64), n_pixels))


def image_batch(x: torch.Tensor, missing: torch.Tensor | None = None) -> Batch:
    """A :class:`Batch` of images (rows, C, H, W): flattened pixels, no truly-missing pixel unless given."""
    flat = x.flatten(1)
    miss = torch.zeros_like(flat) if missing is None else missing.flatten(1).to(flat.dtype)
    return Batch(flat, flat, miss)


def bernoulli_log_prob(logits: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, min_prob: float) -> torch.Tensor:
    """Σ_i weight_i log p(x_i) per row, p(x_i = 1) = σ(logit_i), guarded as the tabular categorical likelihood.

    The guard of facts §1.4, as ``nn.likelihood.categorical_log_probs`` applies it to the two logits (0, l): both
    probabilities are clamped from below at ``min_prob`` and renormalised. ``logits`` (…, rows, P) broadcast
    over ``x`` and ``weight`` (rows, P); ``x`` holds 0/1 (no NaN).
    """
    s = torch.where(x > 0.5, logits, -logits)  # the logit of the observed value
    p_x = torch.sigmoid(s).clamp_min(min_prob)
    p_other = torch.sigmoid(-s).clamp_min(min_prob)
    return ((p_x.log() - (p_x + p_other).log()) * weight).sum(-1)


class ImageVAEACModel(VAEACModel):
    """VAEAC / GSNN on binary images: :class:`VAEACModel`'s objective and estimators with image networks."""

    def __init__(self, image_shape: tuple[int, int, int], network: str = "conv",
                 arch: ConvArch | FCArch | None = None, objective: ObjectiveConfig | None = None, *,
                 generator: torch.Generator | None = None, device: torch.device | str = "cpu",
                 channels_last: bool = True):
        """Build ``network`` ("conv" or "fc") for (C, H, W) images; weights drawn from ``generator``.

        ``channels_last`` stores the conv weights NHWC, as the CelebA model does: a conv MNIST training step
        ran 1.35x faster on this CPU (213 -> 157 ms, batch 64), computing the same function (docs/images.md).
        """
        nn.Module.__init__(self)  # VAEACModel.__init__ builds tabular networks; the rest of its state is set here
        if network not in NETWORKS:
            raise ValueError(f"network must be one of {NETWORKS}, got {network!r}")
        c, h, w = (int(v) for v in image_shape)
        objective = objective or ObjectiveConfig()
        arch = arch or (ConvArch() if network == "conv" else FCArch())
        if not isinstance(arch, ConvArch if network == "conv" else FCArch):
            raise TypeError(f"network={network!r} takes a {'ConvArch' if network == 'conv' else 'FCArch'}, "
                            f"got {type(arch).__name__}")
        if objective.alpha == 0.0 and arch.with_proposal:
            arch = replace(arch, with_proposal=False)  # α = 0 never trains the proposal (as VAEACModel)
        if generator is None:
            generator = torch.Generator().manual_seed(0)
        self.image_shape = (c, h, w)
        self.network = network
        self.layout = pixel_layout(c * h * w)
        self.arch = arch
        self.objective = objective
        self.fused = False
        if network == "conv":
            self.nets = ConvImageNetworks(h, w, arch, channels=c, generator=generator)
        else:
            self.nets = FCImageNetworks(h, w, arch.latent_dim, arch.hidden, channels=c,
                                        with_proposal=arch.with_proposal, generator=generator)
        self.nets.to(device)
        if network == "conv" and channels_last:
            self.nets.to(memory_format=torch.channels_last)
        self._lt = self.layout.tensors(device)

    def _images(self, flat: torch.Tensor) -> torch.Tensor:
        return flat.reshape(-1, *self.image_shape)

    def prior(self, batch: Batch, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, ImageContext]:
        """μ_ψ, σ_ψ of p(z | x_{1-b}, b) from concat(x ⊙ (1 − b), b); σ is None for the delta prior."""
        x, bi = self._images(batch.x), self._images(b)
        params, ctx = self.nets.run_prior(torch.cat([x * (1.0 - bi), bi], dim=1))
        mu, sigma = split_gaussian(params, self.objective.latent_sigma_floor)
        return mu, (None if self.objective.delta_prior else sigma), ctx

    def proposal(self, batch: Batch, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """μ_φ, σ_φ of q(z | x, b) from concat(x, b) (images have no truly-missing pixel)."""
        if self.nets.proposal is None:
            raise RuntimeError("this model has no proposal network (alpha=0: GSNN); use the MC estimator")
        params, _ = self.nets.proposal(torch.cat([self._images(batch.x), self._images(b)], dim=1))
        return split_gaussian(params, self.objective.latent_sigma_floor)

    def decode(self, z: torch.Tensor, ctx: ImageContext) -> torch.Tensor:
        """Per-pixel categorical logits (0, l) of the Bernoulli logit l: (…, rows, 2·C·H·W) in the pixel layout."""
        logits = self.nets.generator(z, ctx).flatten(-3)
        return torch.stack([torch.zeros_like(logits), logits], dim=-1).flatten(-2)

    def rec_log_prob(self, params: torch.Tensor, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """Σ_i w_i log p(x_i | params) per row: :func:`bernoulli_log_prob` on the pixel layout, else the layout's own.

        The pixel layout's generic categorical path (two logits per pixel, gathered, softmaxed, renormalised)
        computes the same guarded Bernoulli on twice the elements in many more passes; validation IWAE spent
        most of an FC MNIST epoch there. A subclass with another layout (CelebA's Gaussian) keeps its own.
        """
        if self.layout.n_real or not bool((self.layout.cat_sizes == 2).all()):
            return super().rec_log_prob(params, x, w)
        return bernoulli_log_prob(params[..., 1::2], x, w, self.objective.min_prob)

    def pixel_probs(self, x: torch.Tensor, b: torch.Tensor, n: int, generator: torch.Generator | None = None,
                    z_mean: bool = False) -> torch.Tensor:
        """p(x_i = 1 | z_s, x_{1-b}, b) for ``n`` prior draws z_s: (n, rows, C, H, W); ``z_mean`` uses μ_ψ.

        The noise is drawn on the generator's device and moved to the model's, so a CPU generator gives the same
        draws whether the model is on the CPU or a GPU (as :mod:`vaeac_bench.image_nll` does).
        """
        batch = image_batch(x)
        bf = b.flatten(1).to(batch.x.dtype)
        mu, sig, ctx = self.prior(batch, bf)
        if sig is None or z_mean:
            z = mu.expand(n, *mu.shape)
        else:
            on = generator.device if generator is not None else mu.device
            eps = torch.randn((n, *mu.shape), generator=generator, dtype=mu.dtype, device=on)
            z = mu + sig * eps.to(mu.device)
        return torch.sigmoid(self.nets.generator(z, ctx))


class EstimatorView(nn.Module):
    """The :mod:`vaeac_bench.image_nll` interface over an :class:`ImageVAEACModel` (same likelihood and guards)."""

    def __init__(self, model: ImageVAEACModel):
        super().__init__()
        self.model = model

    def prior(self, x: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, ImageContext]:
        """μ_ψ, σ_ψ and the generator context for images x and masks b (rows, C, H, W)."""
        mu, sig, ctx = self.model.prior(image_batch(x), b.flatten(1))
        if sig is None:
            raise RuntimeError("the delta prior has no sampling distribution; its MC estimate is exact with S=1")
        return mu, sig, ctx

    def proposal(self, x: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """μ_φ, σ_φ of q(z | x, b)."""
        return self.model.proposal(image_batch(x), b.flatten(1))

    def decode(self, z: torch.Tensor, ctx: ImageContext) -> torch.Tensor:
        """The model's pixel-layout parameters for latent draws z (…, rows, d)."""
        return self.model.decode(z, ctx)

    def log_likelihood(self, params: torch.Tensor, x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Σ over unobserved pixels of the model's (guarded) Bernoulli log-likelihood, per (sample, row)."""
        return self.model.rec_log_prob(params, x.flatten(1), b.flatten(1))


@dataclass(frozen=True)
class ImageTrainConfig:
    """Optimisation and validation schedule of an image VAEAC (reference values as defaults)."""

    epochs: int
    batch_size: int = 64
    lr: float = 3e-4  # reference Adam
    validation_samples: int = 25  # reference IWAE K
    validate_every: int = 1
    mode: str = "fast"  # fused Adam (make_optimizer); validation masks and noise fixed (common random numbers)

    def __post_init__(self) -> None:
        if min(self.epochs, self.batch_size, self.validation_samples, self.validate_every) < 1:
            raise ValueError(f"epochs, batch_size, validation_samples and validate_every must be >= 1, got {self}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}")


def train_image_model(model: ImageVAEACModel, train: np.ndarray, val: np.ndarray, mask_fn: MaskFn,
                      cfg: ImageTrainConfig, seed: int, *, checkpoint: str | os.PathLike | None = None,
                      verbose: bool = False) -> LoopResult:
    """Fit ``model`` on binary ``train`` images (N, C, H, W) with masks from ``mask_fn``; best epoch restored.

    Masks are drawn fresh for every batch from a seeded numpy generator (kept in the checkpoint, so a resumed run
    continues the same stream); the validation masks and noise are drawn once (common random numbers). The
    validation score is the mean IWAE (18), or MC (17) for GSNN, with ``model.eval()`` (BatchNorm statistics).
    """
    if train.ndim != 4 or val.ndim != 4 or train.shape[1:] != model.image_shape or val.shape[1:] != train.shape[1:]:
        raise ValueError(f"train and val must be (N, {', '.join(map(str, model.image_shape))}) images, got "
                         f"{train.shape} and {val.shape}")
    if len(train) < 1 or len(val) < 1:
        raise ValueError("train and val need at least one image each (pass a larger max_train / max_val)")
    device = next(model.parameters()).device
    _, h, w = model.image_shape
    ss = np.random.SeedSequence(seed)
    torch_seed, val_seed, mask_seed = (int(s.generate_state(1)[0]) for s in ss.spawn(3))
    gen = torch.Generator(device=device).manual_seed(torch_seed)
    mask_rng = np.random.default_rng(mask_seed)
    xt = torch.as_tensor(train, dtype=torch.float32, device=device)
    val_b = torch.as_tensor(mask_fn(len(val), h, w, np.random.default_rng(val_seed)), device=device)
    val_b = val_b.reshape(len(val), -1).float().repeat(1, model.image_shape[0])
    val_data = image_batch(torch.as_tensor(val, dtype=torch.float32, device=device))
    val_gen = torch.Generator(device=device)
    opt = make_optimizer(model, replace_cfg(cfg))
    n, bs = len(train), cfg.batch_size

    def step(epoch: int) -> torch.Tensor:
        model.train()
        perm = torch.randperm(n, generator=gen, device=device)
        total = torch.zeros((), device=device)
        n_batches = max(1, -(-n // bs))
        for k in range(n_batches):
            idx = perm[k * bs:(k + 1) * bs]
            b = torch.as_tensor(mask_fn(len(idx), h, w, mask_rng), device=device).reshape(len(idx), -1).float()
            b = b.repeat(1, model.image_shape[0])
            loss = model.loss(image_batch(xt[idx]), b, gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach()
        return total / n_batches

    def score(epoch: int) -> float:
        model.eval()  # BatchNorm running statistics: a score must not depend on its batch
        try:
            return validation_score(model, val_data, val_b, cfg.validation_samples, val_gen.manual_seed(val_seed),
                                    max_rows=max(cfg.validation_samples, 4096))
        finally:
            model.train()

    key = json.dumps({"cfg": repr(cfg), "seed": int(seed), "shape": list(train.shape), "network": model.network,
                      "arch": repr(model.arch), "objective": repr(model.objective)})
    res = fit_loop(step, max_epochs=cfg.epochs, score=score, validate_every=cfg.validate_every, keep=model,
                   state=LoopState(optimizers={"adam": opt}, generators={"train": gen}, rngs={"masks": mask_rng}),
                   checkpoint=checkpoint, key=key, verbose=verbose, desc=f"{model.network} image vaeac")
    model.eval()
    return res


def replace_cfg(cfg: ImageTrainConfig) -> Any:
    """The two fields :func:`make_optimizer` reads (``lr``, ``mode``), as a tabular-style config object."""
    from .training import TrainConfig

    return TrainConfig(epochs=cfg.epochs, lr=cfg.lr, mode=cfg.mode)


def default_arch(dataset: str, network: str, alpha: float) -> ConvArch | FCArch:
    """A.3's latent size per dataset (16 MNIST, 64 Omniglot) in the conv widths of ``CONV_ARCHS`` or the FC net."""
    base = CONV_ARCHS.get(dataset, ConvArch())
    arch: ConvArch | FCArch = base if network == "conv" else FCArch(latent_dim=base.latent_dim)
    return replace(arch, with_proposal=alpha > 0)
