"""Image networks of VAEAC (appendix A.1, A.3): convolutional ResNet proposal / prior / generator, and an FC one.

The networks mirror the tabular :class:`~vaeac_bench.methods.vaeac.networks.VAEACNetworks` interface:
``nets.proposal(input) -> (params, saved)``, ``nets.run_prior(prior_input) -> (params, ctx)``,
``nets.generator(z, ctx) -> logits``, with ``params`` of width 2·d (μ, raw σ) and ``z`` of shape (rows, d) or
(S, rows, d). Images are (rows, 1, H, W) float in {0, 1}; ``b`` (rows, 1, H, W) is 1 where a pixel is unobserved.

* proposal input: concat(x, b), 2 channels; prior input: concat(x ⊙ (1 − b), b) (reference facts §2);
* trunk (facts §2, scaled down for a CPU): a 1x1 conv into the first width, then per stage ``blocks`` full
  pre-activation bottleneck ResBlocks and a 2x2 average pool, down to a few pixels, then a linear head to 2·d;
* generator: a linear map of z to the deepest map, then per stage (deepest first) **concatenation** with the
  prior's saved activation of that resolution (A.1: skips concatenate, not add), a 1x1 conv, ResBlocks and a
  nearest upsampling to the next saved size; finally concat with the prior's input and a 1x1 conv to
  **Bernoulli logits** (A.3);
* He-uniform initialisation of the convolutions (A.1; the reference code keeps PyTorch's default), PyTorch's
  default for the linear layers and the output conv (:func:`he_uniform_`), drawn from an explicit
  ``torch.Generator``; BatchNorm everywhere in the ResBlocks, as the reference. Callers must put the
  module in ``eval()`` for validation and sampling (the reference never does, which makes a sample depend on
  the other images of its batch; see docs/images.md).

:class:`FCImageNetworks` is the one-hidden-layer fully connected variant that A.1 says is enough for MNIST.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .gaussian import LATENT_SIGMA_FLOOR, split_gaussian


@dataclass(frozen=True)
class ConvArch:
    """Widths per resolution stage (the first at full size, each next one after a 2x2 average pool)."""

    latent_dim: int = 16
    channels: tuple[int, ...] = (8, 16, 32, 64)
    blocks: int = 2
    with_proposal: bool = True

    def __post_init__(self) -> None:
        if self.latent_dim < 1 or self.blocks < 0 or not self.channels or min(self.channels) < 1:
            raise ValueError(f"latent_dim >= 1, blocks >= 0 and non-empty positive channels needed, got {self}")


#: A.3 latent sizes with CPU-sized widths: 28x28 (MNIST, omniglot28) goes 28-14-7-3; 105x105 goes 105-52-26-13-6-3.
CONV_ARCHS: dict[str, ConvArch] = {
    "mnist": ConvArch(16, (8, 16, 32, 64)),
    "omniglot28": ConvArch(64, (8, 16, 32, 64)),
    "omniglot": ConvArch(64, (8, 16, 32, 64, 128, 128)),
}


def stage_sizes(height: int, width: int, n_stages: int) -> list[tuple[int, int]]:
    """Spatial size of every stage (floor halving, as ``AvgPool2d(2)``); raises if an image is too small."""
    sizes = [(height, width)]
    for _ in range(n_stages - 1):
        h, w = sizes[-1]
        sizes.append((h // 2, w // 2))
    if min(sizes[-1]) < 1:
        raise ValueError(f"a {height}x{width} image is too small for {n_stages} stages; pass fewer channels")
    return sizes


class ResBlock(nn.Module):
    """Full pre-activation bottleneck ResBlock(outer, inner) of the reference (nn_utils.py, facts §2)."""

    def __init__(self, outer: int, inner: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.BatchNorm2d(outer), nn.LeakyReLU(), nn.Conv2d(outer, inner, 1),
            nn.BatchNorm2d(inner), nn.LeakyReLU(), nn.Conv2d(inner, inner, 3, padding=1),
            nn.BatchNorm2d(inner), nn.LeakyReLU(), nn.Conv2d(inner, outer, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


def _stage(ch: int, blocks: int) -> nn.Sequential:
    return nn.Sequential(*(ResBlock(ch, max(1, ch // 2)) for _ in range(blocks)))


class ConvTrunk(nn.Module):
    """Proposal / prior network: image (rows, 2, H, W) -> latent parameters (rows, 2·d) and saved activations."""

    def __init__(self, in_ch: int, height: int, width: int, arch: ConvArch):
        super().__init__()
        ch = arch.channels
        self.sizes = stage_sizes(height, width, len(ch))
        self.inp = nn.Conv2d(in_ch, ch[0], 1)
        self.widen = nn.ModuleList(nn.Conv2d(a, b, 1) for a, b in zip(ch[:-1], ch[1:], strict=True))
        self.stages = nn.ModuleList(_stage(c, arch.blocks) for c in ch)
        h, w = self.sizes[-1]
        self.head = nn.Linear(ch[-1] * h * w, 2 * arch.latent_dim)

    def forward(self, x: torch.Tensor, keep: bool = False) -> tuple[torch.Tensor, list[torch.Tensor]]:
        saved = [x] if keep else []
        h = self.stages[0](self.inp(x))
        if keep:
            saved.append(h)
        for widen, stage in zip(self.widen, self.stages[1:], strict=True):
            h = stage(widen(F.avg_pool2d(h, 2)))
            if keep:
                saved.append(h)
        return self.head(F.leaky_relu(h).flatten(1)), saved


@dataclass
class ImageContext:
    """What the generator needs from the prior for a batch: its input ("#0") and its stage outputs."""

    prior_input: torch.Tensor
    saved: list[torch.Tensor] = field(default_factory=list)


def _broadcast(t: torch.Tensor, lead: tuple[int, ...]) -> torch.Tensor:
    """(rows, ...) -> (S·rows, ...) for z with leading sample dims ``lead`` = (S, rows)."""
    if len(lead) == 1:
        return t
    return t.unsqueeze(0).expand(*lead[:-1], *t.shape).reshape(-1, *t.shape[1:])


class ConvGenerator(nn.Module):
    """p(x_b | z, x_{1-b}, b): z (rows, d) or (S, rows, d) -> Bernoulli logits (…, out_ch, H, W)."""

    def __init__(self, prior_in: int, height: int, width: int, arch: ConvArch, out_ch: int = 1):
        super().__init__()
        ch = arch.channels
        self.sizes = stage_sizes(height, width, len(ch))
        h, w = self.sizes[-1]
        self.deep_shape = (ch[-1], h, w)
        self.inp = nn.Linear(arch.latent_dim, ch[-1] * h * w)
        # stage i (deepest first): concat(h with ch[i] channels, prior stage output ch[i]) -> 1x1 -> ch[i]
        self.merge = nn.ModuleList(nn.Conv2d(2 * c, c, 1) for c in ch)
        self.stages = nn.ModuleList(_stage(c, arch.blocks) for c in ch)
        self.narrow = nn.ModuleList(nn.Conv2d(b, a, 1) for a, b in zip(ch[:-1], ch[1:], strict=True))
        self.final = nn.Conv2d(ch[0] + prior_in, ch[0], 1)
        self.final_stage = _stage(ch[0], arch.blocks)
        self.out = nn.Conv2d(ch[0], out_ch, 1)

    def forward(self, z: torch.Tensor, ctx: ImageContext) -> torch.Tensor:
        lead = tuple(z.shape[:-1])
        h = F.leaky_relu(self.inp(z.reshape(-1, z.shape[-1]))).view(-1, *self.deep_shape)
        n = len(self.stages)
        for i in reversed(range(n)):
            h = self.stages[i](self.merge[i](torch.cat([h, _broadcast(ctx.saved[i + 1], lead)], dim=1)))
            if i > 0:
                h = F.interpolate(self.narrow[i - 1](h), size=self.sizes[i - 1], mode="nearest")
        h = self.final_stage(self.final(torch.cat([h, _broadcast(ctx.prior_input, lead)], dim=1)))
        out = self.out(F.leaky_relu(h))
        return out.view(*lead, *out.shape[1:])


class ConvImageNetworks(nn.Module):
    """Convolutional proposal (optional), prior and generator of an image VAEAC (A.1; latent size per A.3)."""

    def __init__(self, height: int, width: int, arch: ConvArch | None = None, *, channels: int = 1,
                 generator: torch.Generator | None = None):
        super().__init__()
        self.arch = arch or ConvArch()
        self.image_shape = (channels, height, width)
        prior_in = 2 * channels  # x_{1-b} and b
        self.proposal = ConvTrunk(2 * channels, height, width, self.arch) if self.arch.with_proposal else None
        self.prior = ConvTrunk(prior_in, height, width, self.arch)
        self.generator = ConvGenerator(prior_in, height, width, self.arch, channels)
        he_uniform_(self, generator)

    def run_prior(self, prior_input: torch.Tensor) -> tuple[torch.Tensor, ImageContext]:
        """Prior parameters (rows, 2d) and the skip-connection context the generator needs."""
        params, saved = self.prior(prior_input, keep=True)
        return params, ImageContext(prior_input, saved)


class FCTrunk(nn.Module):
    """One hidden layer: flattened image channels -> LReLU(Linear) -> Linear to 2·d."""

    def __init__(self, in_width: int, hidden: int, latent_dim: int):
        super().__init__()
        self.inp = nn.Linear(in_width, hidden)
        self.head = nn.Linear(hidden, 2 * latent_dim)

    def forward(self, x: torch.Tensor, keep: bool = False) -> tuple[torch.Tensor, list[torch.Tensor]]:
        return self.head(F.leaky_relu(self.inp(x.flatten(1)))), []


class FCGenerator(nn.Module):
    """One hidden layer on concat(z, prior input): the generator then sees x_{1-b} and b directly."""

    def __init__(self, latent_dim: int, prior_in: int, hidden: int, image_shape: tuple[int, int, int]):
        super().__init__()
        self.image_shape = image_shape
        self.inp = nn.Linear(latent_dim + prior_in, hidden)
        self.out = nn.Linear(hidden, math.prod(image_shape))

    def forward(self, z: torch.Tensor, ctx: ImageContext) -> torch.Tensor:
        """Logits (…, rows, C, H, W) for z (…, rows, d).

        ``inp(concat(z, cond))`` is computed as ``z·W_zᵀ + (cond·W_cᵀ + bias)``: the bracket depends on the row
        only, so it is computed once and broadcast over the S latent samples of IWAE, MC-10⁴ and sampling
        (the input layer's cost per sample drops from (d + 2·C·H·W) to d columns), and no concatenation of the
        expanded image is materialised. The weight stays one ``nn.Linear`` (same parameters and checkpoints).
        """
        lead = tuple(z.shape[:-1])
        d = z.shape[-1]
        weight = self.inp.weight
        cond_term = F.linear(ctx.prior_input.flatten(1), weight[:, d:], self.inp.bias)  # (rows, hidden)
        hidden = F.linear(z, weight[:, :d]) + cond_term
        logits = self.out(F.leaky_relu(hidden))
        return logits.view(*lead, *self.image_shape)


class FCImageNetworks(nn.Module):
    """The one-hidden-layer fully connected proposal, prior and generator A.1 says suffice on MNIST."""

    def __init__(self, height: int, width: int, latent_dim: int = 16, hidden: int = 256, *, channels: int = 1,
                 with_proposal: bool = True, generator: torch.Generator | None = None):
        super().__init__()
        if latent_dim < 1 or hidden < 1:
            raise ValueError(f"latent_dim and hidden must be >= 1, got {latent_dim}, {hidden}")
        self.image_shape = (channels, height, width)
        pix = channels * height * width
        self.latent_dim = latent_dim
        self.proposal = FCTrunk(2 * pix, hidden, latent_dim) if with_proposal else None
        self.prior = FCTrunk(2 * pix, hidden, latent_dim)
        self.generator = FCGenerator(latent_dim, 2 * pix, hidden, self.image_shape)
        he_uniform_(self, generator)

    def run_prior(self, prior_input: torch.Tensor) -> tuple[torch.Tensor, ImageContext]:
        """Prior parameters (rows, 2d) and the context (the prior's input) the generator needs."""
        params, _ = self.prior(prior_input)
        return params, ImageContext(prior_input)


def he_uniform_(module: nn.Module, generator: torch.Generator | None = None) -> None:
    """He-uniform convolutions (A.1), PyTorch-default linear layers and output conv, BatchNorm at (1, 0).

    A.1 prescribes He-uniform for the convolutional ResNet blocks only. The linear latent heads, the linear
    layers and the generator's output conv keep PyTorch's default U(±1/√fan_in) (as the reference code does
    everywhere): with He init there, the initial latent means and logits are several times larger (logit std
    ~15 at 28x28) and the first IWAE estimates overflow to millions of nats. Everything is drawn from
    ``generator``, never the global RNG; biases start at 0 for the convolutions.
    """
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    outputs = {id(m.out) for m in module.modules() if isinstance(m, ConvGenerator)}
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.Conv2d) and id(m) not in outputs:
                nn.init.kaiming_uniform_(m.weight, a=0.01, nonlinearity="leaky_relu", generator=generator)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.Linear | nn.Conv2d):
                bound = 1.0 / math.sqrt(m.weight[0].numel())
                m.weight.uniform_(-bound, bound, generator=generator)
                if m.bias is not None:
                    m.bias.uniform_(-bound, bound, generator=generator)
            elif isinstance(m, nn.BatchNorm2d):
                m.reset_parameters()


