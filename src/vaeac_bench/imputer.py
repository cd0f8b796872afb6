"""Any registered method as a scikit-learn transformer for mixed real/categorical tables.

>>> import pandas as pd
>>> from vaeac_bench import make_imputer
>>> df = pd.DataFrame({"size": [1.0, None, 3.0, 2.5] * 10,
...                    "colour": pd.Categorical(["red", "blue", None, "red"] * 10)})
>>> imp = make_imputer("vaeac", epochs=2, width=16, depth=1, latent_dim=2, random_state=0)
>>> out = imp.fit_transform(df)
>>> out["colour"].dtype == df["colour"].dtype and int(out.isna().sum().sum())
0

:func:`make_imputer` (or :func:`imputer_class`) turns every method of :mod:`vaeac_bench.methods` into an
estimator whose constructor takes the method's own hyper-parameters (paper defaults from the registry) plus
``categorical_features``, ``n_imputations`` and ``random_state``; ``VAEACImputer`` is the VAEAC one under a
name. They are ordinary scikit-learn estimators: ``get_params``/``set_params``/``clone`` work, fitted
state ends in ``_`` (``method_``, ``schema_``, ``n_features_in_``, ``feature_names_in_``).

Input rules (each violation is a ``ValueError``/``TypeError`` naming the column and the fix; the full table
is in ``docs/estimators.md``, "Column types"). Every output column keeps its input dtype:

* **DataFrame**: a ``category`` column is categorical (its categories and ``ordered`` flag round-trip to the
  output). Text (``string``, pandas 3 ``str``, an ``object`` column holding only strings) and ``bool``/
  ``boolean`` columns are categorical with their sorted observed values as levels. A column listed in
  ``categorical_features`` (names or positions; e.g. integer-coded classes) is categorical the same way.
  A float column (``float64``, ``Float64``) is real. An undeclared integer column (``int64``, ``Int64``, ...,
  and a float column whose observed values are all whole numbers, which is how pandas stores an integer
  column with missing cells) is modelled as a real (ordered) feature, but each imputation is the nearest
  value observed in that column at fit time (as predictive mean matching does), so it is never a fraction
  nor a value the column never took; declare it in ``categorical_features`` when its codes are unordered
  classes. Datetimes and mixed ``object`` columns are refused: convert them explicitly.
* **array**: every column is real unless listed in ``categorical_features`` (positions or a boolean mask);
  a categorical column's levels are its sorted observed values at fit time and are returned unchanged.
* NaN (or ``None``/``pd.NA``) is missing; ``inf`` is refused; a column with no observed value at fit time is
  refused; at transform time an unknown category, a column whose kind changed since fit, or a different
  column set is refused. An all-missing row is imputed from the learnt joint distribution (nothing to
  condition on). Fitting needs at least one row; transforming zero rows returns zero rows without calling
  the method.
* A column whose observed values at fit are all equal is imputed with that value, whatever the method (its
  conditional distribution is that point). A real column whose largest magnitude lies outside
  [2**-24, 2**64) (e.g. 1e308 or subnormals) is multiplied by a power of two before the method sees it and
  divided back after (exact), so no method overflows or flushes it to zero; an imputation beyond the dtype's
  finite range is clipped to it, and a method that still returns NaN/inf is reported as an error naming
  the column, so the output never holds NaN or inf.

``transform`` returns the paper's point estimate: the mean (real) / mode (categorical) of
``n_imputations`` draws (§5.1); ``sample(X, n)`` returns the draws themselves (one for a single-imputation
method such as mean/mode or MissForest). Both are deterministic for a given ``random_state``.

``VAEACImputer()`` is the product configuration (:data:`PRODUCT`: a learnt σ bounded by ``sigma_max`` standard
deviations, a 128 × 4 network), whose draws show every mode of a multimodal conditional (in roughly the right
proportions; docs/estimators.md has the measurements);
``VAEACImputer(**VAEAC_PAPER)`` is the benchmark's VAEAC (σ = 1, A.2), bit for bit (docs/estimators.md).
"""

from __future__ import annotations

import inspect
import json
import sys
from numbers import Integral
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from .methods.registry import VAEAC_PRODUCT_PARAMS
from .metrics import aggregate
from .schema import Feature, Schema

__all__ = ["VAEAC_PAPER", "MethodImputer", "VAEACImputer", "imputer_class", "make_imputer"]  # noqa: F822 - VAEACImputer: __getattr__

_REFUSED_KINDS = {"O": "mixed (object)", "U": "text", "S": "bytes", "M": "datetime", "m": "timedelta",
                  "c": "complex"}
