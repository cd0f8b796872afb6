"""The benchmark grid: dataset x method x split, each cell cached as one result file.

Cells run in parallel with joblib (one process per job, one thread per job: on a small machine two
single-threaded jobs beat one two-threaded job). A finished cell's file is written atomically, and a
cell whose file exists is skipped, so a killed run resumes where it stopped and loses nothing.
"""

from __future__ import annotations

import ctypes
import gc
import json
import logging
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .datasets import get_spec, load, make_split
from .datasets.splits import TEST_FRACTION
from .methods import build, seed
from .metrics import downstream_score, score_imputations
from .results import RESULT_SCHEMA, CellKey, atomic_write_json, config_hash
from .seeding import derive_seed

log = logging.getLogger("vaeac_bench")

#: bump when the protocol (splits, masks, metrics) changes in a way that alters results
PROTOCOL_VERSION = 1
#: metrics every current result records; a cached file without one of them is "stale" (written by an older
#: runner) and is recomputed only when asked (``refresh_stale``), since its other numbers are still valid
RECORDED_METRICS = ("nrmse", "pfc", "train_nrmse", "train_pfc")


@dataclass(frozen=True)
class Cell:
    """One unit of work: a cell key plus what is needed to recompute it."""

    key: CellKey
    quick: bool
    n_imputations: int
    config: dict[str, Any]

    @property
    def label(self) -> str:
        k = self.key
        return f"{k.dataset}/{k.method}/split{k.split}"


@dataclass
class RunSummary:
    """What a run did: cells computed, skipped (already cached) and failed (with their errors)."""

    computed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    wall_s: float = 0.0


def cell_config(dataset: str, method: str, mechanism: str, rate: float, n_imputations: int,
                quick: bool) -> dict[str, Any]:
    """Everything that defines a cell's result apart from the split index (hashed into its file name)."""
    spec = get_spec(dataset)
    est = build(method, quick=quick)
    return {
        "protocol": PROTOCOL_VERSION,
        "test_fraction": TEST_FRACTION,
        "dataset": dataset,
        "dataset_source": spec.sha256 or f"sklearn:{spec.sklearn}",
        "method": method,
        "method_config": est.config(),
        "n_imputations": int(n_imputations),
        "mechanism": mechanism,
        "rate": float(rate),
    }


def plan(datasets: Sequence[str], methods: Sequence[str], splits: Sequence[int], mechanism: str = "mcar",
         rate: float = 0.5, n_imputations: int = 10, quick: bool = False) -> list[Cell]:
    """All cells of the grid (method-major, then dataset, then split)."""
    cells = []
    for m in methods:
        for d in datasets:
            cfg = cell_config(d, m, mechanism, rate, n_imputations, quick)
            h = config_hash(cfg)
            for s in splits:
                cells.append(Cell(CellKey(d, m, int(s), mechanism, float(rate), h), quick, n_imputations, cfg))
    return cells


def _versions() -> dict[str, str]:
    import sklearn

    out = {"python": platform.python_version(), "numpy": np.__version__, "scikit-learn": sklearn.__version__,
           "vaeac_bench": __version__}
    for mod in ("torch", "miceforest", "lightgbm", "pandas"):
        if mod in sys.modules:
            out[mod] = getattr(sys.modules[mod], "__version__", "?")
    return out


def method_seed(dataset: str, method: str, split: int) -> int:
    """The random_state a method gets in one grid cell (scripts reuse it to reproduce a cell's model)."""
    return derive_seed("method", dataset, method, split)


