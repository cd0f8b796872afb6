"""Declarative dataset specifications and the loaded :class:`Table` they produce."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from ..schema import Feature, Schema

Task = Literal["regression", "classification"]


@dataclass(frozen=True)
class OriginalFormat:
    """How to parse the file as published (what a download fetches) into the canonical columns.

    ``kind`` is one of ``csv`` (``sep`` applies), ``whitespace``, ``arff`` (rows after ``@data``) or
    ``xls``. ``names`` renames the columns by position; ``header`` says whether the file has a header
    row to skip.
    """

    kind: Literal["csv", "whitespace", "arff", "xls"] = "csv"
    sep: str = ","
    header: bool = False
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Download:
    """Where an online user fetches the file, and the sha256 the bytes must have before parsing."""

    url: str
    sha256: str
    filename: str
    fmt: OriginalFormat = field(default_factory=OriginalFormat)


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset: where it comes from, how to parse it, the type of every column, its target.

    Columns not named in ``categorical`` are real. ``categorical`` maps a column to its levels in code
    order (code i = ``levels[i]``). ``na_values`` are the strings that mean truly missing.
    """

    name: str
    title: str
    target: str
    task: Task
    categorical: dict[str, tuple[str, ...]] = field(default_factory=dict)
    drop: tuple[str, ...] = ()
    # a file in the data dir (canonical CSV, sha256 of the file as stored) ...
    path: str | None = None
    sha256: str | None = None
    download: Download | None = None
    # ... or a scikit-learn bundled loader
    sklearn: str | None = None
    na_values: tuple[str, ...] = ()
    notes: str = ""

    @property
    def embedded(self) -> bool:
        """True for the datasets bundled with scikit-learn (no data dir needed)."""
        return self.sklearn is not None

    def __hash__(self) -> int:  # dict field: hash by name (specs are unique by name)
        return hash(self.name)


@dataclass
class Table:
    """A loaded dataset in the suite's numeric layout: target is the last column.

    ``data`` is float64 (rows, D): real values, categorical codes 0..K-1, NaN for truly missing.
    """

    name: str
    data: np.ndarray
    schema: Schema
    task: Task

    @property
    def target(self) -> str:
        return self.schema.names[-1]

    @property
    def target_index(self) -> int:
        return len(self.schema) - 1

    @property
    def n_rows(self) -> int:
        return int(self.data.shape[0])

    def to_frame(self) -> pd.DataFrame:
        """A pandas view with categorical columns as ``category`` dtype carrying the level labels."""
        return codes_to_frame(self.data, self.schema)


def codes_to_frame(data: np.ndarray, schema: Schema) -> pd.DataFrame:
    """Turn the numeric layout back into a DataFrame (categoricals as pandas ``category``)."""
    cols = {}
    for j, feat in enumerate(schema):
        col = data[:, j]
        if feat.is_categorical:
            codes = np.where(np.isnan(col), -1, col).astype(int)
            cols[feat.name] = pd.Categorical.from_codes(codes, categories=list(feat.categories))
        else:
            cols[feat.name] = col.astype(float)
    return pd.DataFrame(cols)


def schema_for(spec: DatasetSpec, columns: list[str]) -> Schema:
    """The schema of ``columns`` (already ordered with the target last) under ``spec``."""
    feats = []
    for c in columns:
        if c in spec.categorical:
            feats.append(Feature(c, "categorical", tuple(spec.categorical[c])))
        else:
            feats.append(Feature(c, "real"))
    return Schema(tuple(feats))
