"""Table 9's MC-10⁴ rows (issue 10): the Monte Carlo estimate (17) with S = 10⁴ for an image cell already run.

MC-10⁴ needs 100× the decoder passes of MC-10², so the grid's image cells stop at S = 10² and this step adds
S = 10⁴ afterwards (``run-bench --mc-long N``). It reloads the cell's trained network from the cell's finished
checkpoint (the best epoch; nothing is retrained: a missing or unfinished checkpoint is refused) and scores the
first ``N`` of the cell's fixed test objects (chosen by the cell's own rule: :func:`~.image_cell.scored_test`,
:func:`~.celeba_cell.nll_objects`) with the cell's fixed masks. The result goes beside the cell record
as ``<record stem>_mc10000.json``; it names the record's config hash and code digest, so a recomputed cell never
shows an older network's MC-10⁴ (the tables then say "not computed" until this step runs again).

MC-10⁴ of a conv network on 1000 objects takes hours on one core, so the step is resumable: it saves its result
every :data:`SAVE_EVERY` objects (a killed run loses at most that many), and a later run with a larger ``N``
extends a matching result instead of starting again. The extension draws exactly the noise one uninterrupted
run would (the estimator's generator is advanced past the objects already scored), so the per-object numbers do
not depend on where runs stopped: ``tests/test_image_long_mc.py`` checks this bit for bit. A result also records
the sha256 of the weights it scored, and only those weights extend it: a checkpoint trained again (say, after the
cache was lost, on another CPU) is refused rather than mixed in.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .argcheck import check_int

LONG_MC_SCHEMA = "vaeac-bench/image-long-mc/1"
LONG_MC_SAMPLES = 10_000
#: the code of this step itself (the record's method code comes on top: its digest names the network's code)
LONG_MC_CODE = ("image_long_mc.py", "image_nll.py", "argcheck.py")
#: the estimator's batches (objects per pass) and sample chunks; an extension resumes at a whole batch
BATCH, SAMPLE_CHUNK = 8, 500
#: objects scored between two saves of a partial result (whole batches)
SAVE_EVERY = 5 * BATCH
log = logging.getLogger("vaeac_bench")


def long_mc_path(record_path: str | os.PathLike, samples: int = LONG_MC_SAMPLES) -> Path:
    """Where the MC-S result of the cell record at ``record_path`` lives: beside it."""
    p = Path(record_path)
    return p.with_name(f"{p.stem}_mc{samples}.json")


def matches(long: dict[str, Any], record: dict[str, Any]) -> bool:
    """True when ``long`` was computed from the network of ``record`` (same config hash and code digest)."""
    from .provenance import recorded_digest

    return (long.get("long_mc_schema") == LONG_MC_SCHEMA and long.get("config_hash") == record.get("config_hash")
            and long.get("cell_code_digest") == recorded_digest(record))


def weights_sha256(model: Any) -> str:
    """sha256 of ``model``'s parameters and buffers (names, dtypes, shapes, bytes, in name order).

    An MC result records the weights it scored, so an extension never glues another network's numbers onto
    them: a checkpoint trained again (another CPU rounds differently) holds other weights under the same
    config hash and code digest.
    """
    import hashlib

    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        a = t.detach().cpu().contiguous().numpy()
        h.update(f"{name}|{a.dtype}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _check_same_weights(previous: dict[str, Any], digest: str, label: str) -> None:
    """Refuse to extend ``previous`` unless it was scored by the weights ``digest``.

    A result written before digests were recorded (2026-12-05) is refused: nothing tells its network from one
    trained again. Not even the CPU's name: two hosts named "AMD EPYC" trained the conv MNIST GSNN to different
    weights (docs/images.md), so "same CPU, same weights" cannot be assumed from the record.
    """
    n = previous.get("n_objects")
    how = (f"keep its {n} objects, or move {label}'s MC result aside to score every object with these weights "
           f"(and recompute the cell, whose own numbers came from the earlier weights)")
    old = previous.get("weights_sha256")
    if old is None:
        cpus = sorted({str(p.get("cpu")) for p in previous.get("parts", [])})
        raise RuntimeError(f"the {n} objects already scored for {label} record no weights digest (they ran on "
                           f"{cpus}): the network that scored them cannot be told from one trained again, even on "
                           f"a CPU of the same name; {how}")
    if old != digest:
        raise RuntimeError(f"the checkpoint of {label} holds other weights (sha256 {digest[:12]}) than the "
                           f"{n} objects already scored (sha256 {old[:12]}): it was trained again; {how}")


def _nll_inputs(est: Any, x: np.ndarray, b: np.ndarray) -> tuple[Any, np.ndarray, np.ndarray]:
    """What ``est.nll`` hands :func:`~.image_nll.mc_nll`: the estimator view and the images and masks as it passes
    them (CelebA's are normalised, A.3). ``tests/test_image_long_mc.py`` checks the two agree for every class."""
    from .methods.vaeac.image import EstimatorView

    if hasattr(est, "normalise"):  # methods/celeba.py: normalised values, (N, H, W) masks
        from .methods.celeba import _masks

        return EstimatorView(est.model_), est.normalise(x), _masks(b, len(x))
    return EstimatorView(est.model_), x, b


def _skip_draws(view: Any, x: np.ndarray, n_objects: int, samples: int, generator: Any) -> None:
    """Advance ``generator`` past the noise :func:`~.image_nll.mc_nll` draws for the first ``n_objects`` objects
    (whole batches of :data:`BATCH`): the same calls, shapes and order, without evaluating the network."""
    import torch

    if n_objects % BATCH:
        raise ValueError(f"an extension resumes at a whole batch of {BATCH} objects, got {n_objects}")
    if n_objects == 0:
        return
    model = view.model
    was = model.training
    model.eval()
    try:
        with torch.inference_mode():
            dev = next(model.parameters()).device
            xb = torch.as_tensor(np.asarray(x[:BATCH])).float()
            if xb.dim() == 3:
                xb = xb.unsqueeze(1)
            mu, _, _ = view.prior(xb.to(dev), torch.zeros_like(xb).to(dev))  # the latent's shape only
    finally:
        if was:
            model.train()
    for _ in range(n_objects // BATCH):
        for k in range(0, samples, SAMPLE_CHUNK):
            torch.randn((min(SAMPLE_CHUNK, samples - k), *mu.shape), generator=generator)


@dataclass
class _Scorer:
    """A cell's reloaded network and fixed objects, ready for (17): what every scoring process sets up alike."""

    est: Any
    view: Any
    x: np.ndarray
    b: np.ndarray
    selection: str
    n_all: int
    n: int
    cell_seed: int
    digest: str
    ran_on: str


def _load(cell: Any, record: dict[str, Any], n_objects: int, samples: int, data_dir: str | os.PathLike | None,
          checkpoint_dir: str | os.PathLike | None, device: str) -> _Scorer:
    """Reload ``cell``'s finished network from its checkpoint (never retrain) with its fixed objects and masks."""
    from .datasets.image_registry import dataset_kind, image_mask
    from .datasets.images import load_images
    from .image_cell import FULL_EVAL, QUICK_EVAL, checkpoint_path, scored_test, test_masks
    from .methods import build, seed
    from .provenance import code_digest, is_stale
    from .runner import _place, method_seed

    k = cell.key
    check_int(n_objects, "n_objects", 1)
    if record.get("config_hash") != k.config_hash or is_stale(record):
        raise ValueError(f"the record of {cell.label} is not current; recompute the cell (run-bench --datasets "
                         f"{k.dataset} --methods {k.method}) before its MC-{samples}")
    celeba = dataset_kind(k.dataset) == "celeba"
    if celeba:  # issue 11: table 9's CelebA column, on the cell's fixed NLL faces and rectangles
        from .celeba_cell import FULL_EVAL as CELEBA_FULL
        from .celeba_cell import QUICK_EVAL as CELEBA_QUICK
        from .celeba_cell import load_for, nll_objects, train_checkpoint

        if not record.get("nll"):
            raise ValueError(f"{cell.label} scores no NLL (table 9 uses the gfc_train networks)")
        ck = train_checkpoint(cell, checkpoint_dir)
    else:
        ck = checkpoint_path(cell, code_digest(k.method), checkpoint_dir)
    if not ck.is_file():
        raise FileNotFoundError(f"no checkpoint of {cell.label} at {ck}: MC-{samples} reuses the cell's trained "
                                f"network and never retrains it. Checkpoints live in this machine's cache (or "
                                f"$VAEAC_BENCH_CHECKPOINTS); to train the network again, move the cell's record "
                                f"({k.relpath()} under the results folder) aside and run run-bench for it (on "
                                f"another CPU the weights, and so the cell's numbers, may differ)")
    if celeba:
        cev = CELEBA_QUICK if cell.quick else CELEBA_FULL
        data = load_for(k.dataset, data_dir, k.split, cell.quick)
        x_all, b_all, selection = nll_objects(data, k.dataset, k.split, cev.n_nll)
    else:
        ev = QUICK_EVAL if cell.quick else FULL_EVAL
        data = load_images(k.dataset, data_dir, seed=k.split)
        x_all, selection = scored_test(k.dataset, data.test, ev.n_test)  # the cell's objects
        b_all = test_masks(k.dataset, k.mechanism, k.split, x_all)  # the cell's masks: drawn for all its objects
    n = min(int(n_objects), len(x_all))
    cell_seed = method_seed(k.dataset, k.method, k.split)
    est = seed(build(k.method, quick=cell.quick), cell_seed)
    ran_on = _place(est, device)
    if "mc" not in est.estimators():
        raise ValueError(f"{k.method} has no Monte Carlo estimator (eq. 17)")
    est.fit_images(data.train, data.val, image_mask(k.mechanism), dataset=k.dataset, checkpoint=ck)
    info = getattr(est, "fit_info_", {})
    budget = record.get("budget") or {}
    if info.get("epochs_run") != budget.get("epochs_run") or info.get("best_epoch") != budget.get("best_epoch"):
        raise RuntimeError(f"the checkpoint {ck} does not hold the record's finished run (epochs "
                           f"{info.get('epochs_run')} vs {budget.get('epochs_run')}); recompute the cell")
    view, x_in, b_in = _nll_inputs(est, x_all[:n], b_all[:n])
    return _Scorer(est, view, x_in, b_in, selection, len(x_all), n, cell_seed, weights_sha256(est.model_), ran_on)


def _score_batches(s: _Scorer, starts: list[int], samples: int,
                   on_batch: Callable[[int, list[float], float], None]) -> None:
    """Score the batches of objects beginning at ``starts`` (ascending multiples of :data:`BATCH`), each with the
    noise one uninterrupted run over every object draws for it: the generator skips the batches in between."""
    import torch

    from .image_nll import mc_nll

    gen = torch.Generator().manual_seed(s.cell_seed + 2)  # the stream est.nll(..., seed=cell_seed + 2) draws
    pos = 0
    for start in starts:
        _skip_draws(s.view, s.x, start - pos, samples, gen)
        stop = min(s.n, start + BATCH)
        t0 = time.perf_counter()
        v = mc_nll(s.view, s.x[start:stop], s.b[start:stop], samples, generator=gen, batch_size=BATCH,
                   sample_chunk=SAMPLE_CHUNK)
        on_batch(start, [float(a) for a in v], time.perf_counter() - t0)
        pos = stop


def shard_paths(out: str | os.PathLike) -> list[Path]:
    """The shard files of the MC result ``out``: what parallel scoring processes saved so far (``--jobs``)."""
    p = Path(out)
    return sorted(p.parent.glob(f"{p.stem}.shard*.json"))


def _shard_header(record: dict[str, Any], samples: int, selection: str, digest: str) -> dict[str, Any]:
    from .provenance import recorded_digest

    return {"long_mc_schema": LONG_MC_SCHEMA, "config_hash": record.get("config_hash"),
            "cell_code_digest": recorded_digest(record), "samples": int(samples), "test_selection": selection,
            "weights_sha256": digest}


def _shard_batches(path: Path, header: dict[str, Any], n: int, label: str) -> dict[int, tuple[list[float], float]]:
    """The batches a shard file holds for this network and ``n`` objects ({start: (values, seconds)}).

    A shard of another cell config, code, S or object choice is ignored (it stays on disk); one of other weights
    is refused like an extension by them. A batch counts only whole, or as the last, shorter batch of ``n``.
    """
    import json

    shard = json.loads(path.read_text())
    if any(shard.get(key) != val for key, val in header.items() if key != "weights_sha256"):
        log.warning("MC shard %s belongs to another network, S or object choice: ignored", path.name)
        return {}
    _check_same_weights(shard | {"n_objects": len(shard.get("batches", {})) * BATCH}, header["weights_sha256"],
                        label)
    out = {}
    for key, (values, secs) in shard.get("batches", {}).items():
        start = int(key)
        if len(values) == BATCH and start + BATCH <= n or start + len(values) == n:
            out[start] = (list(values), float(secs))
    return out


def _shard_worker(cell: Any, record: dict[str, Any], n_objects: int, samples: int,
                  data_dir: str | os.PathLike | None, checkpoint_dir: str | os.PathLike | None, threads: int,
                  device: str, starts: list[int], path: Path, digest: str) -> float | None:
    """One scoring process of a parallel MC run: scores ``starts`` and saves them to the shard file ``path``
    every :data:`SAVE_EVERY` objects (a killed process loses at most that many); returns its peak memory (MB)."""
    from .resources import PeakRSS, limit_threads
    from .results import atomic_write_json

    with PeakRSS() as mem, limit_threads(threads):
        s = _load(cell, record, n_objects, samples, data_dir, checkpoint_dir, device)
        if s.digest != digest:
            raise RuntimeError(f"a scoring process of {cell.label} loaded other weights (sha256 {s.digest[:12]}) "
                               f"than its driver ({digest[:12]}); the checkpoint changed meanwhile")
        header = _shard_header(record, samples, s.selection, digest)
        batches = _shard_batches(path, header, s.n, cell.label) if path.is_file() else {}
        cpu = _cpu()
        done = {"n": 0}

        def save(start: int, values: list[float], secs: float) -> None:
            batches[start] = (values, secs)
            done["n"] += len(values)
            if done["n"] % SAVE_EVERY == 0 or start == starts[-1]:
                atomic_write_json(path, header | cpu | {"batches": {str(k): [v, t] for k, (v, t) in
                                                                    sorted(batches.items())}})

        _score_batches(s, starts, samples, save)
    return mem.peak_mb


def _cpu() -> dict[str, Any]:
    from .provenance import machine

    m = machine()
    return {"cpu": m.get("cpu"), "cpu_id": m.get("cpu_id")}


def compute_long_mc(cell: Any, record: dict[str, Any], n_objects: int, *, samples: int = LONG_MC_SAMPLES,
                    data_dir: str | os.PathLike | None = None, checkpoint_dir: str | os.PathLike | None = None,
                    threads: int = 1, device: str = "cpu", previous: dict[str, Any] | None = None,
                    on_save: Callable[[dict[str, Any]], None] | None = None, jobs: int = 1,
                    out: str | os.PathLike | None = None) -> dict[str, Any]:
    """MC-``samples`` NLL (17) on the first ``n_objects`` test objects of ``cell``, from its finished checkpoint.

    ``device`` is where the reloaded network scores (``run-bench --device``); the estimator's noise is drawn on
    the CPU whatever the device (:mod:`vaeac_bench.image_nll`). ``previous``, a result of the same network with
    fewer objects, is extended from its last whole batch. ``jobs`` > 1 splits the remaining batches, interleaved,
    over that many worker processes of ``threads`` threads, which save their progress in shard files beside
    ``out`` (the result's path); shard files already there for these weights are used, whatever ``jobs``. In this
    process, ``on_save`` receives the partial result every :data:`SAVE_EVERY` objects (``run_long_mc`` writes it).
    Every batch gets the noise one uninterrupted run would draw for it, so the numbers depend on neither ``jobs``
    nor where runs stopped.
    """
    from .resources import PeakRSS, limit_threads

    check_int(jobs, "jobs", 1)
    if jobs > 1 and out is None:
        raise ValueError("jobs > 1 needs out=, the result's path: the worker processes save shard files beside it")
    with PeakRSS() as mem:
        with limit_threads(threads):
            s = _load(cell, record, n_objects, samples, data_dir, checkpoint_dir, device)
        # the objects already scored by ``previous``, up to its last whole batch, are kept as they are
        kept: list[float] = []
        parts: list[dict[str, Any]] = []
        if previous is not None and matches(previous, record) and previous.get("samples") == samples \
                and previous.get("test_selection") == s.selection:
            _check_same_weights(previous, s.digest, cell.label)
            old = list(previous.get("per_object", []))
            kept = old[:min(len(old), s.n) // BATCH * BATCH]
            # a result with a weights digest always records its parts (every run that scored some objects)
            parts = [p for p in previous.get("parts", []) if p["objects"][1] <= len(kept)]
        header = _shard_header(record, samples, s.selection, s.digest)
        known: dict[int, tuple[list[float], float]] = {}
        for path in shard_paths(out) if out is not None else []:
            known |= {k: v for k, v in _shard_batches(path, header, s.n, cell.label).items() if k >= len(kept)}
        todo = [k for k in range(len(kept), s.n, BATCH) if k not in known]
        t0 = time.perf_counter()
        if jobs == 1 or len(todo) <= 1:
            def add(start: int, values: list[float], secs: float) -> None:
                known[start] = (values, secs)
                if on_save is not None and (start + len(values) - len(kept)) % SAVE_EVERY == 0 \
                        and start + len(values) < s.n:
                    on_save(_merged(cell, record, s, samples, kept, known, parts, mem.peak_mb, threads, device,
                                    1, time.perf_counter() - t0))

            with limit_threads(threads):
                _score_batches(s, todo, samples, add)
            workers = 1
        else:
            from joblib.externals.loky import get_reusable_executor

            from .resources import worker_env

            groups = [todo[i::jobs] for i in range(jobs)]
            base = Path(out)  # type: ignore[arg-type]
            names = {p.name for p in shard_paths(base)}
            free = (base.with_name(f"{base.stem}.shard{i}.json") for i in range(10**6))
            paths = [next(p for p in free if p.name not in names) for _ in groups]
            executor = get_reusable_executor(max_workers=jobs, env=worker_env(threads))
            futures = [executor.submit(_shard_worker, cell, record, s.n, samples, data_dir, checkpoint_dir,
                                       threads, device, g, p, s.digest) for g, p in zip(groups, paths, strict=True)]
            peaks = [f.result() for f in futures]
            for p in paths:
                known |= _shard_batches(p, header, s.n, cell.label)
            mem.peak_mb = max([mem.peak_mb or 0.0, *(x or 0.0 for x in peaks)])
            workers = jobs
        return _merged(cell, record, s, samples, kept, known, parts, mem.peak_mb, threads, device, workers,
                       time.perf_counter() - t0)


def _merged(cell: Any, record: dict[str, Any], s: _Scorer, samples: int, kept: list[float],
            known: dict[int, tuple[list[float], float]], parts: list[dict[str, Any]], peak_mb: float | None,
            threads: int, device: str, workers: int, wall_s: float) -> dict[str, Any]:
    """The result over ``kept`` and the batches of ``known`` that continue it without a gap."""
    values, t_run, k = list(kept), 0.0, len(kept)
    while k in known:
        v, secs = known[k]
        values.extend(v)
        t_run += secs
        k += len(v)
    return _long_result(cell, record, s.selection, s.n_all, samples, values, parts, len(kept), t_run, s.est,
                        peak_mb, threads, s.ran_on, device, s.cell_seed, s.digest, workers, wall_s)


def _long_result(cell: Any, record: dict[str, Any], selection: str, n_all: int, samples: int,
                 values: list[float], parts: list[dict[str, Any]], run_start: int, t_run: float, est: Any,
                 peak_mb: float | None, threads: int, ran_on: str, device: str, cell_seed: int,
                 digest: str, workers: int = 1, wall_s: float | None = None) -> dict[str, Any]:
    """The MC result of ``values`` (the first ``len(values)`` objects); ``parts`` says which run scored which
    (``nll_s``: the scoring seconds of its objects summed over its ``workers`` processes), ``weights_sha256``
    which weights (:func:`weights_sha256`)."""
    from .image_cell import _stats
    from .provenance import build_provenance, paths_digest, recorded_digest

    k = cell.key
    n = len(values)
    prov = build_provenance(
        method=k.method, target="image_long_mc", params={"samples": int(samples), "n_objects": int(n)},
        dataset_source=cell.config["dataset_source"], seeds={"split": k.split, "method": cell_seed + 2},
        est=est, peak_rss_mb=peak_mb, threads=threads, device=ran_on, device_requested=device) \
        | {"long_mc_code_digest": paths_digest(LONG_MC_CODE)}
    now = datetime.now(UTC).isoformat(timespec="seconds")
    these = list(parts)
    if n > run_start:
        these.append({"objects": [run_start, n], "cpu": prov["machine"].get("cpu"),
                      "cpu_id": prov["machine"].get("cpu_id"), "nll_s": t_run, "workers": int(workers),
                      "wall_s": wall_s, "finished": now})
    times = [p["nll_s"] for p in these]
    return {
        "long_mc_schema": LONG_MC_SCHEMA, "dataset": k.dataset, "method": k.method, "split": k.split,
        "mechanism": k.mechanism, "config_hash": k.config_hash, "cell_code_digest": recorded_digest(record),
        "samples": int(samples), "n_objects": int(n),
        "objects": f"the first {n} of the cell's {n_all} test objects",
        "test_selection": selection,
        "weights_sha256": digest,
        "nll": _stats(np.asarray(values)),
        "per_object": [float(a) for a in values],
        # the whole estimate's time when every part was timed; each part's own time and CPU in ``parts``
        "timing": {"nll_s": sum(times) if None not in times else None, "nll_s_this_run": t_run},
        "parts": these,
        "provenance": prov,
        "finished": now,
    }


def run_long_mc(cells: list[Any], results_dir: str | os.PathLike, n_objects: int, *,
                samples: int = LONG_MC_SAMPLES, data_dir: str | os.PathLike | None = None,
                progress: bool = True, device: str = "cpu", threads: int = 1, jobs: int = 1) -> list[Path]:
    """MC-``samples`` for every image cell of ``cells`` with a current record; cached results are reused.

    Each cell's objects are scored by ``jobs`` processes of ``threads`` threads (``run-bench --mc-long N --jobs
    2``); the numbers do not depend on ``jobs``.

    A cell without a record, with a stale one, or without a finished checkpoint is skipped with a warning (its
    MC-10⁴ stays "not computed"); a result already there for the same network and object count is kept. Cells
    that score whole images (the plain VAE of figure 9) are not table 9's and are skipped.
    """
    import json

    from tqdm.auto import tqdm

    from .methods import build
    from .results import atomic_write_json

    written = []
    todo = []
    for cell in cells:
        if "mc" not in build(cell.key.method, quick=cell.quick).estimators():
            continue
        path = Path(results_dir) / cell.key.relpath()
        if not path.is_file():
            log.warning("MC-%d: %s has no result yet; run the cell first", samples, cell.label)
            continue
        record = json.loads(path.read_text())
        if not record.get("nll") or not str(record.get("nll_scope", "hidden pixels")).startswith("hidden pixels"):
            continue  # no NLL (CelebA's Yeh cells), or whole images (figure 9's plain VAE): not a row of table 9
        out = long_mc_path(path, samples)
        old = None
        if out.is_file():
            old = json.loads(out.read_text())
            if matches(old, record) and old.get("n_objects", 0) >= min(
                    n_objects, record["data"].get("n_nll") or record["data"]["n_test"]):
                continue
        todo.append((cell, record, out, old))
    for cell, record, out, old in tqdm(todo, desc=f"MC-{samples}", unit="cell",
                                       disable=not progress or not todo):
        try:  # a partial result is written every SAVE_EVERY objects; a matching one is extended, not redone
            r = compute_long_mc(cell, record, n_objects, samples=samples, data_dir=data_dir, device=device,
                                threads=threads, previous=old, jobs=jobs, out=out,
                                on_save=lambda part, out=out: atomic_write_json(out, part))
        except (FileNotFoundError, ValueError, RuntimeError) as err:
            log.warning("MC-%d of %s skipped: %s", samples, cell.label, err)
            continue
        atomic_write_json(out, r)
        _drop_absorbed_shards(out, r)
        written.append(out)
    return written


def _drop_absorbed_shards(out: Path, result: dict[str, Any]) -> None:
    """Delete the shard files of ``out`` whose every batch ``result`` (just written) holds; keep any other."""
    import json

    for path in shard_paths(out):
        shard = json.loads(path.read_text())
        same = all(shard.get(k) == result.get(k) for k in ("long_mc_schema", "config_hash", "cell_code_digest",
                                                             "samples", "test_selection", "weights_sha256"))
        batches = shard.get("batches", {})
        if same and all(int(k) + len(v) <= result["n_objects"] for k, (v, _) in batches.items()):
            path.unlink()


def attach_long_mc(records: list[dict[str, Any]], results_dir: str | os.PathLike,
                   samples: int = LONG_MC_SAMPLES) -> None:
    """Add each record's matching MC-``samples`` result to its ``nll`` (``mc10000``), for the tables."""
    import json

    from .results import CellKey

    for r in records:
        key = CellKey(r["dataset"], r["method"], r["split"], r["mechanism"], r["rate"], r["config_hash"])
        p = long_mc_path(Path(results_dir) / key.relpath(), samples)
        if not p.is_file():
            continue
        long = json.loads(p.read_text())
        if matches(long, r):
            r.setdefault("nll", {})[f"mc{samples}"] = dict(long["nll"])
