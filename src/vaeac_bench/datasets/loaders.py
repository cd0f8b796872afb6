"""Parsing dataset files (canonical CSV, original formats, scikit-learn bundles) into a :class:`Table`."""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .sources import locate
from .spec import DatasetSpec, OriginalFormat, Table, schema_for


def read_canonical(path: Path, spec: DatasetSpec) -> pd.DataFrame:
    """Read the canonical CSV as strings (values unchanged; ``na_values`` become NaN)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=list(spec.na_values))


def read_original(path: Path, fmt: OriginalFormat, spec: DatasetSpec) -> pd.DataFrame:
    """Parse a file as published (after its sha256 has been verified) into string columns."""
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    na = list(spec.na_values)
    if fmt.kind == "xls":
        df = pd.read_excel(io.BytesIO(raw), header=0 if fmt.header else None, dtype=str, engine="calamine")
    else:
        text = raw.decode("utf-8")
        if fmt.kind == "arff":
            lines = text.splitlines()
            start = next(i for i, ln in enumerate(lines) if ln.strip().lower() == "@data") + 1
            text = "\n".join(ln for ln in lines[start:] if ln.strip() and not ln.startswith("%"))
        sep = r"\s+" if fmt.kind == "whitespace" else fmt.sep
        df = pd.read_csv(io.StringIO(text), sep=sep, header=0 if fmt.header else None, dtype=str,
                         keep_default_na=False, na_values=na, engine="python" if sep == r"\s+" else "c")
    if fmt.names:
        if len(fmt.names) != df.shape[1]:
            raise ValueError(f"{path}: expected {len(fmt.names)} columns, found {df.shape[1]}")
        df.columns = list(fmt.names)
    return df


def load_sklearn(spec: DatasetSpec) -> pd.DataFrame:
    """Load a scikit-learn bundled dataset as strings-free numeric frame with the target last."""
    import sklearn.datasets as skd

    loader = getattr(skd, spec.sklearn)
    kwargs = {"scaled": False} if spec.sklearn == "load_diabetes" else {}
    bunch = loader(**kwargs)
    df = pd.DataFrame(bunch.data, columns=[str(c) for c in bunch.feature_names])
    target = np.asarray(bunch.target)
    if spec.task == "classification":
        levels = spec.categorical[spec.target]
        df[spec.target] = [levels[int(t)] for t in target]
    else:
        df[spec.target] = target.astype(float)
    if spec.sklearn == "load_diabetes":
        df["sex"] = df["sex"].map(lambda v: str(int(v)))
    return df


def frame_to_table(df: pd.DataFrame, spec: DatasetSpec) -> Table:
    """Drop non-features, move the target last, and encode every column by its declared type."""
    df = df.drop(columns=[c for c in spec.drop if c in df.columns])
    if spec.target not in df.columns:
        raise ValueError(f"dataset {spec.name!r}: target column {spec.target!r} not found in {list(df.columns)}")
    cols = [c for c in df.columns if c != spec.target] + [spec.target]
    schema = schema_for(spec, cols)
    data = np.empty((len(df), len(cols)), dtype=float)
    for j, feat in enumerate(schema):
        col = df[feat.name]
        if feat.is_categorical:
            lookup = {lvl: i for i, lvl in enumerate(feat.categories)}
            as_str = col.astype(object).where(col.notna(), None)
            bad = sorted({str(v) for v in as_str.dropna() if str(v).strip() not in lookup})
            if bad:
                raise ValueError(f"dataset {spec.name!r}, column {feat.name!r}: levels {bad[:5]} are not among "
                                 f"the declared categories {list(feat.categories)}")
            data[:, j] = [np.nan if v is None else lookup[str(v).strip()] for v in as_str]
        else:
            num = pd.to_numeric(col, errors="coerce")
            bad_mask = num.isna() & col.notna()
            if bad_mask.any():
                raise ValueError(f"dataset {spec.name!r}, real column {feat.name!r}: value "
                                 f"{col[bad_mask].iloc[0]!r} is not a number")
            data[:, j] = num.to_numpy(dtype=float)
    return Table(spec.name, data, schema, spec.task)


def load_table(spec: DatasetSpec, data_dir: str | os.PathLike | None = None, download: bool = False) -> Table:
    """Load one dataset into the numeric layout (files are sha256-verified first)."""
    if spec.embedded:
        return frame_to_table(load_sklearn(spec), spec)
    found = locate(spec, data_dir=data_dir, download=download)
    if found.canonical:
        df = read_canonical(found.path, spec)
    else:
        assert spec.download is not None
        df = read_original(found.path, spec.download.fmt, spec)
    return frame_to_table(df, spec)