#: a real column is rescaled by a power of two when its largest observed magnitude lies outside this range
_SAFE_RANGE = (2.0**-24, 2.0**64)
#: the estimator's own parameters, besides the method's
_OWN = ("categorical_features", "n_imputations", "random_state")
_META = "imputer.json"
#: rows finished and decoded per call when sampling (MethodImputer._finish_draws): bounds its extra memory
DRAW_CHUNK_ROWS = 65536
#: defaults of the estimator that differ from the registry's (issue 13 §1): what a user of the estimator gets by
#: default, never what the benchmark runs (the registry's ``params`` and the method classes stay untouched). A
#: neural method shows the shared harness's progress bar (epoch, validation score, ETA; ``verbose=0`` hides it).
WRAPPER_DEFAULTS: dict[str, dict[str, Any]] = {name: {"verbose": 1}
                                               for name in ("vaeac", "vaeac-default", "gsnn", "nn", "miwae")}
#: the product model of a method (issue 13 §1): a subclass of the registered class whose extra parameters the
#: estimator also takes; when every extra parameter is None the registered class itself is fitted (for VAEAC,
#: :data:`VAEAC_PAPER` gives exactly the benchmark's ``vaeac``). The VAEAC product's generator outputs a mixture of
#: ``n_components`` complete rows, each learnt σ bounded by ``sigma_max`` standard deviations, so its draws show the
#: modes of a multimodal conditional in proportion (docs/estimators.md).
PRODUCT: dict[str, str] = {"vaeac": "vaeac_bench.product:ProductVAEAC"}
#: the product's training and network (``methods.registry.VAEAC_PRODUCT_PARAMS``): α = 0.5, masks Bernoulli(0.4),
#: patience 100, a 128 × 4 network (a third of the reference network's cost per epoch); as accurate as the paper's
#: configuration and IterativeImputer on Iris, Diabetes and Breast (docs/estimators.md). The registry's
#: ``vaeac-default`` holds the same configuration, so the benchmark can run what users get
WRAPPER_DEFAULTS["vaeac"].update({k: v for k, v in VAEAC_PRODUCT_PARAMS.items()
                                  if k in ("alpha", "mask_prob", "patience", "learn_sigma", "width", "depth",
                                           "latent_dim")})
#: the parameters that turn ``VAEACImputer`` back into the benchmark's (paper's) VAEAC: ``VAEACImputer(**VAEAC_PAPER)``
#: fits the registered ``vaeac`` method with the registry's parameters (σ fixed at 1, A.2), bit for bit
VAEAC_PAPER: dict[str, Any] = {"sigma_max": None, "n_components": None, "alpha": 1.0, "mask_prob": 0.2,
                               "patience": 50, "learn_sigma": False, "width": 256, "depth": 10, "latent_dim": 64}


