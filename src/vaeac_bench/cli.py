"""``run-bench``: run the dataset x method x split grid and render the paper's tables beside ours."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

EPILOG = """examples:
  run-bench                                   # paper methods on the 4 scikit-learn datasets (cached cells reused)
  run-bench --results-dir fresh --splits 1    # the same grid computed from scratch (one split; minutes)
  run-bench --datasets sklearn --quick        # smoke run with tiny budgets (results in bench-quick/)
  run-bench --datasets uci --methods mean,mice,missforest --jobs 2
  run-bench --datasets yeast,zoo --methods vaeac --splits 0,1
  run-bench --tables 10,11 --no-run           # only re-render reports from results/
  run-bench --list                            # registered datasets, groups and methods
  run-bench --migrate                         # rename old result files to registry-derived config hashes
  run-bench --backend dask --jobs 4           # the same grid on a local Dask cluster of 4 worker processes
  run-bench --backend dask --scheduler tcp://10.0.0.1:8786   # ... or on a running Dask cluster
  run-bench --methods vaeac --device cuda     # neural methods on the GPU (the device is recorded, not hashed)
  run-bench --datasets uci --mechanism mcar,mar,mnar-selfmask --missing-rate 0.1,0.3,0.5,0.7
  run-bench --csv mine.csv --target price --categorical zip --methods mean,knn,vaeac   # your own table

