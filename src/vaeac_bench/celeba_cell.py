"""One CelebA cell of the grid (issue 11): train a method under one training mask, score PSNR and NLL.

A cell is (dataset ``celeba64``/``celeba128``, method, split 0, training mask). The training mask names the
experiment (:data:`~vaeac_bench.datasets.celeba_registry.CELEBA_TEST_MASKS`):

* ``yeh_mixture`` (table 3): trained and tested on Yeh et al.'s mixture; PSNR per mask type Center, Pattern,
  Random and Half;
* ``gfc_train`` (table 4, and table 9's CelebA column): trained on rectangles with sides >= 16 px at 128²
  (scaled), tested on GFC's O1-O6; and the NLL of the hidden pixels (IS-10², MC-10²) on A.3's CelebA
  rectangles (area >= 1/4).

Each test mask type is drawn once for the first ``n_test`` test faces, seeded by dataset, mask and split, so
every method scores the same hidden pixels. PSNR (:mod:`.psnr`) of one inpainting and of the best of 1..10,
over the whole image and over the hidden region. Training checkpoints are named by the digest of the training
code only (:data:`~vaeac_bench.methods.registry.CELEBA_TRAIN_CODE`), so an edit of the scoring code re-scores a
trained network instead of retraining it; the result file's provenance digest covers all the cell's code.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np


@dataclass(frozen=True)
class CelebAEval:
    """How a CelebA cell is scored: test faces and samples for PSNR, objects and samples for the NLL."""

    n_test: int = 1000  # PSNR: the first 1000 test faces, every mask type
    n_samples: int = 10  # the paper's "10 samples" (best of 10)
    n_nll: int = 1000  # table 9: NLL on 1000 test objects (the subset's whole test split)
    is_samples: int = 100  # IS-10²
    mc_samples: int = 100  # MC-10²
    timing_samples: int = 100


FULL_EVAL = CelebAEval()
QUICK_EVAL = CelebAEval(n_test=8, n_samples=10, n_nll=8, is_samples=10, mc_samples=10, timing_samples=10)
#: the (method, training mask) pairs of the experiments: tables 3 and 4 (PSNR) and 9 (NLL)
CELEBA_PAIRS: tuple[tuple[str, str], ...] = (
    ("vaeac-celeba", "yeh_mixture"), ("vaeac-celeba", "gfc_train"), ("gsnn-celeba", "gfc_train"),
    ("naive-bayes-celeba", "yeh_mixture"), ("naive-bayes-celeba", "gfc_train"),
    *((f"{a}-inpaint", m) for a in ("biharmonic", "telea", "navier-stokes") for m in ("yeh_mixture", "gfc_train")),
)


_LOADED: dict[tuple[str, str, int, bool], Any] = {}
# a --quick (smoke) cell decodes only the first faces: its networks train on a few dozen anyway
QUICK_MAX_IMAGES = 400


def load_for(dataset: str, data_dir: str | os.PathLike | None, split: int, quick: bool) -> Any:
    """The CelebA data of a cell: 64² or 128² from :func:`~vaeac_bench.datasets.celeba.load_celeba`.

    Kept for the process (read-only arrays), so the cells of one worker decode the JPEGs once; a quick cell
    reads only the first ``QUICK_MAX_IMAGES`` faces.
    """
    from .datasets.celeba import load_celeba

    key = (dataset, str(data_dir or os.environ.get("VAEAC_BENCH_DATA", "")), int(split), bool(quick))
    if key not in _LOADED:
        data = load_celeba(data_dir, resolution=128 if dataset == "celeba128" else 64, seed=split,
                           max_images=QUICK_MAX_IMAGES if quick else None)
        for a in (data.train, data.val, data.test):
            a.flags.writeable = False
        _LOADED.clear()
        _LOADED[key] = data
    return _LOADED[key]


def fixed_test_masks(dataset: str, mask: str, split: int, n: int, size: int) -> np.ndarray:
    """Fixed test masks (n, H, W), True = unobserved, seeded by dataset, mask and split only."""
    from .datasets.image_registry import image_mask
    from .seeding import rng_for

    return image_mask(mask)(n, size, size, rng_for("celeba-test-masks", dataset, mask, split))


def nll_objects(data: Any, dataset: str, split: int, n_nll: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Table 9's CelebA objects: the first ``n_nll`` test faces, their fixed A.3 rectangles (True = unobserved)
    and the rule that chose them, in words (recorded beside every number scored on them).

    The one place that chooses them: the cell's IS-10² / MC-10² and the MC-10⁴ step (:mod:`.image_long_mc`)
    score the same faces under the same masks.
    """
    from .datasets.celeba_registry import CELEBA_NLL_MASK

    x = data.test[: int(n_nll)]
    rule = f"the first {len(x)} test faces, {CELEBA_NLL_MASK} masks seeded by dataset and split"
    return x, fixed_test_masks(dataset, CELEBA_NLL_MASK, split, len(x), data.resolution), rule


