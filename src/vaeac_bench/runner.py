"""The benchmark grid: dataset x method x split, each cell cached as one result file.

Cells run in parallel in loky worker processes (one thread per job: on a small machine two
single-threaded jobs beat one two-threaded job), or on a Dask cluster (``backend="dask"``, :mod:`dask_backend`).
Either way workers compute cells and return their records, and this process (the driver) writes each finished
cell's file atomically; a cell whose file exists and is not stale (see :mod:`provenance`) is reused, so a killed
run resumes where it stopped and loses nothing. Cells start only while their memory estimates fit
(:mod:`resources`).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .datasets import get_spec, load, make_split
from .datasets.image_registry import dataset_kind
from .datasets.splits import TEST_FRACTION
from .methods import build, get, params_for, seed
from .metrics import aggregate, downstream_score, score_imputations
from .provenance import build_provenance, code_digest
from .provenance import is_stale as provenance_is_stale
from .resources import MemoryScheduler, PeakRSS, available_mb, estimate_mb, limit_threads, recorded_peaks, worker_env
from .results import RESULT_SCHEMA, CellKey, atomic_write_json, config_hash
from .schema import Schema
from .seeding import derive_seed

log = logging.getLogger("vaeac_bench")

#: bump when the protocol (splits, masks, metrics) changes in a way that alters results
PROTOCOL_VERSION = 1
#: the paper's missingness setting (A.2: 50% MCAR), the one its tables report
PAPER_SETTING = ("mcar", 0.5)


@dataclass(frozen=True)
class Cell:
    """One unit of work: a cell key plus what is needed to recompute it."""

    key: CellKey
    quick: bool
    n_imputations: int
    config: dict[str, Any]
    #: where a user's own table comes from (``run-bench --csv``, :mod:`userdata`); None for registered datasets
    source: Any = None

    @property
    def label(self) -> str:
        """``dataset/method/splitN``, plus ``/mechanism-rate`` outside the paper's 50% MCAR (labels stay unique)."""
        k = self.key
        label = f"{k.dataset}/{k.method}/split{k.split}"
        return label if (k.mechanism, k.rate) == PAPER_SETTING else f"{label}/{k.mechanism}-{k.rate:g}"


@dataclass
class RunSummary:
    """What a run did: cells computed, reused from the cache, stale (kept or recomputed) and failed."""

    results_dir: str = ""
    computed: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    stale_kept: list[str] = field(default_factory=list)
    stale_recomputed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    wall_s: float = 0.0

    @property
    def skipped(self) -> list[str]:
        """Cells not computed: reused from the cache, or stale ones kept with ``accept_stale``."""
        return self.reused + self.stale_kept

    def describe(self) -> str:
        """One honest line: how many cells came from the cache, were computed, stale, or failed."""
        stale = (f"{len(self.stale_kept)} stale kept (--accept-stale)" if self.stale_kept else
                 f"{len(self.stale_recomputed)} of them stale and recomputed")
        return (f"{len(self.reused)} cell(s) reused from the cache in {self.results_dir}, "
                f"{len(self.computed)} computed ({stale}), {len(self.failed)} failed, in {self.wall_s:.0f}s")


def cell_config(dataset: str, method: str, mechanism: str, rate: float, n_imputations: int,
                quick: bool) -> dict[str, Any]:
    """Everything that defines a cell's result apart from the split index, from the registries alone.

    No method is imported or instantiated, so the renderer can compute the same hash without torch.
    """
    spec = get_spec(dataset)
    mspec = get(method)
    return {
        "protocol": PROTOCOL_VERSION,
        "test_fraction": TEST_FRACTION,
        "dataset": dataset,
        "dataset_source": spec.sha256 or f"sklearn:{spec.sklearn}",
        "method": method,
        "target": mspec.target,
        "params": params_for(method, quick),
        "n_imputations": int(n_imputations),
        "mechanism": mechanism,
        "rate": float(rate),
    }