class BernoulliImageModel(nn.Module):
    """Adapter giving image networks the estimator interface (prior, proposal, decode, log-likelihood).

    Until :class:`~vaeac_bench.methods.vaeac.model.VAEACModel` takes image networks (see docs/images.md), this is
    what :mod:`vaeac_bench.image_nll` and the tests score. Images and masks are (rows, C, H, W) floats.
    """

    def __init__(self, nets: ConvImageNetworks | FCImageNetworks, latent_sigma_floor: float = LATENT_SIGMA_FLOOR):
        super().__init__()
        self.nets = nets
        self.latent_sigma_floor = latent_sigma_floor

    @staticmethod
    def prior_input(x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """concat(x ⊙ (1 − b), b): the prior never sees an unobserved pixel."""
        return torch.cat([x * (1.0 - b), b], dim=1)

    def prior(self, x: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, ImageContext]:
        """μ_ψ, σ_ψ of p(z | x_{1-b}, b) and the generator's context."""
        params, ctx = self.nets.run_prior(self.prior_input(x, b))
        mu, sigma = split_gaussian(params, self.latent_sigma_floor)
        return mu, sigma, ctx

    def proposal(self, x: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """μ_φ, σ_φ of q(z | x, b)."""
        if self.nets.proposal is None:
            raise RuntimeError("these networks have no proposal (GSNN, alpha=0): use the MC estimator")
        params, _ = self.nets.proposal(torch.cat([x, b], dim=1))
        return split_gaussian(params, self.latent_sigma_floor)

    def decode(self, z: torch.Tensor, ctx: ImageContext) -> torch.Tensor:
        """Bernoulli logits (…, C, H, W) for latent draws z (…, rows, d)."""
        return self.nets.generator(z, ctx)

    @staticmethod
    def log_likelihood(logits: torch.Tensor, x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Σ over unobserved pixels of log Bernoulli(x | sigmoid(logits)) (A.3), one value per (sample, row)."""
        ll = -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none")
        return (ll * b).flatten(-3).sum(-1)
