"""Universal Marginalizer (Douglas et al., 2017) with the VAEAC paper's training-mask fix (§5.3, appendix B.3).

One feed-forward network maps (x_{1-b}, b) to the parameters of p(x_i | x_{1-b}, b) for every feature i
(Gaussian with learnt sigma for real features, categorical for categorical ones) and is trained with
objective (10): the sum of log p(x_i | x_{1-b}, b) over the unobserved features whose value is known.

Sampling and likelihood use the chain rule (11) along a uniformly random permutation of the unobserved
features: |b| sequential network calls, batched over objects (:func:`sequential_sample`,
:func:`chain_rule_log_likelihood`).

Training masks (:func:`training_mask`):

* ``"naive"``: b ~ p(b) -- here the truly-missing cells plus MCAR(``missing_rate``), as VAEAC trains;
* ``"fixed"`` (B.3): b = b0 * b1 with b0 ~ p(b), u ~ U[0, 1] per object, b1 ~ Bernoulli(u)^D, so the
  network sees every number of unobserved features the chain rule asks for. Truly missing cells have no
  value to show, so they stay unobserved whatever b1 says (eq. (9)).

Encoding, the parameter layout and the masked mixed likelihood come from :mod:`vaeac_bench.nn` (shared
with VAEAC), and so do the residual MLP and the training loop (:mod:`vaeac_bench.nn.harness`). The network
is chosen by registered name (``network="mlp"``; :func:`register_network` adds one, called as
``factory(n_in, n_out, **network_kwargs)`` on the input ``concat(one-hot(x) * (1 - b), b)``), so the image
issue can reuse this class on MNIST (table 5): binary pixels are categorical features with K = 2, i.e. a
Bernoulli likelihood. No module is ever imported by name, so a saved model cannot run code.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

from ..encoding import Standardizer
from ..nn import (
    FeatureLayout,
    LayoutTensors,
    ResidualMLP,
    build_seeded,
    log_prob,
    observed_input,
    one_hot,
    sample,
)
from ..nn.harness import LoopState, fit_loop, resolve_device
from ..schema import Schema
from ..seeding import derive_seed
from ..validation import check_matrix
from .base import Imputer

MASK_TRAINING = ("naive", "fixed")
SAMPLING = ("sample", "most_probable")


# --- network --------------------------------------------------------------------------------------------
class InputClamp(nn.Module):
    """Clamp each input slot to the range seen in training before calling ``net``.

    Sequential sampling feeds the network's own outputs back in, and a test value far outside the training
    range (e.g. in a column that was constant in training, standardised with the 1e-9 std floor) would
    otherwise blow up every later step. Only the conditioning input is clamped, never a scored value.
    """

    def __init__(self, net: nn.Module, low: torch.Tensor, high: torch.Tensor):
        super().__init__()
        self.net = net
        self.register_buffer("low", low)
        self.register_buffer("high", high)

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        return self.net(torch.maximum(torch.minimum(inp, self.high), self.low))


def make_mlp(n_in: int, n_out: int, hidden: int = 256, depth: int = 10) -> nn.Module:
    """Default UM network: the shared residual MLP of the VAEAC reference prior net (width 256, 10 blocks)."""
    return ResidualMLP(n_in, n_out, width=hidden, depth=depth)


#: UM networks by name, each called as ``factory(n_in, n_out, **network_kwargs)``; a saved model names one of
#: these, never a module to import (issue 9 item 13). Add one with :func:`register_network`.
NETWORKS: dict[str, Callable[..., nn.Module]] = {"mlp": make_mlp}


def register_network(name: str, factory: Callable[..., nn.Module]) -> None:
    """Make ``factory`` available as ``UniversalMarginalizer(network=name)`` (e.g. a conv net for images)."""
    if not isinstance(name, str) or not name.isidentifier() or name in NETWORKS:
        raise ValueError(f"network name must be a new identifier, got {name!r} (known: {sorted(NETWORKS)})")
    if not callable(factory):
        raise ValueError(f"the factory registered as {name!r} must be callable")
    NETWORKS[name] = factory


def resolve_network(name: str) -> Callable[..., nn.Module]:
    """The registered factory called ``name``; anything else (e.g. ``"module:attr"``) is refused."""
    try:
        return NETWORKS[name]
    except (KeyError, TypeError):
        raise ValueError(f"network must be a registered name, one of {sorted(NETWORKS)}, got {name!r}; "
                         "register others with vaeac_bench.methods.um.register_network") from None


def um_input(x: torch.Tensor, b: torch.Tensor, lt: LayoutTensors) -> torch.Tensor:
    """Network input concat(one-hot(x) * (1 - b), b): what the UM sees of (x_{1-b}, b)."""
    return observed_input(one_hot(x, lt), b, lt)


# --- masks, objective, chain rule ------------------------------------------------------------------------
def training_mask(unknown: torch.Tensor, rate: float, mode: str,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Training mask b (1 = unobserved): naive b0 = unknown | MCAR(rate), fixed b = unknown | (b0 * b1) (B.3)."""
    if mode not in MASK_TRAINING:
        raise ValueError(f"mask_training must be one of {MASK_TRAINING}, got {mode!r}")
    u = torch.rand(unknown.shape, generator=generator, device=unknown.device)
    b0 = (u < rate) | unknown
    if mode == "naive":
        return b0.to(torch.float32)
    # B.3: u ~ U[0,1] per object, b1 ~ Bernoulli(u)^D, b = b0 * b1; unknown cells cannot be shown, so stay in b
    level = torch.rand(unknown.shape[0], 1, generator=generator, device=unknown.device)
    b1 = torch.rand(unknown.shape, generator=generator, device=unknown.device) < level
    return ((b0 & b1) | unknown).to(torch.float32)