def plan(datasets: Sequence[str], methods: Sequence[str], splits: Sequence[int],
         mechanism: str | Sequence[str] = "mcar", rate: float | Sequence[float] = 0.5, n_imputations: int = 10,
         quick: bool = False, source: Any = None) -> list[Cell]:
    """All cells of the grid: method-major, then dataset, mechanism, rate and split.

    ``mechanism`` and ``rate`` may each be one value or a list (issue 13 §3); the grid is their product. One
    value of each gives exactly the cells (and cache keys) it always did. ``source`` (a
    :class:`userdata.UserSource`) plans the user's own table instead of registered ``datasets`` (issue 13 §5).
    """
    if source is not None:
        datasets = [source.name]
    mechanisms = [mechanism] if isinstance(mechanism, str) else list(mechanism)
    rates = [float(rate)] if isinstance(rate, int | float) else [float(r) for r in rate]
    if not mechanisms or not rates:
        raise ValueError("plan needs at least one mechanism and one missing rate")
    cells = []
    for m in methods:
        for d in datasets:
            for mech in mechanisms:
                for r in rates:
                    cfg = (cell_config(d, m, mech, r, n_imputations, quick) if source is None
                           else source.cell_config(m, mech, r, n_imputations, quick))
                    h = config_hash(cfg)
                    for s in splits:
                        cells.append(Cell(CellKey(d, m, int(s), mech, r, h), quick, n_imputations, cfg, source))
    return cells


def method_seed(dataset: str, method: str, split: int) -> int:
    """The random_state a method gets in one grid cell (scripts reuse it to reproduce a cell's model)."""
    return derive_seed("method", dataset, method, split)


#: accepted ``device`` values (``cuda:N`` too); the device never enters the config hash (it does not change
#: what is computed, only where), and the resolved device is recorded in each result's provenance
DEVICES = ("cpu", "cuda", "auto")


def check_device(device: str) -> str:
    """``device`` if it is ``cpu``, ``cuda``, ``cuda:N`` or ``auto``, else a ValueError naming the choices."""
    ok = isinstance(device, str) and (device in DEVICES or (device.startswith("cuda:") and device[5:].isdigit()))
    if not ok:
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {device!r}")
    return device


def _place(est: Any, device: str) -> str:
    """Hand ``device`` to an estimator that takes one (the neural methods); return the device it runs on."""
    if "device" not in est.get_params(deep=False):
        return "cpu"  # scikit-learn/LightGBM methods run on the CPU whatever was asked
    from .nn.harness import resolve_device

    resolved = resolve_device(device)  # "auto" resolves here, on the worker that computes the cell
    est.set_params(device=str(resolved))
    return str(resolved)


def mark_resumed(record: dict[str, Any], resumed: bool) -> dict[str, Any]:
    """Say in ``record["timing"]`` whether its training resumed from a checkpoint of an earlier process.

    The harness then timed only this process's epochs, so ``fit_s`` (and ``epoch_s``) would understate the
    training: they become None, and this process's seconds stay as ``fit_s_this_process``.
    """
    t = record.setdefault("timing", {})
    t["resumed"] = bool(resumed)
    if resumed:
        t["fit_s_this_process"] = t.get("fit_s")
        t["fit_s"] = t["epoch_s"] = None
    return record


