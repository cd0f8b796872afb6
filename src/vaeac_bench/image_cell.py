"""One image cell of the grid (issue 10): train a method on an image dataset, score NLL of the hidden pixels.

The runner calls :func:`compute_image_cell` for datasets of kind ``"image"``. A cell trains the method on the
official train set (minus the seeded validation part; ``max_train`` in the method's quick budget), then scores
−log p(x_b | x_{1-b}, b) on a fixed set of test objects (:func:`scored_objects`: a seeded sample of ``n_test``
of the whole official test set, in file order, seeded by dataset only) with fixed masks (seeded by dataset, mask
and split), so every method sees the same objects and hidden pixels: IS-S (eq. 18, methods with a proposal) and
MC-S (eq. 17), mean ± std over objects as table 9 reports. It also times training (total and
per epoch) and the generation of 100 samples for one object (table 5), the same way for every method.

Training checkpoints go to ``$VAEAC_BENCH_CHECKPOINTS`` (else the user cache) under a name that holds the cell's
config hash and code digest, so a killed cell resumes from its last epoch and never from another code's weights.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .argcheck import check_int

CHECKPOINT_ENV = "VAEAC_BENCH_CHECKPOINTS"


@dataclass(frozen=True)
class ImageEval:
    """How an image cell is scored: test objects, samples per estimator, the table-5 sampling timing."""

    n_test: int = 1000  # table 9: 1000 objects
    is_samples: int = 100  # IS-10²
    mc_samples: int = 100  # MC-10² (MC-10⁴ needs 100x the decoder passes: a separate long run)
    timing_samples: int = 100  # table 5: time to generate 100 samples for one object


FULL_EVAL = ImageEval()
#: the gallery every cell saves (figures 1, 2, 8, 11, 12): the first scored objects, their fixed masks, S samples
GALLERY_OBJECTS, GALLERY_SAMPLES = 8, 6
#: methods the paper runs on MNIST only (table 5's UM, D.4's GAIN, figure 9's VAE): never paired with Omniglot
MNIST_ONLY = frozenset({"um-image", "gain-image", "gain-original-image", "vae-image-fc"})
QUICK_EVAL = ImageEval(n_test=16, is_samples=10, mc_samples=10, timing_samples=100)


def checkpoint_path(cell: Any, digest: str, root: str | os.PathLike | None = None) -> Path:
    """Where a cell's training checkpoint lives: per cell key and code digest (another code never resumes it)."""
    from .datasets.sources import cache_dir

    base = Path(root or os.environ.get(CHECKPOINT_ENV) or cache_dir() / "checkpoints")
    rel = cell.key.relpath()
    return base / rel.parent / f"{rel.stem}_{digest[:12]}.pt"


def scored_objects(n_total: int, n_test: int, seed: int) -> np.ndarray:
    """Indices of the ``n_test`` scored objects of a test set of ``n_total``: a seeded sample without replacement.

    Sorted (file order). ``n_test >= n_total`` scores every object. Omniglot's evaluation file is ordered by
    character, so its first 1000 objects are 50 of its 659 characters; a sample of the whole file is not.
    """
    n_total, n_test = check_int(n_total, "n_total", 1), check_int(n_test, "n_test", 1)
    seed = check_int(seed, "seed", 0)
    if n_test >= n_total:
        return np.arange(int(n_total))
    return np.sort(np.random.default_rng(int(seed)).choice(int(n_total), size=int(n_test), replace=False))


def objects_seed(dataset: str) -> int:
    """The seed of :func:`scored_objects` for ``dataset``: by dataset name only, so every method and split of a
    dataset scores the same objects."""
    from .seeding import derive_seed

    return derive_seed("image-test-objects", dataset)


