"""The one interface every imputation method implements.

A method is a scikit-learn style estimator (constructor arguments are its hyper-parameters, fitted state
ends in ``_``) that fits on the suite's numeric layout (see :mod:`vaeac_bench.schema`) and returns ``n``
imputations. Single-imputation methods (``multiple = False``) always return one and say so.

Parameter validation has one style, scikit-learn's: a subclass declares ``_parameter_constraints`` (a dict
from each constructor argument to a list of :mod:`sklearn.utils._param_validation` constraints) and
:meth:`Imputer.fit` checks them before anything else, so an invalid value fails with one message naming the
parameter (:class:`InvalidParameterError`, a ``ValueError``), not deep inside training.
"""

from __future__ import annotations

import json
import os
from abc import ABCMeta, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import InvalidParameterError

from ..schema import Schema
from ..validation import check_matrix

STATE_FILE = "state.npz"
META_FILE = "method.json"


class NotFittedError(RuntimeError):
    """``impute`` was called before ``fit``."""


__all__ = ["Imputer", "InvalidParameterError", "NotFittedError"]


class Imputer(BaseEstimator, metaclass=ABCMeta):
    """Abstract base class of every method: subclasses implement :meth:`_fit` and :meth:`_impute`.

    A subclass that lacks either cannot be instantiated (``TypeError``). ``impute`` copies observed cells
    back, so a subclass only has to fill the missing ones.

    Parameters are validated the way scikit-learn does it, at :meth:`fit` (never in ``__init__``): declare

    .. code-block:: python

        from sklearn.utils._param_validation import Interval, StrOptions
        from numbers import Integral, Real

        class MyMethod(Imputer):
            _parameter_constraints = {
                "epochs": [Interval(Integral, 1, None, closed="left")],
                "alpha": [Interval(Real, 0, 1, closed="both")],
                "mode": [StrOptions({"fast", "exact"})],
                "random_state": ["random_state"],
            }

    and every constructor argument listed there is checked first thing in ``fit``; a violation raises
    :class:`InvalidParameterError` (a ``ValueError`` and ``TypeError``) whose message names the parameter and
    the values it accepts. Every constructor argument should have an entry (the contract test checks it);
    use ``"no_validation"`` for one that is checked elsewhere.
    """

    #: whether :meth:`impute` can return several different imputations
    multiple: ClassVar[bool] = True
    #: constructor argument -> scikit-learn constraints, checked by :meth:`fit` (see the class docstring)
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {}

    # -- public API -------------------------------------------------------------------------------
    def fit(self, X: np.ndarray, schema: Schema) -> Imputer:
        """Learn from ``X`` (NaN = missing; categoricals as integer codes) whose columns ``schema`` types."""
        self._validate_params()  # scikit-learn's check of _parameter_constraints; names the bad parameter
        X = check_matrix(X, schema, fitting=True)
        self.schema_ = schema
        self.n_features_in_ = len(schema)
        self._fit(X, schema)
        return self

    def impute(self, X: np.ndarray, n: int = 1) -> np.ndarray:
        """Return ``(n, rows, D)`` imputations of ``X`` (``(1, rows, D)`` for single-imputation methods)."""
        self._check_fitted()
        if not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"n (the number of imputations) must be a positive integer, got {n!r}")
        X = check_matrix(X, self.schema_, fitting=False)
        n_eff = int(n) if self.multiple else 1
        out = np.array(self._impute(X, n_eff), dtype=float)  # a copy: never write into fitted state
        if out.shape != (n_eff, *X.shape):
            raise RuntimeError(f"{type(self).__name__} returned shape {out.shape}, expected {(n_eff, *X.shape)}")
        observed = ~np.isnan(X)
        out[:, observed] = X[observed]
        if np.isnan(out).any():
            raise RuntimeError(f"{type(self).__name__} left missing cells unimputed")
        return out

    def config(self) -> dict[str, Any]:
        """The hyper-parameters that define results (used for the benchmark cache key)."""
        params = {k: v for k, v in self.get_params(deep=False).items() if k not in self._not_config()}
        # "version" is frozen at 1: it is part of every committed cell's config hash (runner.cell_config), and
        # staleness is now detected from a digest of the method's source (MethodSpec.code), not a bumped integer
        return {"class": type(self).__name__, "version": 1, "params": params}

    # -- persistence (JSON + npz; never pickles) --------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the fitted method to directory ``path`` (JSON hyper-parameters + numeric state, no pickles).

        ``method.json`` names the method by its registry name, which is all :meth:`load` trusts.
        """
        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        meta = {"method": self._registered_name(), "params": self.get_params(deep=False),
                "schema": self.schema_.to_dict()}
        (path / META_FILE).write_text(json.dumps(meta, indent=1, default=_json_default))
        np.savez(path / STATE_FILE, **self._get_state())
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Imputer:
        """Read a method written by :meth:`save`: only a registered method, looked up by name.

        The folder's ``method.json`` never names code to import: its ``method`` is looked up in the method
        registry (which maps it to a class), anything else is refused, so a model folder from someone else
        cannot execute code (issue 9, item 13). Arrays are read with ``allow_pickle=False``.
        """
        from . import REGISTRY

        path = Path(path)
        meta_file = path / META_FILE
        if not meta_file.is_file():
            raise FileNotFoundError(f"{meta_file} does not exist; pass the folder that Imputer.save wrote")
        try:
            meta = json.loads(meta_file.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{meta_file} is not valid JSON ({err}); pass a folder written by Imputer.save") from None
        name = meta.get("method") if isinstance(meta, dict) else None
        if not isinstance(name, str) or name not in REGISTRY:
            raise ValueError(f"{meta_file} names method {name!r}, which is not a registered method; refusing to load "
                             f"it (only registered methods are loaded, by name; {REGISTRY.known()}). Register the "
                             "method with vaeac_bench.methods.register() first if you trust it")
        klass = REGISTRY[name].load_class()
        if cls is not Imputer and not issubclass(klass, cls):
            raise TypeError(f"{path} holds a {klass.__name__} (method {name!r}), not a {cls.__name__}")
        params = meta.get("params", {})
        if not isinstance(params, dict):
            raise ValueError(f"{meta_file}: 'params' must be a JSON object")
        obj = klass(**params)
        obj._validate_params()
        obj.schema_ = Schema.from_dict(meta["schema"])
        obj.n_features_in_ = len(obj.schema_)
        with np.load(path / STATE_FILE, allow_pickle=False) as npz:
            obj._set_state({k: npz[k] for k in npz.files})
        return obj

    def _registered_name(self) -> str:
        """The registry name whose class this is (the first, when several names share a class)."""
        from . import REGISTRY

        klass = type(self)
        for name, spec in REGISTRY.items():
            # compare the class name first, so saving a mean imputer never imports torch for another entry
            if spec.target.rsplit(":", 1)[1] == klass.__name__ and spec.load_class() is klass:
                return name
        raise TypeError(f"{klass.__module__}.{klass.__qualname__} is not a registered method, so it cannot be "
                        "saved for loading; register it with vaeac_bench.methods.register(MethodSpec(...)) first")

    # -- for subclasses -----------------------------------------------------------------------------
    @abstractmethod
    def _fit(self, X: np.ndarray, schema: Schema) -> None: ...

    @abstractmethod
    def _impute(self, X: np.ndarray, n: int) -> np.ndarray: ...

    def _get_state(self) -> dict[str, np.ndarray]:
        """Numeric arrays that restore the fitted state (override in every subclass)."""
        raise NotImplementedError(f"{type(self).__name__} cannot be saved")

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        raise NotImplementedError(f"{type(self).__name__} cannot be loaded")

    def _not_config(self) -> set[str]:
        """Parameters that do not change results (e.g. ``n_jobs``, ``verbose``, ``device``)."""
        return {"n_jobs", "verbose", "device"}

    def _check_fitted(self) -> None:
        if not hasattr(self, "schema_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(X, schema) first")


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, tuple | set):
        return list(o)
    raise TypeError(f"cannot write {type(o).__name__} to JSON")

