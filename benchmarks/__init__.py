"""asv benchmark suites of vaeac-bench (see asv.conf.json).

The suites time what ``run-bench`` runs, so they take torch's huge pages the same way, before any suite imports
torch (``cli.huge_page_allocations``; docs/performance.md, "Page faults"). ``THP_MEM_ALLOC_ENABLE=0`` turns it off.
A commit older than that switch (asv measuring history) runs without it.
"""

try:
    from vaeac_bench.cli import huge_page_allocations
except ImportError:  # a commit before 2026-12-06
    pass
else:
    huge_page_allocations()
