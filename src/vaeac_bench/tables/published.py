"""The paper's published numbers, read from the transcribed data file ``published.csv``."""

from __future__ import annotations

from functools import cache
from importlib import resources

import pandas as pd


@cache
def load_published() -> pd.DataFrame:
    """Columns: table, dataset, method, metric, mean, std (NaN where the paper gives none), text."""
    with resources.files(__package__).joinpath("published.csv").open() as fh:
        df = pd.read_csv(fh, comment="#", dtype={"table": str, "text": str})
    return df


def published(table: str, dataset: str, method: str) -> tuple[float, float, str] | None:
    """(mean, std, text as printed) of one published cell, or None if the paper has no such cell."""
    df = load_published()
    hit = df[(df.table == str(table)) & (df.dataset == dataset) & (df.method == method)]
    if hit.empty:
        return None
    row = hit.iloc[0]
    return float(row["mean"]), float(row["std"]), str(row["text"])
