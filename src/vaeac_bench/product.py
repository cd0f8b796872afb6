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

A :class:`ProductVAEAC` is saved as the registered ``vaeac`` (its parameters without ``sigma_max``; the weights
are the same tensors, only the σ map differs); :meth:`ProductVAEAC.from_saved` turns the loaded method back into
the product one, which ``MethodImputer.load`` does with the bound it stored.
"""

from __future__ import annotations

from numbers import Real
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from sklearn.utils._param_validation import Interval

from .methods.vaeac.method import VAEACMethod
from .methods.vaeac.model import VAEACModel
from .methods.vaeac.networks import PriorContext
from .nn import FeatureLayout
from .nn.harness import resolve_device
from .schema import Schema
from .seeding import derive_seed

#: the product's default bound on σ, in standard deviations of each real column (docs/estimators.md)
DEFAULT_SIGMA_MAX = 0.25


class BoundedSigmaModel(VAEACModel):
    """:class:`VAEACModel` whose learnt σ is the smooth minimum s·c / (s + c) of softplus(raw) and ``sigma_max``."""

    def __init__(self, *args: Any, sigma_max: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.layout.learn_sigma:
            raise ValueError("BoundedSigmaModel needs a layout with learn_sigma=True")
        self.sigma_max = float(sigma_max)

    def decode(self, z: torch.Tensor, ctx: PriorContext) -> torch.Tensor:
        """The generator's parameters with each raw σ replaced by softplus⁻¹ of the bounded σ."""
        params = super().decode(z, ctx)
        r = self.layout.n_real
        raw = bounded_raw_sigma(params[..., r:2 * r], self.sigma_max)
        return torch.cat([params[..., :r], raw, params[..., 2 * r:]], dim=-1)


def bounded_raw_sigma(raw: torch.Tensor, sigma_max: float) -> torch.Tensor:
    """The raw output whose softplus is s·c / (s + c), s = softplus(``raw``), c = ``sigma_max``.

    The likelihood and the sampler apply softplus (and the 0.01 floor) to what the generator outputs, so the
    bounded σ is handed to them as softplus⁻¹(σ) = σ + log(1 − e^{−σ}).
    """
    s = F.softplus(raw)
    sigma = (s * sigma_max / (s + sigma_max)).clamp_min(1e-3)  # 1e-3: below the likelihood's floor, finite log
    return sigma + torch.log(-torch.expm1(-sigma))


class ProductVAEAC(VAEACMethod):
    """VAEAC with a learnt σ bounded by ``sigma_max`` standard deviations (needs ``learn_sigma=True``)."""

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **VAEACMethod._parameter_constraints, "sigma_max": [Interval(Real, 0, None, closed="neither")]}

    def __init__(self, *, sigma_max: float = DEFAULT_SIGMA_MAX, learn_sigma: bool = True, **params: Any) -> None:
        super().__init__(learn_sigma=learn_sigma, **params)
        self.sigma_max = sigma_max

    @classmethod
    def _get_param_names(cls) -> list[str]:
        """The registered method's parameters plus ``sigma_max`` (scikit-learn reads them from here)."""
        return sorted([*VAEACMethod._get_param_names(), "sigma_max"])

    def _build_model(self, schema: Schema, seed: int) -> VAEACModel:
        if not self.learn_sigma:
            raise ValueError("sigma_max bounds a learnt σ: pass learn_sigma=True, or sigma_max=None for the paper's "
                             "fixed σ = 1")
        layout = FeatureLayout.from_schema(schema, learn_sigma=True)
        gen = torch.Generator().manual_seed(derive_seed(seed, "init"))  # seeded as the registered method
        fast = self.mode == "fast"
        return BoundedSigmaModel(layout, self._arch(), self._objective(), fused=fast, zero_latent_heads=fast,
                                 generator=gen, device=resolve_device(self.device), sigma_max=float(self.sigma_max))

    def as_registered(self) -> VAEACMethod:
        """The fitted state as the registered ``vaeac`` method (for :meth:`save`; the bound is not in it)."""
        out = VAEACMethod(**{k: v for k, v in self.get_params(deep=False).items() if k != "sigma_max"})
        out.__dict__.update({k: v for k, v in self.__dict__.items() if k.endswith("_")})
        return out

    def save(self, path: Any) -> Any:
        """Save as the registered ``vaeac`` (``learn_sigma=True``); the bound is the caller's to keep."""
        return self.as_registered().save(path)

    @classmethod
    def from_saved(cls, method: VAEACMethod, sigma_max: float) -> ProductVAEAC:
        """The product method with the parameters and weights of ``method`` (as ``Imputer.load`` returns it)."""
        obj = cls(**method.get_params(deep=False), sigma_max=sigma_max)
        obj.__dict__.update({k: v for k, v in method.__dict__.items() if k.endswith("_") and k != "model_"})
        obj.model_ = obj._build_model(obj.schema_, obj.seed_)
        obj.model_.load_state_dict(method.model_.state_dict())
        obj.model_.eval()
        return obj
