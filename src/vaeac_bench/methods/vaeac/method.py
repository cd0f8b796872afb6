"""The registry adapter: VAEAC, GSNN and NN as one :class:`~vaeac_bench.methods.base.Imputer`.

``alpha=1`` is VAEAC, ``alpha=0`` GSNN, ``0<alpha<1`` the hybrid of eq. (16), and ``alpha=0`` with
``delta_prior=True`` the deterministic NN of appendix D.2 (single imputation). Real columns are
standardised with the observed cells' mean and unbiased std (reference code facts §1.1) and modelled
with σ fixed at 1 (A.2), categorical columns one-hot with a categorical likelihood.
"""

from __future__ import annotations

import math
import os
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from ...encoding import Standardizer
from ...nn import ACTIVATIONS, FeatureLayout
from ...nn.harness import resolve_device
from ...schema import Schema
from ...seeding import derive_seed
from ..base import Imputer
from .estimators import iwae_log_likelihood, mc_log_likelihood
from .fast_sampler import sampler_for
from .model import Batch, ObjectiveConfig, VAEACModel
from .networks import ArchConfig
from .training import MODES, TrainConfig, TrainHistory, train

# default budget: about this many optimiser steps, within [MIN_EPOCHS, MAX_EPOCHS] epochs (docs/vaeac.md)
TARGET_STEPS = 6000
MIN_EPOCHS = 50
MAX_EPOCHS = 500
DEFAULT_VALIDATE_EVERY = 5  # fast mode: validation IWAE every 5 epochs (reference mode: every epoch)
DEFAULT_PATIENCE = 50  # fast mode: stop after 50 epochs without a better validation IWAE
DEFAULT_EXTENSIONS = 2  # fast mode: up to two +50% budget extensions while the best epoch is the last ones


def default_epochs(n_rows: int, batch_size: int = 64, validation_fraction: float = 0.25) -> int:
    """Epoch budget for a training set of ``n_rows`` (before the validation split).

    The reference README trains Yeast 300 epochs (about 6000 steps), Mushroom 50 and White wine 500. We
    aim at about :data:`TARGET_STEPS` optimiser steps, clipped to [MIN_EPOCHS, MAX_EPOCHS] epochs.
    """
    n_train = max(1, n_rows - math.ceil(n_rows * validation_fraction))
    steps_per_epoch = max(1, math.ceil(n_train / batch_size))
    return int(min(MAX_EPOCHS, max(MIN_EPOCHS, math.ceil(TARGET_STEPS / steps_per_epoch))))


