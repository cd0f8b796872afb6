"""Per-cell resources: scoped thread limits, peak memory, memory estimates and memory-aware scheduling.

Nothing here changes process-global state beyond a cell: thread limits are restored on exit, and worker
thread limits travel to worker processes through loky's ``env`` argument, never through ``os.environ``.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: rough per-family memory of one cell, MB = base + per_value * rows * columns (used only when no peak of the
#: same dataset/method is recorded yet). MICE is calibrated, a little above, to the peaks its cells record since
#: its memory was cut (Digits 1797 x 65 values: 1.4 GB; Mushroom 8124 x 22: 1.8 GB); the others to a Python
#: process holding torch or scikit-learn plus its data.
FAMILY_MEMORY_MB: dict[str, tuple[float, float]] = {
    "mice": (600.0, 0.008),
    "missforest": (400.0, 0.01),
    "gain": (700.0, 0.002),
    "vaeac": (700.0, 0.002),
    "um": (700.0, 0.002),
    "mean": (250.0, 0.0005),
}
DEFAULT_FAMILY = (700.0, 0.005)
#: peak RSS (MB) of image cells as their committed records measured them (2026-12-04/05, Intel Xeon and AMD EPYC,
#: one thread): an image cell's memory follows its resolution and network, not a table's rows x columns, so it has
#: its own fallback when the results folder holds no record of the cell. Omniglot's conv cells peak at 15-17 GB
#: while scoring their 1000 objects; two of them at once were OOM-killed on a 24 GB machine (2026-12-04).
IMAGE_MEMORY_MB: dict[str, dict[str, float]] = {
    "mnist": {"vaeac-image": 2180.0, "gsnn-image": 2270.0, "vaeac-image-fc": 980.0, "gsnn-image-fc": 950.0,
              "vae-image-fc": 960.0, "um-image": 840.0, "gain-image": 5860.0, "gain-original-image": 2590.0,
              "naive-bayes-image": 740.0},
    "omniglot": {"vaeac-image": 17400.0, "gsnn-image": 15100.0, "vaeac-image-fc": 4640.0,
                 "gsnn-image-fc": 4490.0, "naive-bayes-image": 3430.0},
    "omniglot28": {"naive-bayes-image": 520.0},
    "celeba64": {"vaeac-celeba": 2360.0, "gsnn-celeba": 2420.0, "naive-bayes-celeba": 3180.0,
                 "biharmonic-inpaint": 1550.0, "navier-stokes-inpaint": 1550.0, "telea-inpaint": 1550.0},
}
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
#: torch's switch for transparent huge pages on its CPU allocations of 2 MB and more (c10 ``alloc_cpu``)
THP_VAR = "THP_MEM_ALLOC_ENABLE"


@contextlib.contextmanager
def limit_threads(threads: int) -> Iterator[None]:
    """Limit BLAS/OpenMP pools (threadpoolctl) and torch's intra-op threads for one cell; restore both after."""
    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    try:
        with threadpool_limits(threads):
            if torch is not None:
                torch.set_num_threads(threads)
            yield
    finally:
        if torch is not None and before is not None:
            torch.set_num_threads(before)


def worker_env(threads: int) -> dict[str, str]:
    """Thread limits for worker processes, handed to loky (the parent's environment is left alone)."""
    return {var: str(threads) for var in THREAD_VARS}


class PeakRSS:
    """Peak resident memory of this process while the block runs, in MB (sampled every ``interval`` s)."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak_mb: float | None = None
        self._stop = threading.Event()

    def _sample(self, proc: Any) -> None:
        while not self._stop.wait(self.interval):
            self.peak_mb = max(self.peak_mb or 0.0, proc.memory_info().rss / 2**20)

    def __enter__(self) -> PeakRSS:
        import psutil

        proc = psutil.Process()
        self.peak_mb = proc.memory_info().rss / 2**20
        self._thread = threading.Thread(target=self._sample, args=(proc,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        import psutil

        self.peak_mb = round(max(self.peak_mb or 0.0, psutil.Process().memory_info().rss / 2**20), 1)


def family(method: str) -> str:
    """The memory family of a method name (``gain-original-a1`` -> ``gain``, ``um-naive`` -> ``um``)."""
    for fam in FAMILY_MEMORY_MB:
        if method == fam or method.startswith(fam + "-"):
            return fam
    return {"gsnn": "vaeac", "nn": "vaeac"}.get(method, method)


def formula_mb(method: str, rows: int, columns: int) -> float:
    """The per-family formula estimate of one cell's peak memory, in MB."""
    base, per_value = FAMILY_MEMORY_MB.get(family(method), DEFAULT_FAMILY)
    return base + per_value * rows * columns


