"""Train the CelebA networks of the grid ahead of scoring (issue 11): one (method, training mask) per process.

    nice -n 10 python scripts/celeba_train.py vaeac-celeba yeh_mixture

Writes only the training checkpoint the cell uses (``celeba_cell.train_checkpoint``: named by the cell's config
hash and the training code's digest). ``run-bench --datasets celeba`` then resumes from it (a finished
checkpoint: no training) and scores the cell. A killed run resumes from its last epoch.
"""

from __future__ import annotations

import argparse
import time

import torch


def main() -> None:
    """Plan the one cell, then fit its method with the cell's seed and checkpoint."""
    from vaeac_bench.celeba_cell import load_for, plan_celeba_cells, train_checkpoint
    from vaeac_bench.datasets.image_registry import image_mask
    from vaeac_bench.methods import build, seed
    from vaeac_bench.runner import method_seed

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("method")
    p.add_argument("mask")
    p.add_argument("--dataset", default="celeba64")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--data-dir", default=None)
    a = p.parse_args()
    torch.set_num_threads(1)
    cells = [c for c in plan_celeba_cells([a.dataset], [a.method], a.quick)[2] if c.key.mechanism == a.mask]
    if len(cells) != 1:
        raise SystemExit(f"no CelebA cell ({a.method}, {a.mask}) is planned; see celeba_cell.CELEBA_PAIRS")
    cell = cells[0]
    data = load_for(a.dataset, a.data_dir, 0, a.quick)
    est = seed(build(a.method, quick=a.quick), method_seed(a.dataset, a.method, 0))
    ck = train_checkpoint(cell)
    print(f"{time.strftime('%H:%M:%S')} {data.describe()}; checkpoint {ck}", flush=True)
    t0 = time.perf_counter()
    est.fit_images(data.train, data.val, image_mask(a.mask), dataset=a.dataset, checkpoint=ck)
    info = est.fit_info_
    print(f"{time.strftime('%H:%M:%S')} done in {time.perf_counter() - t0:.0f} s: {info.get('budget_note')}, "
          f"best epoch {info.get('best_epoch')}, {info.get('seconds', 0):.0f} s training", flush=True)


if __name__ == "__main__":
    main()