def compute_cell(cell: Cell, data_dir: str | os.PathLike | None = None, threads: int = 1) -> dict[str, Any]:
    """Run one cell end to end and return its result record (nothing is written here)."""
    from threadpoolctl import threadpool_limits

    k = cell.key
    table = load(k.dataset, data_dir=data_dir)
    split = make_split(table, k.split, k.mechanism, k.rate)
    cell_seed = method_seed(k.dataset, k.method, k.split)
    est = seed(build(k.method, quick=cell.quick), cell_seed)
    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(threads)
    t_idx = split.target_index
    features = list(range(t_idx))
    with threadpool_limits(threads):
        c0, t0 = time.process_time(), time.perf_counter()
        est.fit(split.train_obs, split.schema)
        c1, t1 = time.process_time(), time.perf_counter()
        test_imp = est.impute(split.test_obs, n=cell.n_imputations)
        t2 = time.perf_counter()
        train_imp = est.impute(split.train_obs, n=cell.n_imputations)
        c3, t3 = time.process_time(), time.perf_counter()
        score = score_imputations(split.test_true, test_imp, split.test_scored, split.schema, columns=features)
        # the same metrics on the training rows' own imputations (their target observed): the transductive
        # reading of the protocol, recorded beside the inductive test-set score
        train_score = score_imputations(split.train_true, train_imp, split.train_scored, split.schema,
                                        columns=features)
        down = downstream_score(train_imp[:, :, features], split.train_true[:, t_idx], test_imp[:, :, features],
                                split.test_true[:, t_idx], split.schema.select(features), split.task)
    down_name = "r2" if split.task == "regression" else "accuracy"
    return {
        "result_schema": RESULT_SCHEMA,
        "dataset": k.dataset, "method": k.method, "split": k.split, "mechanism": k.mechanism, "rate": k.rate,
        "config_hash": k.config_hash, "quick": cell.quick, "config": cell.config,
        "seeds": {"split": k.split, "method": cell_seed},
        "data": split.record(),
        "n_imputations": {"requested": cell.n_imputations, "returned": int(test_imp.shape[0])},
        "metrics": {"nrmse": score.nrmse, "pfc": score.pfc, down_name: down,
                    "train_nrmse": train_score.nrmse, "train_pfc": train_score.pfc},
        "per_feature": [vars(f) | {"is_target": j == t_idx} for j, f in enumerate(score.features)],
        # wall seconds, and CPU seconds of this process (= wall on an idle core for a single-threaded job)
        "timing": {"fit_s": t1 - t0, "impute_test_s": t2 - t1, "impute_train_s": t3 - t2},
        "cpu": {"fit_s": c1 - c0, "total_s": c3 - c0},
        "versions": _versions(),
        "host": {"machine": platform.machine(), "cpus": os.cpu_count(), "threads": threads},
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _run_and_write(cell: Cell, results_dir: Path, data_dir: str | None, threads: int) -> tuple[str, str | None, float]:
    """Worker entry point: compute, write atomically, report (label, error or None, seconds)."""
    t0 = time.perf_counter()
    try:
        record = compute_cell(cell, data_dir=data_dir, threads=threads)
        atomic_write_json(results_dir / cell.key.relpath(), record)
        return cell.label, None, time.perf_counter() - t0
    except Exception as err:  # one failing cell must not stop the grid
        return cell.label, f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=5)}", time.perf_counter() - t0
    finally:
        release_memory()


def release_memory() -> None:
    """Hand freed heap back to the OS between cells (a long-lived worker otherwise keeps its peak).

    Measured: miceforest/LightGBM cells left a worker at 16 GB after 15 WallRobot/Phishing cells with glibc
    holding freed memory; ``malloc_trim`` after a Glass cell returns 0.9 GB to 0.24 GB.
    """
    gc.collect()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to trim
            pass


def is_stale(path: Path) -> bool:
    """True if a cached result lacks a metric the current runner records (or cannot be read)."""
    try:
        metrics = json.loads(path.read_text())["metrics"]
    except (OSError, ValueError, KeyError):
        return True
    return any(k not in metrics for k in RECORDED_METRICS)


def run(cells: Sequence[Cell], results_dir: str | os.PathLike, jobs: int = 1, data_dir: str | None = None,
        threads: int = 1, progress: bool = True, refresh_stale: bool = False,
        on_cell_done: Callable[[str, str | None], None] | None = None) -> RunSummary:
    """Compute every cell whose result file is missing (or stale, if ``refresh_stale``); skip the rest.

    A recomputed file replaces the old one atomically, so an interrupted refresh loses nothing.
    """
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    results_dir = Path(results_dir)
    summary = RunSummary()
    todo = []
    for c in cells:
        path = results_dir / c.key.relpath()
        if path.is_file() and not (refresh_stale and is_stale(path)):
            summary.skipped.append(c.label)
        else:
            todo.append(c)
    log.info("%d cells: %d cached, %d to compute with %d job(s)", len(cells), len(summary.skipped), len(todo), jobs)
    t0 = time.perf_counter()
    if todo:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ.setdefault(var, str(threads))  # inherited by the worker processes
        bar = tqdm(total=len(todo), desc="cells", unit="cell", disable=not progress)
        if jobs == 1:
            outcomes = (_run_and_write(c, results_dir, data_dir, threads) for c in todo)
        else:
            outcomes = Parallel(n_jobs=jobs, return_as="generator_unordered")(
                delayed(_run_and_write)(c, results_dir, data_dir, threads) for c in todo)
        try:
            for label, error, secs in outcomes:
                bar.update(1)
                if error is None:
                    summary.computed.append(label)
                    log.info("done %s in %.1fs", label, secs)
                else:
                    summary.failed[label] = error
                    log.error("FAILED %s: %s", label, error.splitlines()[0])
                if on_cell_done is not None:
                    on_cell_done(label, error)
        finally:
            bar.close()
    summary.wall_s = time.perf_counter() - t0
    return summary