def train_checkpoint(cell: Any, root: str | os.PathLike | None = None) -> Any:
    """The training checkpoint of a cell: its key and the digest of the training code (not the scoring code)."""
    from .image_cell import checkpoint_path
    from .methods.registry import CELEBA_TRAIN_CODE
    from .provenance import paths_digest

    return checkpoint_path(cell, paths_digest(CELEBA_TRAIN_CODE), root)


def compute_celeba_cell(cell: Any, data_dir: str | os.PathLike | None = None, threads: int = 1,
                        checkpoint_dir: str | os.PathLike | None = None, device: str = "cpu") -> dict[str, Any]:
    """Run one CelebA cell end to end and return its result record (nothing is written here but the checkpoint)."""
    from .datasets.celeba_registry import CELEBA_NLL_MASK, CELEBA_TEST_MASKS
    from .datasets.image_registry import image_mask
    from .image_cell import _stats
    from .methods import build, seed
    from .provenance import build_provenance
    from .psnr import psnr_curves
    from .resources import PeakRSS, limit_threads
    from .results import RESULT_SCHEMA
    from .runner import _json_safe, _place, method_seed

    k = cell.key
    if k.mechanism not in CELEBA_TEST_MASKS:
        raise ValueError(f"a CelebA cell's mask is its experiment: one of {sorted(CELEBA_TEST_MASKS)}, "
                         f"got {k.mechanism!r}")
    ev = QUICK_EVAL if cell.quick else FULL_EVAL
    data = load_for(k.dataset, data_dir, k.split, cell.quick)
    size = data.resolution
    x_test = data.test[: ev.n_test]
    cell_seed = method_seed(k.dataset, k.method, k.split)
    with PeakRSS() as mem:
        est = seed(build(k.method, quick=cell.quick), cell_seed)
        ran_on = _place(est, device)
        ck = train_checkpoint(cell, checkpoint_dir)
        with limit_threads(threads):
            t0 = time.perf_counter()
            est.fit_images(data.train, data.val, image_mask(k.mechanism), dataset=k.dataset, checkpoint=ck)
            t1 = time.perf_counter()
            psnr: dict[str, Any] = {}
            for label, mask in CELEBA_TEST_MASKS[k.mechanism].items():
                b = fixed_test_masks(k.dataset, mask, k.split, len(x_test), size)
                samples = est.sample_images(x_test, b, ev.n_samples, seed=cell_seed)
                curves = psnr_curves(samples, x_test, b)
                psnr[label] = {"mask": mask, "hidden_fraction": float(b.mean()), "n": int(len(x_test)),
                               "whole": curves["whole"], "hidden": curves["hidden"]}
            t2 = time.perf_counter()
            nll: dict[str, dict[str, float]] = {}
            nll_selection: str | None = None
            if k.mechanism == "gfc_train" and est.estimators():
                x_nll, b_nll, nll_selection = nll_objects(data, k.dataset, k.split, ev.n_nll)
                for kind in est.estimators():
                    s = {"is": ev.is_samples, "mc": ev.mc_samples}.get(kind, 1)
                    name = f"{kind}{s}" if kind in ("is", "mc") else kind
                    nll[name] = _stats(est.nll(x_nll, b_nll, kind, s, seed=cell_seed))
            t3 = time.perf_counter()
            est.sample_images(x_test[:1], fixed_test_masks(k.dataset, CELEBA_NLL_MASK, k.split, 1, size),
                              ev.timing_samples, seed=cell_seed)
            t4 = time.perf_counter()
    info = dict(getattr(est, "fit_info_", {}))
    epochs = int(info.get("epochs_run") or 0)
    fit_s = float(info.get("seconds") or (t1 - t0))
    metrics = {f"psnr1_{lab}": v["whole"][0] for lab, v in psnr.items()}
    metrics |= {f"psnr10_{lab}": v["whole"][-1] for lab, v in psnr.items()}
    metrics |= {f"nll_{name}": s["mean"] for name, s in nll.items()}
    return {
        "result_schema": RESULT_SCHEMA, "kind": "celeba",
        "dataset": k.dataset, "method": k.method, "split": k.split, "mechanism": k.mechanism, "rate": k.rate,
        "config_hash": k.config_hash, "quick": cell.quick, "config": cell.config,
        "seeds": {"split": k.split, "method": cell_seed},
        "data": {"source": data.source, "resolution": size, "split_rule": data.split_rule,
                 "describe": data.describe(), "n_train": int(info.get("n_train", len(data.train))),
                 "n_val": int(info.get("n_val", len(data.val))), "n_test": int(len(x_test)),
                 "n_nll": int(min(ev.n_nll, len(data.test))) if nll else 0, "train_mask": k.mechanism,
                 "nll_mask": CELEBA_NLL_MASK if nll else None, "nll_selection": nll_selection},
        "eval": vars(ev),
        "network": info.get("network"),
        "metrics": metrics,
        "psnr": psnr,
        "nll": nll,
        "budget": {"epochs_run": epochs, "paper_epochs": info.get("paper_epochs"), "best_epoch": info.get("best_epoch"),
                   "note": info.get("budget_note")},
        # a resumed training is marked by runner.mark_resumed (fit_s then covers only this process's epochs)
        "timing": {"fit_s": fit_s, "fit_wall_s": t1 - t0, "epoch_s": fit_s / epochs if epochs else None,
                   "psnr_s": t2 - t1, "nll_s": t3 - t2, f"sample{ev.timing_samples}_one_object_s": t4 - t3},
        "history": getattr(est, "history_", None),
        "provenance": build_provenance(
            method=k.method, target=cell.config["target"], params=_json_safe(est.get_params(deep=False)),
            dataset_source=cell.config["dataset_source"], seeds={"split": k.split, "method": cell_seed}, est=est,
            peak_rss_mb=mem.peak_mb, threads=threads, device=ran_on, device_requested=device),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def plan_celeba_cells(datasets: list[str], methods: list[str], quick: bool) -> tuple[list[str], list[str], list[Any]]:
    """Split a run's grid: (other datasets, other methods, the CelebA cells of :data:`CELEBA_PAIRS`).

    CelebA datasets pair with the CelebA methods named (all of group ``celeba`` when none is), each under the
    training masks of its experiments; split 0 only (the paper trains one model per experiment).
    """
    from .datasets.image_registry import dataset_kind
    from .methods import GROUPS
    from .runner import plan

    celeba_methods = set(GROUPS["celeba"])
    ds = [d for d in datasets if dataset_kind(d) == "celeba"]
    named = [m for m in methods if m in celeba_methods] or list(GROUPS["celeba"])
    cells = []
    for d in ds:
        for m, mask in CELEBA_PAIRS:
            if m in named:
                cells += plan([d], [m], [0], mask, 0.0, 1, quick)
    return ([d for d in datasets if d not in ds], [m for m in methods if m not in celeba_methods], cells)
