"""GAIN (Yoon et al., 2018): as its authors' code does it, and as the VAEAC paper modified it (appendix A.4).

Both variants share one adversarial training loop: a generator G fills the missing cells of
x~ = m*x + (1-m)*z (z small uniform noise), a discriminator D guesses, per feature, which cells were
observed, helped by a hint h about the true mask m. They differ in what ``variant`` switches:

``"original"`` (jsyoon0823/GAIN, ``reference-code-facts.md`` section 5)
    every column (categorical codes included) min-max scaled to [0, 1] with the 1e-6 guard; sigmoid
    outputs; reconstruction alpha * mean((m*x - m*G)^2) / mean(m); hint h = m * Bernoulli(0.9); a fixed
    number of iterations; columns with < 20 distinct observed values rounded at the end.
``"modified"`` (the paper's appendix A.4, the GAIN column of tables 1, 2, 10, 11)
    categorical columns one-hot with a softmax output block; reconstruction loss (12): squared error
    for real columns, 0.2 * CE / K + 0.8 * L2 / K for categorical ones; alpha = 10; hint
    h = b*m + 0.5(1-b), b ~ Bernoulli(0.01); 5% of the observed cells held out to choose the number of
    iterations (best checkpoint).

Multiple imputation (§5.1, n = 10) draws fresh generator noise for every imputation.
Deliberate differences from the authors' code are listed in ``docs/gain_um.md``. The training step writes its
gradients out by hand (the networks are tiny, so autograd's bookkeeping dominated; issue 12): the same losses,
draws and Adam updates, equal to autograd's gradients to float32 rounding (``docs/performance.md``).
"""

from __future__ import annotations

import json
import math
import os
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

from ..encoding import one_hot, widths
from ..fpenv import flush_denormals
from ..nn.harness import LoopState, fit_loop, resolve_device
from ..schema import Schema
from ..seeding import derive_seed
from .base import Imputer

VARIANTS = ("original", "modified")
MINMAX_EPS = 1e-6  # authors' utils.normalization: divide by (max - min + 1e-6)
LOG_EPS = 1e-8  # authors' gain.py: log(D + 1e-8)
ROUND_BELOW = 20  # authors' utils.rounding: columns with < 20 distinct values are rounded
# per-variant defaults (alpha, hint rate, hint form, held-out fraction)
DEFAULTS: dict[str, dict[str, Any]] = {
    # authors' main_letter_spam.py: alpha 100, hint 0.9, hint = m * B (hidden cells get 0), no validation
    "original": {"alpha": 100.0, "hint_rate": 0.9, "hint_fill": 0.0, "validation_fraction": 0.0},
    # appendix A.4: alpha 10, hint b*m + 0.5(1-b) with b ~ Bernoulli(0.01), 5% held out
    "modified": {"alpha": 10.0, "hint_rate": 0.01, "hint_fill": 0.5, "validation_fraction": 0.05},
}


def he_normal_mlp(n_in: int, n_hidden: int, n_out: int, generator: torch.Generator) -> nn.Sequential:
    """The authors' 3-layer MLP (two ReLU hidden layers) with He-normal weights and zero biases."""
    net = nn.Sequential(nn.Linear(n_in, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_hidden), nn.ReLU(),
                        nn.Linear(n_hidden, n_out))
    with torch.no_grad():
        for layer in net:
            if isinstance(layer, nn.Linear):
                # authors' "xavier_init" draws N(0, 2 / fan_in): He-normal (reference-code-facts §5)
                nn.init.normal_(layer.weight, 0.0, float(np.sqrt(2.0 / layer.in_features)), generator=generator)
                nn.init.zeros_(layer.bias)
    return net


