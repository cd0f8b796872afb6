"""Iterative (chained-equation) imputation: scikit-learn's ``IterativeImputer`` with Bayesian ridge.

The MICE scheme of van Buuren & Groothuis-Oudshoorn (J. Stat. Softw. 2011): each column with missing cells
is regressed on all others in turn (``BayesianRidge``, scikit-learn's default estimator), for ``max_iter``
rounds from a mean initialisation (a one-hot column is predicted from the other variables, not from its own
block's columns, which determine it exactly). Real columns are standardised and categoricals one-hot encoded
(``_tabular.OneHotLayout``); each one-hot column is imputed as a real value and the categorical cell gets
the most probable level (argmax of its block).

Multiple imputation follows scikit-learn's documentation ("Multiple vs. Single Imputation": run the imputer
with ``sample_posterior=True`` and different random seeds): draw ``i`` comes from its own chain, fitted with
seed ``i`` and predicting by sampling the Bayesian-ridge posterior predictive, so the draws carry both
parameter and residual uncertainty as van Buuren's proper multiple imputation asks. With
``sample_posterior=False`` (scikit-learn's default) every draw is the same conditional-mean imputation.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.experimental import enable_iterative_imputer  # noqa: F401  (required import for IterativeImputer)
from sklearn.impute import IterativeImputer as _SkIterative
from sklearn.linear_model import BayesianRidge
from sklearn.utils._param_validation import Interval

from ..schema import Schema
from ._tabular import OneHotLayout, draw_seeds
from .refit import RefitOnLoad


class _BlockwiseIterative(_SkIterative):
    """scikit-learn's imputer, except that a one-hot column is never predicted from its own block's columns.

    The levels of a block sum to one on every observed row, so a regression on its siblings fits exactly
    and stays at the mean-imputed start forever; predicting from the other variables only avoids that.
    """

    block_of: np.ndarray  # original column of each encoded column, set before fit

    def _get_neighbor_feat_idx(self, n_features: int, feat_idx: int, abs_corr_mat: np.ndarray | None) -> np.ndarray:
        idx = np.asarray(super()._get_neighbor_feat_idx(n_features, feat_idx, abs_corr_mat))
        return idx[self.block_of[idx] != self.block_of[feat_idx]]


class IterativeImputer(RefitOnLoad):
    """scikit-learn ``IterativeImputer`` (Bayesian ridge) on one-hot data; one chain per draw when sampling."""

    multiple = True
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "sample_posterior": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(self, max_iter: int = 10, tol: float = 1e-3, sample_posterior: bool = False,
                 random_state: int | None = None):
        self.max_iter = max_iter
        self.tol = tol
        self.sample_posterior = sample_posterior
        self.random_state = random_state

    def _chain(self, i: int) -> _BlockwiseIterative:
        """The fitted chain of draw ``i`` (fitted on first use; one chain serves all draws without sampling)."""
        i = i if self.sample_posterior else 0
        while len(self.chains_) <= i:
            if len(self.chains_) >= len(self.seeds_):  # more draws than seeds prepared: extend (same prefix)
                self.seeds_ = draw_seeds(self.random_state, 2 * len(self.seeds_))
            seed = self.seeds_[len(self.chains_)]
            chain = _BlockwiseIterative(estimator=BayesianRidge(), max_iter=int(self.max_iter), tol=float(self.tol),
                                 sample_posterior=bool(self.sample_posterior), random_state=seed,
                                 keep_empty_features=True)
            chain.block_of = np.repeat(np.arange(len(self.layout_.widths)), self.layout_.widths)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)  # reaching max_iter is the documented end
                chain.fit(self.train_encoded_)
            self.chains_.append(chain)
        return self.chains_[i]

    def _fit(self, X: np.ndarray, schema: Schema) -> None:
        self._remember(X)
        self.layout_ = OneHotLayout(schema).fit(X)
        self.train_encoded_ = self.layout_.encode(X)
        self.seeds_ = draw_seeds(self.random_state, 16)
        self.chains_: list[_BlockwiseIterative] = []
        self._chain(0)

    def _impute(self, X: np.ndarray, n: int) -> np.ndarray:
        Z = self.layout_.encode(X)
        out = np.empty((n, *X.shape))
        for i in range(n):
            chain = self._chain(i)
            # re-seed the posterior sampling so repeated calls give the same draws (transform advances it)
            chain.random_state_ = np.random.RandomState(self.seeds_[i if self.sample_posterior else 0] ^ 0x5EED)
            out[i] = self.layout_.decode(chain.transform(Z))
        return out