def compute_cell(cell: Cell, data_dir: str | os.PathLike | None = None, threads: int = 1,
                 device: str = "cpu") -> dict[str, Any]:
    """Run one cell end to end and return its result record (nothing is written here)."""
    # issue 10: image cells score the NLL of hidden pixels (a user's table, issue 13 §5, is always tabular)
    if cell.source is None and dataset_kind(cell.key.dataset) == "image":
        from .image_cell import checkpoint_path, compute_image_cell

        resumed = checkpoint_path(cell, code_digest(cell.key.method)).is_file()
        return mark_resumed(compute_image_cell(cell, data_dir=data_dir, threads=threads, device=device), resumed)
    if cell.source is None and dataset_kind(cell.key.dataset) == "celeba":  # issue 11: PSNR and NLL of faces
        from .celeba_cell import compute_celeba_cell, train_checkpoint

        resumed = train_checkpoint(cell).is_file()
        return mark_resumed(compute_celeba_cell(cell, data_dir=data_dir, threads=threads, device=device), resumed)
    k = cell.key
    table = cell.source.load() if cell.source is not None else load(k.dataset, data_dir=data_dir)
    split = make_split(table, k.split, k.mechanism, k.rate)
    cell_seed = method_seed(k.dataset, k.method, k.split)
    t_idx = split.target_index
    features = list(range(t_idx))
    with PeakRSS() as mem:
        est = seed(build(k.method, quick=cell.quick), cell_seed)
        ran_on = _place(est, device)
        with limit_threads(threads):  # scoped to this cell, restored afterwards (issue 9 item 18)
            c0, t0 = time.process_time(), time.perf_counter()
            est.fit(split.train_obs, split.schema)
            c1, t1 = time.process_time(), time.perf_counter()
            test_imp = est.impute(split.test_obs, n=cell.n_imputations)
            t2 = time.perf_counter()
            train_imp = est.impute(split.train_obs, n=cell.n_imputations)
            c3, t3 = time.process_time(), time.perf_counter()
            score = score_imputations(split.test_true, test_imp, split.test_scored, split.schema,
                                      columns=features)
            # the same metrics on the training rows' own imputations (their target observed): the transductive
            # reading of the protocol, recorded beside the inductive test-set score
            train_score = score_imputations(split.train_true, train_imp, split.train_scored, split.schema,
                                            columns=features)
            down = downstream_score(train_imp[:, :, features], split.train_true[:, t_idx],
                                    test_imp[:, :, features], split.test_true[:, t_idx],
                                    split.schema.select(features), split.task)
            # a method with an output noise model (VAEACImputer()'s) is scored as a distribution on its noisy
            # draws, the ones its sample() gives; the others on their imputations (issue 13 §4)
            draw_fn = getattr(est, "sample_draws", None)
            test_draws = None if draw_fn is None else draw_fn(split.test_obs, cell.n_imputations)
    down_name = "r2" if split.task == "regression" else "accuracy"
    seeds = {"split": k.split, "mask": k.split, "method": cell_seed}
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
        # issue 13 §4: the imputations scored as a distribution (not part of the config hash or code digest)
        "distributional": distributional_record(split.test_true, test_imp, split.test_scored, split.schema,
                                                features, draws=test_draws),
        # wall seconds, and CPU seconds of this process (= wall on an idle core for a single-threaded job)
        "timing": {"fit_s": t1 - t0, "impute_test_s": t2 - t1, "impute_train_s": t3 - t2},
        "cpu": {"fit_s": c1 - c0, "total_s": c3 - c0},
        "provenance": build_provenance(
            method=k.method, target=cell.config["target"], params=_json_safe(est.get_params(deep=False)),
            dataset_source=cell.config["dataset_source"], seeds=seeds, est=est, peak_rss_mb=mem.peak_mb,
            threads=threads, device=ran_on, device_requested=device),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def distributional_digest() -> str:
    """The digest of :mod:`distributional` (the code that made a record's distributional scores)."""
    from .provenance import source_digest

    return source_digest(("distributional.py",))


def distributional_record(truth: np.ndarray, imputations: np.ndarray, scored: np.ndarray, schema: Schema,
                          columns: Sequence[int], draws: np.ndarray | None = None) -> dict[str, Any]:
    """The distributional scores (issue 13 §4) of one cell's test imputations on ``columns``, JSON-ready.

    ``draws`` are what is scored as a distribution when they are not the ``imputations`` themselves: a noise
    model's draws (a method's ``sample_draws``; recorded as ``"draws": "sample_draws"``). ``wasserstein`` pools
    every draw, ``wasserstein_point`` scores the point imputation (mean / mode of the imputations, as NRMSE/PFC
    do); CRPS, 50%/90% coverage and Brier need at least 2 draws and are absent otherwise. ``column_std`` holds
    NRMSE's normaliser of each real column (W1 and CRPS are in the column's units). Categorical draws are
    rounded to codes first (as :func:`metrics.aggregate` does). A score that cannot be computed is recorded as an
    ``error`` line rather than failing an expensive cell.
    """
    from .distributional import distributional_scores, wasserstein_per_column

    columns = list(columns)
    sub = schema.select(columns)
    cat = sub.categorical_mask

    def as_draws(a: np.ndarray) -> np.ndarray:
        a = np.array(a, dtype=float)
        a = (a[None] if a.ndim == 2 else a)[:, :, columns]
        a[:, :, cat] = np.rint(a[:, :, cat])
        return a

    imps = as_draws(imputations)
    scored_draws = imps if draws is None else as_draws(draws)
    truth, scored = np.asarray(truth, dtype=float)[:, columns], np.asarray(scored, dtype=bool)[:, columns]
    out: dict[str, Any] = {"code_digest": distributional_digest(), "n_draws": int(len(scored_draws)),
                           "draws": "imputations" if draws is None else "sample_draws"}
    try:
        out.update(distributional_scores(truth, scored_draws, scored, sub))
        point = wasserstein_per_column(truth, aggregate(imps, sub), scored, sub)
    except ValueError as err:
        return out | {"error": str(err)}
    vals = [v for v in point.values() if v is not None]
    out["wasserstein_point"] = {"mean": float(np.mean(vals)) if vals else None, "columns": point}
    # each real column's population std over its known test cells: NRMSE's normaliser (metrics.py), so that a
    # reader can put W1 and CRPS (in the column's units) on NRMSE's scale and average them across columns
    out["column_std"] = {f.name: float(np.nanstd(truth[:, j])) if (~np.isnan(truth[:, j])).any() else None
                         for j, f in enumerate(sub) if not f.is_categorical}
    return out


