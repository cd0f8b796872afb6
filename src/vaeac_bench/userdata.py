"""The user's own table in the benchmark (``run-bench --csv PATH``, issue 13 §5).

A CSV or Parquet file becomes a :class:`~vaeac_bench.datasets.spec.Table` in the suite's numeric layout, with
the target (``--target``, else the last column) moved last, as for the registered datasets:

* Column kinds follow :class:`~vaeac_bench.imputer.MethodImputer`'s rules (its ``_column_kind``, imported, not
  repeated): numbers (integers included) are real; text, ``category`` and boolean columns are categorical;
  ``--categorical a,b`` makes numeric columns categorical too. Anything else (dates, mixed objects) is refused.
* Cells already missing in the file (empty, ``NA``, ``?`` ...) stay missing: the protocol hides more cells on
  top and scores only the hidden cells whose true value is known (:attr:`Split.test_scored`). Rows whose
  *target* is missing are left out (the downstream task needs a label), and the CLI says how many.
* Unusable columns fail before any work with one line naming the column and the fix (usually ``--drop``):
  every cell missing, a constant, a text column with more than :data:`MAX_LEVELS` distinct values (an
  identifier or free text), ``inf`` in a real column, an unknown ``--target``/``--categorical``/``--drop``
  name, an unreadable file.

The file is identified by its sha256 in every result record (``dataset_source = "sha256:..."``); a cell reads
the file again in its worker and refuses it if the bytes changed since the run was planned.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .datasets.spec import Table
from .schema import Feature, Schema

#: a text column with more distinct values than this is refused as an identifier or free text
MAX_LEVELS = 50
#: the fewest rows a table needs (a 3:1 split with a few rows on each side)
MIN_ROWS = 10
#: strings read as missing besides pandas' defaults ("", NA, N/A, NaN, null, ...): the UCI convention
EXTRA_NA = ("?",)
PARQUET_SUFFIXES = (".parquet", ".pq")


class UserDataError(ValueError):
    """A user's table that the benchmark cannot use, with the column at fault and the fix, in one line."""


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file's bytes (what identifies a user's dataset in the result records)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def dataset_name(path: str | Path) -> str:
    """The dataset name results are filed under: the file stem (safe characters only), ``-csv`` added when it
    is the name of a registered dataset, so a user's ``iris.csv`` never reads as the embedded Iris."""
    from .datasets import SPECS

    stem = Path(path).name
    for suffix in (".gz", ".bz2", ".zip", ".xz", *PARQUET_SUFFIXES, ".csv", ".tsv", ".txt"):
        stem = stem.removesuffix(suffix)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-.") or "data"
    return f"{name}-csv" if name.lower() in {k.lower() for k in SPECS.keys()} else name


