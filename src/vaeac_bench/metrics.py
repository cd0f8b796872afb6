"""Imputation metrics of appendix A.2 and the post-imputation downstream score of tables 2 and 11.

* NRMSE of a real feature: RMSE over its hidden cells divided by the population std (ddof=0) of the
  feature's ground-truth column in the evaluated set (all its known cells, observed and hidden), which is
  what the authors' evaluator does. A dataset's NRMSE is the mean over its real features.
* PFC of a categorical feature: the error rate over its hidden cells; a dataset's PFC is the mean over its
  categorical features.
* Multiple imputations are aggregated first (§5.1): mean for real features, mode for categorical ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .schema import Schema

UNDEFINED_CONSTANT = "constant column: its std is 0, so NRMSE is undefined"
UNDEFINED_NO_CELLS = "no hidden cell to score"


def mode(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """Most frequent integer value along ``axis`` (ties go to the smallest value)."""
    v = np.moveaxis(np.asarray(values), axis, 0).astype(np.int64)
    codes = np.unique(v)
    counts = np.stack([(v == c).sum(axis=0) for c in codes])
    return codes[counts.argmax(axis=0)]


def aggregate(imputations: np.ndarray, schema: Schema) -> np.ndarray:
    """Collapse ``(n, rows, D)`` imputations to one table: mean for real columns, mode for categorical."""
    imps = np.asarray(imputations, dtype=float)
    if imps.ndim == 2:
        imps = imps[None]
    out = imps.mean(axis=0)
    cat = schema.categorical_mask
    if cat.any():
        out[:, cat] = mode(np.rint(imps[:, :, cat]), axis=0)
    return out


@dataclass
class FeatureScore:
    """The error of one feature: NRMSE (real) or PFC (categorical), or None with the reason."""

    name: str
    kind: str
    error: float | None
    n_scored: int
    note: str = ""


@dataclass
class ImputationScore:
    """Dataset-level NRMSE and PFC plus every feature's error."""

    nrmse: float | None
    pfc: float | None
    features: list[FeatureScore] = field(default_factory=list)


def feature_errors(truth: np.ndarray, imputed: np.ndarray, scored: np.ndarray, schema: Schema) -> list[FeatureScore]:
    """Per-feature NRMSE/PFC of an aggregated imputation over the ``scored`` (hidden, known) cells."""
    out = []
    for j, feat in enumerate(schema):
        cells = scored[:, j] & ~np.isnan(truth[:, j])
        n = int(cells.sum())
        if n == 0:
            out.append(FeatureScore(feat.name, feat.kind, None, 0, UNDEFINED_NO_CELLS))
            continue
        t, p = truth[cells, j], imputed[cells, j]
        if feat.is_categorical:
            out.append(FeatureScore(feat.name, feat.kind, float(np.mean(np.rint(p) != t)), n))
        else:
            known = truth[~np.isnan(truth[:, j]), j]
            sd = float(known.std(ddof=0))
            if sd == 0.0:
                out.append(FeatureScore(feat.name, feat.kind, None, n, UNDEFINED_CONSTANT))
            else:
                out.append(FeatureScore(feat.name, feat.kind, float(np.sqrt(np.mean((p - t) ** 2)) / sd), n))
    return out


def score_imputations(truth: np.ndarray, imputations: np.ndarray, scored: np.ndarray, schema: Schema,
                      columns: list[int] | None = None) -> ImputationScore:
    """NRMSE and PFC of ``imputations`` (n, rows, D) against ``truth`` over ``scored`` cells.

    ``columns`` restricts the dataset averages (the benchmark scores the features, not the target); every
    column still gets its per-feature error.
    """
    feats = feature_errors(truth, aggregate(imputations, schema), scored, schema)
    use = set(range(len(schema)) if columns is None else columns)

    def avg(kind: str) -> float | None:
        vals = [f.error for j, f in enumerate(feats) if j in use and f.kind == kind and f.error is not None]
        return float(np.mean(vals)) if vals else None

    return ImputationScore(avg("real"), avg("categorical"), feats)


def design_matrix(X: np.ndarray, schema: Schema) -> np.ndarray:
    """Features for the downstream linear model: real columns as they are, categoricals one-hot."""
    from .encoding import one_hot

    return one_hot(X, schema)


def downstream_score(train_imputations: np.ndarray, train_y: np.ndarray, test_imputations: np.ndarray,
                     test_y: np.ndarray, feature_schema: Schema, task: str) -> float:
    """Tables 2/11: fit linear/logistic regression on the imputed train set, predict each imputed test set.

    ``*_imputations`` hold only feature columns (the imputed target is never an input). The model is fitted
    on all train imputations stacked (each with its true label); test predictions over the n imputations
    are combined by the mean (regression, scored by R²) or the mode (classification, scored by accuracy).
    """
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    tr = np.asarray(train_imputations, dtype=float)
    te = np.asarray(test_imputations, dtype=float)
    tr = tr[None] if tr.ndim == 2 else tr
    te = te[None] if te.ndim == 2 else te
    Xtr = np.concatenate([design_matrix(x, feature_schema) for x in tr])
    ytr = np.tile(np.asarray(train_y), tr.shape[0])
    if task == "regression":
        model = make_pipeline(StandardScaler(), LinearRegression())
    else:
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(Xtr, ytr)
    preds = np.stack([model.predict(design_matrix(x, feature_schema)) for x in te])
    if task == "regression":
        return float(r2_score(test_y, preds.mean(axis=0)))
    return float(accuracy_score(test_y, mode(preds, axis=0)))