def scored_test(dataset: str, test: np.ndarray, n_test: int) -> tuple[np.ndarray, str]:
    """The scored test objects of ``dataset`` (the image cell's and its MC-10⁴'s) and the rule that chose them."""
    s = objects_seed(dataset)
    idx = scored_objects(len(test), n_test, s)
    rule = (f"all {len(test)} test objects" if len(idx) == len(test)
            else f"seeded sample of the whole test set ({len(idx)} of {len(test)}, file order), seed {s}")
    return test[idx], rule


def test_masks(dataset: str, mask: str, split: int, images: np.ndarray) -> np.ndarray:
    """The fixed test masks (N, H, W), True = unobserved, seeded by dataset, mask and split only."""
    from .datasets.image_registry import image_mask
    from .seeding import rng_for

    n, _, h, w = images.shape
    return image_mask(mask)(n, h, w, rng_for("image-test-masks", dataset, mask, split))


def pack_bits(a: np.ndarray) -> dict[str, Any]:
    """A binary array as JSON: its shape and its bits, packed and base64-encoded."""
    import base64

    a = np.asarray(a)
    if not np.isin(a, (0, 1)).all():
        raise ValueError("pack_bits stores binary arrays only (values 0 / 1)")
    return {"shape": list(a.shape), "bits": base64.b64encode(np.packbits(a.astype(bool).ravel())).decode("ascii")}


def unpack_bits(d: dict[str, Any]) -> np.ndarray:
    """The array :func:`pack_bits` stored, as uint8 0 / 1."""
    import base64

    n = int(np.prod(d["shape"]))
    return np.unpackbits(np.frombuffer(base64.b64decode(d["bits"]), dtype=np.uint8))[:n].reshape(d["shape"])


def _stats(v: np.ndarray) -> dict[str, float]:
    return {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)) if v.size > 1 else 0.0, "n": int(v.size)}