def um_objective(net: nn.Module, lt: LayoutTensors, x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Objective (10) per object: sum over unobserved known features of log p(x_i | x_{1-b}, b)."""
    params = net(um_input(x, b, lt))
    return log_prob(params, x, b * (~torch.isnan(x)).to(b.dtype), lt)


def _permutation_order(b: torch.Tensor, generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row, its b=1 features first in uniformly random order (eq. (11)), and how many there are."""
    keys = torch.rand(b.shape, generator=generator, device=b.device)
    keys = torch.where(b > 0, keys, torch.full_like(keys, 2.0))
    return torch.argsort(keys, dim=1), b.sum(dim=1).long()


def sequential_sample(net: nn.Module, lt: LayoutTensors, x: torch.Tensor, b: torch.Tensor,
                      generator: torch.Generator | None = None, most_probable: bool = False) -> torch.Tensor:
    """Fill every b=1 cell of ``x`` by the chain rule (11): |b| sequential calls along a random permutation.

    Batched over objects: step j draws, for each row, its j-th unobserved feature from
    p(x_i | x_{1-b^(j)}, b^(j)) and writes it in; rows with fewer unobserved features finish earlier.
    """
    x, b = x.clone(), b.clone().to(x.dtype)
    order, count = _permutation_order(b, generator)
    rows = torch.arange(x.shape[0], device=x.device)
    n_steps = int(count.max().item()) if count.numel() else 0
    with torch.no_grad():
        for j in range(n_steps):
            active = count > j
            r, feat = rows[active], order[active, j]
            params = net(um_input(x[r], b[r], lt))
            draw = sample(params, lt, most_probable=most_probable, generator=generator)
            x[r, feat] = draw[torch.arange(len(r), device=x.device), feat]
            b[r, feat] = 0.0
    return x


def chain_rule_log_likelihood(net: nn.Module, lt: LayoutTensors, x: torch.Tensor, b: torch.Tensor,
                              generator: torch.Generator | None = None) -> torch.Tensor:
    """Per-object log p(x_b | x_{1-b}, b) by the chain rule (11) along a uniformly random permutation.

    Cells of ``b`` whose value is NaN are marginalised: they stay unobserved throughout and add nothing.
    """
    b = b.clone().to(x.dtype)
    known_b = b * (~torch.isnan(x)).to(x.dtype)
    order, count = _permutation_order(known_b, generator)
    rows = torch.arange(x.shape[0], device=x.device)
    total = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    n_steps = int(count.max().item()) if count.numel() else 0
    with torch.no_grad():
        for j in range(n_steps):
            active = count > j
            r, feat = rows[active], order[active, j]
            params = net(um_input(x[r], b[r], lt))
            pick = torch.zeros(len(r), x.shape[1], dtype=x.dtype, device=x.device)
            pick[torch.arange(len(r), device=x.device), feat] = 1.0
            total[r] += log_prob(params, x[r], pick, lt)
            b[r, feat] = 0.0
    return total


# --- the imputer -----------------------------------------------------------------------------------------
class UniversalMarginalizer(Imputer):
    """UM imputer: fits objective (10) with naive or B.3-fixed masks and imputes by sequential sampling.

    ``epochs=None`` runs ceil(``steps`` / batches per epoch) epochs clipped to [20, 500], so small and large
    tables get a comparable number of Adam steps; the epoch with the best validation objective (10) on
    ``validation_fraction`` of the rows (masks drawn once) is kept, as for VAEAC (A.2).
    ``sampling="sample"`` draws each feature from its learnt marginal (eq. (11)); ``"most_probable"`` takes
    its mean / mode, so imputations then differ only through the permutation.
    """

    multiple: ClassVar[bool] = True
    _POS_INT: ClassVar[list] = [Interval(Integral, 1, None, closed="left")]
    #: every constructor parameter's allowed values (scikit-learn's parameter validation, checked at fit)
    _parameter_constraints: ClassVar[dict[str, list]] = {
        "mask_training": [StrOptions(set(MASK_TRAINING))], "missing_rate": [Interval(Real, 0, 1, closed="both")],
        "hidden": _POS_INT, "depth": [Interval(Integral, 0, None, closed="left")], "epochs": [*_POS_INT, None],
        "steps": _POS_INT, "batch_size": _POS_INT, "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")], "learn_sigma": ["boolean"],
        "sampling": [StrOptions(set(SAMPLING))], "network": [str], "network_kwargs": [dict, None],
        "impute_batch": _POS_INT, "patience": [*_POS_INT, None],
        "max_extensions": [Interval(Integral, 0, None, closed="left")],
        "random_state": [Interval(Integral, 0, None, closed="left"), None], "device": [str, torch.device],
        "checkpoint": [str, os.PathLike, None], "verbose": ["verbose"],
    }

    def __init__(self, mask_training: str = "fixed", missing_rate: float = 0.2, hidden: int = 256, depth: int = 10,
                 epochs: int | None = None, steps: int = 5000, batch_size: int = 64, learning_rate: float = 3e-4,
                 validation_fraction: float = 0.25, learn_sigma: bool = True, sampling: str = "sample",
                 network: str = "mlp",
                 network_kwargs: dict | None = None, impute_batch: int = 16384, patience: int | None = None,
                 max_extensions: int = 0, random_state: int | None = None, device: str = "cpu",
                 checkpoint: str | None = None, verbose: int = 0):
        self.mask_training = mask_training
        self.missing_rate = missing_rate
        self.hidden = hidden
        self.depth = depth
        self.epochs = epochs
        self.steps = steps
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.learn_sigma = learn_sigma
        self.sampling = sampling
        self.network = network
        self.network_kwargs = network_kwargs
        self.impute_batch = impute_batch
        self.patience = patience
        self.max_extensions = max_extensions
        self.random_state = random_state
        self.device = device
        self.checkpoint = checkpoint
        self.verbose = verbose

    # -- checks -----------------------------------------------------------------------------------------
    def _check_params(self) -> None:
        """Check what ``_parameter_constraints`` cannot: the registered network name and the device.

        ``Imputer.fit`` and ``Imputer.load`` have already run ``_validate_params``.
        """
        resolve_network(self.network)
        resolve_device(self.device)

    def _not_config(self) -> set[str]:
        """Parameters that do not change results: the checkpoint path, and the harness options at their no-op
        defaults (so the cache keys of cells computed before the harness stay the same)."""
        return (super()._not_config() | {"checkpoint"}
                | ({"max_extensions"} if self.max_extensions == 0 else set())
                | ({"patience"} if self.patience is None else set()))

    def _seed(self, *keys: object) -> int:
        if not hasattr(self, "seed_"):
            rs = self.random_state
            self.seed_ = int(rs) if rs is not None else int(np.random.SeedSequence().generate_state(1)[0])
        return derive_seed("um", self.seed_, *keys)

    def _build(self, low: np.ndarray, high: np.ndarray) -> None:
        """Create the layout (learnt sigma per real feature) and the seeded network for the fitted schema.

        ``low``/``high``: per-column range of the standardised training values (the input clamp).
        """
        dev = resolve_device(self.device)
        self.layout_ = FeatureLayout.from_schema(self.schema_, learn_sigma=bool(self.learn_sigma))
        self.lt_ = self.layout_.tensors(dev)
        n_in, n_out = self.layout_.in_width + self.layout_.n_features, self.layout_.out_width
        kwargs = dict(self.network_kwargs or {})
        if self.network == "mlp":
            kwargs = {"hidden": int(self.hidden), "depth": int(self.depth), **kwargs}
        factory = resolve_network(self.network)
        gen = torch.Generator().manual_seed(self._seed("init"))
        try:  # PyTorch's default Linear init, drawn from our generator (nothing global is touched)
            self.net_ = build_seeded(lambda: factory(n_in, n_out, **kwargs), gen, dev)
        except TypeError:  # a custom factory with layers build_seeded cannot initialise
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self._seed("init"))
                self.net_ = factory(n_in, n_out, **kwargs).to(dev)
        src = self.layout_.src_col
        real_slot = self.layout_.level < 0
        lo = np.concatenate([np.where(real_slot, low[src], 0.0), np.zeros(self.layout_.n_features)])
        hi = np.concatenate([np.where(real_slot, high[src], 1.0), np.ones(self.layout_.n_features)])
        self.net_ = InputClamp(self.net_, torch.as_tensor(lo, dtype=torch.float32, device=dev),
                               torch.as_tensor(hi, dtype=torch.float32, device=dev))

    def _to_model(self, X: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(self.scaler_.transform(X), dtype=torch.float32, device=resolve_device(self.device))

    # -- fit ---------------------------------------------------------------------------------------------
    def _fit(self, X: np.ndarray, schema: Schema) -> None:
        self._check_params()
        if hasattr(self, "seed_"):
            del self.seed_
        self.schema_ = schema
        self.scaler_ = Standardizer().fit(X, schema)
        Z = self.scaler_.transform(X)
        self._build(np.nanmin(Z, axis=0), np.nanmax(Z, axis=0))
        dev = resolve_device(self.device)
        gen = torch.Generator(device=dev).manual_seed(self._seed("masks"))
        rng = np.random.default_rng(self._seed("rows"))

        data = self._to_model(X)
        n = data.shape[0]
        n_val = int(round(float(self.validation_fraction) * n)) if n >= 8 else 0
        perm = rng.permutation(n)
        val, tr = data[perm[:n_val]], data[perm[n_val:]]
        batch = min(int(self.batch_size), len(tr))
        per_epoch = int(np.ceil(len(tr) / batch))
        epochs = int(self.epochs) if self.epochs is not None else int(np.clip(np.ceil(self.steps / per_epoch), 20, 500))
        self.epochs_ = epochs
        rate = float(self.missing_rate)
        if n_val:  # validation masks drawn once from the training mask distribution (less noisy than redrawing)
            vgen = torch.Generator(device=dev).manual_seed(self._seed("validation"))
            val_b = training_mask(torch.isnan(val), rate, self.mask_training, vgen)
        opt = torch.optim.Adam(self.net_.parameters(), lr=float(self.learning_rate))

        def step(epoch: int) -> torch.Tensor:
            order = torch.as_tensor(rng.permutation(len(tr)), device=dev)
            self.net_.train()
            total = torch.zeros((), device=dev)
            for s in range(0, len(tr), batch):
                xb = tr[order[s:s + batch]]
                b = training_mask(torch.isnan(xb), rate, self.mask_training, gen)
                loss = -um_objective(self.net_, self.lt_, xb, b).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.detach()
            return total / per_epoch

        def score(epoch: int) -> float:
            self.net_.eval()
            with torch.no_grad():
                return float(torch.cat([um_objective(self.net_, self.lt_, val[s:s + 4096], val_b[s:s + 4096])
                                        for s in range(0, n_val, 4096)]).mean())

        key = repr((self.config(), self.seed_, X.shape))
        res = fit_loop(step, max_epochs=epochs, score=score if n_val else None, patience=self.patience,
                       max_extensions=int(self.max_extensions), keep=self.net_,
                       state=LoopState(optimizers={"adam": opt}, generators={"masks": gen}, rngs={"rows": rng}),
                       checkpoint=self.checkpoint, key=key, verbose=bool(self.verbose), desc="um")
        self.net_.eval()
        self.history_ = list(zip(res.val_epochs, res.val_scores, strict=True))
        self.fit_info_ = res.info.to_dict()
        self.best_epoch_ = res.info.best_epoch
        best = res.info.best_score
        self.validation_objective_ = float(best) if best is not None else float("nan")

    # -- impute / likelihood --------------------------------------------------------------------------------
    def _impute(self, X: np.ndarray, n: int) -> np.ndarray:
        dev = resolve_device(self.device)
        gen = torch.Generator(device=dev).manual_seed(self._seed("impute"))
        data = self._to_model(X)
        b = torch.isnan(data).to(torch.float32)
        # the n imputations of every row are sampled together: rows repeated n times, one permutation each
        x_rep, b_rep = data.repeat(n, 1), b.repeat(n, 1)
        step = int(self.impute_batch)
        mp = self.sampling == "most_probable"
        filled = torch.cat([sequential_sample(self.net_, self.lt_, x_rep[s:s + step], b_rep[s:s + step], gen, mp)
                            for s in range(0, len(x_rep), step)])
        out = filled.cpu().numpy().astype(float).reshape(n, *X.shape)
        return self.scaler_.inverse_transform(out)

    def log_likelihood(self, X: np.ndarray, mask: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
        """Chain-rule (11) log p(x_b | x_{1-b}, b) per row, in data units; ``mask`` = b (default: NaN cells).

        Masked cells should hold their true values (masked NaN cells are marginalised). Real features include
        the log-Jacobian of the standardisation, so the value is a log-density of the original data.
        """
        self._check_fitted()
        X = check_matrix(X, self.schema_, fitting=False)
        b_np = np.isnan(X) if mask is None else np.asarray(mask)
        if b_np.shape != X.shape:
            raise ValueError(f"mask has shape {b_np.shape} but X has shape {X.shape}; pass one 0/1 flag per cell")
        b_np = b_np.astype(bool) | np.isnan(X)  # an unknown value cannot be observed
        dev = resolve_device(self.device)
        gen = torch.Generator(device=dev).manual_seed(derive_seed("um-ll", int(seed)))
        data, b = self._to_model(X), torch.as_tensor(b_np, dtype=torch.float32, device=dev)
        ll = torch.cat([chain_rule_log_likelihood(self.net_, self.lt_, data[s:s + 4096], b[s:s + 4096], gen)
                        for s in range(0, len(X), 4096)]).cpu().numpy().astype(float)
        scored = b_np & ~np.isnan(X) & self.schema_.real_mask
        return ll - (scored * np.log(self.scaler_.std_)).sum(axis=1)

    # -- persistence ---------------------------------------------------------------------------------------
    def _get_state(self) -> dict[str, np.ndarray]:
        state = {f"net.{k}": v.detach().cpu().numpy() for k, v in self.net_.state_dict().items()}
        state.update(self.scaler_.get_state())
        state.update(seed=np.array(self.seed_), best_epoch=np.array(self.best_epoch_), epochs=np.array(self.epochs_),
                     validation_objective=np.array(self.validation_objective_),
                     fit_info=np.array(json.dumps(self.fit_info_)))
        return state

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self._check_params()
        self.seed_ = int(state["seed"])
        self.scaler_ = Standardizer.from_state(state)
        d = len(self.schema_)
        self._build(np.zeros(d), np.zeros(d))  # the clamp's real bounds are restored with the weights
        self.net_.load_state_dict({k[4:]: torch.as_tensor(v) for k, v in state.items() if k.startswith("net.")})
        self.net_.eval()
        self.best_epoch_ = int(state["best_epoch"])
        self.epochs_ = int(state["epochs"])
        self.validation_objective_ = float(state["validation_objective"])
        self.fit_info_ = json.loads(str(state["fit_info"])) if "fit_info" in state else {}