class MethodImputer(TransformerMixin, BaseEstimator):
    """Base of the per-method estimators that :func:`imputer_class` builds; not instantiated directly.

    A subclass sets ``method_name``; its constructor takes ``categorical_features``, ``n_imputations``,
    ``random_state`` and every hyper-parameter of the registered method (the signature is generated from the
    method's, with the registry's paper defaults), so no parameter list is repeated by hand. Parameters are
    validated at ``fit``: the estimator's own here, the method's by the method (``_parameter_constraints``).
    """

    #: the registry name of the wrapped method (set by :func:`imputer_class`)
    method_name: ClassVar[str] = ""
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "categorical_features": ["array-like", None],
        "n_imputations": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, **params: Any) -> None:
        if not self.method_name:
            raise TypeError("MethodImputer is a base class; use make_imputer(name, ...) or imputer_class(name)")
        sig = inspect.signature(type(self).__init__).parameters
        unknown = sorted(set(params) - set(sig))
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected parameter(s) {unknown}; it takes "
                            f"{[p for p in sig if p != 'self']}")
        for name, p in sig.items():
            if name != "self":
                setattr(self, name, params.get(name, p.default))

    def __sklearn_tags__(self):  # noqa: ANN204 - sklearn Tags
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        return tags

    def _method_params(self) -> dict[str, Any]:
        return {k: v for k, v in self.get_params(deep=False).items() if k not in _OWN}

    def _method_class(self) -> tuple[type, dict[str, Any]]:
        """The class to fit and its parameters: the product class where one of its extra parameters is set."""
        from .methods import REGISTRY

        params = self._method_params()
        extra = _product_extras(self.method_name)
        if extra and any(params[k] is not None for k in extra):
            return _product_class(self.method_name), params
        return REGISTRY[self.method_name].load_class(), {k: v for k, v in params.items() if k not in extra}

    # -- fitting ----------------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> MethodImputer:
        """Learn the joint distribution of ``X``'s columns (``y`` is ignored; add it as a column instead, B.2)."""
        self._validate_params()
        rs = self.random_state
        if rs is not None and (isinstance(rs, bool) or not isinstance(rs, Integral) or not 0 <= rs < 2**32):
            raise ValueError("random_state must be an int in [0, 2**32) or None (a RandomState instance cannot be "
                             f"stored in the saved model), got {rs!r}")
        codes = self._encode(X, fitting=True)
        self._learn_columns(codes)
        klass, params = self._method_class()
        if "random_state" in klass._get_param_names():
            # a fixed seed per fit, so that repeated transforms agree
            params["random_state"] = int(np.random.SeedSequence().generate_state(1)[0]) if rs is None else int(rs)
        self.method_ = klass(**params).fit(self._scale(codes), self._method_schema())
        if hasattr(self.method_, "n_iter_"):  # iterative methods (MissForest): scikit-learn's fitted attribute
            self.n_iter_ = self.method_.n_iter_
        return self

    # -- imputing ----------------------------------------------------------------------------------------
    def transform(self, X: Any) -> Any:
        """Fill the missing cells of ``X``: mean (real) / mode (categorical) of ``n_imputations`` draws."""
        check_is_fitted(self, "method_")
        codes = self._encode(X, fitting=False)
        if len(codes) == 0:  # nothing to impute: no call into the method (torch warns on empty batches)
            return self._decode(codes, X)
        draws = self.method_.impute(self._scale(codes), n=int(self.n_imputations))
        # aggregate in the scaled units: a mean of draws near 1e308 would overflow in the user's units
        return self._decode(self._finish(aggregate(draws, self.schema_), codes), X)

    def sample(self, X: Any, n: int = 10, random_state: int | None = None) -> Any:
        """``n`` imputations of ``X``: an array (n, rows, D), or a list of ``n`` DataFrames for a DataFrame.

        A single-imputation method returns one. For the VAEAC family with a learnt output σ (``VAEACImputer()``'s
        default, bounded by ``sigma_max``) a draw comes from the learnt conditional p(x_missing | x_observed),
        output noise included; with the paper's σ = 1 (``VAEAC_PAPER``) it is the generator's mean / most
        probable category for one z (the reference sampler, as ``transform``).
        ``random_state`` asks for other draws than the fitted ones, which only a method that redraws from its
        fitted model offers (the VAEAC family).
        """
        check_is_fitted(self, "method_")
        if isinstance(n, bool) or not isinstance(n, Integral) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        codes = self._encode(X, fitting=False)
        m = self.method_
        if random_state is not None and not hasattr(m, "sample_standardised"):
            raise ValueError(f"sample(random_state=...) needs a method that redraws from its fitted model; "
                             f"{self.method_name!r} does not: refit with another random_state for other draws")
        if len(codes) == 0:
            draws = np.empty((int(n) if m.multiple else 1, *codes.shape))
        elif not hasattr(m, "sample_standardised") or not m.multiple:
            draws = m.impute(self._scale(codes), n=int(n))
        else:
            # the VAEAC family: a draw is z from the prior network, then, when σ is learnt (a noise model), x from
            # the generator's distribution (Gaussian noise, categorical draw): a draw from the learnt
            # p(x_missing | x_observed). With the paper's fixed σ = 1 (A.2) that noise is no model of anything (it
            # is the data's whole standardised spread), so the method's own sampler (mean / most probable
            # category per z) is kept
            from .seeding import derive_seed

            seed = derive_seed(m.seed_, "impute") if random_state is None else derive_seed(m.seed_, "sample",
                                                                                          int(random_state))
            Xs = m.scaler_.transform(self._scale(codes))
            noise_model = getattr(m, "learn_sigma", False)
            most_probable = False if noise_model else None  # None: the method's own choice
            draws = m.scaler_.inverse_transform(m.sample_standardised(Xs, int(n), seed, most_probable=most_probable))
        return self._finish_draws(draws, codes, X)

    def _finish_draws(self, draws: Any, codes: np.ndarray, X: Any) -> Any:
        """The method's draws (n, rows, D) in the user's form: an array (n, rows, D), or ``n`` DataFrames.

        ``_finish`` and ``_decode`` work row by row, so draws are stacked and each runs once per chunk of about
        :data:`DRAW_CHUNK_ROWS` rows, not once per draw (issue 12 §6: 100 draws of a one-row frame took 48 ms one
        at a time, of which the draws 3.5). The chunks keep the extra memory to a chunk's size."""
        n_draws, (rows, d) = len(draws), codes.shape
        per = max(1, DRAW_CHUNK_ROWS // max(rows, 1))
        tiled = np.tile(codes, (min(per, n_draws), 1))
        cow = _copy_on_write()
        frames: list[pd.DataFrame] = []
        arrays: list[np.ndarray] = []
        for start in range(0, n_draws, per):
            chunk = np.asarray(draws[start:start + per], dtype=np.float64)
            k = len(chunk)
            flat = chunk.reshape(k * rows, d)
            if rows:
                flat = self._finish(flat, tiled[:k * rows])
            if not isinstance(X, pd.DataFrame):
                arrays.append(self._decode(flat, X).reshape(k, rows, d))
                continue
            long = self._decode(flat, X, index=pd.RangeIndex(k * rows))
            for i in range(k):  # slices of one frame, each with the input's index (copies without copy-on-write)
                part = long.iloc[i * rows:(i + 1) * rows]
                part = part if cow else part.copy()
                part.index = X.index
                frames.append(part)
        return frames if isinstance(X, pd.DataFrame) else np.concatenate(arrays)

    # -- per-column rules: empty, constant, rescaled and integer columns ------------------------------------
    def _check_no_empty_column(self, observed: np.ndarray, names: list[str]) -> None:
        """Refuse a column with no observed value at fit: nothing can be learnt about it."""
        empty = [names[j] for j in np.flatnonzero(~observed.any(axis=0))]
        if empty:
            raise ValueError(f"column(s) {empty} have no observed value at fit time, so nothing can be learnt about "
                             "them; drop them (or fill them) before fitting")

    def _learn_columns(self, codes: np.ndarray) -> None:
        """Record each column's constant value (if any) and the power-of-two rescaling of extreme real columns."""
        seen = ~np.isnan(codes)
        self._check_no_empty_column(seen, self.schema_.names)
        d = codes.shape[1]
        self.constants_ = [None] * d
        self.scale_exp_ = [0] * d
        for j, feat in enumerate(self.schema_):
            col = codes[seen[:, j], j]
            if (col == col[0]).all():
                self.constants_[j] = float(col[0])
            top = float(np.abs(col).max())
            if not feat.is_categorical and top > 0 and not _SAFE_RANGE[0] <= top < _SAFE_RANGE[1]:
                self.scale_exp_[j] = -int(np.frexp(top)[1])  # top * 2**exp lies in [0.5, 1)

    def _method_schema(self) -> Schema:
        """The schema the method fits: a one-level categorical becomes the constant real 0 (there is nothing to
        learn, and some methods cannot fit one class, e.g. LightGBM in MICE); the constant rule imputes it."""
        return Schema(tuple(Feature(f.name, "real") if f.n_categories == 1 else f for f in self.schema_))

    def _scale(self, codes: np.ndarray) -> np.ndarray:
        """``codes`` with the extreme real columns multiplied by their power of two (exact; NaN stays NaN)."""
        exps = getattr(self, "scale_exp_", None)
        if not exps or not any(exps):
            return codes
        out = codes.copy()
        for j, e in enumerate(exps):
            if e:
                out[:, j] = np.ldexp(codes[:, j], e)
        return out

    def _finish(self, values: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """One imputed table in the user's units: unscaled, constants and integer levels enforced, observed cells
        exactly as given; refuses NaN/inf from the method, naming the column."""
        out = np.array(values, dtype=np.float64)
        missing = np.isnan(codes)
        fmax = np.finfo(np.float64).max
        for j, e in enumerate(getattr(self, "scale_exp_", None) or [0] * out.shape[1]):
            if e < 0:  # a huge column: clip first so that scaling back cannot overflow to inf
                lim = np.ldexp(fmax, e)
                out[:, j] = np.ldexp(np.clip(out[:, j], -lim, lim), -e)
            elif e > 0:
                out[:, j] = np.ldexp(out[:, j], -e)
        bad = missing & ~np.isfinite(out)
        if bad.any():
            cols = [self.schema_.names[j] for j in np.flatnonzero(bad.any(axis=0))]
            raise RuntimeError(f"method {self.method_name!r} returned NaN/inf imputations in column(s) {cols}; its "
                               "training diverged on these values: rescale the column(s) or use another method")
        for j, c in enumerate(getattr(self, "constants_", None) or []):
            if c is not None:  # all observed values were equal: the conditional is that point, for every method
                out[missing[:, j], j] = c
        for j, lev in enumerate(getattr(self, "int_levels_", None) or []):
            if lev is not None and missing[:, j].any():  # an integer column: nearest value it took at fit
                out[missing[:, j], j] = _nearest(lev, out[missing[:, j], j])
        out[~missing] = codes[~missing]  # observed cells exactly as given (a mean of n copies may differ)
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The output column names: the input's (imputation keeps every column)."""
        check_is_fitted(self, "method_")
        return np.asarray(self.schema_.names, dtype=object)

    # -- encoding ----------------------------------------------------------------------------------------
    def _encode(self, X: Any, fitting: bool) -> np.ndarray:
        """The suite's numeric layout of ``X`` (float codes, NaN = missing); sets the schema when fitting."""
        if isinstance(X, pd.DataFrame):
            validate_data(self, X, reset=fitting, skip_check_array=True)
            if fitting and X.shape[0] == 0:
                raise ValueError("X has 0 rows; fitting needs at least one row")
            return self._encode_frame(X, fitting)
        if hasattr(X, "__array__") and getattr(X, "dtype", None) is not None and X.dtype.kind in "OUS":
            arr = np.asarray(X)
            try:
                arr = arr.astype(float)
            except (TypeError, ValueError) as err:
                if isinstance(err, TypeError):
                    raise
                raise ValueError(f"X holds values that are not numbers ({err}); pass a DataFrame with 'category' "
                                 "columns for categorical text, or encode them as numbers first") from None
            X = arr
        arr = validate_data(self, X, reset=fitting, dtype=np.float64, ensure_all_finite=False, accept_sparse=False,
                            ensure_min_samples=1 if fitting else 0)
        return self._encode_array(np.array(arr, dtype=np.float64), fitting)

    def _categorical_positions(self, names: list[str], d: int) -> set[int]:
        cf = self.categorical_features
        if cf is None:
            return set()
        items = np.asarray(cf)
        if items.dtype == bool:
            if items.shape != (d,):
                raise ValueError(f"categorical_features as a boolean mask needs {d} entries, got {items.shape}")
            return set(np.flatnonzero(items).tolist())
        out = set()
        for item in np.atleast_1d(items).tolist():
            if isinstance(item, str):
                if item not in names:
                    raise ValueError(f"categorical_features names {item!r}, which is not a column of X ({names})")
                out.add(names.index(item))
            elif isinstance(item, int) and -d <= item < d:
                out.add(item % d)
            else:
                raise ValueError(f"categorical_features entry {item!r} is neither a column name nor a position < {d}")
        return out

    def _encode_array(self, arr: np.ndarray, fitting: bool) -> np.ndarray:
        d = arr.shape[1]
        names = [f"x{j}" for j in range(d)]
        inf = np.isinf(arr)
        if inf.any():
            j = int(np.flatnonzero(inf.any(axis=0))[0])
            raise ValueError(f"column {j} ({names[j]}) contains inf; replace it with a finite value or NaN (missing)")
        if fitting:
            self._check_no_empty_column(~np.isnan(arr), names)
            cats = self._categorical_positions(names, d)
            feats, levels = [], []
            for j in range(d):
                if j in cats:
                    lev = np.unique(arr[~np.isnan(arr[:, j]), j])
                    if lev.size == 0:
                        raise ValueError(f"categorical column {j} has no observed value; drop it before fitting")
                    feats.append(Feature(names[j], "categorical", tuple(repr(float(v)) for v in lev)))
                    levels.append(lev)
                else:
                    feats.append(Feature(names[j], "real"))
                    levels.append(None)
            self.schema_ = Schema(tuple(feats))
            self.levels_ = levels
            self.int_levels_ = [None] * d
            self.input_kind_ = "array"
        out = arr.copy()
        for j, lev in enumerate(self.levels_):
            if lev is None:
                continue
            col = arr[:, j]
            ok = ~np.isnan(col)
            pos = np.searchsorted(lev, col[ok])
            pos_c = np.minimum(pos, lev.size - 1)
            bad = lev[pos_c] != col[ok]
            if bad.any():
                val = float(col[ok][bad][0])
                raise ValueError(f"categorical column {j} has value {val!r}, unseen during fit (known "
                                 f"levels: {lev.tolist()}); map it to a known level or set it to NaN to impute it")
            out[ok, j] = pos_c
        return out

    def _encode_frame(self, df: pd.DataFrame, fitting: bool) -> np.ndarray:
        names = [str(c) for c in df.columns]
        if len(set(names)) != len(names):
            raise ValueError("X has duplicate column names; rename them")
        if fitting:
            self._check_no_empty_column(df.notna().to_numpy(), names)
            cats = self._categorical_positions(names, len(names))
            feats, dtypes, kinds, int_levels = [], [], [], []
            for j, (name, col) in enumerate(df.items()):
                kind = self._column_kind(str(name), col, j in cats)
                int_levels.append(None)
                if kind in ("category", "values"):
                    dtype = col.dtype if kind == "category" else pd.CategoricalDtype(
                        np.sort(np.asarray(col.dropna().unique())))
                    if len(dtype.categories) == 0:
                        raise ValueError(f"categorical column {name!r} has no category; drop it before fitting")
                    feats.append(Feature(str(name), "categorical", tuple(str(c) for c in dtype.categories)))
                    dtypes.append(dtype)
                else:
                    feats.append(Feature(str(name), "real"))
                    dtypes.append(None)
                    if kind == "integer":
                        int_levels[-1] = np.unique(col.dropna().to_numpy(dtype=np.float64))
                kinds.append(kind)
            self.schema_ = Schema(tuple(feats))
            self.dtypes_ = dtypes
            self.kinds_ = kinds
            self.int_levels_ = int_levels
            self.input_kind_ = "frame"
        elif getattr(self, "input_kind_", None) != "frame":
            raise ValueError("this imputer was fitted on an array; pass an array (or refit on a DataFrame)")
        out = np.empty(df.shape, dtype=np.float64)
        for j, (name, col) in enumerate(df.items()):
            dtype = self.dtypes_[j]
            if dtype is None:
                if isinstance(col.dtype, pd.CategoricalDtype) or not _is_numeric(col):
                    raise ValueError(f"column {name!r} was real-valued at fit time but is now dtype {col.dtype}; pass "
                                     "numbers (NaN for missing)")
                vals = col.astype("float64").to_numpy(na_value=np.nan) if hasattr(col, "to_numpy") else col
                if np.isinf(vals).any():
                    raise ValueError(f"column {name!r} contains inf; replace it with a finite value or NaN (missing)")
                out[:, j] = vals
                continue
            if self.kinds_[j] == "category" and not isinstance(col.dtype, pd.CategoricalDtype):
                raise ValueError(f"column {name!r} was categorical at fit time but is now dtype {col.dtype}; convert "
                                 f"it with X[{name!r}].astype('category')")
            # look for unseen values first: building a Categorical from them is deprecated (pandas 3 warns)
            unknown = (col.notna() & ~col.isin(dtype.categories)).to_numpy()
            if unknown.any():
                raise ValueError(f"column {name!r} has category {col[unknown].iloc[0]!r}, unseen during fit (known: "
                                 f"{list(dtype.categories)}); map it to a known category or set it to NaN to impute it")
            codes = pd.Categorical(col, categories=dtype.categories).codes.astype(np.float64)
            codes[codes < 0] = np.nan
            out[:, j] = codes
        return out

    @staticmethod
    def _column_kind(name: str, col: pd.Series, listed: bool) -> str:
        """``category`` (categorical dtype), ``values`` (categorical learnt from a column's values: listed,
        bool/boolean, text), ``integer`` (real, imputed with observed values; also a float column of whole
        numbers) or ``real``."""
        if isinstance(col.dtype, pd.CategoricalDtype):
            return "category"
        if pd.api.types.is_bool_dtype(col.dtype) or _is_text(col):
            return "values"
        if listed:
            if not _is_numeric(col):
                raise ValueError(f"column {name!r} is listed in categorical_features but has dtype {col.dtype}; "
                                 f"convert it with X[{name!r}].astype('category') and leave it out of "
                                 "categorical_features")
            return "values"
        if _is_numeric(col):
            return "integer" if pd.api.types.is_integer_dtype(col.dtype) or _whole_numbers(col) else "real"
        kind = _REFUSED_KINDS.get(getattr(col.dtype, "kind", "O"), str(col.dtype))
        raise TypeError(f"column {name!r} has dtype {col.dtype} ({kind}), which the imputer does not guess about; "
                        f"convert it with X[{name!r}].astype('category') for a categorical feature or "
                        f"pd.to_numeric(X[{name!r}]) for a real one")

    # -- decoding ----------------------------------------------------------------------------------------
    def _decode(self, codes: np.ndarray, like: Any, index: pd.Index | None = None) -> Any:
        """``codes`` in ``like``'s form: a DataFrame with its columns and dtypes (and its index, or ``index``), or
        an array with categorical codes turned back into their values."""
        if isinstance(like, pd.DataFrame):
            index = like.index if index is None else index
            cols = {}
            for j, name in enumerate(like.columns):
                dtype, target = self.dtypes_[j], like[name].dtype
                if dtype is None:
                    cols[name] = _as_dtype(codes[:, j], target)
                elif self.kinds_[j] == "category":
                    cols[name] = pd.Categorical.from_codes(np.rint(codes[:, j]).astype(int), dtype=dtype)
                else:  # a categorical learnt from values: the values back, in the column's own dtype
                    vals = np.asarray(dtype.categories, dtype=object)[np.rint(codes[:, j]).astype(int)]
                    cols[name] = pd.Series(vals, index=index, dtype=object).astype(target)
            return pd.DataFrame(cols, index=index, columns=like.columns)
        out = codes.astype(np.float64, copy=True)
        for j, lev in enumerate(self.levels_):
            if lev is not None:
                out[:, j] = lev[np.rint(codes[:, j]).astype(int)]
        return out


    # -- persistence (JSON + npz, no pickles) --------------------------------------------------------------
    def save(self, path: Any) -> Path:
        """Write the fitted imputer to directory ``path`` (the method's folder plus JSON column metadata)."""
        check_is_fitted(self, "method_")
        path = Path(path)
        self.method_.save(path / "model")
        meta = {"method": self.method_name,
                "params": {k: _jsonable(v) for k, v in self.get_params().items() if k != "categorical_features"},
                "categorical_features": _jsonable(self.categorical_features), "input_kind": self.input_kind_,
                "feature_names_in": list(getattr(self, "feature_names_in_", [])) or None,
                "schema": [[f.name, f.kind, list(f.categories)] for f in self.schema_],
                "constants": self.constants_, "scale_exp": [int(e) for e in self.scale_exp_],
                "int_levels": [None if lev is None else lev.tolist() for lev in self.int_levels_]}
        if self.input_kind_ == "frame":
            meta["dtypes"] = [None if d is None else {"categories": [_jsonable(c) for c in d.categories],
                                                      "ordered": bool(d.ordered)} for d in self.dtypes_]
            meta["kinds"] = self.kinds_
        else:
            meta["levels"] = [None if lev is None else lev.tolist() for lev in self.levels_]
        tmp = path / (_META + ".tmp")  # atomic: a reader never sees half a file
        tmp.write_text(json.dumps(meta, indent=1))
        tmp.replace(path / _META)
        return path

    @classmethod
    def load(cls, path: Any) -> MethodImputer:
        """Read an imputer written by :meth:`save`: only registered methods, by name (as ``Imputer.load``)."""
        from .methods import REGISTRY, Imputer

        path = Path(path)
        meta = json.loads((path / _META).read_text())
        name = meta.get("method", "vaeac")  # folders written before the generic wrapper held VAEAC
        if not isinstance(name, str) or name not in REGISTRY:
            raise ValueError(f"{path / _META} names method {name!r}, which is not a registered method; refusing "
                             f"to load it ({REGISTRY.known()})")
        if cls.method_name and REGISTRY[cls.method_name].target != REGISTRY[name].target:
            raise TypeError(f"{path} holds a {name!r} imputer, not a {cls.method_name!r} one; use "
                            "MethodImputer.load to read any method")
        params = dict(meta["params"])
        for k in _product_extras(name):  # folders written before the product model held the registered one
            params.setdefault(k, None)
        obj = imputer_class(name)(categorical_features=meta["categorical_features"], **params)
        method = _load_method(Imputer, path / "model")
        if not isinstance(method, REGISTRY[name].load_class()):
            raise TypeError(f"{path / 'model'} holds a {type(method).__name__}, not the {name!r} method")
        extra = {k: getattr(obj, k) for k in _product_extras(name)}
        if any(v is not None for v in extra.values()) and not isinstance(method, _product_class(name)):
            method = _product_class(name).from_saved(method, **extra)  # an older folder: the registered method
        obj.method_ = method
        obj.schema_ = Schema(tuple(Feature(n, k, tuple(c)) for n, k, c in meta["schema"])) if "schema" in meta \
            else method.schema_  # the method's own schema differs for a one-level categorical
        obj.n_features_in_ = len(obj.schema_)
        obj.input_kind_ = meta["input_kind"]
        if meta["feature_names_in"]:
            obj.feature_names_in_ = np.asarray(meta["feature_names_in"], dtype=object)
        n_cols = len(obj.schema_)
        # folders written before the column rules (issue 13 §1) lack these: no constant, scaling or integer rule
        obj.constants_ = meta.get("constants") or [None] * n_cols
        obj.scale_exp_ = meta.get("scale_exp") or [0] * n_cols
        obj.int_levels_ = [None if lev is None else np.asarray(lev, dtype=float)
                           for lev in meta.get("int_levels") or [None] * n_cols]
        if obj.input_kind_ == "frame":
            obj.dtypes_ = [None if d is None else pd.CategoricalDtype(d["categories"], ordered=d["ordered"])
                           for d in meta["dtypes"]]
            listed = obj._categorical_positions(list(obj.schema_.names), n_cols)
            obj.kinds_ = meta.get("kinds") or ["real" if t is None else "values" if j in listed else "category"
                                               for j, t in enumerate(obj.dtypes_)]
        else:
            obj.levels_ = [None if lev is None else np.asarray(lev, dtype=float) for lev in meta["levels"]]
        return obj


def _load_method(imputer: Any, folder: Path) -> Any:
    """``Imputer.load(folder)`` with torch's inference mode switched off while the weights are built. Inside a
    ``torch.inference_mode()`` block they would become inference tensors, which carry no version counter, and
    VAEAC's sampler cache reads that counter (``fast_sampler.sampler_for``): ``transform`` would then fail."""
    torch = sys.modules.get("torch")  # imported only by the methods that use it
    if torch is not None and torch.is_inference_mode_enabled():
        with torch.inference_mode(False):
            return imputer.load(folder)
    return imputer.load(folder)


_CLASSES: dict[str, type[MethodImputer]] = {}


def imputer_class(method: str) -> type[MethodImputer]:
    """The estimator class of a registered method (built once per name; its signature is the method's)."""
    from .methods import REGISTRY

    spec = REGISTRY.get(method)
    if spec.name in _CLASSES:
        return _CLASSES[spec.name]
    klass = spec.load_class()
    kw = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
              inspect.Parameter("categorical_features", kw, default=None),
              inspect.Parameter("n_imputations", kw, default=10)]
    for p in inspect.signature(klass.__init__).parameters.values():
        if p.name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name in _OWN:
            continue
        if hasattr(MethodImputer, p.name):
            raise TypeError(f"method {spec.name!r} has a parameter {p.name!r} that clashes with the estimator's")
        default = WRAPPER_DEFAULTS.get(spec.name, {}).get(p.name, spec.params.get(p.name, p.default))
        params.append(p.replace(kind=kw, default=default))
    if spec.name in PRODUCT:  # the product class's own parameters (e.g. VAEAC's sigma_max)
        sig = inspect.signature(_product_class(spec.name).__init__).parameters
        params += [sig[k].replace(kind=kw) for k in _product_extras(spec.name)]
    params.append(inspect.Parameter("random_state", kw, default=None))

    def __init__(self: MethodImputer, **kwargs: Any) -> None:
        MethodImputer.__init__(self, **kwargs)

    __init__.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    title = spec.label or spec.name
    name = _class_name(spec.name)
    doc = (f"{title} (registered method {spec.name!r}) as a scikit-learn transformer for mixed tables.\n\n"
           f"{spec.description}\n\nParameters: ``categorical_features``, ``n_imputations``, ``random_state`` and "
           f"the hyper-parameters of :class:`{klass.__module__}.{klass.__qualname__}` (paper defaults); see "
           ":mod:`vaeac_bench.imputer`.")
    cls = type(name, (MethodImputer,), {"__init__": __init__, "__doc__": doc, "method_name": spec.name,
                                       "__module__": __name__, "__qualname__": name})
    _CLASSES[spec.name] = cls
    return cls


def _product_class(method: str) -> type:
    """The product subclass of a registered method (:data:`PRODUCT`)."""
    import importlib

    module, name = PRODUCT[method].split(":")
    return getattr(importlib.import_module(module), name)


def _product_extras(method: str) -> tuple[str, ...]:
    """The parameters of a method's product class that the registered class lacks (none without a product)."""
    if method not in PRODUCT:
        return ()
    from .methods import REGISTRY

    base = set(inspect.signature(REGISTRY[method].load_class().__init__).parameters)
    return tuple(k for k in inspect.signature(_product_class(method).__init__).parameters
                 if k not in base and k not in ("self", "params"))


def _class_name(method: str) -> str:
    """The estimator class's name: ``VAEACImputer`` for ``vaeac``, ``MissforestImputer`` for ``missforest``."""
    return "VAEACImputer" if method == "vaeac" else "".join(c for c in method.title() if c.isalnum()) + "Imputer"


def make_imputer(method: str, **params: Any) -> MethodImputer:
    """A scikit-learn estimator for the registered ``method`` (e.g. ``make_imputer("mice", iterations=3)``)."""
    return imputer_class(method)(**params)


def __getattr__(name: str) -> Any:
    """``VAEACImputer`` and the other methods' classes by name, built on first use (so importing is torch-free).

    Resolving the generated classes as module attributes also lets ``pickle``/``joblib`` (as scikit-learn's
    model selection uses them) find them.
    """
    from .methods import REGISTRY

    for method in REGISTRY:
        if name.endswith("Imputer") and _class_name(method) == name:
            return imputer_class(method)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _is_numeric(col: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype) \
        and not pd.api.types.is_complex_dtype(col.dtype)


def _is_text(col: pd.Series) -> bool:
    """A ``string``/``str`` column, or an ``object`` column holding only strings (pandas 2's text default)."""
    if isinstance(col.dtype, pd.StringDtype):
        return True
    return col.dtype == object and pd.api.types.infer_dtype(col, skipna=True) == "string"


def _copy_on_write() -> bool:
    """Whether pandas copies a slice on write (always from pandas 3, an option in pandas 2), so that returning
    slices of one frame can never let an edit of one reach another or warn about it."""
    if int(pd.__version__.split(".")[0]) >= 3:
        return True
    return pd.get_option("mode.copy_on_write") is True


def _whole_numbers(col: pd.Series) -> bool:
    """Whether a float column took only whole numbers below 2**53: an integer column that pandas stores as float
    because it has missing cells (as ``read_csv`` does)."""
    x = col.dropna().to_numpy(dtype=np.float64)
    return bool(x.size) and bool((np.abs(x) < 2.0**53).all() and (x == np.round(x)).all())


def _nearest(levels: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The element of sorted ``levels`` nearest to each ``x`` (ties to the lower one)."""
    if levels.size == 1:
        return np.full_like(x, levels[0])
    hi = np.clip(np.searchsorted(levels, x), 1, levels.size - 1)
    lo = hi - 1
    return np.where(x - levels[lo] <= levels[hi] - x, levels[lo], levels[hi])


def _as_dtype(values: np.ndarray, dtype: Any) -> Any:
    """Real imputations in a column's own dtype (``Int64`` stays ``Int64``), clipped to its finite range."""
    if pd.api.types.is_float_dtype(dtype):
        fmax = float(np.finfo(np.dtype(getattr(dtype, "numpy_dtype", dtype))).max)
        values = np.clip(values, -fmax, fmax)
    elif pd.api.types.is_integer_dtype(dtype):
        values = np.rint(values)
    return pd.array(values, dtype=dtype)


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, tuple | list):
        return [_jsonable(x) for x in v]
    return v