def compute_image_cell(cell: Any, data_dir: str | os.PathLike | None = None, threads: int = 1,
                       checkpoint_dir: str | os.PathLike | None = None, device: str = "cpu") -> dict[str, Any]:
    """Run one image cell end to end and return its result record (nothing is written here but the checkpoint).

    ``device`` reaches the neural image methods as it reaches the tabular ones (issue 12 §3); the record says where
    the cell ran and what was asked.
    """
    from .datasets.image_registry import image_mask
    from .datasets.images import load_images
    from .methods import build, seed
    from .provenance import build_provenance, code_digest
    from .resources import PeakRSS, limit_threads
    from .results import RESULT_SCHEMA
    from .runner import _json_safe, _place, method_seed

    k = cell.key
    ev = QUICK_EVAL if cell.quick else FULL_EVAL
    mask_fn = image_mask(k.mechanism)
    data = load_images(k.dataset, data_dir, seed=k.split)
    x_test, selection = scored_test(k.dataset, data.test, ev.n_test)
    b_test = test_masks(k.dataset, k.mechanism, k.split, x_test)
    cell_seed = method_seed(k.dataset, k.method, k.split)
    ck = checkpoint_path(cell, code_digest(k.method), checkpoint_dir)
    with PeakRSS() as mem:
        est = seed(build(k.method, quick=cell.quick), cell_seed)
        ran_on = _place(est, device)
        with limit_threads(threads):
            t0 = time.perf_counter()
            est.fit_images(data.train, data.val, mask_fn, dataset=k.dataset, checkpoint=ck)
            t1 = time.perf_counter()
            nll: dict[str, dict[str, float]] = {}
            for kind in est.estimators():
                s = {"is": ev.is_samples, "mc": ev.mc_samples}.get(kind, 1)
                name = f"{kind}{s}" if kind in ("is", "mc") else kind
                nll[name] = _stats(est.nll(x_test, b_test, kind, s, seed=cell_seed))
            t2 = time.perf_counter()
            est.sample_images(x_test[:1], b_test[:1], ev.timing_samples, seed=cell_seed)
            t3 = time.perf_counter()
            g = min(GALLERY_OBJECTS, len(x_test))
            samples = est.sample_images(x_test[:g], b_test[:g], GALLERY_SAMPLES, seed=cell_seed + 1)
    info = dict(getattr(est, "fit_info_", {}))
    epochs = int(info.get("epochs_run") or 0)
    fit_s = float(info.get("seconds") or (t1 - t0))  # the harness's own training time (resumed runs: this session)
    return {
        "result_schema": RESULT_SCHEMA, "kind": "image",
        "dataset": k.dataset, "method": k.method, "split": k.split, "mechanism": k.mechanism, "rate": k.rate,
        "config_hash": k.config_hash, "quick": cell.quick, "config": cell.config,
        "seeds": {"split": k.split, "method": cell_seed},
        "data": {"n_train": int(info.get("n_train", len(data.train))), "n_val": int(info.get("n_val", len(data.val))),
                 "n_test": int(len(x_test)), "test_selection": selection, "image_shape": list(data.shape),
                 "mask": k.mechanism,
                 "hidden_pixels_mean": float(b_test.reshape(len(b_test), -1).sum(1).mean())},
        "eval": vars(ev),
        "network": info.get("network"),
        "metrics": {f"nll_{name}": s["mean"] for name, s in nll.items()}
        | {f"nll_{name}_std": s["std"] for name, s in nll.items()},
        "nll": nll,
        "budget": {"epochs_run": epochs, "paper_epochs": info.get("paper_epochs"), "best_epoch": info.get("best_epoch"),
                   "note": info.get("budget_note")},
        "timing": {"fit_s": fit_s, "fit_wall_s": t1 - t0, "epoch_s": fit_s / epochs if epochs else None,
                   "nll_s": t2 - t1, f"sample{ev.timing_samples}_one_object_s": t3 - t2},
        "history": getattr(est, "history_", None),
        "nll_scope": info.get("nll_scope", "hidden pixels given the observed ones"),
        "gallery": {"truth": pack_bits(x_test[:g]), "mask": pack_bits(b_test[:g]), "samples": pack_bits(samples)},
        "provenance": build_provenance(
            method=k.method, target=cell.config["target"], params=_json_safe(est.get_params(deep=False)),
            dataset_source=cell.config["dataset_source"], seeds={"split": k.split, "method": cell_seed}, est=est,
            peak_rss_mb=mem.peak_mb, threads=threads, device=ran_on, device_requested=device),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def plan_image_cells(datasets: list[str], methods: list[str], splits: list[int] | None, mechanism: str,
                     quick: bool) -> tuple[list[str], list[str], list[Any]]:
    """Split a run's grid: (tabular datasets, tabular methods, the image cells).

    Image datasets pair with the image methods named (all of group ``images`` when none is; those of
    :data:`MNIST_ONLY` with MNIST only), under their
    default mask unless ``mechanism`` is an image mask; ``splits`` None means split 0 only (the paper trains
    one model per image dataset). Image methods never pair with tables.
    """
    from .datasets.image_registry import DEFAULT_IMAGE_MASK, dataset_kind
    from .datasets.masks import MECHANISMS
    from .methods import GROUPS
    from .runner import plan

    image_methods = set(GROUPS["images"])
    img_ds = [d for d in datasets if dataset_kind(d) == "image"]
    tab_ds = [d for d in datasets if d not in img_ds]
    img_m = [m for m in methods if m in image_methods] or list(GROUPS["images"])
    tab_m = [m for m in methods if m not in image_methods]
    cells = []
    for d in img_ds:
        mask = mechanism if hasattr(MECHANISMS.get(mechanism), "image_mask") else DEFAULT_IMAGE_MASK[d]
        ms = [m for m in img_m if d == "mnist" or m not in MNIST_ONLY]
        if ms:
            cells += plan([d], ms, splits if splits is not None else [0], mask, 0.0, 1, quick)
    return tab_ds, tab_m, cells
