"""VAEAC as a product (``VAEACImputer``'s default model): a learnt Gaussian σ bounded above (issue 13 §1).

The benchmark's VAEAC (:class:`~.method.VAEACMethod`, registered as ``vaeac``) fixes the generator's σ at 1 on
standardised real columns (A.2). Its draws then collapse to one mode per row, and so do those of a freely
learnt σ, which grows to cover every mode with one Gaussian (docs/estimators.md, "Multiple imputation"). This
module bounds the learnt σ from above: σ = s·c / (s + c) with s = softplus(raw) (the paper's parametrisation,
floored at 0.01 as before) and c = ``sigma_max`` standard deviations of the column, a smooth minimum of s and
c. Below the bound σ is learnt (a sharp mode keeps its own width); spread beyond it must come from the latent
code, which therefore carries which mode a row is in. Everything else (networks, objective with the paper's
prior regulariser of §4.3.2, training loop, early stopping) is the registered method's, through its public
hooks (``_build_model``), so the benchmark's ``vaeac`` is untouched.

:class:`ProductVAEAC` is a registered method of its own, ``vaeac-default`` (so the benchmark runs what
``VAEACImputer()`` fits, issue 13 §7), and is saved and loaded as one, bound included. Folders written before
that hold the registered ``vaeac`` (the same weights, ``learn_sigma=True``) with the bound in the imputer's JSON;
:meth:`ProductVAEAC.from_saved` turns such a loaded method back into the product one, which
``MethodImputer.load`` does.
"""

from __future__ import annotations

import inspect
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils._param_validation import Interval

from .methods.registry import VAEAC_PRODUCT_PARAMS
from .methods.vaeac.method import VAEACMethod
from .methods.vaeac.model import VAEACModel
from .methods.vaeac.networks import PriorContext
from .nn import FeatureLayout
from .nn.harness import resolve_device
from .nn.mixture import MixtureLayout, sigma_positions
from .schema import Schema
from .seeding import derive_seed
from .validation import check_matrix

#: the product's default bound on σ, in standard deviations of each real column (docs/estimators.md)
DEFAULT_SIGMA_MAX: float | None = VAEAC_PRODUCT_PARAMS["sigma_max"]
#: the product's default number of Gaussians per real column (nn.mixture; docs/estimators.md)
DEFAULT_N_COMPONENTS: int | None = VAEAC_PRODUCT_PARAMS["n_components"]


