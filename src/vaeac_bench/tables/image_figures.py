"""Figures 1, 2, 8, 9, 11 and 12 (image inpainting, issue 10), drawn from the galleries and histories in image records.

Every image cell saves its first 8 test objects, their fixed masks and 6 samples (``image_cell``), so a figure is
re-drawn from committed result files alone, and every panel of one figure shows the same objects under the same
masks. A gallery row reads as the paper's: the input with the unobserved pixels grey, the samples, the ground
truth. A figure is written when at least one of its methods has a record; each panel names its method, network
and epochs run, so an under-trained or substitute panel says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

#: file -> (title, dataset, methods in panel order; "history" for figure 9's curves)
IMAGE_FIGURES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "figure01.png": ("Figure 1: MNIST inpaintings (VAEAC)", "mnist", ("vaeac-image", "vaeac-image-fc")),
    "figure02.png": ("Figure 2: Omniglot inpaintings", "omniglot",
                     ("vaeac-image", "vaeac-image-fc", "naive-bayes-image")),
    "figure08.png": ("Figure 8: MNIST inpaintings, VAEAC vs GSNN", "mnist",
                     ("vaeac-image", "gsnn-image", "vaeac-image-fc", "gsnn-image-fc")),
    "figure09.png": ("Figure 9: convergence of VAE and VAEAC on MNIST", "mnist", ("vaeac-image-fc", "vae-image-fc")),
    "figure11.png": ("Figure 11: MNIST inpaintings from GAIN", "mnist", ("gain-image", "gain-original-image")),
    "figure12.png": ("Figure 12: MNIST inpaintings, UM vs VAEAC", "mnist",
                     ("um-image", "vaeac-image", "vaeac-image-fc")),
}
GREY, SEP = 0.5, 1.0  # unobserved pixels; the separators between tiles


def gallery_mosaic(record: dict[str, Any], ink_white: bool = True) -> np.ndarray:
    """One record's gallery as a grey-level mosaic: a row per object, [input | samples | ground truth]."""
    from ..image_cell import unpack_bits

    g = record["gallery"]
    truth, mask, samples = (unpack_bits(g[k]).astype(float) for k in ("truth", "mask", "samples"))
    truth, samples = truth[:, 0], samples[:, :, 0]  # binary images have one channel
    if not ink_white:
        truth, samples = 1 - truth, 1 - samples
    inp = np.where(mask.astype(bool), GREY, truth)
    n, h, w = truth.shape
    tiles = [inp, *samples, truth]
    out = np.full((n * (h + 1) - 1, len(tiles) * (w + 1) + 1), SEP)
    for i in range(n):
        for j, t in enumerate(tiles):
            c0 = j * (w + 1) + (2 if j == len(tiles) - 1 else 0)  # a wider gap before the ground truth
            out[i * (h + 1):i * (h + 1) + h, c0:c0 + w] = t[i]
    return out


def panel_label(record: dict[str, Any]) -> str:
    """Method and budget of a record, e.g. 'vaeac-image-fc\n30/30 epochs' (and the unit kept, when not the last)."""
    b = record.get("budget") or {}
    if b.get("paper_epochs"):
        return f"{record['method']}\n{b.get('epochs_run')}/{b['paper_epochs']} epochs"
    kept = f", kept {b['best_epoch']}" if b.get("best_epoch") not in (None, b.get("epochs_run")) else ""
    return f"{record['method']}" + (f"\n{b['note']}" if b.get("note") else "") + kept


def _gallery_figure(title: str, records: list[dict[str, Any]], ink_white: bool, path: Path) -> Path:
    from .figures import DPI, _figure, save_png

    mosaics = [gallery_mosaic(r, ink_white) for r in records]
    scale = max(1.0, mosaics[0].shape[1] / (2.3 * DPI))  # large images (Omniglot 105²): about one dot per pixel
    with _figure((max(3.6, 2.3 * scale * len(records) + 0.4), 2.3 * scale * mosaics[0].shape[0] / mosaics[0].shape[1]
                  + 0.7), ncols=len(records)) as (fig, axes):
        for ax, r, mosaic in zip(axes[0], records, mosaics, strict=True):
            ax.imshow(mosaic, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_title(panel_label(r), fontsize=7)
            ax.set_axis_off()
        fig.suptitle(title + "\ninput (grey: unobserved) | 6 samples | ground truth", fontsize=8)
        fig.tight_layout()
        return save_png(fig, path)


def _curve_figure(title: str, records: list[dict[str, Any]], path: Path) -> Path:
    from .figures import _figure, save_png

    with _figure((max(3.6, 3.2 * len(records) + 0.4), 2.8), ncols=len(records)) as (fig, axes):
        for ax, r in zip(axes[0], records, strict=True):
            h = r.get("history") or {}
            ax.plot(h.get("val_epochs", []), h.get("val_scores", []), marker=".", color="C0" if "vaeac" in
                    r["method"] else "C1")
            what = "log p(x) of the whole image" if "vae-" in r["method"] else "log p(x_b | x_1-b, b), line mask"
            ax.set_title(f"{panel_label(r)}\nvalidation IWAE-25: {what}", fontsize=7)
            ax.set_xlabel("epoch", fontsize=7)
            ax.set_ylabel("nats", fontsize=7)
            ax.tick_params(labelsize=6)
        fig.suptitle(title, fontsize=8)
        fig.tight_layout()
        return save_png(fig, path)


def render_image_figures(results: list[dict[str, Any]], reports_dir: str | Path) -> list[Path]:
    """Write every figure of :data:`IMAGE_FIGURES` that has at least one record with what it needs."""
    out = []
    for name, (title, dataset, methods) in IMAGE_FIGURES.items():
        path = Path(reports_dir) / name
        if name == "figure09.png":
            recs = [r for m in methods for r in results if r["dataset"] == dataset and r["method"] == m
                    and (r.get("history") or {}).get("val_scores")]
            if recs:
                out.append(_curve_figure(title, recs, path))
            continue
        recs = [r for m in methods for r in results if r["dataset"] == dataset and r["method"] == m
                and r.get("gallery")]
        if recs:
            out.append(_gallery_figure(title, recs, dataset == "mnist", path))
    return out
