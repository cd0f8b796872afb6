"""Input checks shared by every method: clear errors that name the column and the fix."""

from __future__ import annotations

import numpy as np

from .schema import Schema


def check_matrix(X: object, schema: Schema, *, fitting: bool, allow_empty_columns: bool = False) -> np.ndarray:
    """Validate the numeric layout (real values, integer codes for categoricals, NaN = missing).

    Refuses: a non-2-D input, a column count that does not match the schema, zero rows, inf, a value in a
    real column that is not a number, an out-of-range or non-integer category code and (when fitting) a
    column with no observed value at all.
    """
    if hasattr(X, "columns"):  # a DataFrame: name the first column that is not numeric
        import pandas as pd

        for j, name in enumerate(X.columns):
            col = X.iloc[:, j]
            num = pd.to_numeric(col, errors="coerce") if col.dtype.kind not in "fiub" else col
            bad = num.isna() & col.notna()
            if bad.any():
                raise ValueError(f"column {name!r} holds {col[bad].iloc[0]!r}, which is not a number; this interface "
                                 "takes real values and integer category codes (use make_imputer(name) for a DataFrame "
                                 "with categorical dtypes, or encode the column first)")
    try:
        arr = np.asarray(X, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValueError(f"input could not be read as numbers ({err}); pass a float array with NaN for missing "
                         "cells and categorical columns as integer codes (or use make_imputer(name) on a DataFrame)"
                         ) from None
    if arr.ndim != 2:
        raise ValueError(f"expected a 2-D array (rows, columns), got shape {arr.shape}")
    if arr.shape[1] != len(schema):
        raise ValueError(f"input has {arr.shape[1]} columns but the schema has {len(schema)}: {schema.names}")
    if arr.shape[0] == 0:
        raise ValueError("input has 0 rows; at least one row is required")
    inf = np.isinf(arr)
    if inf.any():
        j = int(np.where(inf.any(axis=0))[0][0])
        raise ValueError(f"column {schema.names[j]!r} contains inf; replace it with a finite value or NaN (missing)")
    observed = ~np.isnan(arr)
    for j, feat in enumerate(schema):
        col = arr[observed[:, j], j]
        if feat.is_categorical and col.size:
            bad = (col != np.round(col)) | (col < 0) | (col >= feat.n_categories)
            if bad.any():
                raise ValueError(f"categorical column {feat.name!r} has value {float(col[bad][0]):g}; codes must be "
                                 f"integers in 0..{feat.n_categories - 1} (levels {list(feat.categories)})")
    if fitting and not allow_empty_columns:
        empty = np.where(~observed.any(axis=0))[0]
        if empty.size:
            names = [schema.names[j] for j in empty]
            raise ValueError(f"column(s) {names} have no observed value, so nothing can be learnt about them; "
                             "drop them before fitting")
    return arr