class BoundedSigmaModel(VAEACModel):
    """:class:`VAEACModel` whose learnt σ is the smooth minimum s·c / (s + c) of softplus(raw) and ``sigma_max``."""

    def __init__(self, *args: Any, sigma_max: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.layout.learn_sigma:
            raise ValueError("BoundedSigmaModel needs a layout with learn_sigma=True")
        self.sigma_max = float(sigma_max)
        self._sigma_idx = torch.as_tensor(sigma_positions(self.layout))  # built once, not in every decode

    def decode(self, z: torch.Tensor, ctx: PriorContext) -> torch.Tensor:
        """The generator's parameters with each raw σ replaced by softplus⁻¹ of the bounded σ."""
        params = super().decode(z, ctx)
        idx = self._sigma_idx.to(params.device)  # a no-op on the device it already sits on
        return params.index_copy(-1, idx, bounded_raw_sigma(params.index_select(-1, idx), self.sigma_max))


def bounded_raw_sigma(raw: torch.Tensor, sigma_max: float) -> torch.Tensor:
    """The raw output whose softplus is s·c / (s + c), s = softplus(``raw``), c = ``sigma_max``.

    The likelihood and the sampler apply softplus (and the 0.01 floor) to what the generator outputs, so the
    bounded σ is handed to them as softplus⁻¹(σ) = σ + log(1 − e^{−σ}).
    """
    s = F.softplus(raw)
    sigma = (s * sigma_max / (s + sigma_max)).clamp_min(1e-3)  # 1e-3: below the likelihood's floor, finite log
    return sigma + torch.log(-torch.expm1(-sigma))


class ProductVAEAC(VAEACMethod):
    """VAEAC with a learnt output σ: bounded by ``sigma_max`` sd, and/or a mixture of ``n_components`` Gaussians.

    ``n_components=None`` (or 1) keeps one Gaussian per real column; ``sigma_max=None`` leaves σ unbounded.
    Both need ``learn_sigma=True``.
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **VAEACMethod._parameter_constraints, "sigma_max": [Interval(Real, 0, None, closed="neither"), None],
        "n_components": [Interval(Integral, 1, None, closed="left"), None]}

    def __init__(self, *, sigma_max: float | None = DEFAULT_SIGMA_MAX,
                 n_components: int | None = DEFAULT_N_COMPONENTS, learn_sigma: bool = True, **params: Any) -> None:
        super().__init__(learn_sigma=learn_sigma, **params)
        self.sigma_max = sigma_max
        self.n_components = n_components

    def sample_draws(self, X: np.ndarray, n: int) -> np.ndarray:
        """``n`` draws (n, rows, D) from the learnt p(x_missing | x_observed), output noise included.

        These are ``VAEACImputer.sample``'s draws (same stream), and what the benchmark scores as a distribution
        (issue 13 §4: CRPS, coverage, Brier); ``impute`` keeps the noiseless draws whose mean / mode is the point
        imputation (§5.1). Observed cells are copied back.
        """
        self._check_fitted()
        X = check_matrix(X, self.schema_, fitting=False)
        Xs = self.scaler_.transform(X)
        out = self.scaler_.inverse_transform(
            self.sample_standardised(Xs, int(n), derive_seed(self.seed_, "impute"), most_probable=False))
        observed = ~np.isnan(X)
        out[:, observed] = X[observed]
        return out

    def _build_model(self, schema: Schema, seed: int) -> VAEACModel:
        if not self.learn_sigma:
            raise ValueError("sigma_max and n_components shape a learnt σ: pass learn_sigma=True, or sigma_max=None "
                             "and n_components=None for the paper's fixed σ = 1")
        k = int(self.n_components or 1)
        layout = (MixtureLayout.from_schema(schema, n_components=k) if k > 1
                  else FeatureLayout.from_schema(schema, learn_sigma=True))
        gen = torch.Generator().manual_seed(derive_seed(seed, "init"))  # seeded as the registered method
        fast = self.mode == "fast"
        kw = {"fused": fast, "zero_latent_heads": fast, "generator": gen, "device": resolve_device(self.device)}
        if self.sigma_max is None:
            return VAEACModel(layout, self._arch(), self._objective(), **kw)
        return BoundedSigmaModel(layout, self._arch(), self._objective(), sigma_max=float(self.sigma_max), **kw)

    @classmethod
    def from_saved(cls, method: VAEACMethod, sigma_max: float | None,
                   n_components: int | None = None) -> ProductVAEAC:
        """The product method with the parameters and weights of ``method`` (as ``Imputer.load`` returns it)."""
        params = {k: v for k, v in method.get_params(deep=False).items() if k not in ("sigma_max", "n_components")}
        obj = cls(**params, sigma_max=sigma_max, n_components=n_components)
        obj.__dict__.update({k: v for k, v in method.__dict__.items() if k.endswith("_") and k != "model_"})
        obj.model_ = obj._build_model(obj.schema_, obj.seed_)
        obj.model_.load_state_dict(method.model_.state_dict())
        obj.model_.eval()
        return obj


def _product_signature() -> inspect.Signature:
    """The registered method's keyword parameters, ``learn_sigma`` defaulting to True, plus ``sigma_max``.

    Set as ``ProductVAEAC.__init__.__signature__``, so scikit-learn's ``get_params`` and the estimator factory
    (``imputer.imputer_class``) see every parameter instead of ``**params``.
    """
    own = inspect.signature(ProductVAEAC.__init__).parameters  # its own defaults: learn_sigma and the extras
    kw = inspect.Parameter.KEYWORD_ONLY
    params = [p if p.name == "self" else own.get(p.name, p).replace(kind=kw)
              for p in inspect.signature(VAEACMethod.__init__).parameters.values()]
    return inspect.Signature([*params, own["sigma_max"], own["n_components"]])


ProductVAEAC.__init__.__signature__ = _product_signature()  # type: ignore[attr-defined]