Finished cells are cached in --results-dir (one JSON per dataset x method x split x config), so an
interrupted run resumes where it stopped. A cached cell computed by older code (its recorded code digest
differs from the current source) is stale and recomputed, unless --accept-stale. Data: --data-dir, then
$VAEAC_BENCH_DATA, then the user cache (filled by --download); breast, diabetes, digits and iris ship with scikit-learn.
"""

DEFAULT_TABLES = "1,2,7,10,10t,11"
ALL_TABLES = "1,2,3,4,5,6,7,8,9,10,10t,11"


def _splits(text: str) -> list[int]:
    """``5`` means splits 0..4; ``0,3`` (or ``3,`` for one) lists split indices."""
    try:
        if "," in text:
            vals = [int(t) for t in text.split(",") if t.strip()]
        else:
            vals = list(range(int(text)))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--splits takes a count (5) or indices (0,1,2); got {text!r}") from None
    if text.strip() == "0":  # a count of zero splits, which is surely meant as split index 0
        raise argparse.ArgumentTypeError("--splits 0 is a count of zero splits; for split index 0 alone write '0,' "
                                         "(a count N runs splits 0..N-1)")
    if not vals or any(v < 0 for v in vals):
        raise argparse.ArgumentTypeError(f"--splits takes a positive count or indices >= 0; got {text!r}")
    return vals


def _rates(text: str) -> list[float]:
    """``0.5`` or a list ``0.1,0.3,0.5,0.7`` (issue 13 §3): each a number in [0, 1), duplicates dropped."""
    out: list[float] = []
    for item in (t.strip() for t in text.split(",")):
        try:
            v = float(item)
        except ValueError:
            raise argparse.ArgumentTypeError(f"--missing-rate must be a number in [0, 1) or a comma-separated list "
                                             f"of them (0.1,0.3,0.5), got {text!r}") from None
        if not 0.0 <= v < 1.0:
            raise argparse.ArgumentTypeError(f"--missing-rate must be in [0, 1), got {v}")
        if v not in out:
            out.append(v)
    return out


def _names(text: str) -> list[str]:
    """A comma-separated list of names, blanks and duplicates dropped, order kept."""
    return list(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))


def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v


def _device(text: str) -> str:
    """``cpu``, ``cuda``, ``cuda:N`` or ``auto`` (the check lives in the runner, without importing torch)."""
    from .runner import check_device

    try:
        return check_device(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--device takes cpu, cuda, cuda:N or auto; got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="run-bench", description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", default=None,
                   help="dataset names and/or groups, comma-separated: uci (all 14), sklearn (the 4 embedded), "
                        "table1, or names such as yeast,zoo (default: sklearn)")
    p.add_argument("--csv", default=None, metavar="PATH",
                   help="benchmark your own table instead (CSV or Parquet, header row): real vs categorical columns "
                        "inferred, cells already missing stay missing and are never scored; results in "
                        "bench-STEM/ unless --results-dir")
    p.add_argument("--target", default=None, metavar="COL",
                   help="with --csv: the column the downstream task predicts (default: the last column)")
    p.add_argument("--categorical", type=_names, default=[], metavar="A,B",
                   help="with --csv: numeric columns to treat as categorical (text columns already are)")
    p.add_argument("--drop", type=_names, default=[], metavar="A,B",
                   help="with --csv: columns to leave out (identifiers, free text, constants)")
    p.add_argument("--methods", default="paper",
                   help="method names and/or groups, comma-separated: paper (mean, mice, missforest, gain, vaeac, "
                        "gsnn, nn), gain-original (table 7's alpha grid), all (default: %(default)s)")
    p.add_argument("--splits", type=_splits, default=None,
                   help="number of seeded 3:1 splits (5 in the paper), or split indices such as 0,1 or 3, (default: 5; "
                        "image datasets: split 0 only)")
    p.add_argument("--mechanism", type=_names, default=["mcar"],
                   help="missingness mechanism(s), comma-separated: mcar (the paper's), mar, mnar-logistic, "
                        "mnar-selfmask, mnar-quantile (Muzellec et al. 2020); the grid runs every mechanism x "
                        "rate (default: mcar)")
    p.add_argument("--missing-rate", type=_rates, default=[0.5],
                   help="fraction of cells dropped, or a list such as 0.1,0.3,0.5,0.7 (default: 0.5); the paper "
                        "tables always report 50%% MCAR, the figures every mechanism and rate run")
    p.add_argument("--n-imputations", type=_positive, default=10,
                   help="imputations per object for multiple-imputation methods (default: 10, as §5.1)")
    p.add_argument("--data-dir", default=None, help=f"folder with the dataset files (else ${'VAEAC_BENCH_DATA'})")
    p.add_argument("--download", action="store_true",
                   help="fetch missing dataset files into the user cache (sha256-verified)")
    p.add_argument("--results-dir", default=None, help="where result files go (default: results/, or "
                                                       "bench-quick/results with --quick)")
    p.add_argument("--reports-dir", default=None, help="where tables go (default: reports/, or bench-quick/reports)")
    p.add_argument("--jobs", type=_positive, default=None,
                   help="parallel cells, --threads threads each, as memory allows (default: the number of cores "
                        "divided by --threads)")
    p.add_argument("--threads", type=_positive, default=1,
                   help="threads per cell (default 1: on the 2-core reference machine one thread a cell was "
                        "fastest, even for the Omniglot conv step); more where cores outnumber cells. A cell's "
                        "numbers can differ in the last bits with its thread count; each record names it")
    p.add_argument("--backend", choices=("local", "dask"), default="local",
                   help="where cells run: local worker processes, or a Dask cluster (needs the 'cluster' extra); "
                        "either way this process writes every result file (default: %(default)s)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="Dask scheduler address such as tcp://10.0.0.1:8786 (with --backend dask; without it a "
                        "local cluster of --jobs single-threaded worker processes starts)")
    p.add_argument("--device", type=_device, default="cpu",
                   help="where neural methods (vaeac, gsnn, nn, gain, um) train: cpu, cuda, cuda:N or auto (CUDA "
                        "when available); not part of a cell's config hash, recorded in its provenance "
                        "(default: %(default)s)")
    p.add_argument("--memory-gb", type=float, default=None,
                   help="memory the cells may use together (default: what the machine has available now)")
    p.add_argument("--ignore-memory", action="store_true",
                   help="start a cell even if its memory estimate exceeds the machine's available memory")
    p.add_argument("--mc-long", type=_positive, default=None, metavar="N",
                   help="after the image cells, table 9's MC-10^4 (eq. 17) on the first N test objects of each, "
                        "from the cells' trained networks (1000 = the paper's; cached beside the cell results, "
                        "saved every 40 objects; a larger N extends a cached result), each cell's objects split "
                        "over --jobs processes")
    p.add_argument("--quick", action="store_true", help="tiny budgets for a smoke run (not comparable to the paper)")
    p.add_argument("--tables", default=DEFAULT_TABLES,
                   help="paper tables to render: any of 1,2,5,7,8,9,10,10t,11, all, or none (default: %(default)s); "
                        "table 8's synthetic-data models are cells like the others (never trained with --no-run); "
                        "any grid table also renders beyond.md with its figures, and reports/index.md links them all")
    p.add_argument("--no-run", action="store_true", help="do not compute cells, only render reports")
    p.add_argument("--accept-stale", action="store_true",
                   help="keep cached cells computed by older code instead of recomputing them (each recomputed "
                        "file replaces the old one atomically)")
    p.add_argument("--migrate", action="store_true",
                   help="rename result files named by the old estimator-config hash to the registry-derived "
                        "hash (only where the recorded parameters match the registry), then exit")
    p.add_argument("--export", default=None, metavar="CSV",
                   help="also write every result as one tidy long table (dataset, method, split, mechanism, rate, "
                        "metric, value) to this file")
    p.add_argument("--list", action="store_true", help="list datasets, groups and methods, then exit")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, warnings only")
    return p


def _list() -> None:
    from .datasets import GROUPS, SPECS
    from .methods import GROUPS as MGROUPS
    from .methods import REGISTRY, resolve

    resolve("all")
    print("datasets:")
    for name, spec in SPECS.items():
        where = "scikit-learn" if spec.embedded else spec.path
        print(f"  {name:16s} {spec.task:15s} {where}")
    print("dataset groups:", ", ".join(f"{k} ({len(v)})" for k, v in GROUPS.items()))
    print("methods:")
    for name, spec in REGISTRY.items():
        print(f"  {name:20s} {spec.description}")
    print("method groups:", ", ".join(f"{k} = {','.join(v)}" for k, v in MGROUPS.items()))


def _check_run_setup(args: argparse.Namespace) -> str | None:
    """One line saying why the run cannot start here (CUDA asked for but absent, Dask not installed), else None."""
    if args.backend == "dask":
        import importlib.util

        if importlib.util.find_spec("distributed") is None:
            return ("--backend dask needs Dask's distributed scheduler; install it with "
                    "pip install 'vaeac-bench[cluster]'")
    # CUDA is checked here when the cells run on this machine; a remote cluster's workers check their own
    if args.device.startswith("cuda") and args.scheduler is None:
        import torch

        if not torch.cuda.is_available():
            return f"--device {args.device} was asked for but CUDA is not available here; use --device cpu or auto"
        index = int(args.device[5:]) if ":" in args.device else 0
        if index >= torch.cuda.device_count():
            return (f"--device {args.device} names a GPU this machine lacks (it has {torch.cuda.device_count()}); "
                    f"use cuda:0 .. cuda:{torch.cuda.device_count() - 1}")
    return None


def single_thread_pools() -> None:
    """One BLAS/OpenMP thread for this process's cells, set before torch or numpy load (if neither has yet).

    Cells run single-threaded (two one-thread jobs beat one two-thread job on the reference machine). Worker
    processes get this from their environment at start; an in-process run (``--jobs 1``) did not, and its
    OpenMP pool, created at the machine's core count before the cell's ``limit_threads(1)``, kept a second
    thread spinning at ~50% of a core, halving the speed of a second run beside it. A variable the user set
    is left alone.
    """
    if "torch" in sys.modules or "numpy" in sys.modules:  # too late to matter (e.g. called from Python)
        return
    from .resources import THREAD_VARS

    for var in THREAD_VARS:
        os.environ.setdefault(var, "1")


THP_SYSFS = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def huge_page_allocations(sysfs: Path = THP_SYSFS) -> bool:
    """Ask torch for transparent huge pages on large tensors (``THP_MEM_ALLOC_ENABLE=1``); True if now set.

    Issue 12: without it every large tensor a cell frees goes back to the kernel and its next allocation
    page-faults 4 KB at a time. The Omniglot conv cell's validation spent 60% of its time in the kernel
    (5.1 M faults for 40 objects); with huge pages the same call took 1.4-1.85x less CPU, to the same bits
    (docs/performance.md, "Page faults"). Set before torch allocates (worker processes inherit it), only
    where the kernel offers huge pages (``madvise`` or ``always``); a value the user set is left alone.
    """
    from .resources import THP_VAR

    if THP_VAR in os.environ:
        return os.environ[THP_VAR] == "1"
    if "torch" in sys.modules or not sys.platform.startswith("linux"):  # too late, or no such kernel switch
        return False
    try:
        modes = sysfs.read_text()
    except OSError:
        return False
    if "[never]" in modes:
        return False
    os.environ[THP_VAR] = "1"
    return True


def main(argv: list[str] | None = None) -> int:
    single_thread_pools()
    huge_page_allocations()
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    log = logging.getLogger("vaeac_bench")
    if args.list:
        _list()
        return 0
    if args.migrate:
        from .runner import migrate

        where = Path(args.results_dir or "results")
        report = migrate(where)
        print(f"run-bench: migrated {report.renamed} result file(s) in {where}; {report.current} already current; "
              f"{len(report.mismatched)} left (their parameters differ from the registry's)")
        return 0
    from .datasets import DataNotFoundError, get_spec, load
    from .datasets import resolve as resolve_datasets
    from .datasets.masks import get_mechanism
    from .methods import resolve as resolve_methods

    source = None
    try:
        if args.csv is None:
            given = [o for o, v in (("--target", args.target), ("--categorical", args.categorical),
                                    ("--drop", args.drop)) if v]
            if given:
                raise ValueError(f"{given[0]} applies to your own table; add --csv PATH or drop {given[0]}")
        elif args.datasets is not None:
            raise ValueError("--csv benchmarks your own table instead of --datasets; pass one of them")
        else:
            from .userdata import prepare

            source, user_table, left_out = prepare(args.csv, args.target, tuple(args.categorical), tuple(args.drop))
            if left_out:
                log.warning("--csv %s: %d row(s) with no value of the target %r left out", args.csv, left_out,
                            source.target)
        datasets = [] if source is not None else resolve_datasets(args.datasets or "sklearn")
        methods = resolve_methods(args.methods)
        if not args.mechanism:
            raise ValueError("--mechanism needs at least one name, e.g. mcar or mcar,mar,mnar-selfmask")
        for mech in args.mechanism:
            get_mechanism(mech)
        tables = [t.strip() for t in (ALL_TABLES if args.tables.strip().lower() == "all" else args.tables).split(",")
                  if t.strip() and t.strip().lower() != "none"]
        if args.tables == DEFAULT_TABLES and all(hasattr(get_spec(d), "height") for d in datasets):
            tables = ["5", "9"]  # image datasets only: the image tables (issue 10)
            if any(getattr(get_spec(d), "kind", "") == "celeba" for d in datasets):
                tables = ["3", "4", "6", "9"] + (["5"] if any(get_spec(d).kind == "image" for d in datasets) else [])
        from .tables import TABLES

        bad = [t for t in tables if t not in TABLES and t not in ("3", "4", "5", "6", "8", "9")]
        if bad:
            raise ValueError(f"unknown table(s) {bad}; renderable tables: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10t, 11")
        if args.scheduler is not None and args.backend != "dask":
            raise ValueError("--scheduler is a Dask scheduler address; add --backend dask or drop --scheduler")
    except ValueError as err:
        print(f"run-bench: error: {err}", file=sys.stderr)
        return 2
    if source is not None:  # a user's table: its own folder, never mixed with the UCI results
        base = Path(f"bench-{source.name}" + ("-quick" if args.quick else ""))
        tables = []  # the paper tables have no such dataset; its report is beyond.md and the figures
    else:
        base = Path("bench-quick") if args.quick else Path(".")
    results_dir = Path(args.results_dir) if args.results_dir else base / "results"
    reports_dir = Path(args.reports_dir) if args.reports_dir else base / "reports"
    if args.no_run and tables:
        from .results import iter_results

        if next(iter_results(results_dir), None) is None and next(results_dir.glob("synthetic/*/*.json"), None) is None:
            print(f"run-bench: error: --no-run renders from result files, but {results_dir} holds none; "
                  "run without --no-run first or point --results-dir at a folder of results", file=sys.stderr)
            return 2

    failed = 0
    if not args.no_run:
        error = _check_run_setup(args)
        if error:
            print(f"run-bench: error: {error}", file=sys.stderr)
            return 2
        # fail fast, before any work, on a missing or corrupted dataset file
        from .image_cell import plan_image_cells  # issue 10: image datasets pair with image methods

        datasets, table_methods, image_cells = plan_image_cells(datasets, methods, args.splits, args.mechanism[0],
                                                                args.quick)
        from .celeba_cell import plan_celeba_cells  # issue 11: CelebA pairs with its methods and experiments

        datasets, table_methods, celeba_cells = plan_celeba_cells(datasets, table_methods, args.quick)
        image_cells += celeba_cells
        try:
            shapes = {d: load(d, data_dir=args.data_dir, download=args.download).data.shape for d in datasets}
            if source is not None:
                shapes[source.name] = user_table.data.shape
        except (DataNotFoundError, ValueError) as err:
            print(f"run-bench: error: {err}", file=sys.stderr)
            return 2
        except OSError as err:  # --download without network (URLError, timeout) or an unreadable file
            print(f"run-bench: error: cannot get the data ({err}); check the network connection, or point "
                  "--data-dir at a folder holding the files", file=sys.stderr)
            return 2
        from .runner import MemoryRefused, plan, run

        try:
            cells = plan(datasets, table_methods, args.splits or list(range(5)), args.mechanism, args.missing_rate,
                         args.n_imputations, args.quick, source) if (datasets or source) and table_methods else []
            cells += image_cells
        except (ImportError, ValueError, TypeError) as err:
            print(f"run-bench: error: cannot set up the methods: {err}", file=sys.stderr)
            return 2
        try:
            cores = os.cpu_count() or 1
            jobs = args.jobs or max(1, cores // args.threads)
            if jobs * args.threads > cores:
                log.warning("--jobs %d x --threads %d exceeds the %d cores: cells will slow each other down",
                            jobs, args.threads, cores)
            summary = run(cells, results_dir, jobs=jobs, threads=args.threads, data_dir=args.data_dir,
                          progress=not args.quiet,
                          accept_stale=args.accept_stale, shapes=shapes, ignore_memory=args.ignore_memory,
                          memory_budget_mb=None if args.memory_gb is None else args.memory_gb * 1024,
                          backend=args.backend, scheduler=args.scheduler, device=args.device)
        except (MemoryRefused, ConnectionError, ImportError, TimeoutError) as err:
            print(f"run-bench: error: {err}", file=sys.stderr)
            return 2
        print(f"run-bench: {summary.describe()}", file=sys.stderr)
        for label, err in summary.failed.items():
            print(f"run-bench: cell {label} failed: {err.splitlines()[0]}", file=sys.stderr)
        failed = len(summary.failed)
        if args.mc_long is not None:  # issue 10: table 9's MC-10⁴ from the image cells just run or reused
            from .image_long_mc import run_long_mc

            done = run_long_mc(image_cells, results_dir, args.mc_long, data_dir=args.data_dir,
                               progress=not args.quiet, device=args.device, threads=args.threads, jobs=jobs)
            print(f"run-bench: MC-10^4: {len(done)} cell(s) computed", file=sys.stderr)
    from .runner import PAPER_SETTING
    from .tables import render_all

    grid_tables = [t for t in tables if t not in ("3", "4", "5", "6", "8", "9")]
    # the README's generated blocks follow the committed results only (not a --quick or side folder)
    readme = Path("README.md") if (not args.quick and results_dir.resolve() == Path("results").resolve()
                                   and Path("README.md").is_file()
                                   and "<!-- generated:findings -->" in Path("README.md").read_text()) else None
    # the paper tables report the paper's setting (50% MCAR, A.2) whatever else ran; the figures show the rest
    written = render_all(results_dir, reports_dir, grid_tables, quick=args.quick, mechanism=PAPER_SETTING[0],
                         rate=PAPER_SETTING[1], n_imputations=args.n_imputations, readme=readme)
    if "5" in tables or "9" in tables:  # image tables (issue 10) from the image cells' records
        from .tables.images import render_image_tables

        written += render_image_tables(results_dir, reports_dir, quick=args.quick)
    if {"3", "4", "6", "9"} & set(tables):  # CelebA tables (issue 11) from the CelebA cells' records
        from .tables.celeba import render_celeba_tables

        written += render_celeba_tables(results_dir, reports_dir, quick=args.quick)
    if "8" in tables:
        from .synthetic import render_table8, run_synthetic, synthetic_cells

        if not args.no_run:  # table 8's models are cells too: computed when missing or stale, else reused
            syn = run_synthetic(synthetic_cells(args.quick), results_dir, accept_stale=args.accept_stale,
                                progress=not args.quiet)
            print(f"run-bench: table 8: {syn.describe()}", file=sys.stderr)
        written += render_table8(results_dir, reports_dir, quick=args.quick)
    if source is not None and args.tables.strip().lower() != "none":  # a user's table: beyond.md and figures
        from .tables.beyond import render_beyond

        written += render_beyond(results_dir, reports_dir, quick=args.quick, n_imputations=args.n_imputations)
    if any(p.parent.resolve() == reports_dir.resolve() for p in written):
        from .tables.index import render_index

        written.append(render_index(reports_dir))  # issue 13 §6: one page linking every table and figure
    if args.export:
        from .results import atomic_write_text, iter_results, long_table

        atomic_write_text(Path(args.export), long_table(iter_results(results_dir)).to_csv(index=False))
        written.append(Path(args.export))
    for path in written:
        log.info("wrote %s", path)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
