"""Shared fixtures: the real data folder (../shared/data beside the repo, as CI has it) and small tables."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from vaeac_bench.schema import Feature, Schema

# one thread per process, as the benchmark runner does (oversubscribed threads make small models crawl)
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
if "VAEAC_BENCH_DATA" not in os.environ and SHARED_DATA.is_dir():
    os.environ["VAEAC_BENCH_DATA"] = str(SHARED_DATA)

DATA_DIR = Path(os.environ["VAEAC_BENCH_DATA"]) if os.environ.get("VAEAC_BENCH_DATA") else None
needs_data = pytest.mark.skipif(DATA_DIR is None or not DATA_DIR.is_dir(),
                                reason="real data folder not available (set VAEAC_BENCH_DATA)")


def correlated_mixed(n: int = 240, seed: int = 0, missing: float = 0.3) -> tuple[np.ndarray, np.ndarray, Schema]:
    """Ground truth and a MCAR-masked copy of a small table with strong dependencies.

    x1 ~ N(0,1); x2 = 2*x1 + noise; x3 = -x1 + noise; c = category of sign(x1) and |x1| > 1 (3 levels);
    every column is predictable from the others, so any real imputer must beat the mean/mode.
    """
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = 2 * x1 + 0.1 * rng.normal(size=n)
    x3 = -x1 + 0.1 * rng.normal(size=n)
    c = np.where(x1 < -0.5, 0, np.where(x1 > 0.5, 2, 1)).astype(float)
    truth = np.column_stack([x1, x2, x3, c])
    mask = rng.random(truth.shape) < missing
    mask[mask.all(axis=1), 0] = False  # keep at least one value per row
    obs = np.where(mask, np.nan, truth)
    schema = Schema((Feature("x1", "real"), Feature("x2", "real"), Feature("x3", "real"),
                     Feature("c", "categorical", ("low", "mid", "high"))))
    return truth, obs, schema


@pytest.fixture
def mixed_table():
    return correlated_mixed()



def assert_saved_without_pickles(folder: Path) -> None:
    """A saved model is JSON + npz only, and every array loads with pickling refused (results never pickle)."""
    import json

    files = sorted(p for p in Path(folder).rglob("*") if p.is_file())
    assert files, f"nothing was saved in {folder}"
    assert {p.suffix for p in files} <= {".json", ".npz"}, [p.name for p in files]
    for p in files:
        if p.suffix == ".json":
            json.loads(p.read_text())
        else:
            with np.load(p, allow_pickle=False) as npz:  # raises on an object (pickled) array
                for key in npz.files:
                    npz[key]
