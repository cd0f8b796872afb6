"""``VAEACImputer``: VAEAC as a scikit-learn transformer for mixed real/categorical tables.

>>> import pandas as pd
>>> from vaeac_bench import VAEACImputer
>>> df = pd.DataFrame({"size": [1.0, None, 3.0, 2.5] * 10,
...                    "colour": pd.Categorical(["red", "blue", None, "red"] * 10)})
>>> imp = VAEACImputer(epochs=2, width=16, depth=1, latent_dim=2, random_state=0)
>>> out = imp.fit_transform(df)
>>> out["colour"].dtype == df["colour"].dtype and int(out.isna().sum().sum())
0

Input rules (each violation is a ``ValueError``/``TypeError`` naming the column and the fix):

* **DataFrame**: a ``category`` column is categorical (its categories and ``ordered`` flag round-trip to the
  output); a numeric column (including nullable ``Int64``/``Float64``) is real; a column listed in
  ``categorical_features`` (names or positions) is categorical with the sorted observed values as levels.
  Text columns (``object``, ``str``/``string``, the pandas 3 default for text), ``bool`` and datetimes are
  refused: convert them explicitly (``df[c].astype("category")``, ``pd.to_numeric``) so that no column is
  silently reinterpreted.
* **array**: every column is real unless listed in ``categorical_features`` (positions or a boolean mask);
  a categorical column's levels are its sorted observed values at fit time and are returned unchanged.
* NaN (or ``None``/``pd.NA``) is missing; ``inf`` is refused; a column with no observed value at fit time is
  refused; at transform time an unknown category, a column whose kind changed since fit, or a different
  column set is refused. An all-missing row is imputed from the learnt joint distribution (nothing to
  condition on); tables smaller than a batch are fine (batches are padded as in the reference code).

``transform`` returns the paper's point estimate: the mean (real) / mode (categorical) of
``n_imputations`` draws (§5.1); ``sample(X, n)`` returns the draws themselves. Both are deterministic for a
given ``random_state`` (pass ``random_state`` to ``sample`` for other draws).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .metrics import aggregate
from .schema import Feature, Schema

_REFUSED_KINDS = {"O": "text (object)", "U": "text", "S": "bytes", "b": "boolean", "M": "datetime", "m": "timedelta",
                  "c": "complex"}


class VAEACImputer(TransformerMixin, BaseEstimator):
    """Multiple imputation of mixed tables with VAEAC (Ivanov et al., ICLR 2019), scikit-learn style.

    Parameters mirror :class:`vaeac_bench.methods.vaeac.VAEACMethod` (paper defaults); ``epochs=None``
    picks a budget from the table size, ``patience`` enables early stopping on the validation IWAE.
    """

    def __init__(self, categorical_features: Any = None, n_imputations: int = 10, alpha: float = 1.0,
                 width: int = 256, depth: int = 10, latent_dim: int = 64, activation: str = "leaky_relu",
                 epochs: int | None = None, batch_size: int = 64, lr: float = 3e-4, validation_fraction: float = 0.25,
                 validation_samples: int = 25, validate_every: int = 1, patience: int | None = None,
                 mask_prob: float = 0.2, sample_most_probable: bool = True, mode: str = "fast",
                 random_state: int | None = None, device: str = "cpu", verbose: int = 0):
        self.categorical_features = categorical_features
        self.n_imputations = n_imputations
        self.alpha = alpha
        self.width = width
        self.depth = depth
        self.latent_dim = latent_dim
        self.activation = activation
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.validation_fraction = validation_fraction
        self.validation_samples = validation_samples
        self.validate_every = validate_every
        self.patience = patience
        self.mask_prob = mask_prob
        self.sample_most_probable = sample_most_probable
        self.mode = mode
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    _METHOD_PARAMS = ("alpha", "width", "depth", "latent_dim", "activation", "epochs", "batch_size", "lr",
                      "validation_fraction", "validation_samples", "validate_every", "patience", "mask_prob",
                      "sample_most_probable", "mode", "random_state", "device", "verbose")

    def __sklearn_tags__(self):  # noqa: ANN204 - sklearn Tags
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        return tags

    # -- fitting ----------------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> VAEACImputer:
        """Learn the joint distribution of ``X``'s columns (``y`` is ignored; add it as a column instead, B.2)."""
        from .methods.vaeac import VAEACMethod

        if not isinstance(self.n_imputations, int | np.integer) or self.n_imputations < 1:
            raise ValueError(f"n_imputations must be a positive integer, got {self.n_imputations!r}")
        codes = self._encode(X, fitting=True)
        params = {k: getattr(self, k) for k in self._METHOD_PARAMS}
        if params["random_state"] is not None and not isinstance(params["random_state"], int | np.integer):
            raise ValueError("random_state must be an int or None (a RandomState instance cannot be stored "
                             f"in the saved model), got {type(params['random_state']).__name__}")
        if params["random_state"] is None:  # a fixed seed per fit, so repeated transforms agree
            params["random_state"] = int(np.random.SeedSequence().generate_state(1)[0])
        self.method_ = VAEACMethod(**params).fit(codes, self.schema_)
        return self

    # -- imputing ----------------------------------------------------------------------------------------
    def transform(self, X: Any) -> Any:
        """Fill the missing cells of ``X``: mean (real) / mode (categorical) of ``n_imputations`` draws."""
        check_is_fitted(self, "method_")
        codes = self._encode(X, fitting=False)
        draws = self.method_.impute(codes, n=int(self.n_imputations))
        point = aggregate(draws, self.schema_)
        seen = ~np.isnan(codes)
        point[seen] = codes[seen]  # observed cells exactly as given (a mean of n copies may differ in the last bit)
        return self._decode(point, X)

    def sample(self, X: Any, n: int = 10, random_state: int | None = None) -> Any:
        """``n`` imputations of ``X``: an array (n, rows, D), or a list of ``n`` DataFrames for a DataFrame."""
        check_is_fitted(self, "method_")
        if not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        codes = self._encode(X, fitting=False)
        m = self.method_
        if random_state is None:
            draws = m.impute(codes, n=int(n))
        else:
            from .seeding import derive_seed

            Xs = m.scaler_.transform(codes)
            draws = m.scaler_.inverse_transform(m.sample_standardised(Xs, int(n), derive_seed(m.seed_, "sample",
                                                                                              int(random_state))))
            seen = ~np.isnan(codes)
            draws[:, seen] = codes[seen]
        if isinstance(X, pd.DataFrame):
            return [self._decode(d, X) for d in draws]
        return np.stack([self._decode(d, X) for d in draws])

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "method_")
        return np.asarray(self.schema_.names, dtype=object)

    # -- encoding ----------------------------------------------------------------------------------------
    def _encode(self, X: Any, fitting: bool) -> np.ndarray:
        """The suite's numeric layout of ``X`` (float codes, NaN = missing); sets the schema when fitting."""
        if isinstance(X, pd.DataFrame):
            validate_data(self, X, reset=fitting, skip_check_array=True)
            if X.shape[0] == 0:
                raise ValueError("X has 0 rows; at least one row is required")
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
                            ensure_min_samples=1)
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
            cats = self._categorical_positions(names, len(names))
            feats, dtypes = [], []
            for j, (name, col) in enumerate(df.items()):
                kind = self._column_kind(str(name), col, j in cats)
                if kind == "category":
                    dtype = col.dtype if isinstance(col.dtype, pd.CategoricalDtype) else pd.CategoricalDtype(
                        np.sort(pd.unique(col.dropna())))
                    if len(dtype.categories) == 0:
                        raise ValueError(f"categorical column {name!r} has no category; drop it before fitting")
                    feats.append(Feature(str(name), "categorical", tuple(str(c) for c in dtype.categories)))
                    dtypes.append(dtype)
                else:
                    feats.append(Feature(str(name), "real"))
                    dtypes.append(None)
            self.schema_ = Schema(tuple(feats))
            self.dtypes_ = dtypes
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
            if isinstance(dtype, pd.CategoricalDtype) and not isinstance(col.dtype, pd.CategoricalDtype) \
                    and not self._was_listed(name, j):
                raise ValueError(f"column {name!r} was categorical at fit time but is now dtype {col.dtype}; convert "
                                 f"it with X[{name!r}].astype('category')")
            known = pd.Categorical(col, categories=dtype.categories)
            unknown = col.notna().to_numpy() & (known.codes < 0)
            if unknown.any():
                raise ValueError(f"column {name!r} has category {col[unknown].iloc[0]!r}, unseen during fit (known: "
                                 f"{list(dtype.categories)}); map it to a known category or set it to NaN to impute it")
            codes = known.codes.astype(np.float64)
            codes[codes < 0] = np.nan
            out[:, j] = codes
        return out

    def _was_listed(self, name: str, j: int) -> bool:
        return j in self._categorical_positions([str(c) for c in self.schema_.names], len(self.schema_))

    @staticmethod
    def _column_kind(name: str, col: pd.Series, listed: bool) -> str:
        if isinstance(col.dtype, pd.CategoricalDtype):
            return "category"
        if listed:
            if not _is_numeric(col):
                raise ValueError(f"column {name!r} is listed in categorical_features but has dtype {col.dtype}; "
                                 f"convert it with X[{name!r}].astype('category') and leave it out of "
                                 "categorical_features")
            return "category"
        if _is_numeric(col):
            return "real"
        kind = _REFUSED_KINDS.get(getattr(col.dtype, "kind", "O"), str(col.dtype))
        raise TypeError(f"column {name!r} has dtype {col.dtype} ({kind}), which VAEACImputer does not guess about; "
                        f"convert it with X[{name!r}].astype('category') for a categorical feature or "
                        f"pd.to_numeric(X[{name!r}]) for a real one")

    # -- decoding ----------------------------------------------------------------------------------------
    def _decode(self, codes: np.ndarray, like: Any) -> Any:
        if isinstance(like, pd.DataFrame):
            cols = {}
            for j, name in enumerate(like.columns):
                dtype = self.dtypes_[j]
                if dtype is None:
                    cols[name] = codes[:, j]
                else:
                    c = np.rint(codes[:, j]).astype(int)
                    cat = pd.Categorical.from_codes(c, dtype=dtype)
                    if not isinstance(like[name].dtype, pd.CategoricalDtype):  # listed numeric column: values back
                        cols[name] = np.asarray(dtype.categories)[c]
                    else:
                        cols[name] = cat
            return pd.DataFrame(cols, index=like.index, columns=like.columns)
        out = codes.astype(np.float64, copy=True)
        for j, lev in enumerate(self.levels_):
            if lev is not None:
                out[:, j] = lev[np.rint(codes[:, j]).astype(int)]
        return out

    # -- persistence (JSON + npz, no pickles) --------------------------------------------------------------
    def save(self, path: Any) -> Any:
        """Write the fitted imputer to directory ``path`` (the model plus JSON column metadata)."""
        import json
        from pathlib import Path

        check_is_fitted(self, "method_")
        path = Path(path)
        self.method_.save(path / "model")
        meta = {"params": {k: v for k, v in self.get_params().items() if k != "categorical_features"},
                "categorical_features": _jsonable(self.categorical_features), "input_kind": self.input_kind_,
                "feature_names_in": list(getattr(self, "feature_names_in_", [])) or None}
        if self.input_kind_ == "frame":
            meta["dtypes"] = [None if d is None else {"categories": [_jsonable(c) for c in d.categories],
                                                      "ordered": bool(d.ordered)} for d in self.dtypes_]
        else:
            meta["levels"] = [None if lev is None else lev.tolist() for lev in self.levels_]
        (path / "imputer.json").write_text(json.dumps(meta, indent=1))
        return path

    @classmethod
    def load(cls, path: Any) -> VAEACImputer:
        """Read an imputer written by :meth:`save` (category values round-trip as JSON scalars)."""
        import json
        from pathlib import Path

        from .methods.vaeac import VAEACMethod

        path = Path(path)
        meta = json.loads((path / "imputer.json").read_text())
        obj = cls(categorical_features=meta["categorical_features"], **meta["params"])
        obj.method_ = VAEACMethod.load(path / "model")
        obj.schema_ = obj.method_.schema_
        obj.n_features_in_ = len(obj.schema_)
        obj.input_kind_ = meta["input_kind"]
        if meta["feature_names_in"]:
            obj.feature_names_in_ = np.asarray(meta["feature_names_in"], dtype=object)
        if obj.input_kind_ == "frame":
            obj.dtypes_ = [None if d is None else pd.CategoricalDtype(d["categories"], ordered=d["ordered"])
                           for d in meta["dtypes"]]
        else:
            obj.levels_ = [None if lev is None else np.asarray(lev, dtype=float) for lev in meta["levels"]]
        return obj


def _is_numeric(col: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype) \
        and not pd.api.types.is_complex_dtype(col.dtype)


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, tuple | list):
        return [_jsonable(x) for x in v]
    return v
