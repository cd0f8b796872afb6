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


def compute_long_mc(cell: Any, record: dict[str, Any], n_objects: int, *, samples: int = LONG_MC_SAMPLES,
                    data_dir: str | os.PathLike | None = None, checkpoint_dir: str | os.PathLike | None = None,
                    threads: int = 1, device: str = "cpu", previous: dict[str, Any] | None = None,
                    on_save: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """MC-``samples`` NLL (17) on the first ``n_objects`` test objects of ``cell``, from its finished checkpoint.

    ``device`` is where the reloaded network scores (``run-bench --device``); the estimator's noise is drawn on
    the CPU whatever the device (:mod:`vaeac_bench.image_nll`). ``previous``, a result of the same network with
    fewer objects, is extended from its last whole batch; ``on_save`` receives the partial result every
    :data:`SAVE_EVERY` objects (``run_long_mc`` writes it), so a killed run resumes where it stopped.
    """
    from .datasets.image_registry import image_mask
    from .datasets.images import load_images
    from .image_cell import FULL_EVAL, QUICK_EVAL, checkpoint_path, scored_test, test_masks
    from .methods import build, seed
    from .provenance import code_digest, is_stale
    from .resources import PeakRSS, limit_threads
    from .runner import _place, method_seed

    k = cell.key
    check_int(n_objects, "n_objects", 1)
    if record.get("config_hash") != k.config_hash or is_stale(record):
        raise ValueError(f"the record of {cell.label} is not current; recompute the cell (run-bench --datasets "
                         f"{k.dataset} --methods {k.method}) before its MC-{samples}")
    from .datasets.image_registry import dataset_kind

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
    with PeakRSS() as mem:
        est = seed(build(k.method, quick=cell.quick), cell_seed)
        ran_on = _place(est, device)
        if "mc" not in est.estimators():
            raise ValueError(f"{k.method} has no Monte Carlo estimator (eq. 17)")
        with limit_threads(threads):
            est.fit_images(data.train, data.val, image_mask(k.mechanism), dataset=k.dataset, checkpoint=ck)
            info = getattr(est, "fit_info_", {})
            want = (record.get("budget") or {}).get("epochs_run")
            if info.get("epochs_run") != want or info.get("best_epoch") != (record.get("budget") or {}).get(
                    "best_epoch"):
                raise RuntimeError(f"the checkpoint {ck} does not hold the record's finished run (epochs "
                                   f"{info.get('epochs_run')} vs {want}); recompute the cell")
            import torch

            from .image_nll import mc_nll

            # the objects already scored by ``previous``, up to its last whole batch, are kept as they are
            kept: list[float] = []
            parts: list[dict[str, Any]] = []
            digest = weights_sha256(est.model_)
            if previous is not None and matches(previous, record) and previous.get("samples") == samples \
                    and previous.get("test_selection") == selection:
                _check_same_weights(previous, digest, cell.label)
                old = list(previous.get("per_object", []))
                kept = old[:min(len(old), n) // BATCH * BATCH]
                # a result with a weights digest always records its parts (every run that scored some objects)
                parts = [p for p in previous.get("parts", []) if p["objects"][1] <= len(kept)]
            view, x_in, b_in = _nll_inputs(est, x_all[:n], b_all[:n])
            gen = torch.Generator().manual_seed(cell_seed + 2)  # the stream est.nll(..., seed=cell_seed + 2) draws
            _skip_draws(view, x_in, len(kept), samples, gen)
            values = list(kept)
            run_start, t_run = len(kept), 0.0
            for start in range(len(kept), n, SAVE_EVERY):
                stop = min(n, start + SAVE_EVERY)
                t0 = time.perf_counter()
                v = mc_nll(view, x_in[start:stop], b_in[start:stop], samples, generator=gen, batch_size=BATCH,
                           sample_chunk=SAMPLE_CHUNK)
                t_run += time.perf_counter() - t0
                values.extend(float(a) for a in v)
                if on_save is not None and stop < n:
                    on_save(_long_result(cell, record, selection, len(x_all), samples, values, parts, run_start,
                                         t_run, est, mem.peak_mb, threads, ran_on, device, cell_seed, digest))
    return _long_result(cell, record, selection, len(x_all), samples, values, parts, run_start, t_run, est,
                        mem.peak_mb, threads, ran_on, device, cell_seed, digest)


def _long_result(cell: Any, record: dict[str, Any], selection: str, n_all: int, samples: int,
                 values: list[float], parts: list[dict[str, Any]], run_start: int, t_run: float, est: Any,
                 peak_mb: float | None, threads: int, ran_on: str, device: str, cell_seed: int,
                 digest: str) -> dict[str, Any]:
    """The MC result of ``values`` (the first ``len(values)`` objects); ``parts`` says which run scored which,
    ``weights_sha256`` which weights (:func:`weights_sha256`)."""
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
                      "cpu_id": prov["machine"].get("cpu_id"), "nll_s": t_run, "finished": now})
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
                progress: bool = True, device: str = "cpu", threads: int = 1) -> list[Path]:
    """MC-``samples`` for every image cell of ``cells`` with a current record; cached results are reused.

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
                                threads=threads, previous=old,
                                on_save=lambda part, out=out: atomic_write_json(out, part))
        except (FileNotFoundError, ValueError, RuntimeError) as err:
            log.warning("MC-%d of %s skipped: %s", samples, cell.label, err)
            continue
        atomic_write_json(out, r)
        written.append(out)
    return written


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
