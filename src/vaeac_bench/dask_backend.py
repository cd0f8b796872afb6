"""The grid on a Dask cluster: workers compute cells and return records; the driver writes them.

``run-bench --backend dask [--scheduler ADDRESS]`` goes through :func:`vaeac_bench.runner.run` like a local run;
only where a cell is computed changes. Each cell is one ``distributed`` future of
:func:`vaeac_bench.runner.compute_outcome`, so:

- a worker lost mid-cell loses nothing finished (the driver wrote every finished record) and the scheduler
  reruns its cell on another worker (up to ``distributed.scheduler.allowed-failures`` times, then the cell is
  reported as failed and the run goes on);
- each task carries its memory estimate as a worker resource (``MEMORY_MB``), so a worker runs cells only while
  their estimates fit what it advertises, and its thread limit as an argument (scoped by
  :func:`resources.limit_threads` inside the cell);
- with no address a local cluster starts: ``workers`` single-threaded worker processes, each advertising an
  equal share of the memory budget and started with the thread-limit environment (:func:`resources.worker_env`).

Needs the optional ``cluster`` extra (``pip install vaeac-bench[cluster]``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .resources import worker_env

if TYPE_CHECKING:
    from .runner import Cell, Outcome

log = logging.getLogger("vaeac_bench")

#: the worker resource a cell's memory estimate is charged against (start external workers with
#: ``dask worker ADDRESS --nthreads 1 --resources MEMORY_MB=<MB>``)
MEMORY_RESOURCE = "MEMORY_MB"


def _import_distributed() -> Any:
    """The ``distributed`` module, or an ImportError that says how to install it."""
    try:
        import distributed
    except ImportError:
        raise ImportError("--backend dask needs Dask's distributed scheduler; install it with "
                          "pip install 'vaeac-bench[cluster]' (or 'dask[distributed]')") from None
    return distributed


def cell_key(cell: Cell) -> str:
    """A readable, unique task key for one cell (shown on the Dask dashboard)."""
    k = cell.key
    return f"cell-{k.dataset}-{k.method}-{k.mechanism}-{k.rate:g}-split{k.split}-{k.config_hash}"


def worker_memory(client: Any) -> list[float]:
    """The ``MEMORY_MB`` each connected worker advertises (empty when none advertises one)."""
    workers = client.scheduler_info(n_workers=-1)["workers"].values()
    return [float(w["resources"][MEMORY_RESOURCE]) for w in workers if MEMORY_RESOURCE in (w.get("resources") or {})]


@contextlib.contextmanager
def local_cluster(workers: int, budget_mb: float, threads: int = 1) -> Iterator[Any]:
    """A LocalCluster of ``workers`` processes with ``threads`` threads each and an equal share of the memory."""
    distributed = _import_distributed()
    share = budget_mb / workers
    with distributed.LocalCluster(n_workers=workers, threads_per_worker=threads, processes=True,
                                  resources={MEMORY_RESOURCE: share}, memory_limit=0, env=worker_env(threads),
                                  dashboard_address=None, host="127.0.0.1") as cluster:
        yield cluster


@contextlib.contextmanager
def dask_outcomes(todo: Sequence[Cell], estimates: Sequence[float], *, scheduler: str | None, workers: int,
                  budget_mb: float, ignore_memory: bool, data_dir: str | None, threads: int,
                  device: str) -> Iterator[Iterator[tuple[Cell, Outcome]]]:
    """Submit every cell to the cluster at ``scheduler`` (or a local one); yield (cell, outcome) as each ends."""
    distributed = _import_distributed()
    from .runner import compute_outcome

    with contextlib.ExitStack() as stack:
        if scheduler is None:  # refuse before starting anything: each local worker gets an equal share
            estimates = _fit_workers(todo, estimates, budget_mb / workers, ignore_memory, local=True)
            cluster = stack.enter_context(local_cluster(workers, budget_mb, threads))
            client = stack.enter_context(distributed.Client(cluster))
        else:
            try:
                client = stack.enter_context(distributed.Client(scheduler, timeout="30s"))
            except OSError as err:
                raise ConnectionError(f"cannot reach the Dask scheduler at --scheduler {scheduler!r} ({err}); "
                                      "check the address (tcp://HOST:8786) and that the scheduler runs") from None
            client.wait_for_workers(1, timeout=60)
        memory = worker_memory(client)
        if memory:
            estimates = _fit_workers(todo, estimates, max(memory), ignore_memory, local=scheduler is None)
        else:
            log.warning("no Dask worker advertises a %s resource: cells are placed without memory limits (start "
                        "workers with --resources %s=<MB>)", MEMORY_RESOURCE, MEMORY_RESOURCE)
        futures = {}
        for cell, est in zip(todo, estimates, strict=True):
            fut = client.submit(compute_outcome, cell, data_dir, threads, device, key=cell_key(cell), pure=False,
                                resources={MEMORY_RESOURCE: est} if memory else None)
            futures[fut] = cell
        log.info("submitted %d cell(s) to the Dask scheduler %s", len(futures), client.scheduler.address)
        yield _collect(futures, distributed)


def _fit_workers(todo: Sequence[Cell], estimates: Sequence[float], largest: float, ignore_memory: bool,
                 local: bool) -> list[float]:
    """Refuse a cell no worker can hold (it would wait forever), or clip its estimate with ``ignore_memory``."""
    from .runner import MemoryRefused

    too_big = [(c, e) for c, e in zip(todo, estimates, strict=True) if e > largest]
    if too_big and not ignore_memory:
        c, e = too_big[0]
        hint = "use fewer --jobs (each local worker gets an equal share)" if local else \
            f"start a worker with a larger --resources {MEMORY_RESOURCE}"
        raise MemoryRefused(f"cell {c.label} needs about {e / 1024:.1f} GB but the largest Dask worker offers "
                            f"{largest / 1024:.1f} GB ({len(too_big)} such cell(s)); {hint}, or pass --ignore-memory")
    return [min(e, largest) for e in estimates]


def _collect(futures: dict[Any, Cell], distributed: Any) -> Iterator[tuple[Cell, Outcome]]:
    """Finished futures in completion order; a cell that kept killing its workers comes back as an error."""
    for fut in distributed.as_completed(list(futures)):
        cell = futures[fut]
        try:
            outcome = fut.result()
        except Exception as err:  # KilledWorker after allowed-failures lost workers, or a cancelled task
            outcome = (cell.label, None, f"{type(err).__name__}: {err}", 0.0)
        fut.release()  # the scheduler and the worker forget the record once the driver has it
        yield cell, outcome