def _json_safe(obj: Any) -> Any:
    """A JSON round trip (tuples become lists, unknown objects their ``str``)."""
    return json.loads(json.dumps(obj, default=str))


#: what a worker hands back for one cell: (label, record or None, error text or None, seconds)
Outcome = tuple[str, dict[str, Any] | None, str | None, float]


def compute_outcome(cell: Cell, data_dir: str | None, threads: int, device: str = "cpu") -> Outcome:
    """Worker entry point (loky and Dask alike): compute one cell and return its record; never write, never raise."""
    t0 = time.perf_counter()
    try:
        record = compute_cell(cell, data_dir=data_dir, threads=threads, device=device)
        return cell.label, record, None, time.perf_counter() - t0
    except Exception as err:  # one failing cell must not stop the grid
        return cell.label, None, f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=5)}", \
            time.perf_counter() - t0
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
    """True if a cached result was computed by code other than the current (or cannot be read)."""
    try:
        record = json.loads(Path(path).read_text())
        return provenance_is_stale(record)
    except (OSError, ValueError, KeyError):
        return True


class MemoryRefused(ValueError):
    """A cell whose memory estimate exceeds what the machine can give it alone."""


def run(cells: Sequence[Cell], results_dir: str | os.PathLike, jobs: int = 1, data_dir: str | None = None,
        threads: int = 1, progress: bool = True, accept_stale: bool = False, memory_budget_mb: float | None = None,
        ignore_memory: bool = False, shapes: dict[str, tuple[int, int]] | None = None,
        on_cell_done: Callable[[str, str | None], None] | None = None, backend: str = "local",
        scheduler: str | None = None, device: str = "cpu") -> RunSummary:
    """Compute every cell whose result file is missing or stale (unless ``accept_stale``); reuse the rest.

    Cells start only while the sum of their memory estimates fits ``memory_budget_mb`` (default: the memory
    available now); a cell too big for the machine alone is refused (:class:`MemoryRefused`) unless
    ``ignore_memory``. A recomputed file replaces the old one atomically, so an interrupted refresh loses nothing.
    ``backend="dask"`` runs the same cells on the Dask cluster at ``scheduler`` (a local one when None, with
    ``jobs`` single-threaded worker processes); ``device`` reaches every neural method.
    """
    from tqdm.auto import tqdm

    if backend not in ("local", "dask"):
        raise ValueError(f"backend must be 'local' or 'dask', got {backend!r}")
    if scheduler is not None and backend != "dask":
        raise ValueError("scheduler is an address for backend='dask'; pass backend='dask' or drop scheduler")
    check_device(device)

    summary = RunSummary(results_dir=str(results_dir))
    results_dir = Path(results_dir).resolve()  # workers are reused across calls and may sit in another cwd
    data_dir = str(Path(data_dir).resolve()) if data_dir is not None else None
    todo = []
    for c in cells:
        path = results_dir / c.key.relpath()
        if not path.is_file():
            todo.append(c)
        elif is_stale(path):
            if accept_stale:
                summary.stale_kept.append(c.label)
            else:
                summary.stale_recomputed.append(c.label)
                todo.append(c)
        else:
            summary.reused.append(c.label)
    budget = available_mb() if memory_budget_mb is None else float(memory_budget_mb)
    peaks = recorded_peaks(results_dir)
    estimates = [estimate_mb(c.key.dataset, c.key.method, (shapes or {}).get(c.key.dataset), peaks,
                             image=c.source is None and dataset_kind(c.key.dataset) != "table") for c in todo]
    sched = MemoryScheduler(budget, jobs)
    if backend == "local" or scheduler is None:  # a remote cluster's memory is checked against its workers
        estimates = refuse_too_big(todo, estimates, budget, ignore_memory)
    log.info("%d cells: %d reused from %s, %d stale (%s), %d to compute with %d job(s) within %.1f GB",
             len(cells), len(summary.reused), results_dir, len(summary.stale_kept) + len(summary.stale_recomputed),
             "kept" if accept_stale else "recomputed", len(todo), jobs, budget / 1024)
    t0 = time.perf_counter()
    if todo:
        bar = tqdm(total=len(todo), desc="cells", unit="cell", disable=not progress)
        with _outcomes(todo, estimates, sched, backend, scheduler, budget, ignore_memory, jobs, data_dir, threads,
                       device) as outcomes:
            try:
                for cell, (label, record, error, secs) in outcomes:
                    if record is not None:  # the driver writes: a worker lost mid-cell leaves no partial file
                        try:
                            atomic_write_json(results_dir / cell.key.relpath(), record)
                        except (OSError, ValueError) as err:
                            error = f"{type(err).__name__} writing the result: {err}"
                    bar.set_postfix_str(cell.label)
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