class VAEACMethod(Imputer):
    """VAEAC / GSNN / hybrid / NN imputer (Ivanov et al., 2019), one model and one training loop.

    Architecture defaults are the reference code's (width 256, depth 10, latent 64, LeakyReLU, U-Net
    prior→generator skips); ``hidden_sizes`` switches to plain MLPs (appendix C.2). ``epochs=None`` picks
    :func:`default_epochs`. ``mode="reference"`` runs the authors' training schedule for comparison; the
    default ``"fast"`` computes the same model faster (see :mod:`.training`). ``sample_most_probable``
    returns the generator's mean / most probable category for each z drawn from the prior (the
    reference sampler); set it to False to sample x as well.
    """

    version = 1
    _POS_INT: ClassVar[list] = [Interval(Integral, 1, None, closed="left")]
    _FLAG: ClassVar[list] = ["boolean"]
    #: every constructor parameter's allowed values (scikit-learn's parameter validation, checked at fit)
    _parameter_constraints: ClassVar[dict[str, list]] = {
        "alpha": [Interval(Real, 0, 1, closed="both")], "delta_prior": _FLAG, "width": _POS_INT,
        "depth": [Interval(Integral, 0, None, closed="left")], "latent_dim": _POS_INT,
        "activation": [StrOptions(set(ACTIVATIONS))], "skip_connections": _FLAG, "hidden_sizes": ["array-like", None],
        "epochs": [*_POS_INT, None], "batch_size": _POS_INT, "lr": [Interval(Real, 0, None, closed="neither")],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")], "validation_samples": _POS_INT,
        "validate_every": _POS_INT, "patience": [*_POS_INT, None],
        "max_extensions": [Interval(Integral, 0, None, closed="left")],
        "mask_prob": [Interval(Real, 0, 1, closed="both"), "array-like"], "learn_sigma": _FLAG,
        "sample_most_probable": _FLAG, "standardize": _FLAG, "sigma_mu": [Interval(Real, 0, None, closed="left")],
        "sigma_sigma": [Interval(Real, 0, None, closed="left")], "mode": [StrOptions(set(MODES))], "bf16": _FLAG,
        "random_state": [Interval(Integral, 0, None, closed="left"), None], "device": [str, torch.device],
        "checkpoint": [str, os.PathLike, None], "verbose": ["verbose"],
    }

    def __init__(self, alpha: float = 1.0, delta_prior: bool = False, width: int = 256, depth: int = 10,
                 latent_dim: int = 64, activation: str = "leaky_relu", skip_connections: bool = True,
                 hidden_sizes: tuple[int, ...] | None = None, epochs: int | None = None, batch_size: int = 64,
                 lr: float = 3e-4, validation_fraction: float = 0.25, validation_samples: int = 25,
                 validate_every: int = DEFAULT_VALIDATE_EVERY, patience: int | None = DEFAULT_PATIENCE,
                 max_extensions: int = DEFAULT_EXTENSIONS, mask_prob: float = 0.2,
                 learn_sigma: bool = False, sample_most_probable: bool = True, standardize: bool = True,
                 sigma_mu: float = 1e4, sigma_sigma: float = 1e-4, mode: str = "fast", bf16: bool = False,
                 random_state: int | None = None, device: str = "cpu", checkpoint: str | None = None,
                 verbose: int = 0):
        self.alpha = alpha
        self.delta_prior = delta_prior
        self.width = width
        self.depth = depth
        self.latent_dim = latent_dim
        self.activation = activation
        self.skip_connections = skip_connections
        self.hidden_sizes = hidden_sizes
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.validation_fraction = validation_fraction
        self.validation_samples = validation_samples
        self.validate_every = validate_every
        self.patience = patience
        self.max_extensions = max_extensions
        self.mask_prob = mask_prob
        self.learn_sigma = learn_sigma
        self.sample_most_probable = sample_most_probable
        self.standardize = standardize
        self.sigma_mu = sigma_mu
        self.sigma_sigma = sigma_sigma
        self.mode = mode
        self.bf16 = bf16
        self.random_state = random_state
        self.device = device
        self.checkpoint = checkpoint
        self.verbose = verbose

    @property
    def multiple(self) -> bool:  # type: ignore[override]
        """NN (delta prior) is deterministic: a single imputation (D.2)."""
        return not self.delta_prior

    # -- configuration --------------------------------------------------------------------------------
    def _arch(self) -> ArchConfig:
        hs = tuple(int(h) for h in self.hidden_sizes) if self.hidden_sizes is not None else None
        return ArchConfig(width=int(self.width), depth=int(self.depth), latent_dim=int(self.latent_dim),
                          activation=self.activation, skip_connections=bool(self.skip_connections), hidden_sizes=hs)

    def _objective(self) -> ObjectiveConfig:
        return ObjectiveConfig(alpha=float(self.alpha), delta_prior=bool(self.delta_prior),
                               sigma_mu=float(self.sigma_mu), sigma_sigma=float(self.sigma_sigma))

    def _train_config(self, n_rows: int) -> TrainConfig:
        epochs = self.epochs if self.epochs is not None else default_epochs(n_rows, self.batch_size,
                                                                            self.validation_fraction)
        reference = self.mode == "reference"  # the authors' schedule: validate every epoch, no early stop
        return TrainConfig(epochs=int(epochs), batch_size=int(self.batch_size), lr=float(self.lr),
                           validation_fraction=float(self.validation_fraction),
                           validation_samples=int(self.validation_samples),
                           validate_every=1 if reference else int(self.validate_every),
                           patience=None if reference or self.patience is None else int(self.patience),
                           max_extensions=0 if reference else int(self.max_extensions),
                           mask_prob=_mask_prob(self.mask_prob), mode=self.mode, bf16=bool(self.bf16))

    def _build_model(self, schema: Schema, seed: int) -> VAEACModel:
        layout = FeatureLayout.from_schema(schema, learn_sigma=bool(self.learn_sigma))
        gen = torch.Generator().manual_seed(derive_seed(seed, "init"))
        fast = self.mode == "fast"
        return VAEACModel(layout, self._arch(), self._objective(), fused=fast, zero_latent_heads=fast, generator=gen,
                          device=resolve_device(self.device))

    # -- Imputer interface ----------------------------------------------------------------------------------
    def _fit(self, X: np.ndarray, schema: Schema) -> None:
        self._objective()  # validate alpha / delta_prior before any work
        seed = self.random_state
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        self.seed_ = int(seed)
        self.scaler_ = Standardizer().fit(X, schema) if self.standardize else _identity_scaler(X.shape[1])
        Xs = self.scaler_.transform(X)
        cfg = self._train_config(X.shape[0])
        self.model_ = self._build_model(schema, self.seed_)
        self.history_ = train(self.model_, Xs, cfg, derive_seed(self.seed_, "train"), verbose=self.verbose,
                              checkpoint=self.checkpoint)
        self.fit_info_ = dict(self.history_.fit_info)

    def _impute(self, X: np.ndarray, n: int) -> np.ndarray:
        Xs = self.scaler_.transform(X)
        samples = self.sample_standardised(Xs, n, seed=derive_seed(self.seed_, "impute"))
        return self.scaler_.inverse_transform(samples)

    def sample_standardised(self, Xs: np.ndarray, n: int, seed: int, max_rows: int = 65536,
                            most_probable: bool | None = None) -> np.ndarray:
        """``n`` imputations (n, rows, D) of standardised ``Xs`` (observed cells not copied back)."""
        model = self.model_
        dev = next(model.parameters()).device
        gen = torch.Generator(device=dev).manual_seed(int(seed))
        mp = self.sample_most_probable if most_probable is None else most_probable
        xt = torch.as_tensor(Xs, dtype=torch.float32, device=dev)
        chunk = max(1, max_rows // max(1, n))
        out = np.empty((n, *Xs.shape))
        draw = sampler_for(model)  # the leaner sampler where it applies: the same draws (issue 12 §6)
        with torch.inference_mode():
            for s in range(0, Xs.shape[0], chunk):
                batch = Batch.from_values(xt[s:s + chunk], model)
                out[:, s:s + chunk] = draw(batch, n, mp, gen).double().cpu().numpy()
        return out

    # -- likelihood --------------------------------------------------------------------------------------------
    def log_likelihood(self, X: np.ndarray, b: np.ndarray | None = None, n_samples: int = 25,
                       estimator: str = "iwae", random_state: int | None = 0) -> np.ndarray:
        """Per-row estimate of log p(x_b | x_{1-b}, b) in the data's units (eqs. 17, 18).

        ``b`` (bool, rows × D) marks the features to score (default: none beyond the truly missing ones, so
        pass it); NaN cells are marginalised out. The standardisation's Jacobian is subtracted so the values
        are densities of the original real values.
        """
        self._check_fitted()
        X = np.asarray(X, dtype=float)
        b = np.zeros(X.shape, dtype=bool) if b is None else np.asarray(b, dtype=bool)
        if b.shape != X.shape:
            raise ValueError(f"b has shape {b.shape}, X has {X.shape}")
        Xs = self.scaler_.transform(X)
        gen = torch.Generator(device=next(self.model_.parameters()).device)
        gen.manual_seed(derive_seed(self.seed_, "loglik", 0 if random_state is None else random_state))
        fn = {"iwae": iwae_log_likelihood, "mc": mc_log_likelihood}.get(estimator)
        if fn is None:
            raise ValueError(f"estimator must be 'iwae' or 'mc', got {estimator!r}")
        ll = fn(self.model_, Xs, b, n_samples, generator=gen)
        scored = b & ~np.isnan(X) & self.schema_.real_mask[None, :]
        return ll - (scored * np.log(self.scaler_.std_)[None, :]).sum(axis=1)

    # -- persistence ---------------------------------------------------------------------------------------------
    def _get_state(self) -> dict[str, np.ndarray]:
        state = {f"model.{k}": v.detach().cpu().numpy() for k, v in self.model_.state_dict().items()}
        state.update(self.scaler_.get_state())
        state["seed"] = np.array([self.seed_], dtype=np.int64)
        state.update(self.history_.to_arrays())
        return state

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.seed_ = int(state["seed"][0])
        self.scaler_ = Standardizer.from_state(state)
        self.history_ = TrainHistory.from_arrays(state)
        self.fit_info_ = dict(self.history_.fit_info)
        self.model_ = self._build_model(self.schema_, self.seed_)
        dev = next(self.model_.parameters()).device
        sd = {k[len("model."):]: torch.as_tensor(v, device=dev) for k, v in state.items() if k.startswith("model.")}
        self.model_.load_state_dict(sd)
        self.model_.eval()

    def _not_config(self) -> set[str]:
        """Parameters that do not change results: also the checkpoint path."""
        return super()._not_config() | {"checkpoint"}

    def config(self) -> dict[str, Any]:
        cfg = super().config()
        for key in ("hidden_sizes", "mask_prob"):
            if np.ndim(cfg["params"].get(key)) == 1:
                cfg["params"][key] = list(cfg["params"][key])
        return cfg


def _mask_prob(p: float | tuple[float, ...] | list[float]) -> float | tuple[float, ...]:
    return float(p) if np.ndim(p) == 0 else tuple(float(v) for v in p)


def _identity_scaler(d: int) -> Standardizer:
    s = Standardizer()
    s.mean_, s.std_ = np.zeros(d), np.ones(d)
    return s