def read_frame(path: str | Path) -> pd.DataFrame:
    """Read a CSV (any pandas-inferred compression; ``,`` or tab separated) or Parquet file as a DataFrame."""
    path = Path(path)
    if not path.is_file():
        raise UserDataError(f"--csv {path}: no such file; check the path")
    parquet = path.suffix.lower() in PARQUET_SUFFIXES
    try:
        if parquet:
            df = pd.read_parquet(path)
        else:
            df = pd.read_csv(path, sep=None, engine="python", na_values=list(EXTRA_NA))
    except (OSError, ValueError, UnicodeDecodeError, ImportError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        kind = "Parquet" if parquet else "CSV (comma or tab separated, UTF-8, header row)"
        raise UserDataError(f"--csv {path}: cannot read it as {kind}: {first}; check the file's format") from None
    df.columns = [str(c) for c in df.columns]
    if len(set(df.columns)) != len(df.columns):
        dup = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
        raise UserDataError(f"--csv {path}: duplicate column name(s) {dup}; rename them in the file")
    return df


def _kind(name: str, col: pd.Series, listed: bool) -> str:
    """``real`` or ``categorical`` by the estimator's rules (:meth:`MethodImputer._column_kind`)."""
    from .imputer import MethodImputer

    try:
        kind = MethodImputer._column_kind(name, col, listed)
    except (TypeError, ValueError):
        raise UserDataError(f"column {name!r} has dtype {col.dtype}, neither numbers nor text: drop it with --drop "
                            f"{name}, or write it as numbers or text in the file") from None
    return "categorical" if kind in ("category", "values") else "real"


def _levels(col: pd.Series) -> list[Any]:
    """A categorical column's observed levels in code order (sorted; by value for numbers, else as text)."""
    values = col.dropna().unique()
    try:
        return sorted(values.tolist())
    except TypeError:  # mixed types: order by their text
        return sorted(values.tolist(), key=str)


@dataclass(frozen=True)
class UserSource:
    """How to read a user's table: the file (absolute path), its sha256 and the column options.

    Picklable and small: a cell carries it to its worker, which reads the file again (:meth:`load`).
    """

    path: str
    sha256: str
    name: str
    target: str
    categorical: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()

    def load(self) -> Table:
        """The table in the suite's numeric layout (target last); refuses a file changed since planning."""
        if file_sha256(self.path) != self.sha256:
            raise UserDataError(f"--csv {self.path} changed since the run was planned (its sha256 differs); "
                                "run again to plan it anew")
        return frame_table(read_frame(self.path), self)

    def describe(self) -> dict[str, Any]:
        """What defines the table in a cell's config: the file's sha256 and name, and the column options."""
        return {"dataset_source": f"sha256:{self.sha256}", "dataset_file": Path(self.path).name,
                "columns": {"target": self.target, "categorical": sorted(self.categorical),
                            "drop": sorted(self.drop)}}

    def cell_config(self, method: str, mechanism: str, rate: float, n_imputations: int,
                    quick: bool) -> dict[str, Any]:
        """Everything that defines a cell's result apart from the split (as :func:`runner.cell_config`)."""
        from .datasets.splits import TEST_FRACTION
        from .methods import get, params_for
        from .runner import PROTOCOL_VERSION

        return {"protocol": PROTOCOL_VERSION, "test_fraction": TEST_FRACTION, "dataset": self.name,
                **self.describe(), "method": method, "target": get(method).target,
                "params": params_for(method, quick), "n_imputations": int(n_imputations),
                "mechanism": mechanism, "rate": float(rate)}


def frame_table(df: pd.DataFrame, source: UserSource) -> Table:
    """Check every column of ``df`` and encode it (target last), or raise one :class:`UserDataError`."""
    where = f"--csv {Path(source.path).name}"
    for option, names in (("--target", (source.target,)), ("--categorical", source.categorical),
                          ("--drop", source.drop)):
        unknown = [n for n in names if n not in df.columns]
        if unknown:
            raise UserDataError(f"{option} names {unknown[0]!r}, which is not a column of {where} (columns: "
                                f"{', '.join(df.columns)}); use one of those names")
    if source.target in source.drop:
        raise UserDataError(f"--target {source.target!r} is also in --drop; keep the target or choose another")
    df = df.drop(columns=list(source.drop))
    missing_target = df[source.target].isna().to_numpy()
    df = df.loc[~missing_target].reset_index(drop=True)
    if len(df) < MIN_ROWS:
        raise UserDataError(f"{where} has {len(df)} rows with a known target {source.target!r}; the benchmark "
                            f"needs at least {MIN_ROWS} (a 3:1 train/test split); use a larger table")
    if df.shape[1] < 2:
        raise UserDataError(f"{where} has no feature column besides the target {source.target!r}; the benchmark "
                            "needs at least one")
    cols = [c for c in df.columns if c != source.target] + [source.target]
    feats, data = [], np.empty((len(df), len(cols)), dtype=float)
    for j, name in enumerate(cols):
        col = df[name]
        if col.dtype == object and pd.api.types.infer_dtype(col, skipna=True) == "boolean":
            col = col.astype("boolean")  # True/False with empty cells: read_csv leaves them as objects
        is_target = name == source.target
        fix = "choose another --target" if is_target else f"drop it with --drop {name}"
        if col.isna().all():
            raise UserDataError(f"column {name!r} has no value (every cell is missing); {fix}")
        kind = _kind(name, col, name in source.categorical)
        if kind == "categorical":
            levels = _levels(col)
            if len(levels) > MAX_LEVELS and not is_target:
                raise UserDataError(f"column {name!r} has {len(levels)} distinct values (more than {MAX_LEVELS}), "
                                    f"an identifier or free text rather than a categorical feature; {fix}")
            lookup = {v: i for i, v in enumerate(levels)}
            data[:, j] = [np.nan if pd.isna(v) else lookup[v] for v in col.astype(object)]
            feats.append(Feature(name, "categorical", tuple(str(v) for v in levels)))
        else:
            values = col.astype("float64").to_numpy(na_value=np.nan)
            if np.isinf(values).any():
                raise UserDataError(f"real column {name!r} holds inf; replace it with a number or leave the cell "
                                    "empty (missing)")
            data[:, j] = values
            feats.append(Feature(name, "real"))
            levels = np.unique(values[~np.isnan(values)]).tolist()
        if len(levels) == 1:
            raise UserDataError(f"column {name!r} is constant (every known value is {levels[0]!r}): there is nothing "
                                f"to impute or predict; {fix}")
    schema = Schema(tuple(feats))
    task = "classification" if schema[len(schema) - 1].is_categorical else "regression"
    return Table(source.name, data, schema, task)


def prepare(path: str | Path, target: str | None = None, categorical: tuple[str, ...] = (),
            drop: tuple[str, ...] = ()) -> tuple[UserSource, Table, int]:
    """Read and check a user's file once, before any work: (its source, its table, rows left out for a missing
    target). ``target`` None means the file's last column (after ``drop``)."""
    path = Path(path).resolve()
    df = read_frame(path)
    if df.shape[0] == 0 or df.shape[1] == 0:
        raise UserDataError(f"--csv {path.name} holds no data (no rows or no columns); check the file")
    if target is None:
        kept = [c for c in df.columns if c not in drop]
        if not kept:
            raise UserDataError(f"--drop leaves no column of --csv {path.name}; drop fewer columns")
        target = kept[-1]
    source = UserSource(str(path), file_sha256(path), dataset_name(path), target, tuple(categorical), tuple(drop))
    table = frame_table(df, source)
    left_out = int(df[target].isna().sum())
    return source, table, left_out
