"""asv benchmarks for the shared training harness (``vaeac_bench.nn.harness``).

GAIN runs 10,000 tiny iterations through the harness, so its per-unit bookkeeping must stay far below one
optimiser step: ``time_loop_overhead`` times 100,000 no-op units (validation every 100), to be compared
with GAIN's iterations per second in ``bench_gain_um``.
"""

from __future__ import annotations

from vaeac_bench.nn.harness import fit_loop


class HarnessSuite:
    """Bookkeeping cost of :func:`fit_loop` per unit (no model: the step does nothing)."""

    timeout = 120
    units = 100_000

    def time_loop_overhead(self) -> None:
        fit_loop(lambda epoch: None, max_epochs=self.units, score=lambda epoch: 0.0, validate_every=100)

    def track_overhead_us_per_unit(self) -> float:
        import time

        t0 = time.perf_counter()
        self.time_loop_overhead()
        return (time.perf_counter() - t0) / self.units * 1e6

    track_overhead_us_per_unit.unit = "us"