def recorded_peaks(results_dir: Path) -> dict[tuple[str, str], float]:
    """The largest recorded peak RSS (MB) of each (dataset, method) among the result files.

    Peaks of records made by the current code win over stale ones: a method whose memory was cut (MICE on
    Digits, 16 GB to 1.3 GB) must not keep being scheduled by the old code's peak once a new one exists.
    """
    from .provenance import is_stale
    from .results import iter_results

    current: dict[tuple[str, str], float] = {}
    stale: dict[tuple[str, str], float] = {}
    for r in iter_results(Path(results_dir)):
        mb = (r.get("provenance") or {}).get("peak_rss_mb")
        if isinstance(mb, int | float):
            key = (r["dataset"], r["method"])
            try:
                old = is_stale(r)
            except (KeyError, TypeError, ValueError):  # a record of an unknown method or malformed provenance
                old = True
            into = stale if old else current
            into[key] = max(into.get(key, 0.0), float(mb))
    return stale | current


def image_estimate_mb(dataset: str, method: str) -> float:
    """An image cell's peak from :data:`IMAGE_MEMORY_MB`; a pair not measured yet gets the largest peak measured on
    its dataset, or on any image dataset when its dataset has none (too high costs parallelism, too low an OOM kill)."""
    on_dataset = IMAGE_MEMORY_MB.get(dataset) or {}
    if method in on_dataset:
        return on_dataset[method]
    return max(on_dataset.values(), default=max(v for d in IMAGE_MEMORY_MB.values() for v in d.values()))


def estimate_mb(dataset: str, method: str, shape: tuple[int, int] | None,
                peaks: dict[tuple[str, str], float], image: bool = False) -> float:
    """A cell's memory estimate: its recorded peak (+10%) when one exists, else the image table's peak (+10%) for an
    image cell (``image``), else the family formula."""
    if (dataset, method) in peaks:
        return 1.1 * peaks[(dataset, method)]
    if image:
        return 1.1 * image_estimate_mb(dataset, method)
    rows, cols = shape if shape is not None else (1000, 20)
    return formula_mb(method, rows, cols)


def available_mb() -> float:
    """Memory the machine can give the cells now (psutil's ``available``), in MB."""
    import psutil

    return psutil.virtual_memory().available / 2**20


@dataclass
class MemoryScheduler:
    """Start cells only while the sum of the running cells' estimates fits in ``budget_mb`` (and ``jobs``)."""

    budget_mb: float
    jobs: int
    running: dict[Any, float] = field(default_factory=dict)

    def too_big(self, estimate: float) -> bool:
        """A cell that exceeds the whole budget on its own can never start (refused unless overridden)."""
        return estimate > self.budget_mb

    def can_start(self, estimate: float) -> bool:
        """Room for one more cell: a free job slot and memory for it (a lone cell always starts)."""
        if len(self.running) >= self.jobs:
            return False
        return not self.running or sum(self.running.values()) + estimate <= self.budget_mb

    def run(self, items: Sequence[Any], estimates: Sequence[float], submit: Callable[[Any], Future],
            ) -> Iterator[tuple[Any, Future]]:
        """Submit items in order as memory allows; yield (item, finished future) as each completes."""
        queue = list(zip(items, estimates, strict=True))
        futures: dict[Future, tuple[Any, float]] = {}
        while queue or futures:
            while queue and self.can_start(queue[0][1]):
                item, est = queue.pop(0)
                fut = submit(item)
                futures[fut] = (item, est)
                self.running[fut] = est
            done, _ = wait(list(futures), return_when=FIRST_COMPLETED)
            for fut in done:
                item, _est = futures.pop(fut)
                self.running.pop(fut, None)
                yield item, fut
