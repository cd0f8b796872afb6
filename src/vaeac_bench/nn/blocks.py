"""Small network building blocks shared by the neural imputers, and seeded initialisation.

Nothing here touches torch's global RNG: modules are created on the meta device and initialised with
an explicit :class:`torch.Generator` (:func:`build_seeded`), so two models built in one process never
interfere and the same seed gives the same weights.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "leaky_relu": lambda: nn.LeakyReLU(0.01),  # reference: nn.LeakyReLU() (slope 0.01)
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
}


def make_activation(name: str) -> nn.Module:
    """An activation module by name (one of :data:`ACTIVATIONS`)."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}") from None


class ResidualBlock(nn.Module):
    """``x + act(Linear(x))``: the reference code's fully connected residual block (facts §1.3)."""

    def __init__(self, width: int, activation: str = "leaky_relu"):
        super().__init__()
        self.linear = nn.Linear(width, width)
        self.act = make_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.act(self.linear(x))


class ResidualMLP(nn.Module):
    """Linear + act, ``depth`` :class:`ResidualBlock` s (or plain ``hidden_sizes`` layers), a linear head.

    The one fully connected trunk of the suite: VAEAC's proposal and prior networks (facts §1.3, head of
    width 2·latent) and the UM's network (§5.3, head = the likelihood parameters) are both this class.
    ``hidden_sizes`` switches to plain Linear + act layers of those widths (appendix C.2).
    :meth:`features` also returns the activations the VAEAC generator's skip connections read.
    """

    def __init__(self, n_in: int, n_out: int, width: int = 256, depth: int = 10, activation: str = "leaky_relu",
                 hidden_sizes: tuple[int, ...] | None = None):
        super().__init__()
        self.act = make_activation(activation)
        if hidden_sizes is None:
            self.inp = nn.Linear(n_in, width)
            self.layers = nn.ModuleList(ResidualBlock(width, activation) for _ in range(depth))
            last = width
            self.residual = True
        else:
            self.inp = nn.Linear(n_in, hidden_sizes[0])
            self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(hidden_sizes[:-1], hidden_sizes[1:],
                                                                         strict=True))
            last = hidden_sizes[-1]
            self.residual = False
        self.head = nn.Linear(last, n_out)

    def features(self, x: torch.Tensor, keep: bool = False) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The last hidden state and, with ``keep``, the input of every layer followed by that state."""
        h = self.act(self.inp(x))
        saved = []
        for layer in self.layers:
            if keep:
                saved.append(h)
            h = layer(h) if self.residual else self.act(layer(h))
        if keep:
            saved.append(h)
        return h, saved

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)[0])


class SplitLinear(nn.Module):
    """``Linear(concat(a, b))`` with its weight stored as the two blocks ``[W_a | W_b]``.

    ``term(b)`` = ``b·W_bᵀ + bias`` can be computed once and reused for many ``a`` (``apply(a, term)``),
    e.g. for several latent samples of one row, and no concatenation is materialised in either pass.
    Initialised exactly like ``nn.Linear(in_a + in_b, out)`` (see :func:`reset_linear_`).
    """

    def __init__(self, in_a: int, in_b: int, out_features: int):
        super().__init__()
        self.in_a, self.in_b, self.out_features = in_a, in_b, out_features
        self.in_features = in_a + in_b
        self.weight_a = nn.Parameter(torch.empty(out_features, in_a))
        self.weight_b = nn.Parameter(torch.empty(out_features, in_b))
        self.bias = nn.Parameter(torch.empty(out_features))

    def term(self, b: torch.Tensor) -> torch.Tensor:
        return F.linear(b, self.weight_b, self.bias)

    def apply(self, a: torch.Tensor, term: torch.Tensor) -> torch.Tensor:  # noqa: A003 - not Module.apply's use
        return F.linear(a, self.weight_a) + term

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.apply(a, self.term(b))


def reset_linear_(module: nn.Module, generator: torch.Generator) -> None:
    """PyTorch's default ``nn.Linear`` initialisation, drawn from ``generator``.

    Weights: Kaiming-uniform with a = √5, i.e. U(±1/√fan_in); biases: U(±1/√fan_in). The reference code
    keeps these defaults (no custom init, facts §1.3). A :class:`SplitLinear` draws its full weight matrix
    and then splits it, so it starts from the same values as the ``nn.Linear`` it stands for.
    """
    for m in module.modules():
        if isinstance(m, nn.Linear | SplitLinear):
            bound = 1.0 / math.sqrt(m.in_features) if m.in_features > 0 else 0.0
            with torch.no_grad():
                if isinstance(m, SplitLinear):
                    full = torch.empty(m.out_features, m.in_features, device=m.weight_a.device)
                    full.uniform_(-bound, bound, generator=generator)
                    m.weight_a.copy_(full[:, :m.in_a])
                    m.weight_b.copy_(full[:, m.in_a:])
                else:
                    m.weight.uniform_(-bound, bound, generator=generator)
                if m.bias is not None:
                    m.bias.uniform_(-bound, bound, generator=generator)
        elif any(True for _ in m.parameters(recurse=False)):
            raise TypeError(f"no seeded initialiser for {type(m).__name__}")


def build_seeded(factory: Callable[[], nn.Module], generator: torch.Generator,
                 device: torch.device | str = "cpu") -> nn.Module:
    """Build ``factory()`` without using the global RNG, then initialise it from ``generator``."""
    with torch.device("meta"):
        module = factory()
    module = module.to_empty(device=device)
    # the generator lives on the CPU so that the same seed gives the same weights on every device
    cpu = module.to("cpu") if torch.device(device).type != "cpu" else module
    reset_linear_(cpu, generator)
    return cpu.to(device)
