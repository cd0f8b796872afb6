"""Galleries of CelebA inpaintings like the paper's figures 3, 4 and 10 (issue 11), from the trained cells' networks.

    nice -n 10 python scripts/celeba_galleries.py [--out reports/celeba] [--quick]

Each row: the input with the hidden region grey, several inpaintings, the best of 10 (by PSNR), the ground truth.

* figure 3: random rectangles (A.3's CelebA mask, area >= 1/4), the table-4 network (trained on GFC's rectangles);
* figure 4: Yeh et al.'s masks (center, pattern, random, half), the table-3 network;
* figure 10: GFC's O1-O6, the table-4 network.

The networks are the cells' own (``celeba_cell.train_checkpoint``: a finished checkpoint, so nothing trains
here); the faces are the first test faces, the masks seeded. Deterministic and small (a few hundred KB).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

GREY = 0.5
N_SHOWN = 4  # inpaintings shown per row (of the 10 drawn)


def _network(method: str, mask: str, data, dataset: str, quick: bool):
    from vaeac_bench.celeba_cell import plan_celeba_cells, train_checkpoint
    from vaeac_bench.datasets.image_registry import image_mask
    from vaeac_bench.methods import build, seed
    from vaeac_bench.runner import method_seed

    cell = next(c for c in plan_celeba_cells([dataset], [method], quick)[2] if c.key.mechanism == mask)
    ck = train_checkpoint(cell)
    if not ck.is_file():
        raise SystemExit(f"no trained network for ({method}, {mask}) at {ck}: run run-bench --datasets celeba first")
    est = seed(build(method, quick=quick), method_seed(dataset, method, 0))
    return est.fit_images(data.train, data.val, image_mask(mask), dataset=dataset, checkpoint=ck)


def gallery(est, faces: np.ndarray, masks: np.ndarray, row_labels: list[str], title: str, path: Path,
            seed: int = 0) -> Path:
    """Draw one gallery PNG (atomically, without run-dependent metadata)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vaeac_bench.psnr import squared_errors
    from vaeac_bench.tables.figures import save_png

    samples = est.sample_images(faces, masks, 10, seed=seed)
    whole, _ = squared_errors(samples, faces, masks)
    best = samples[np.argmin(whole, axis=0), np.arange(len(faces))]
    cols = ["input"] + [f"sample {i + 1}" for i in range(N_SHOWN)] + ["best of 10", "truth"]
    fig, axes = plt.subplots(len(faces), len(cols), figsize=(1.1 * len(cols), 1.15 * len(faces) + 0.3))
    for i in range(len(faces)):
        shown = [np.where(masks[i][None], GREY, faces[i])] + [samples[k, i] for k in range(N_SHOWN)]
        for j, img in enumerate(shown + [best[i], faces[i]]):
            ax = axes[i, j]
            ax.imshow(np.clip(img.transpose(1, 2, 0), 0, 1), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(cols[j], fontsize=7)
        axes[i, 0].set_ylabel(row_labels[i], fontsize=7)
    fig.suptitle(title, fontsize=8)
    fig.tight_layout(pad=0.3)
    try:
        return save_png(fig, path)
    finally:
        plt.close(fig)


def main() -> None:
    """Draw figures 3, 4 and 10 into ``--out``."""
    from vaeac_bench.celeba_cell import load_for
    from vaeac_bench.datasets.image_registry import image_mask
    from vaeac_bench.seeding import rng_for

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="reports/celeba")
    p.add_argument("--dataset", default="celeba64")
    p.add_argument("--quick", action="store_true")
    a = p.parse_args()
    import torch

    torch.set_num_threads(1)
    data = load_for(a.dataset, None, 0, a.quick)
    out = Path(a.out)
    size = data.resolution
    faces = data.test[:6]
    src = f"{data.describe()}"
    gfc_net = _network("vaeac-celeba", "gfc_train", data, a.dataset, a.quick)
    ep = f"{gfc_net.fit_info_['epochs_run']} of the paper's {gfc_net.fit_info_['paper_epochs']} epochs"
    rect = image_mask("rectangle")(len(faces), size, size, rng_for("celeba-gallery", "rectangle"))
    gallery(gfc_net, faces, rect, [f"face {i + 1}" for i in range(len(faces))],
            f"Figure 3 (ours): random rectangles; VAEAC trained on GFC's rectangles, {ep}\n{src}", out / "figure03.png")
    o_masks = np.concatenate([image_mask(f"gfc_o{i}")(1, size, size, rng_for("celeba-gallery", "gfc"))
                              for i in range(1, 7)])
    gallery(gfc_net, data.test[:6], o_masks, [f"O{i}" for i in range(1, 7)],
            f"Figure 10 (ours): GFC masks O1-O6, {ep}\n{src}", out / "figure10.png", seed=1)
    yeh_net = _network("vaeac-celeba", "yeh_mixture", data, a.dataset, a.quick)
    ep = f"{yeh_net.fit_info_['epochs_run']} of the paper's {yeh_net.fit_info_['paper_epochs']} epochs"
    kinds = ["yeh_center", "yeh_center", "yeh_pattern", "yeh_random", "yeh_half", "yeh_half"]
    y_masks = np.concatenate([image_mask(k)(1, size, size, rng_for("celeba-gallery", k, i))
                              for i, k in enumerate(kinds)])
    gallery(yeh_net, faces, y_masks, [k.removeprefix("yeh_") for k in kinds],
            f"Figure 4 (ours): masks of Yeh et al., {ep}\n{src}", out / "figure04.png", seed=2)
    for f in ("figure03.png", "figure04.png", "figure10.png"):
        print(out / f, (out / f).stat().st_size, "bytes")


if __name__ == "__main__":
    main()
