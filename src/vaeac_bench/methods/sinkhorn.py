"""Optimal-transport imputation with batched Sinkhorn divergences (Muzellec, Josse, Boyer & Cuturi, ICML
2020, Algorithm 1: "one parameter equals one imputed value").

Missing cells are free parameters, initialised at their column's observed mean plus N(0, noise²) noise.
Each step draws two disjoint-in-expectation batches of rows from the current completed table and moves the
parameters down the gradient of the debiased Sinkhorn divergence between the batches (two batches of the
same distribution should be close in Wasserstein distance), with RMSprop. The authors' published defaults
(their ``OTimputer`` and experiments): batch size 128 (halved to a power of two when the table has fewer than
256 rows), learning rate 1e-2, 3000 iterations, noise 0.1, ``scaling`` 0.9, cost ``‖x - y‖²/2`` and blur
ε = 0.05 × the median of the pairwise half squared distances of the mean-imputed data (``pick_epsilon``).
The divergence is geomloss's ``SamplesLoss("sinkhorn")``, the library the authors used, an optional
dependency (extra ``comparators``).

Beyond the paper (numeric data only there): real columns are standardised and categoricals one-hot encoded
(``_tabular.OneHotLayout``), a categorical cell taking the argmax level. Rows not seen in training are
imputed by the same algorithm with the training rows (as fitted) fixed in the pool the batches are drawn
from and only the new rows' missing cells as parameters. Single imputation (one optimisation per call).
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.utils._param_validation import Interval

from ..schema import Schema
from ._tabular import OneHotLayout
from .base import Imputer

MAX_EPS_POINTS = 2000  # rows sampled to estimate the median pairwise distance (pick_epsilon's max_points)


def _samples_loss(blur: float, scaling: float):
    """geomloss's debiased Sinkhorn divergence, or an ImportError that names the extra to install."""
    try:
        from geomloss import SamplesLoss
    except ImportError:
        raise ImportError("SinkhornImputer needs geomloss (the optimal-transport library Muzellec et al. used): "
                          "pip install 'vaeac-bench[comparators]' (or pip install geomloss)") from None
    return SamplesLoss("sinkhorn", p=2, blur=blur, scaling=scaling, backend="tensorized")


def pick_epsilon(Z: np.ndarray, rng: np.random.Generator, quantile: float = 0.5, multiplier: float = 0.05) -> float:
    """``multiplier`` × the ``quantile`` of the non-zero pairwise half squared distances of mean-imputed ``Z``."""
    filled = np.where(np.isnan(Z), np.nanmean(Z, axis=0), Z)
    rows = rng.choice(len(filled), min(MAX_EPS_POINTS, len(filled)), replace=False)
    pts = filled[rows]
    d = (np.sum((pts[:, None, :] - pts[None, :, :]) ** 2, axis=2) / 2.0).ravel()
    d = d[d > 0]
    if d.size == 0:
        return multiplier  # every row identical: any positive blur will do
    return float(np.quantile(d, quantile)) * multiplier


def batch_size_for(n_rows: int, batch_size: int) -> int:
    """The authors' rule: a batch larger than half the rows becomes the largest power of two below it."""
    if batch_size > n_rows // 2:
        return int(2 ** int(np.log2(max(n_rows // 2, 1))))
    return batch_size


class SinkhornImputer(Imputer):
    """Muzellec et al.'s batch Sinkhorn imputer (their Algorithm 1 and defaults); single imputation."""

    multiple = False
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_iter": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "eps_quantile": [Interval(Real, 0, 1, closed="both")],
        "eps_multiplier": [Interval(Real, 0, None, closed="neither")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "scaling": [Interval(Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
    }

    def __init__(self, n_iter: int = 3000, batch_size: int = 128, lr: float = 1e-2, eps_quantile: float = 0.5,
                 eps_multiplier: float = 0.05, noise: float = 0.1, scaling: float = 0.9,
                 random_state: int | None = None):
        self.n_iter = n_iter
        self.batch_size = batch_size
        self.lr = lr
        self.eps_quantile = eps_quantile
        self.eps_multiplier = eps_multiplier
        self.noise = noise
        self.scaling = scaling
        self.random_state = random_state

    def _optimise(self, pool: np.ndarray, free: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Algorithm 1 on ``pool`` (no NaN outside ``free``): returns the pool with the ``free`` cells fitted."""
        import torch

        loss_fn = _samples_loss(self.epsilon_, float(self.scaling))
        gen = torch.Generator().manual_seed(int(rng.integers(2**63 - 1)))
        fixed = torch.from_numpy(np.where(free, 0.0, pool))
        mask = torch.from_numpy(free.astype(float))
        init = torch.from_numpy(self.means_).expand_as(fixed)
        params = (float(self.noise) * torch.randn(fixed.shape, generator=gen, dtype=torch.float64) + init)
        params.requires_grad_(True)
        opt = torch.optim.RMSprop([params], lr=float(self.lr))
        bs = batch_size_for(len(pool), int(self.batch_size))
        for _ in range(int(self.n_iter)):
            filled = fixed + mask * params
            i1 = torch.from_numpy(rng.choice(len(pool), bs, replace=False))
            i2 = torch.from_numpy(rng.choice(len(pool), bs, replace=False))
            loss = loss_fn(filled[i1], filled[i2])
            if not torch.isfinite(loss):
                break  # the authors stop on a non-finite loss too
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            return (fixed + mask * params).numpy()

    def _fit(self, X: np.ndarray, schema: Schema) -> None:
        _samples_loss(1.0, 0.9)  # fail before any work when geomloss is missing
        if len(X) < 4:
            raise ValueError(f"SinkhornImputer needs at least 4 rows to draw two batches, got {len(X)}")
        rng = np.random.default_rng(self.random_state)
        self.layout_ = OneHotLayout(schema).fit(X)
        Z = self.layout_.encode(X)
        self.means_ = np.nan_to_num(np.nanmean(Z, axis=0), nan=0.0)
        self.epsilon_ = pick_epsilon(Z, rng, float(self.eps_quantile), float(self.eps_multiplier))
        self.train_data_ = X.copy()
        self.train_completed_ = self._optimise(Z, np.isnan(Z), rng)

    def _impute(self, X: np.ndarray, n: int) -> np.ndarray:
        if X.shape == self.train_data_.shape and np.array_equal(X, self.train_data_, equal_nan=True):
            return self.layout_.decode(self.train_completed_)[None]
        Z = self.layout_.encode(X)
        pool = np.vstack([self.train_completed_, Z])
        free = np.vstack([np.zeros_like(self.train_completed_, dtype=bool), np.isnan(Z)])
        rng = np.random.default_rng(self.random_state)
        rng = np.random.default_rng(rng.integers(2**63 - 1, size=2))  # a stream apart from the fit's
        return self.layout_.decode(self._optimise(pool, free, rng)[len(self.train_completed_):])[None]

    def _get_state(self) -> dict[str, np.ndarray]:
        return {**self.layout_.get_state(), "means": self.means_, "epsilon": np.array(self.epsilon_),
                "train_data": self.train_data_, "train_completed": self.train_completed_}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.layout_ = OneHotLayout(self.schema_).set_state(state)
        self.means_ = np.asarray(state["means"], dtype=float)
        self.epsilon_ = float(state["epsilon"])
        self.train_data_ = np.asarray(state["train_data"], dtype=float)
        self.train_completed_ = np.asarray(state["train_completed"], dtype=float)