def refuse_too_big(cells: Sequence[Cell], estimates: list[float], budget_mb: float,
                   ignore_memory: bool) -> list[float]:
    """Refuse (:class:`MemoryRefused`) a cell whose estimate exceeds ``budget_mb`` alone, or clip it if ignored."""
    too_big = [(c, e) for c, e in zip(cells, estimates, strict=True) if e > budget_mb]
    if too_big and not ignore_memory:
        c, e = too_big[0]
        raise MemoryRefused(f"cell {c.label} needs about {e / 1024:.1f} GB but {budget_mb / 1024:.1f} GB is "
                            f"available ({len(too_big)} such cell(s)); free memory, leave it out, or pass "
                            "--ignore-memory")
    return [min(e, budget_mb) for e in estimates] if ignore_memory else list(estimates)


@contextlib.contextmanager
def _outcomes(todo: list[Cell], estimates: list[float], sched: MemoryScheduler, backend: str,
              scheduler: str | None, budget: float, ignore_memory: bool, jobs: int, data_dir: str | None,
              threads: int, device: str) -> Iterator[Iterator[tuple[Cell, Outcome]]]:
    """(cell, outcome) pairs as cells finish, from this process, loky workers, or a Dask cluster."""
    if backend == "dask":
        from .dask_backend import dask_outcomes

        with dask_outcomes(todo, estimates, scheduler=scheduler, workers=jobs, budget_mb=budget,
                           ignore_memory=ignore_memory, data_dir=data_dir, threads=threads, device=device) as it:
            yield it
    elif jobs == 1:
        yield ((c, compute_outcome(c, data_dir, threads, device)) for c in todo)
    else:
        from joblib.externals.loky import get_reusable_executor

        executor = get_reusable_executor(max_workers=jobs, env=worker_env(threads))
        yield ((c, fut.result()) for c, fut in sched.run(
            todo, estimates, lambda c: executor.submit(compute_outcome, c, data_dir, threads, device)))


@dataclass
class MigrationReport:
    """What :func:`migrate` did: files renamed to their registry-derived hash, left alone, already current."""

    renamed: int = 0
    current: int = 0
    mismatched: list[str] = field(default_factory=list)


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def migrate(results_dir: str | os.PathLike) -> MigrationReport:
    """Rename result files hashed by the old estimator config to the registry-derived hash (issue 9 item 3).

    A file moves only when its recorded parameters agree with the registry's current ``params_for`` (and its
    protocol, data source, imputations, mechanism and rate with the current cell config); its old config is kept
    under ``legacy_config``. Files without a provenance block stay stale until recomputed.
    """
    results_dir = Path(results_dir)
    report = MigrationReport()
    for path in sorted(results_dir.rglob("*.json")):
        if path.name.startswith("."):
            continue
        try:
            r = json.loads(path.read_text())
            old = r["config"]
        except (OSError, ValueError, KeyError):
            continue
        if "target" in old and "params" in old:
            report.current += 1
            continue
        try:
            new = cell_config(r["dataset"], r["method"], r["mechanism"], r["rate"], old["n_imputations"],
                              bool(r.get("quick")))
        except ValueError:
            report.mismatched.append(str(path))
            continue
        recorded = old.get("method_config", {}).get("params", {})
        agrees = all(k in recorded and _same(recorded[k], v) for k, v in new["params"].items()) and all(
            _same(old.get(k), new[k]) for k in ("protocol", "test_fraction", "dataset_source", "mechanism", "rate"))
        if not agrees:
            report.mismatched.append(str(path))
            continue
        key = CellKey(r["dataset"], r["method"], int(r["split"]), r["mechanism"], float(r["rate"]), config_hash(new))
        r.update(config=new, config_hash=key.config_hash, legacy_config=old)
        target = results_dir / key.relpath()
        atomic_write_json(target, r)
        if target != path:
            path.unlink()
        report.renamed += 1
    return report
