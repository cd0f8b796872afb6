"""Shared set-up for the asv suites: one protocol split of a real dataset, one thread per process."""

from __future__ import annotations

import os

import numpy as np


def single_thread() -> None:
    """The benchmark runner's setting: one BLAS/torch thread per job."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    if "torch" in __import__("sys").modules:
        import torch

        torch.set_num_threads(1)


def protocol_split(dataset: str, split: int = 0):
    """Split ``split`` of ``dataset`` with 50% MCAR (the paper's protocol); embedded datasets need no files."""
    from vaeac_bench.datasets import load, make_split

    return make_split(load(dataset, data_dir=os.environ.get("VAEAC_BENCH_DATA")), split)


def scored_nrmse(split, imputations: np.ndarray) -> float:
    from vaeac_bench.metrics import score_imputations

    s = score_imputations(split.test_true, imputations, split.test_scored, split.schema,
                          columns=list(range(split.target_index)))
    return float(s.nrmse if s.nrmse is not None else s.pfc)
