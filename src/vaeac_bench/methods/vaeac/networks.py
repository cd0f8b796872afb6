"""VAEAC's three networks: proposal q(z|x,b), prior p(z|x_{1-b},b) and generator p(x_b|z,x_{1-b},b).

Default architecture = the authors' tabular networks (reference code facts §1.3, §4.1): every network is
Linear(in→256) + LeakyReLU followed by 10 residual blocks ``x + LReLU(Linear(x))``; the latent heads are
Linear(256→2·64). The generator maps z through Linear(64→256) + LReLU and 11 residual blocks, block i
concatenating the prior's activation "#(10-i)" (U-Net order: the deepest first, A.1's prior→generator
skip connections), and its output layer also sees the prior's raw input. The prior's saved activations
are "#0".."#9" = the inputs of its blocks and "#10" = its last hidden state.

Skips are passed explicitly (a :class:`PriorContext` returned by the prior and handed to the generator)
rather than through the reference code's class-level memory dict, so two models never share state.

Fast path (``fused=True``): ``Linear(concat(h, s))`` is computed as ``h·Wₕᵀ + (s·Wₛᵀ + bias)`` with the
weight kept as its two blocks (:class:`~vaeac_bench.nn.SplitLinear`, same initial values as the
``nn.Linear`` it replaces). The bracket depends only on the row, not on the latent sample, so
it is computed once per row and broadcast over the S samples of z (IWAE validation, multiple imputation),
which halves the generator's cost there, and the concatenation copies disappear. ``fused=False`` runs the
literal concatenations (the reference-faithful mode); both compute the same function.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ...nn import ResidualMLP, SplitLinear, make_activation


@dataclass(frozen=True)
class ArchConfig:
    """Network shapes. ``hidden_sizes`` switches to plain MLP trunks (no residual blocks, no U-Net skips;
    the generator then reads ``concat(z, prior input)``), as in the synthetic experiment of appendix C.2."""

    width: int = 256
    depth: int = 10
    latent_dim: int = 64
    activation: str = "leaky_relu"
    skip_connections: bool = True
    hidden_sizes: tuple[int, ...] | None = None
    with_proposal: bool = True

    def __post_init__(self) -> None:
        if self.hidden_sizes is not None:
            if not self.hidden_sizes or min(self.hidden_sizes) < 1:
                raise ValueError(f"hidden_sizes must be positive widths, got {self.hidden_sizes!r}")
            if self.skip_connections:
                raise ValueError("skip_connections apply to the residual architecture; pass "
                                 "skip_connections=False with hidden_sizes")
        if self.width < 1 or self.depth < 0 or self.latent_dim < 1:
            raise ValueError(f"width, latent_dim must be >= 1 and depth >= 0 (got {self.width}, {self.latent_dim}, "
                             f"{self.depth})")


class Trunk(ResidualMLP):
    """The proposal/prior network: the shared :class:`~vaeac_bench.nn.ResidualMLP` with a Gaussian head (2d)."""

    def __init__(self, in_width: int, arch: ArchConfig):
        super().__init__(in_width, 2 * arch.latent_dim, width=arch.width, depth=arch.depth,
                         activation=arch.activation, hidden_sizes=arch.hidden_sizes)

    def forward(self, x: torch.Tensor, keep: bool = False) -> tuple[torch.Tensor, list[torch.Tensor]]:  # type: ignore[override]
        h, saved = self.features(x, keep)
        return self.head(h), saved


@dataclass
class PriorContext:
    """What the generator needs from the prior network for a batch of rows (explicit skip connections)."""

    prior_input: torch.Tensor
    saved: list[torch.Tensor] = field(default_factory=list)
    # fused path: per-row terms (bias included) of the generator's skip / conditioning matmuls
    terms: list[torch.Tensor] | None = None
    out_term: torch.Tensor | None = None
    in_term: torch.Tensor | None = None


class Generator(nn.Module):
    """p(x_b | z, x_{1-b}, b): latent z (S, rows, d) or (rows, d) -> distribution parameters.

    ``fused=True`` stores every concatenation layer as a :class:`~vaeac_bench.nn.SplitLinear` (the two
    weight blocks as separate parameters, initialised exactly like the ``nn.Linear`` they replace);
    ``fused=False`` keeps literal ``nn.Linear`` layers on concatenated inputs, like the reference code.
    """

    def __init__(self, prior_in: int, out_width: int, arch: ArchConfig, fused: bool = True):
        super().__init__()
        self.arch = arch
        self.fused = fused
        self.act = make_activation(arch.activation)
        d = arch.latent_dim

        def cat_linear(in_a: int, in_b: int, out: int) -> nn.Module:
            return SplitLinear(in_a, in_b, out) if fused else nn.Linear(in_a + in_b, out)

        if arch.hidden_sizes is None:
            w = arch.width
            self.skips = arch.skip_connections
            # with skips the generator's only tensor input is z (facts §1.2); otherwise it reads the prior input
            self.inp = nn.Linear(d, w) if self.skips else cat_linear(d, prior_in, w)
            n_blocks = arch.depth + 1
            self.blocks = nn.ModuleList(cat_linear(w, w, w) if self.skips else nn.Linear(w, w) for _ in range(n_blocks))
            self.out = cat_linear(w, prior_in, out_width) if self.skips else nn.Linear(w, out_width)
            self.residual = True
        else:
            sizes = tuple(reversed(arch.hidden_sizes))  # mirror of the encoders: 50-100-200-400 for C.2
            self.skips = False
            self.inp = cat_linear(d, prior_in, sizes[0])
            self.blocks = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True))
            self.out = nn.Linear(sizes[-1], out_width)
            self.residual = False

    def prepare(self, ctx: PriorContext) -> PriorContext:
        """Fused path: precompute the per-row halves (bias included) of the concatenation matmuls."""
        if not self.fused:
            return ctx
        if self.skips:
            n = len(self.blocks)
            ctx.terms = [blk.term(ctx.saved[n - 1 - i]) for i, blk in enumerate(self.blocks)]
            ctx.out_term = self.out.term(ctx.prior_input)
        else:
            ctx.in_term = self.inp.term(ctx.prior_input)
        return ctx

    def forward(self, z: torch.Tensor, ctx: PriorContext) -> torch.Tensor:
        return self._forward_fused(z, ctx) if self.fused else self._forward_concat(z, ctx)

    def _forward_fused(self, z: torch.Tensor, ctx: PriorContext) -> torch.Tensor:
        if self.skips:
            assert ctx.terms is not None and ctx.out_term is not None, "call prepare(ctx) first"
            h = self.act(self.inp(z))
            for blk, term in zip(self.blocks, ctx.terms, strict=True):
                h = h + self.act(blk.apply(h, term))
            return self.out.apply(h, ctx.out_term)
        assert ctx.in_term is not None, "call prepare(ctx) first"
        h = self.act(self.inp.apply(z, ctx.in_term))
        for blk in self.blocks:
            h = h + self.act(blk(h)) if self.residual else self.act(blk(h))
        return self.out(h)

    def _forward_concat(self, z: torch.Tensor, ctx: PriorContext) -> torch.Tensor:
        def bcast(t: torch.Tensor) -> torch.Tensor:
            return t.expand(*z.shape[:-1], t.shape[-1]) if z.dim() > t.dim() else t

        if self.skips:
            n = len(self.blocks)
            h = self.act(self.inp(z))
            for i, blk in enumerate(self.blocks):
                h = h + self.act(blk(torch.cat([h, bcast(ctx.saved[n - 1 - i])], dim=-1)))
            return self.out(torch.cat([h, bcast(ctx.prior_input)], dim=-1))
        h = self.act(self.inp(torch.cat([z, bcast(ctx.prior_input)], dim=-1)))
        for blk in self.blocks:
            h = h + self.act(blk(h)) if self.residual else self.act(blk(h))
        return self.out(h)


class VAEACNetworks(nn.Module):
    """The proposal (optional: α = 0 never trains it), prior and generator of one VAEAC model."""

    def __init__(self, in_width: int, n_features: int, out_width: int, arch: ArchConfig, fused: bool = True):
        super().__init__()
        self.arch = arch
        prior_in = in_width + n_features  # one-hot x_{1-b} + mask b
        self.proposal = Trunk(in_width + 2 * n_features, arch) if arch.with_proposal else None  # + missing + b
        self.prior = Trunk(prior_in, arch)
        self.generator = Generator(prior_in, out_width, arch, fused)

    def run_prior(self, prior_input: torch.Tensor) -> tuple[torch.Tensor, PriorContext]:
        """Prior parameters (rows, 2d) and the context the generator needs."""
        params, saved = self.prior(prior_input, keep=self.generator.skips)
        return params, self.generator.prepare(PriorContext(prior_input, saved))
