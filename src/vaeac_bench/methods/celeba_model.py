"""Gaussian image VAEAC for CelebA (issue 11; A.1, A.3, facts §2): the image VAEAC with a Gaussian likelihood.

:class:`GaussianImageVAEACModel` subclasses :class:`~vaeac_bench.methods.vaeac.image.ImageVAEACModel` (itself a
:class:`VAEACModel`), so objective (16), IWAE (18), MC (17) and the training loop are the shared code. What
changes for colour images:

* the likelihood (A.3: "logarithm of fully-factorized Gaussian distribution"): every pixel-channel is a real
  column of a :class:`FeatureLayout` with a learnt σ, so the tabular ``log_prob`` gives the Gaussian
  log-density with the reference σ floor 1e-2 (``GaussianLoss``, facts §2); the generator's last conv outputs
  3 μ and 3 raw σ channels (σ = softplus, as the tabular Gaussian);
* the networks: the released CelebA network's structure (facts §2) scaled from 128² to 64² by dropping its
  128² stage: widths 8-16-32-64-128-256-512 at 64-32-16-8-4-2-1 px, skips that concatenate, a latent of 64
  (A.3, the Yeh / GFC experiments). ``blocks`` ResBlocks per stage (the code has 4; fewer fit a CPU) and no
  MLPBlocks at 1×1 (deliberate: the CPU budget).

The inputs are channel-normalised images (A.3) and the mask is repeated over the 3 channels (facts §2).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch import nn

from ..nn import FeatureLayout
from ..nn.conv import ConvArch, ConvGenerator, he_uniform_
from ..nn.harness import LoopResult
from .vaeac.image import ImageTrainConfig, ImageVAEACModel, train_image_model
from .vaeac.model import ObjectiveConfig

#: the reference CelebA widths (facts §2) without the 128² stage: 64² -> 1² in 7 stages; A.3's 64 latents
CELEBA_CHANNELS = (8, 16, 32, 64, 128, 256, 512)


def celeba_arch(resolution: int = 64, blocks: int = 1, latent_dim: int = 64, alpha: float = 1.0) -> ConvArch:
    """The scaled reference network for ``resolution`` (64: 7 stages; 128: the reference's 8, width 8 at 128²)."""
    ch = CELEBA_CHANNELS if resolution == 64 else (8, *CELEBA_CHANNELS)
    return ConvArch(latent_dim, ch, blocks, with_proposal=alpha > 0)


def gaussian_layout(n_values: int) -> FeatureLayout:
    """Every pixel-channel a real column with a learnt σ (params: all μ, then all raw σ)."""
    if n_values < 1:
        raise ValueError(f"n_values must be >= 1, got {n_values}")
    idx = np.arange(n_values, dtype=np.int64)
    empty = np.zeros(0, dtype=np.int64)
    return FeatureLayout(n_values, idx, empty, empty, idx, np.full(n_values, -1, dtype=np.int64), learn_sigma=True)


class GaussianImageVAEACModel(ImageVAEACModel):
    """VAEAC / GSNN on normalised colour images with a per-pixel-channel Gaussian likelihood (A.3)."""

    def __init__(self, image_shape: tuple[int, int, int], arch: ConvArch, objective: ObjectiveConfig | None = None,
                 *, generator: torch.Generator | None = None, device: torch.device | str = "cpu",
                 channels_last: bool = True):
        """Conv networks for (C, H, W) images; the generator outputs C means and C raw σ per pixel.

        ``channels_last`` stores the conv weights NHWC, so every conv runs in that layout: 1.6× faster training
        steps on this CPU at equal losses (measured, docs/celeba.md).
        """
        if generator is None:
            generator = torch.Generator().manual_seed(0)
        super().__init__(image_shape, "conv", arch, objective, generator=generator, device="cpu", channels_last=False)
        c, h, w = self.image_shape
        self.nets.generator = ConvGenerator(2 * c, h, w, self.arch, out_ch=2 * c)
        he_uniform_(self.nets.generator, generator)
        # deliberate (docs/celeba.md): the output conv starts at zero, so the generator starts at μ = 0 (the mean
        # colour in normalised units) and σ = softplus(0); with the default init its outputs had std ~140 at 64²
        nn.init.zeros_(self.nets.generator.out.weight)
        nn.init.zeros_(self.nets.generator.out.bias)
        self.layout = gaussian_layout(c * h * w)
        self.nets.to(device)
        if channels_last:
            self.nets.to(memory_format=torch.channels_last)
        self._lt = self.layout.tensors(device)

    def decode(self, z: torch.Tensor, ctx: object) -> torch.Tensor:
        """(…, rows, 2·C·H·W): all means, then all raw σ, in the flattened (C, H, W) order of the pixels."""
        out = self.nets.generator(z, ctx)
        c = self.image_shape[0]
        return torch.cat([out[..., :c, :, :].flatten(-3), out[..., c:, :, :].flatten(-3)], dim=-1)

    def inpaint_means(self, x: torch.Tensor, b: torch.Tensor, n: int,
                      generator: torch.Generator | None = None) -> torch.Tensor:
        """Generator means μ_θ(z_s) for ``n`` prior draws z_s (n, rows, C, H, W): the reference inpainting."""
        from .vaeac.image import image_batch

        batch = image_batch(x)
        mu, sig, ctx = self.prior(batch, b.flatten(1).to(x.dtype))
        # drawn on the CPU (where ``generator`` lives), then moved: the same draws on every device
        z = mu.expand(n, *mu.shape) if sig is None else mu + sig * torch.randn(
            (n, *mu.shape), generator=generator, dtype=mu.dtype).to(mu.device)
        return self.nets.generator(z, ctx)[..., : self.image_shape[0], :, :]


def train_celeba(train: np.ndarray, val: np.ndarray, mask_fn: Any, *, alpha: float, epochs: int, batch_size: int,
                 lr: float, blocks: int, latent_dim: int, validation_samples: int, seed: int,
                 device: torch.device | str = "cpu", checkpoint: str | os.PathLike | None = None,
                 verbose: bool = False, stats: tuple[np.ndarray, np.ndarray] | None = None,
                 ) -> tuple[GaussianImageVAEACModel, np.ndarray, np.ndarray, LoopResult]:
    """Normalise [0, 1] faces by channel statistics (A.3) and train a Gaussian VAEAC / GSNN on them.

    ``stats`` (mean, std per channel) default to ``train``'s; pass the whole training split's when ``train`` is
    a subset, so every method scores in the same normalised space. Returns the model (best epoch restored), the
    channel mean and std, and the loop's result. Resumes from ``checkpoint`` (the shared harness,
    ``weights_only`` loads).
    """
    from ..datasets.celeba import channel_stats

    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1] (eq. 16), got {alpha!r}")
    mean, std = channel_stats(train) if stats is None else (np.asarray(stats[0]), np.asarray(stats[1]))
    arch = celeba_arch(int(train.shape[-1]), int(blocks), int(latent_dim), float(alpha))
    model = GaussianImageVAEACModel(tuple(train.shape[1:]), arch, ObjectiveConfig(alpha=float(alpha)),
                                    generator=torch.Generator().manual_seed(seed), device=device)
    cfg = ImageTrainConfig(epochs=int(epochs), batch_size=int(batch_size), lr=float(lr),
                           validation_samples=int(validation_samples))
    out = train_image_model(model, normalise(train, mean, std), normalise(val, mean, std), mask_fn, cfg, seed,
                            checkpoint=checkpoint, verbose=verbose)
    return model, mean, std, out


def normalise(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """[0, 1] images (N, C, H, W) -> per-channel standardised float32 values (A.3)."""
    return ((np.asarray(x, dtype=np.float32) - mean[:, None, None]) / std[:, None, None]).astype(np.float32)
