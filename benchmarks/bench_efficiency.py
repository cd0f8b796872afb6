"""Compute efficiency of VAEAC on CPU (issue 12 §6): achieved GFLOP/s against this CPU's fp32 matmul rate.

FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` (matrix products of the forward and backward
pass; elementwise work is not counted, so the achieved rate is a rate of useful matmul work). Each ``track_``
measures its own reference rate in the same process, so a fraction is never a ratio of two different runs.

* ``MatmulRate``: one-thread fp32 ``torch.mm`` of a large square (1024^3) and of the step's own layer shape.
* ``StepEfficiency``: one VAEAC training step (``bench_vaeac.TrainStep``, fast mode) at batch 64 and 1024.
* ``ImputeOneRow``: 100 imputations of one row through ``VAEACMethod.impute`` against its FLOP floor (its
  counted FLOPs at the square matmul rate).
"""

from __future__ import annotations

import statistics
import time
import timeit

import torch

from .common import single_thread

SQUARE = 1024


def median_seconds(fn, min_time: float = 0.2, repeat: int = 7) -> float:
    """Median CPU seconds per call of ``fn`` (timeit's autorange picks the loop count; one thread, so CPU time is
    the time the work took while it ran, less inflated than wall time on a shared machine)."""
    timer = timeit.Timer(fn, timer=time.process_time)
    number, _ = timer.autorange()
    number = max(1, int(number * min_time / 0.2))
    return statistics.median(t / number for t in timer.repeat(repeat=repeat, number=number))


def matmul_gflops(m: int, k: int, n: int, dtype: torch.dtype = torch.float32) -> float:
    """One-thread GFLOP/s of an (m x k) @ (k x n) product in ``dtype`` (fp32 unless asked)."""
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(m, k, generator=gen).to(dtype), torch.randn(k, n, generator=gen).to(dtype)
    out = torch.empty(m, n, dtype=dtype)
    return 2 * m * k * n / median_seconds(lambda: torch.mm(a, b, out=out)) / 1e9


def counted_flops(fn) -> int:
    """FLOPs of ``fn()`` as torch's flop counter sees them (matrix products, forward and backward)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def _step(batch: int, bf16: bool = False):
    from .bench_vaeac import TrainStep

    single_thread()
    step = TrainStep()
    step.setup("fast", "cpu", bf16)
    if batch != 64:
        def run() -> None:
            idx = torch.randint(0, len(step.data), (batch,), generator=step.gen)
            from vaeac_bench.methods.vaeac.training import draw_mask

            b = step.data[idx]
            m = draw_mask(b.missing, 0.2, step.gen)
            with torch.autocast(device_type="cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = step.model.loss(b, m, step.gen)
            step.opt.zero_grad(set_to_none=True)
            loss.backward()
            step.opt.step()
        run()
        return run
    return step.step


class MatmulRate:
    """The reference: one-thread fp32 matmul rate, large square and the VAEAC layer shape (64 x 256 x 256)."""

    param_names = ["shape"]
    params = (["1024x1024x1024", "64x256x256"],)
    timeout = 300

    def setup(self, shape: str) -> None:
        single_thread()

    def track_gflops(self, shape: str) -> float:
        return matmul_gflops(*map(int, shape.split("x")))

    track_gflops.unit = "GFLOP/s"


class StepEfficiency:
    """Achieved GFLOP/s of one VAEAC training step and its fraction of the square matmul rate (same process)."""

    param_names = ["batch"]
    params = ([64, 1024],)
    timeout = 600

    def setup(self, batch: int) -> None:
        self.run = _step(batch)
        self.flops = counted_flops(self.run)

    def track_mflop_per_step(self, batch: int) -> float:
        return self.flops / 1e6

    track_mflop_per_step.unit = "MFLOP"

    def track_gflops(self, batch: int) -> float:
        return self.flops / median_seconds(self.run) / 1e9

    track_gflops.unit = "GFLOP/s"

    def track_fraction_of_matmul_rate(self, batch: int) -> float:
        achieved = self.flops / median_seconds(self.run) / 1e9
        return achieved / matmul_gflops(SQUARE, SQUARE, SQUARE)

    track_fraction_of_matmul_rate.unit = "fraction"


class ImputeOneRow:
    """100 imputations of one row (VAEACMethod.impute, a 1-epoch model) against their FLOP floor."""

    timeout = 600

    def setup(self) -> None:
        from vaeac_bench.methods.vaeac import VAEACMethod

        from .bench_vaeac import SCHEMA, yeast_like

        single_thread()
        self.method = VAEACMethod(epochs=1, random_state=0).fit(yeast_like(), SCHEMA)
        self.row = yeast_like(1, seed=3)
        self.run = lambda: self.method.impute(self.row, n=100)
        self.run()
        self.flops = counted_flops(self.run)

    def track_seconds(self) -> float:
        return median_seconds(self.run)

    track_seconds.unit = "s"

    def track_mflop(self) -> float:
        return self.flops / 1e6

    track_mflop.unit = "MFLOP"

    def track_ratio_to_floor(self) -> float:
        floor = self.flops / (matmul_gflops(SQUARE, SQUARE, SQUARE) * 1e9)
        return median_seconds(self.run) / floor

    track_ratio_to_floor.unit = "x floor"


def measure() -> dict[str, float]:
    """Every figure of this module in one process (scripts/efficiency_report.py's source)."""
    out: dict[str, float] = {}
    single_thread()
    for shape in MatmulRate.params[0]:
        out[f"matmul_gflops[{shape}]"] = MatmulRate().track_gflops(shape)
    for batch in StepEfficiency.params[0]:
        s = StepEfficiency()
        s.setup(batch)
        sec = median_seconds(s.run)
        out[f"step_mflop[{batch}]"] = s.flops / 1e6
        out[f"step_ms[{batch}]"] = sec * 1e3
        out[f"step_gflops[{batch}]"] = s.flops / sec / 1e9
    # benchmark-only: the same steps under bf16 autocast (bench_vaeac.TrainStep's bf16 switch), and the bf16
    # matmul rate they can reach (native on CPUs with AVX-512-BF16 / AMX, emulated and slower elsewhere)
    for batch in StepEfficiency.params[0]:
        out[f"step_ms_bf16[{batch}]"] = median_seconds(_step(batch, bf16=True)) * 1e3
    out["matmul_gflops_bf16[1024x1024x1024]"] = matmul_gflops(SQUARE, SQUARE, SQUARE, torch.bfloat16)
    imp = ImputeOneRow()
    imp.setup()
    out["impute100_ms"] = imp.track_seconds() * 1e3
    out["impute100_mflop"] = imp.flops / 1e6
    out["matmul_gflops_after"] = matmul_gflops(SQUARE, SQUARE, SQUARE)
    rate = max(out["matmul_gflops[1024x1024x1024]"], out["matmul_gflops_after"])
    for batch in StepEfficiency.params[0]:
        out[f"step_fraction[{batch}]"] = out[f"step_gflops[{batch}]"] / rate
    out["impute100_floor_ms"] = imp.flops / (rate * 1e9) * 1e3
    out["impute100_ratio_to_floor"] = out["impute100_ms"] / out["impute100_floor_ms"]
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(measure(), indent=1))