def mlp_forward(net: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """``net(x)`` for a :func:`he_normal_mlp`, through the functional ops (the same numbers, without the ~6
    ``Module.__call__`` dispatches per pass that cost as much as GAIN's small matrix products: issue 12)."""
    l0, _, l1, _, l2 = net
    h = torch.relu(torch.nn.functional.linear(x, l0.weight, l0.bias))
    h = torch.relu(torch.nn.functional.linear(h, l1.weight, l1.bias))
    return torch.nn.functional.linear(h, l2.weight, l2.bias)


def mlp_forward_saved(net: nn.Sequential, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`mlp_forward` that also returns the two hidden ReLU outputs its backward pass needs."""
    l0, _, l1, _, l2 = net
    r1 = torch.relu(torch.nn.functional.linear(x, l0.weight, l0.bias))
    r2 = torch.relu(torch.nn.functional.linear(r1, l1.weight, l1.bias))
    return torch.nn.functional.linear(r2, l2.weight, l2.bias), r1, r2


def mlp_backward(net: nn.Sequential, x: torch.Tensor, r1: torch.Tensor, r2: torch.Tensor, d_out: torch.Tensor,
                 input_cols: int = 0, params: bool = True,
                 out: list[torch.Tensor] | None = None) -> tuple[list[torch.Tensor], torch.Tensor | None]:
    """Backward pass of :func:`mlp_forward_saved`: the parameter gradients (in ``net.parameters()`` order; empty
    when ``params`` is False) and the gradient of the first ``input_cols`` input columns (None when 0).

    ``out`` (one contiguous tensor per parameter, e.g. :attr:`FlatAdam.grads`) receives the parameter gradients
    in place, so no step allocates them."""
    l0, _, l1, _, l2 = net
    d_z2 = torch.ops.aten.threshold_backward(d_out @ l2.weight, r2, 0)
    d_z1 = torch.ops.aten.threshold_backward(d_z2 @ l1.weight, r1, 0)
    grads: list[torch.Tensor] = []
    if params and out is None:
        grads = [d_z1.t() @ x, d_z1.sum(0), d_z2.t() @ r1, d_z2.sum(0), d_out.t() @ r2, d_out.sum(0)]
    elif params:
        for (a, b), o in zip(((d_z1, x), (d_z2, r1), (d_out, r2)), (out[0::2]), strict=True):
            torch.mm(a.t(), b, out=o)
        for a, o in zip((d_z1, d_z2, d_out), out[1::2], strict=True):
            torch.sum(a, 0, out=o)
        grads = out
    return grads, (d_z1 @ l0.weight[:, :input_cols] if input_cols else None)


class FlatAdam:
    """Adam (Kingma & Ba 2015; ``torch.optim.Adam``'s update rule and defaults) over one flat buffer that holds every
    parameter of a network, with a flat gradient buffer to write into (:attr:`grads`, one view per parameter).

    GAIN's networks are a few ten thousand weights: ``torch.optim.Adam`` spent more time in its per-step Python and
    per-tensor dispatch than in the update (issue 12 §5); here a step is six passes over one buffer each.
    The parameters become views of the buffer, so the module's own ``state_dict`` and ``load_state_dict`` still
    work. ``state_dict`` / ``load_state_dict`` make it a checkpointable optimiser for the training harness.
    """

    def __init__(self, params: list[nn.Parameter], lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8):
        self.lr, self.betas, self.eps, self.step_count = float(lr), betas, float(eps), 0
        self.flat = torch.cat([p.detach().reshape(-1) for p in params])
        self.grad = torch.zeros_like(self.flat)
        self.grads: list[torch.Tensor] = []
        start = 0
        for p in params:  # the parameters become views of the flat buffer (the same values)
            n = p.numel()
            p.data = self.flat[start:start + n].view_as(p)
            self.grads.append(self.grad[start:start + n].view_as(p))
            start += n
        self.exp_avg, self.exp_avg_sq = torch.zeros_like(self.flat), torch.zeros_like(self.flat)
        self._denom = torch.empty_like(self.flat)

    def step(self) -> None:
        """One Adam update from :attr:`grad`: lr/c1 * m / (sqrt(v)/sqrt(c2) + eps) with the bias corrections c1, c2
        (``torch.optim.Adam``'s rule), computed as lr sqrt(c2)/c1 * m / (sqrt(v) + eps sqrt(c2)), one pass less."""
        self.step_count += 1
        b1, b2 = self.betas
        self.exp_avg.lerp_(self.grad, 1 - b1)
        self.exp_avg_sq.mul_(b2).addcmul_(self.grad, self.grad, value=1 - b2)
        root_c2 = math.sqrt(1 - b2 ** self.step_count)
        torch.sqrt(self.exp_avg_sq, out=self._denom).add_(self.eps * root_c2)
        self.flat.addcdiv_(self.exp_avg, self._denom, value=-self.lr * root_c2 / (1 - b1 ** self.step_count))

    def state_dict(self) -> dict[str, Any]:
        """The moments and the step count (tensors and an int: loadable with ``weights_only=True``)."""
        return {"step": self.step_count, "exp_avg": self.exp_avg.clone(), "exp_avg_sq": self.exp_avg_sq.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s moments; a checkpoint of another optimiser is refused with the fix."""
        if not {"step", "exp_avg", "exp_avg_sq"} <= set(state) or state["exp_avg"].shape != self.flat.shape:
            raise ValueError("the GAIN checkpoint holds another optimiser's state (written by an older version); "
                             "delete the checkpoint file to train from the start")
        self.step_count = int(state["step"])
        self.exp_avg.copy_(state["exp_avg"])
        self.exp_avg_sq.copy_(state["exp_avg_sq"])


def gain_hint(m: torch.Tensor, rate: float, fill: float, generator: torch.Generator) -> torch.Tensor:
    """Hint h = b*m + fill*(1-b), b ~ Bernoulli(rate): fill 0 is the authors' code, 0.5 is A.4."""
    # fill + b*(m - fill) equals b*m + fill*(1-b) to the bit for b, m in {0, 1} and fill in {0, 0.5}, in three
    # vectorised ops (torch.where on a bool mask is several times slower on CPU: issue 12 §5)
    b = torch.rand(m.shape, generator=generator, device=m.device) < rate
    if fill == 0.0:
        return m * b
    return (m - fill).mul_(b).add_(fill)


class GAINImputer(Imputer):
    """GAIN imputer; ``variant`` picks the authors' original algorithm or the paper's A.4 modification.

    ``alpha``, ``hint_rate`` and ``validation_fraction`` default (``None``) to the variant's values: original
    alpha 100 (authors' default; table 7 sets 0.1..10), hint 0.9, no held-out cells; modified alpha 10,
    hint 0.01, 5% held out. ``hidden_dim=None`` uses the data width (authors: hidden width = dim).
    """

    multiple: ClassVar[bool] = True
    _POS_INT: ClassVar[list] = [Interval(Integral, 1, None, closed="left")]
    #: every constructor parameter's allowed values (scikit-learn's parameter validation, checked at fit)
    _parameter_constraints: ClassVar[dict[str, list]] = {
        "variant": [StrOptions(set(VARIANTS))], "alpha": [Interval(Real, 0, None, closed="left"), None],
        "hint_rate": [Interval(Real, 0, 1, closed="both"), None], "iterations": _POS_INT, "batch_size": _POS_INT,
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "noise_scale": [Interval(Real, 0, None, closed="left")], "hidden_dim": [*_POS_INT, None],
        "validation_fraction": [Interval(Real, 0, 1, closed="left"), None], "eval_every": _POS_INT,
        "max_extensions": [Interval(Integral, 0, None, closed="left")],
        "random_state": [Interval(Integral, 0, None, closed="left"), None], "device": [str, torch.device],
        "checkpoint": [str, os.PathLike, None], "verbose": ["verbose"],
    }

    def __init__(self, variant: str = "modified", alpha: float | None = None, hint_rate: float | None = None,
                 iterations: int = 10000, batch_size: int = 128, learning_rate: float = 1e-3,
                 noise_scale: float = 0.01, hidden_dim: int | None = None,
                 validation_fraction: float | None = None, eval_every: int = 100, max_extensions: int = 0,
                 random_state: int | None = None, device: str = "cpu", checkpoint: str | None = None,
                 verbose: int = 0):
        self.variant = variant
        self.alpha = alpha
        self.hint_rate = hint_rate
        self.iterations = iterations
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.noise_scale = noise_scale
        self.hidden_dim = hidden_dim
        self.validation_fraction = validation_fraction
        self.eval_every = eval_every
        self.max_extensions = max_extensions
        self.random_state = random_state
        self.device = device
        self.checkpoint = checkpoint
        self.verbose = verbose

    # -- hyper-parameters -----------------------------------------------------------------------------
    def _resolve(self) -> None:
        """Check every hyper-parameter and fill the variant defaults (stored as ``*_`` attributes)."""
        resolve_device(self.device)
        d = DEFAULTS[self.variant]
        self.alpha_ = float(d["alpha"] if self.alpha is None else self.alpha)
        self.hint_rate_ = float(d["hint_rate"] if self.hint_rate is None else self.hint_rate)
        self.hint_fill_ = float(d["hint_fill"])
        vf = d["validation_fraction"] if self.validation_fraction is None else self.validation_fraction
        self.validation_fraction_ = float(vf)

    def _not_config(self) -> set[str]:
        """Parameters that do not change results: the checkpoint path, and the harness options at their no-op
        defaults (so the cache keys of cells computed before the harness stay the same)."""
        return (super()._not_config() | {"checkpoint"}
                | {"max_extensions"} if self.max_extensions == 0 else set())

    def _seed(self, *keys: object) -> int:
        """A seed for one random stream, derived from ``random_state`` (or one fresh seed per fit)."""
        if not hasattr(self, "seed_"):
            rs = self.random_state
            self.seed_ = int(rs) if rs is not None else int(np.random.SeedSequence().generate_state(1)[0])
        return derive_seed("gain", self.seed_, *keys)

    # -- encoding ---------------------------------------------------------------------------------------
    def _layout(self, schema: Schema) -> None:
        """Column widths of the network layout: one per column (original) or one-hot blocks (modified)."""
        if self.variant == "original":
            self.widths_ = np.ones(len(schema), dtype=np.int64)
        else:
            self.widths_ = np.array(widths(schema), dtype=np.int64)
        self.offsets_ = np.concatenate([[0], np.cumsum(self.widths_)]).astype(np.int64)
        # vectorised per-block operations: the column each slot belongs to, which slots are categorical, and
        # the per-slot weights of eq. (12): CE 0.2/K and L2 0.8/K for a categorical slot, L2 1 for a real one
        col = np.repeat(np.arange(len(schema)), self.widths_)
        is_cat = schema.categorical_mask[col] & (self.variant == "modified")
        k = self.widths_[col].astype(np.float32)
        dev = resolve_device(self.device)
        self._slot_col = torch.as_tensor(col, device=dev)
        self._widths_t = torch.as_tensor(self.widths_, device=dev)  # built once, not at every step
        self._one_slot, self._width = bool((self.widths_ == 1).all()), int(self.offsets_[-1])
        self._slot_cat = torch.as_tensor(is_cat, device=dev)
        # Python flags, so no step reads a tensor back to decide a branch
        self._any_cat, self._all_cat = bool(is_cat.any()), bool(is_cat.all())
        self._w_ce = torch.as_tensor(np.where(is_cat, 0.2 / k, 0.0), dtype=torch.float32, device=dev)
        self._w_l2 = torch.as_tensor(np.where(is_cat, 0.8 / k, 1.0), dtype=torch.float32, device=dev)
        self._w_l2x2 = 2.0 * self._w_l2  # the factor of the L2 term's derivative, once (the same float32 product)
        self._assign = torch.zeros(len(col), len(schema), device=dev)
        self._assign[torch.arange(len(col)), self._slot_col] = 1.0  # slot -> column summing matrix
        # 0/1 float masks and the slot counts per column: masks as products and block maxima as a segment
        # reduction are several times faster on CPU than torch.where and scatter_reduce (issue 12 §5)
        self._cat_f, self._real_f = self._slot_cat.float(), (~self._slot_cat).float()
        self._seg = self._widths_t.unsqueeze(0)

    def _encode(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scaled data in the network layout (missing -> 0) and the per-column observed mask m."""
        m = (~np.isnan(X)).astype(np.float32)
        S = (X - self.min_) / (self.max_ - self.min_ + MINMAX_EPS)  # utils.normalization
        # new rows may leave the training range (the authors normalise one matrix, so never do): clip to [0, 1]
        # so that, e.g., a value in a column that was constant in training cannot become 1e7 (docs/gain_um.md)
        S = np.clip(S, 0.0, 1.0)
        if self.variant == "original":
            wide = np.nan_to_num(S, nan=0.0)
        else:
            S = np.where(self.schema_.categorical_mask, X, S)  # categorical codes stay codes for one_hot
            wide = one_hot(S, self.schema_)
        return wide.astype(np.float32), m

    def _wide_mask(self, m: torch.Tensor) -> torch.Tensor:
        """The per-column mask repeated over each column's slots (itself when every column has one slot)."""
        if self._one_slot:
            return m
        return m.index_select(1, self._slot_col)

    def _generate(self, x: torch.Tensor, m: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """One generator pass: x~ = m*x + (1-m)*U(0, noise_scale), output through sigmoid / softmax."""
        x_tilde = self._noisy(x, 1 - self._wide_mask(m), generator)
        return self._activate(mlp_forward(self.G_, torch.cat([x_tilde, m], dim=1)))

    def _noisy(self, x: torch.Tensor, not_mw: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """x~ = m*x + (1-m)*z, z ~ U(0, noise_scale), as x + noise_scale * (1-m) * u: the encoding leaves missing
        cells 0, so this is the same float32 value for 0/1 masks, in one op (``not_mw``: the wide 1 - m)."""
        u = torch.rand(x.shape, generator=generator, device=x.device)
        return torch.addcmul(x, not_mw, u, value=float(self.noise_scale))

    def _activate(self, logits: torch.Tensor) -> torch.Tensor:
        """Sigmoid for real (and all original-variant) slots, a softmax over each categorical one-hot block."""
        if self.variant == "original" or not self._any_cat:
            return torch.sigmoid(logits)
        # softmax per column block, shifted by the block's max (a real column is a block of one slot, whose
        # "softmax" is 1 and is replaced by its sigmoid below); every block sum is >= 1, the max's exp(0)
        block_max = torch.segment_reduce(logits.detach(), "max", lengths=self._seg.expand(len(logits), -1), axis=1)
        e = torch.exp(logits - block_max.index_select(1, self._slot_col))
        soft = e / (e @ self._assign).index_select(1, self._slot_col)
        if self._all_cat:  # e.g. Mushroom: no real slot to blend in
            return soft
        return soft * self._cat_f + torch.sigmoid(logits) * self._real_f

    def _reconstruction(self, x: torch.Tensor, g: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """Mean over observed cells of the per-column reconstruction loss (MSE, or eq. (12) for categoricals)."""
        if self.variant == "original":
            # authors' gain.py: mean((m*x - m*G)^2) / mean(m)
            return torch.mean((m * x - m * g) ** 2) / torch.mean(m).clamp_min(LOG_EPS)
        # A.4 / eq. (12): categorical 0.2 * (-(1/K) sum_j x log x') + 0.8 * (1/K) sum_j (x' - x)^2 (for K = 2
        # the L2 part equals the binary (x - x')^2); real columns keep the squared error
        per_slot = self._w_ce * (-x * torch.log(g + LOG_EPS)) + self._w_l2 * (g - x) ** 2
        per_cell = per_slot @ self._assign
        return (m * per_cell).sum() / m.sum().clamp_min(1.0)

    def _reconstruction_grad(self, x: torch.Tensor, g: torch.Tensor, m: torch.Tensor, mw: torch.Tensor,
                             alpha: float) -> torch.Tensor:
        """``alpha`` times the gradient of :meth:`_reconstruction` with respect to ``g`` (``mw``: wide 0/1 mask)."""
        if self.variant == "original":  # d/dg of mean((m x - m g)^2) / mean(m), m in {0, 1}
            return (m * (g - x)) * ((2.0 * alpha / g.numel()) / torch.mean(m).clamp_min(LOG_EPS))
        # eq. (12): d/dg of w_ce (-x log(g + eps)) + w_l2 (g - x)^2 on observed slots (mw: the wide 0/1 mask),
        # over the observed cells
        per_slot = self._w_ce * x / (g + LOG_EPS) - self._w_l2x2 * (g - x)
        return per_slot.mul_(mw).mul_(-alpha / m.sum().clamp_min(1.0))

    def _activate_backward(self, g: torch.Tensor, d_g: torch.Tensor) -> torch.Tensor:
        """Gradient with respect to the logits of :meth:`_activate`'s output ``g``, given the gradient ``d_g``."""
        gd = d_g * g
        if self.variant == "original" or not self._any_cat:
            return gd * (1 - g)  # sigmoid
        # softmax block: g_j (d_j - sum over the block of d_i g_i); real slots are blocks of one, replaced below
        soft = gd - g * (gd @ self._assign).index_select(1, self._slot_col)
        return soft if self._all_cat else soft * self._cat_f + (gd * (1 - g)) * self._real_f

    # -- fitting ------------------------------------------------------------------------------------------
    def _fit(self, X: np.ndarray, schema: Schema) -> None:
        with flush_denormals():  # Adam's decaying moments turn denormal, which Intel CPUs compute slowly (fpenv)
            self._train(X, schema)

    def _train(self, X: np.ndarray, schema: Schema) -> None:
        """The fit under :func:`flush_denormals`: statistics, layout, held-out cells, then the adversarial loop."""
        self._resolve()
        if hasattr(self, "seed_"):
            del self.seed_
        self.schema_ = schema
        dev = resolve_device(self.device)
        # min-max statistics of the observed training cells (utils.normalization)
        self.min_ = np.nanmin(X, axis=0)
        self.max_ = np.nanmax(X, axis=0)
        self._layout(schema)
        # the rounding rule of utils.rounding, decided on the training data
        self.round_ = self._rounding_columns(X, schema)

        rng = np.random.default_rng(self._seed("fit"))
        gen = torch.Generator(device=dev).manual_seed(self._seed("torch"))
        X_train, held = self._hold_out(X, rng)

        width = int(self.offsets_[-1])
        n_feat = len(schema)
        hidden = int(self.hidden_dim) if self.hidden_dim is not None else width
        cpu_gen = torch.Generator().manual_seed(self._seed("init"))
        self.G_ = he_normal_mlp(width + n_feat, hidden, width, cpu_gen).to(dev)
        self.D_ = he_normal_mlp(width + n_feat, hidden, n_feat, cpu_gen).to(dev)
        # Adam (the authors' tf.train.AdamOptimizer defaults) over one flat buffer per network (issue 12 §5)
        opt_g = FlatAdam(list(self.G_.parameters()), lr=float(self.learning_rate))
        opt_d = FlatAdam(list(self.D_.parameters()), lr=float(self.learning_rate))

        wide, m = self._encode(X_train)
        wide_t, m_t = torch.as_tensor(wide, device=dev), torch.as_tensor(m, device=dev)  # moved once
        # one gather a step reads the batch's rows of the data and of every mask the step uses (m, 1 - m, the wide
        # mask and 1 - it): each op costs several microseconds however small (issue 12 §5), so the masks are built
        # once per fit, not per step. A table of 0/1 cells (one-hot categoricals and masks: Mushroom) is kept as
        # uint8, 4x smaller and converted exactly per batch.
        mw = np.repeat(m, self.widths_, axis=1)  # the wide mask, as _wide_mask builds it (host side)
        rows = np.concatenate([wide, m, 1 - m, mw, 1 - mw], axis=1)
        cuts = tuple(int(c) for c in np.cumsum([width, n_feat, n_feat, width]))
        exact_bytes = bool(np.array_equal(rows, rows.astype(np.uint8)))
        rows_t = torch.as_tensor(rows.astype(np.uint8) if exact_bytes else rows, device=dev)
        n_rows = wide_t.shape[0]
        batch = min(int(self.batch_size), n_rows)
        G, D, alpha = self.G_, self.D_, self.alpha_
        hint_rate, hint_fill = self.hint_rate_, self.hint_fill_
        inv_cells = 1.0 / (batch * n_feat)  # both adversarial losses are means over batch x features

        # Issue 12: one iteration is the authors' two sess.run calls (the same batch, hint, noise, losses and Adam
        # updates, D's step first), with the gradients written out instead of traced by autograd: GAIN's
        # networks are so small that autograd's per-op bookkeeping cost more than the products themselves.
        # tests/test_gain_speed.py checks every gradient against autograd on the losses as written.
        def step(it: int) -> None:
            # authors' sample_batch_index: a random batch without replacement
            idx = torch.as_tensor(rng.choice(n_rows, size=batch, replace=False), device=dev)
            rows = rows_t.index_select(0, idx).float()
            xb, mb, not_m, mw, not_mw = rows.tensor_split(cuts, dim=1)
            h = gain_hint(mb, hint_rate, hint_fill, gen)
            # G: x~ = m*x + (1-m)*z (the same draws as _generate), x^ = m*x + (1-m)*G(x~, m); the encoding's
            # missing cells are 0, so m*x + (1-m)*v is x + (1-m)*v
            g_in = torch.cat([self._noisy(xb, not_mw, gen), mb], 1)
            logits, g_r1, g_r2 = mlp_forward_saved(G, g_in)
            g = self._activate(logits)
            d_in = torch.cat([torch.addcmul(xb, not_mw, g), h], dim=1)
            # discriminator step on -mean[m log(D + eps) + (1-m) log(1 - D + eps)] (authors' gain.py)
            d_logit, r1, r2 = mlp_forward_saved(D, d_in)
            d = torch.sigmoid(d_logit)
            omd = torch.rsub(d, 1)  # 1 - d, once
            d_d = (not_m / (omd + LOG_EPS) - mb / (d + LOG_EPS)) * inv_cells
            mlp_backward(D, d_in, r1, r2, d_d * d * omd, out=opt_d.grads)
            opt_d.step()
            # generator step against the updated D: -mean[(1-m) log(D + eps)] + alpha * reconstruction
            d_logit, r1, r2 = mlp_forward_saved(D, d_in)
            d = torch.sigmoid(d_logit)
            d_d = not_m / (d + LOG_EPS) * -inv_cells
            d_x_hat = mlp_backward(D, d_in, r1, r2, d_d * d * torch.rsub(d, 1), input_cols=width, params=False)[1]
            # the adversarial gradient reaches G only through the missing slots of x^
            d_g = torch.addcmul(self._reconstruction_grad(xb, g, mb, mw, alpha), not_mw, d_x_hat)
            mlp_backward(G, g_in, g_r1, g_r2, self._activate_backward(g, d_g), out=opt_g.grads)
            opt_g.step()

        if held is not None:  # A.4's held-out cells: their rows, encoded once per fit
            val_rows = self._validation_rows(X_train, held)
            X_val, at = X_train[val_rows], torch.as_tensor(val_rows, device=dev)
            val_enc = (wide_t.index_select(0, at), m_t.index_select(0, at))

        def score(it: int) -> float:  # higher is better: minus the held-out error (A.4 picks the iteration)
            return -self._validation_score(X_val, encoded=val_enc)

        key = repr((self.config(), self.seed_, X.shape))
        def no_grad_step(it: int) -> None:
            with torch.no_grad():
                step(it)

        res = fit_loop(no_grad_step, max_epochs=int(self.iterations), score=score if held is not None else None,
                       validate_every=int(self.eval_every), max_extensions=int(self.max_extensions), keep=G,
                       state=LoopState(modules={"D": D}, optimizers={"G": opt_g, "D": opt_d},
                                       generators={"torch": gen}, rngs={"batches": rng}),
                       checkpoint=self.checkpoint, key=key, unit="iteration", verbose=bool(self.verbose),
                       desc=f"gain-{self.variant}")
        self.history_ = [(it, -s) for it, s in zip(res.val_epochs, res.val_scores, strict=True)]
        self.fit_info_ = res.info.to_dict()
        if self.fit_info_["best_score"] is not None:
            self.fit_info_["best_score"] = -self.fit_info_["best_score"]  # reported as the error it is
        self.best_iteration_ = res.info.best_epoch
        best = res.info.best_score
        self.validation_score_ = -float(best) if best is not None else float("nan")
        self.D_ = None  # not needed to impute; not saved

    def _rounding_columns(self, X: np.ndarray, schema: Schema) -> np.ndarray:
        """Columns the original variant rounds to integers: categoricals, and integer columns with < 20 values.

        The authors round every column with < 20 distinct values; we skip such a column when its observed
        values are not integers (rounding 0.25 / 0.5 steps to integers would destroy it) -- documented.
        """
        out = np.zeros(X.shape[1], dtype=bool)
        if self.variant != "original":
            return out
        for j, feat in enumerate(schema):
            col = X[~np.isnan(X[:, j]), j]
            out[j] = feat.is_categorical or (np.unique(col).size < ROUND_BELOW and bool(np.all(col == np.round(col))))
        return out

    def _hold_out(self, X: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
        """Hide a fraction of the observed cells (A.4: 5%) to score checkpoints; keep one cell per column."""
        frac = self.validation_fraction_
        if frac <= 0:
            return X, None
        obs = np.argwhere(~np.isnan(X))
        n_val = int(round(frac * len(obs)))
        if n_val == 0:
            return X, None
        pick = obs[rng.choice(len(obs), size=n_val, replace=False)]
        held = np.zeros(X.shape, dtype=bool)
        held[pick[:, 0], pick[:, 1]] = True
        for j in range(X.shape[1]):  # a column must keep at least one observed training cell
            left = ~np.isnan(X[:, j]) & ~held[:, j]
            if not left.any():
                held[np.where(held[:, j])[0][0], j] = False
        if not held.any():
            return X, None
        X_train = X.copy()
        X_train[held] = np.nan
        self.held_truth_ = X[held]
        return X_train, held

    def _validation_rows(self, X_train: np.ndarray, held: np.ndarray) -> np.ndarray:
        """The training rows that hold a held-out cell (only they are imputed to score a checkpoint), and per
        column what every validation reuses: its held cells among those rows, their truth, its observed std."""
        rows = np.flatnonzero(held.any(axis=1))
        truth = np.full(X_train.shape, np.nan)
        truth[held] = self.held_truth_
        self._held_columns = [(j, held[rows, j], truth[rows, j][held[rows, j]], feat.is_categorical,
                               0.0 if feat.is_categorical else float(np.nanstd(X_train[:, j])))
                              for j, feat in enumerate(self.schema_) if held[:, j].any()]
        return rows

    def _validation_score(self, X_rows: np.ndarray,
                          encoded: tuple[torch.Tensor, torch.Tensor] | None = None) -> float:
        """Mean over columns of NRMSE (real, observed-std scaled) or error rate (categorical) on held-out cells;
        ``X_rows`` are the rows :meth:`_validation_rows` picked (``encoded``: them in the network layout)."""
        imputed = self._impute(X_rows, 1, seed_key="validation", encoded=encoded)[0]
        errs = []
        for j, cells, t, is_cat, sd in self._held_columns:
            p = imputed[cells, j]
            if is_cat:
                errs.append(float(np.mean(np.rint(p) != t)))
            else:
                errs.append(float(np.sqrt(np.mean((p - t) ** 2)) / sd) if sd > 0 else 0.0)
        return float(np.mean(errs)) if errs else float("inf")

    # -- imputation ----------------------------------------------------------------------------------------
    def impute(self, X: np.ndarray, n: int = 1, stream: str = "impute") -> np.ndarray:
        """Return ``(n, rows, D)`` imputations of ``X``, fresh generator noise for each.

        ``stream`` names the random stream of the noise (derived from ``random_state``): the default is what the
        benchmark scores; another name gives other draws of the same model, e.g. one stream per seed of an image
        gallery (``ImageGAIN.sample_images``). The same name always gives the same draws.
        """
        if not isinstance(stream, str) or not stream:
            raise ValueError(f"stream must be a non-empty string naming a random stream, got {stream!r}")
        self._stream = stream
        try:
            return super().impute(X, n)
        finally:
            self._stream = "impute"

    def _impute(self, X: np.ndarray, n: int, seed_key: str | None = None,
                encoded: tuple[torch.Tensor, torch.Tensor] | None = None) -> np.ndarray:
        """``n`` imputations of ``X`` on stream ``seed_key`` (default: :meth:`impute`'s ``stream``); ``encoded`` =
        ``X`` already in the network layout on the device."""
        seed_key = seed_key or getattr(self, "_stream", "impute")
        with flush_denormals():  # the floating-point mode of training, so validation and test agree
            return self._draw(X, n, seed_key, encoded)

    def _draw(self, X: np.ndarray, n: int, seed_key: str,
              encoded: tuple[torch.Tensor, torch.Tensor] | None) -> np.ndarray:
        """The body of :meth:`_impute`: ``n`` generator passes with fresh noise, decoded to the suite layout."""
        dev = resolve_device(self.device)
        gen = torch.Generator(device=dev).manual_seed(self._seed(seed_key))
        if encoded is None:
            wide, m = self._encode(X)
            wide_t, m_t = torch.as_tensor(wide, device=dev), torch.as_tensor(m, device=dev)
        else:
            wide_t, m_t = encoded
        out = np.empty((n, *X.shape))
        self.G_.eval()
        with torch.no_grad():
            for k in range(n):  # multiple imputation: fresh generator noise for every imputation
                g = torch.cat([self._generate(wide_t[s:s + 4096], m_t[s:s + 4096], gen)
                               for s in range(0, len(X), 4096)]).cpu().numpy().astype(float)
                out[k] = self._decode(g)
        self.G_.train()
        return out

    def _decode(self, g: np.ndarray) -> np.ndarray:
        """Network layout -> suite layout: undo min-max, argmax one-hot blocks, apply the rounding rule."""
        scale = self.max_ - self.min_ + MINMAX_EPS
        out = np.empty((g.shape[0], len(self.schema_)))
        for j, feat in enumerate(self.schema_):
            block = g[:, self.offsets_[j]:self.offsets_[j + 1]]
            if self.variant == "modified" and feat.is_categorical:
                out[:, j] = block.argmax(axis=1)
            else:
                out[:, j] = block[:, 0] * scale[j] + self.min_[j]  # utils.renormalization
        if self.round_.any():  # utils.rounding (original variant); categorical codes also clipped to range
            out[:, self.round_] = np.round(out[:, self.round_])
            for j, feat in enumerate(self.schema_):
                if feat.is_categorical:
                    out[:, j] = np.clip(out[:, j], 0, feat.n_categories - 1)
        return out

    # -- persistence ---------------------------------------------------------------------------------------
    def _get_state(self) -> dict[str, np.ndarray]:
        state = {f"G.{k}": v.detach().cpu().numpy() for k, v in self.G_.state_dict().items()}
        state.update(min=self.min_, max=self.max_, round=self.round_, seed=np.array(self.seed_),
                     best_iteration=np.array(self.best_iteration_), validation_score=np.array(self.validation_score_),
                     fit_info=np.array(json.dumps(self.fit_info_)))
        return state

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self._resolve()
        self.seed_ = int(state["seed"])
        self.min_, self.max_ = np.asarray(state["min"]), np.asarray(state["max"])
        self.round_ = np.asarray(state["round"], dtype=bool)
        self.best_iteration_ = int(state["best_iteration"])
        self.validation_score_ = float(state["validation_score"])
        self.fit_info_ = json.loads(str(state["fit_info"])) if "fit_info" in state else {}
        self._layout(self.schema_)
        width, n_feat = int(self.offsets_[-1]), len(self.schema_)
        g_state = {k[2:]: torch.as_tensor(v) for k, v in state.items() if k.startswith("G.")}
        hidden = int(g_state["0.weight"].shape[0])
        self.G_ = he_normal_mlp(width + n_feat, hidden, width, torch.Generator().manual_seed(0))
        self.G_.load_state_dict(g_state)
        self.G_.to(resolve_device(self.device))
        self.D_ = None
