"""Compute efficiency of VAEAC on CPU (issue 12 §6): achieved GFLOP/s against this CPU's fp32 matmul rate.

FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` (matrix products of the forward and backward
pass; elementwise work is not counted, so the achieved rate is a rate of useful matmul work). Each ``track_``
measures its own reference rate in the same process, so a fraction is never a ratio of two different runs.

* ``MatmulRate``: one-thread fp32 ``torch.mm`` of a large square (1024^3) and of the step's own layer shape.
* ``StepEfficiency``: one VAEAC training step through autograd (``bench_vaeac.TrainStep``, fast mode) at
  batch 64 and 1024: the step of the models the hand-written one does not cover.
* ``ManualStepEfficiency``: the same steps with hand-written gradients and one flat Adam tensor: the training
  path of the registered VAEAC, GSNN and NN since 2026-12-05 (``training.manual_step``).
* ``ManualStepBF16Efficiency``: benchmark only, the hand-written step with its products in bf16 (autocast).
* ``ImputeOneRow``: 100 imputations of one row through ``VAEACMethod.impute`` against its FLOP floor (its
  counted FLOPs at the square matmul rate); the method samples with the leaner sampler since 2026-12-05.
* ``ImputeProducts``: the matrix products of those imputations replayed on their own, against the same floor.
* ``ImputeOneRowFast``: the same imputations as one ``FastSampler.sample`` call on a built batch: the draw
  without the method's per-call work. ``ImputeOneRowKey``: the weights' key check ``sampler_for`` makes per call.
* ``StepProducts``: the hand-written batch-64 step's matrix products replayed on their own, in the step's order
  (their rate inside the step) and each repeated alone (hot), and the fraction the step would reach if every
  op but those products and its fused Adam were free.
* ``StepBudget``, ``OptimizerTraffic``: where the batch-64 step's time goes (batch, forward, backward,
  optimizer) and the optimizer's memory traffic against this CPU's streaming rate. ``measure()`` adds the best
  fraction a step could reach if everything but the products and the optimizer's traffic cost nothing.
"""

from __future__ import annotations

import re
import statistics
import time
import timeit
import types
from collections.abc import Callable
from pathlib import Path

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


def _manual_step(batch: int, step_cls: type | None = None):
    """The same step with the hand-written loss and gradients (``methods/vaeac/manual_step.py``, or ``step_cls``,
    a variant of it) and fused Adam over one flat parameter: what ``training.train`` runs for the registered
    methods (``bench_vaeac.registered_step``)."""
    from .bench_vaeac import registered_step

    single_thread()
    return registered_step(batch, step_cls)


#: the matrix products of a training step as the dispatcher sees them (forward, and backward into ``.grad``)
_PRODUCT_OPS = ("mm.default", "mm.out", "addmm.default", "addmm.out")


def step_products(run: Callable[[], None]) -> tuple[list[tuple], int]:
    """The matrix products one call of ``run`` makes, in its order and on its own tensors (to replay them
    without the step's other ops), and their FLOPs."""
    from torch.utils._python_dispatch import TorchDispatchMode

    wanted = {getattr(getattr(torch.ops.aten, op.split(".")[0]), op.split(".")[1]) for op in _PRODUCT_OPS}

    class Record(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.calls: list[tuple] = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
            kwargs = kwargs or {}
            if func in wanted:
                self.calls.append((func, args, kwargs))
            return func(*args, **kwargs)

    with Record() as rec:
        run()
    flops = 0
    for func, args, _ in rec.calls:
        a, b = args[-2:] if func._overloadpacket is torch.ops.aten.addmm else args[:2]
        flops += 2 * a.shape[0] * a.shape[1] * b.shape[1]
    return rec.calls, flops


def replay(calls: list[tuple]) -> None:
    """Run the products :func:`step_products` recorded, in their order, on their own tensors."""
    for func, args, kwargs in calls:
        func(*args, **kwargs)


class StepProducts:
    """The batch-64 hand-written step's matrix products on their own: replayed in the step's order on the step's
    own tensors (what they cost inside the step, where each reads a weight matrix the previous products pushed
    out of the core's cache), and each repeated alone (hot). With the fused Adam step, the replay bounds the
    step from below: the fraction of the matmul rate the step would reach if its other ops were free."""

    timeout = 600

    def setup(self) -> None:
        single_thread()
        run = _manual_step(64)
        for _ in range(5):
            run()
        self.calls, self.flops = step_products(run)
        self.optimizer = run.optimizer

    def replay(self) -> None:
        replay(self.calls)

    def track_in_step_gflops(self) -> float:
        return self.flops / median_seconds(self.replay) / 1e9

    track_in_step_gflops.unit = "GFLOP/s"

    def track_hot_gflops(self) -> float:
        hot = sum(median_seconds(lambda c=c: c[0](*c[1], **c[2]), min_time=0.02, repeat=3) for c in self.calls)
        return self.flops / hot / 1e9

    track_hot_gflops.unit = "GFLOP/s"

    def track_ceiling_fraction(self) -> float:
        floor = median_seconds(self.replay) + median_seconds(self.optimizer.step)
        return self.flops / floor / 1e9 / matmul_gflops(SQUARE, SQUARE, SQUARE)

    track_ceiling_fraction.unit = "fraction"


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


class _StepRate:
    """Achieved GFLOP/s of ``self.run`` (``self.flops`` of work) and its fraction of the square matmul rate (same
    process); a subclass's ``setup`` sets both."""

    param_names = ["batch"]
    params = ([64, 1024],)
    timeout = 600
    run: Callable[[], None]
    flops: int

    def track_gflops(self, batch: int) -> float:
        return self.flops / median_seconds(self.run) / 1e9

    track_gflops.unit = "GFLOP/s"

    def track_fraction_of_matmul_rate(self, batch: int) -> float:
        achieved = self.flops / median_seconds(self.run) / 1e9
        return achieved / matmul_gflops(SQUARE, SQUARE, SQUARE)

    track_fraction_of_matmul_rate.unit = "fraction"


class StepEfficiency(_StepRate):
    """Achieved GFLOP/s of one VAEAC training step and its fraction of the square matmul rate (same process)."""

    def setup(self, batch: int) -> None:
        self.run = _step(batch)
        self.flops = counted_flops(self.run)

    def track_mflop_per_step(self, batch: int) -> float:
        return self.flops / 1e6

    track_mflop_per_step.unit = "MFLOP"


class ManualStepEfficiency(_StepRate):
    """The batch-64 and batch-1024 steps with hand-written gradients and one flat Adam tensor (benchmark: not the
    registered path yet). FLOPs are the autograd step's count, so the two fractions compare the same work."""

    def setup(self, batch: int) -> None:
        self.run = _manual_step(batch)
        self.flops = counted_flops(_step(batch))


def bf16_source(src: str) -> str:
    """manual_step.py's text with each ``torch.mm(a, b, out=g)`` / ``torch.sum(a, 0, out=g)`` written as
    ``g.copy_(...)``: under autocast the product is bf16 and is then copied into the fp32 gradient."""
    src = re.sub(r"torch\.mm\(([^\n]*?), out=([^\n]*?)\)\n", r"\2.copy_(torch.mm(\1))\n", src)
    return re.sub(r"torch\.sum\(([^\n]*?), 0, out=([^\n]*?)\)\n", r"\2.copy_(torch.sum(\1, 0))\n", src)


def bf16_step_class() -> type:
    """``ManualStep`` from an in-memory copy of manual_step.py (:func:`bf16_source`), its step run in autocast."""
    import vaeac_bench.methods.vaeac.manual_step as ms

    src = bf16_source(Path(ms.__file__).read_text())
    mod = types.ModuleType("vaeac_bench.methods.vaeac._manual_step_bf16_check")
    mod.__package__ = "vaeac_bench.methods.vaeac"
    exec(compile(src, ms.__file__ + " (bf16 check copy)", "exec"), mod.__dict__)  # noqa: S102 - the package's own file

    class BF16Step(mod.ManualStep):
        def step(self, batch, b, noise, optimizer):  # noqa: ANN001, ANN201 - ManualStep.step's signature
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = self.loss_and_grad(batch, b, noise)
            optimizer.step()
            return loss.float()

    return BF16Step


class ManualStepBF16Efficiency(_StepRate):
    """Benchmark only: the hand-written step under CPU bf16 autocast (:func:`bf16_step_class`): its products run in
    bf16, the ops after a product in whatever precision type promotion gives them (bf16 until they meet an fp32
    tensor), and weights, gradients and Adam stay fp32. FLOPs are the autograd step's count, and the fraction is
    of the fp32 matmul rate, as for the other steps. Whether results hold: ``scripts/bf16_step_check.py``."""

    def setup(self, batch: int) -> None:
        self.flops = counted_flops(_step(batch))
        self.run = _manual_step(batch, bf16_step_class())  # its step enters autocast itself


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


PHASES = ("batch", "forward", "backward", "optimizer")


def step_phases(n_steps: int = 60, warmup: int = 10) -> dict[str, float]:
    """Median CPU seconds of each phase of the batch-64 training step (``bench_vaeac.TrainStep``, fast mode)."""
    from vaeac_bench.methods.vaeac.training import draw_mask

    from .bench_vaeac import TrainStep

    single_thread()
    ts = TrainStep()
    ts.setup("fast", "cpu", False)
    times: dict[str, list[float]] = {k: [] for k in PHASES}
    for i in range(n_steps + warmup):
        t0 = time.thread_time()
        idx = torch.randint(0, len(ts.data), (64,), generator=ts.gen)
        batch = ts.data[idx]
        b = draw_mask(batch.missing, 0.2, ts.gen)
        t1 = time.thread_time()
        loss = ts.model.loss(batch, b, ts.gen)
        t2 = time.thread_time()
        ts.opt.zero_grad(set_to_none=True)
        loss.backward()
        t3 = time.thread_time()
        ts.opt.step()
        t4 = time.thread_time()
        if i >= warmup:
            for k, dt in zip(PHASES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                times[k].append(dt)
    out = {k: statistics.median(v) for k, v in times.items()}
    out["n_params"] = float(sum(p.numel() for p in ts.model.parameters()))
    return out


def stream_gbps(n: int) -> float:
    """One-thread streaming rate (GB/s) of ``d = a + b * c`` over ``n`` fp32 elements: 3 arrays read, 1 written,
    the access pattern of an optimizer update (the reference for the optimizer's floor)."""
    gen = torch.Generator().manual_seed(0)
    a, b, c = (torch.randn(n, generator=gen) for _ in range(3))
    d = torch.empty(n)
    return 4 * 4 * n / median_seconds(lambda: torch.addcmul(a, b, c, out=d)) / 1e9


#: fp32 arrays Adam reads or writes per parameter and step: parameter, gradient, m, v read; parameter, m, v written
ADAM_ARRAYS = 7


def attainable_fraction(step_mflop: float, matmul_gflops_rate: float, n_params: float,
                        stream_rate_gbps: float) -> tuple[float, float, float]:
    """The best a training step could do: its products at the matmul rate plus Adam's memory traffic at the
    streaming rate, every other op free. Returns (products ms, Adam ms, the fraction of the matmul rate)."""
    products_ms = step_mflop / matmul_gflops_rate
    adam_ms = ADAM_ARRAYS * 4 * n_params / (stream_rate_gbps * 1e9) * 1e3
    return products_ms, adam_ms, products_ms / (products_ms + adam_ms)


class StepBudget:
    """Where the batch-64 step's time goes, and the best fraction of the matmul rate a step could reach."""

    param_names = ["phase"]
    params = (list(PHASES),)
    timeout = 600

    def setup_cache(self) -> dict[str, float]:
        return step_phases()  # one measurement serves every phase

    def track_phase_ms(self, phases: dict[str, float], phase: str) -> float:
        return phases[phase] * 1e3

    track_phase_ms.unit = "ms"


class OptimizerTraffic:
    """Fused Adam's achieved memory traffic in the batch-64 step, and this CPU's streaming rate at that size."""

    timeout = 600

    def setup(self) -> None:
        self.phases = step_phases()

    def track_optimizer_gbps(self) -> float:
        return ADAM_ARRAYS * 4 * self.phases["n_params"] / self.phases["optimizer"] / 1e9

    track_optimizer_gbps.unit = "GB/s"

    def track_stream_gbps(self) -> float:
        return stream_gbps(int(self.phases["n_params"]))

    track_stream_gbps.unit = "GB/s"


def compiled_step_ms(cpp_wrapper: bool = False) -> tuple[float, float, float]:
    """Benchmark only: ``torch.compile`` of the batch-64 loss with its noise drawn outside (``loss(noise=...)``),
    backward and fused Adam as in training. Returns (compile seconds, compiled ms, eager ms) per step."""
    import torch._inductor.config as inductor_config

    from vaeac_bench.methods.vaeac import Batch
    from vaeac_bench.methods.vaeac.training import draw_mask

    from .bench_vaeac import TrainStep

    single_thread()
    ts = TrainStep()
    ts.setup("fast", "cpu", False)
    model = ts.model

    def loss_of(x: torch.Tensor, onehot: torch.Tensor, missing: torch.Tensor, b: torch.Tensor,
                noise: torch.Tensor) -> torch.Tensor:
        return model.loss(Batch(x, onehot, missing), b, noise=noise)

    def inputs() -> tuple[torch.Tensor, ...]:
        idx = torch.randint(0, len(ts.data), (64,), generator=ts.gen)
        batch = ts.data[idx]
        noise = torch.randn((model.n_noise(), 64, model.arch.latent_dim), generator=ts.gen)
        return batch.x, batch.x_onehot, batch.missing, draw_mask(batch.missing, 0.2, ts.gen), noise

    def timed(fn) -> float:
        runs = []
        for i in range(45):
            args = inputs()
            t0 = time.thread_time()
            ts.opt.zero_grad(set_to_none=True)
            fn(*args).backward()
            ts.opt.step()
            if i >= 5:
                runs.append(time.thread_time() - t0)
        return statistics.median(runs) * 1e3

    old = inductor_config.cpp_wrapper
    inductor_config.cpp_wrapper = cpp_wrapper
    try:
        compiled = torch.compile(loss_of)
        t0 = time.perf_counter()
        compiled(*inputs()).backward()
        compile_s = time.perf_counter() - t0
        return compile_s, timed(compiled), timed(loss_of)
    finally:
        inductor_config.cpp_wrapper = old


class ImputeProducts:
    """The matrix products of 100 imputations of one row (``ImputeOneRow``'s), replayed on their own in the
    sampler's order: how near the imputation could come to its FLOP floor if every other op were free."""

    timeout = 600

    def setup(self) -> None:
        imp = ImputeOneRow()
        imp.setup()
        self.flops = imp.flops
        self.calls, _ = step_products(imp.run)

    def replay(self) -> None:
        replay(self.calls)

    def track_products_ratio_to_floor(self) -> float:
        floor = self.flops / (matmul_gflops(SQUARE, SQUARE, SQUARE) * 1e9)
        return median_seconds(self.replay) / floor

    track_products_ratio_to_floor.unit = "x floor"


def direct_sampler_run(method, row) -> Callable[[], torch.Tensor]:
    """One ``FastSampler.sample`` call of 100 draws on the batch ``method`` builds for ``row``: the draw itself,
    without the method's per-call work (validation, scaling, the batch, ``sampler_for``'s check of the weights'
    key, the copy back to numpy)."""
    from vaeac_bench.methods.vaeac.fast_sampler import FastSampler
    from vaeac_bench.methods.vaeac.model import Batch

    model = method.model_
    xt = torch.as_tensor(method.scaler_.transform(row), dtype=torch.float32)
    with torch.inference_mode():
        batch = Batch.from_values(xt, model)
    sampler, gen = FastSampler(model), torch.Generator().manual_seed(0)
    most_probable = bool(method.sample_most_probable)

    def run() -> torch.Tensor:
        with torch.inference_mode():
            return sampler.sample(batch, 100, most_probable, gen)

    return run


def weights_key_run(model) -> Callable[[], tuple]:
    """What ``sampler_for`` pays on every call to learn whether the weights changed since its snapshot: a walk
    over ``model.parameters()`` (``fast_sampler._weights_key``). The queued ``fast_sampler`` fix
    (docs/recompute.md) replaces it with a counter."""
    from vaeac_bench.methods.vaeac.fast_sampler import _weights_key

    return lambda: _weights_key(model)


class ImputeOneRowFast(ImputeOneRow):
    """The same 100 imputations as one call of ``FastSampler.sample`` (``direct_sampler_run``). FLOPs are the
    method's count, so both ratios are to the same floor.

    Until 2026-12-07 this class replaced ``model.sample_imputations``, which the method no longer calls since it
    samples through ``sampler_for`` (2026-12-05): from then until this fix it timed the method's path again."""

    def setup(self) -> None:
        super().setup()
        self.run = direct_sampler_run(self.method, self.row)
        self.run()


class ImputeOneRowKey:
    """``weights_key_run`` on ``ImputeOneRow``'s model: the weights' key walk ``sampler_for`` makes per call."""

    timeout = 600

    def setup(self) -> None:
        imp = ImputeOneRow()
        imp.setup()
        self.run = weights_key_run(imp.method.model_)

    def track_seconds(self) -> float:
        return median_seconds(self.run)

    track_seconds.unit = "s"


def measure(compile_variants: bool = False) -> dict[str, float]:
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
    # the direct draw and the key walk on the same fitted model (ImputeOneRowFast and ImputeOneRowKey fit their own)
    out["impute100_fast_ms"] = median_seconds(direct_sampler_run(imp.method, imp.row)) * 1e3
    out["impute100_fast_direct"] = 1.0  # the sampler called directly (before 2026-12-07: the method's path again)
    out["impute100_key_ms"] = median_seconds(weights_key_run(imp.method.model_)) * 1e3
    ip = ImputeProducts()
    ip.setup()
    out["impute100_products_ms"] = median_seconds(ip.replay) * 1e3
    for batch in StepEfficiency.params[0]:
        sec = median_seconds(_manual_step(batch))
        out[f"manual_step_ms[{batch}]"] = sec * 1e3
        out[f"manual_step_gflops[{batch}]"] = out[f"step_mflop[{batch}]"] / sec / 1e3
    for batch in StepEfficiency.params[0]:  # benchmark only: the hand-written step's products in bf16
        bf = ManualStepBF16Efficiency()
        bf.setup(batch)
        out[f"manual_step_bf16_ms[{batch}]"] = median_seconds(bf.run) * 1e3
    sp = StepProducts()
    sp.setup()
    out["step_products[64]"] = float(len(sp.calls))
    out["products_in_step_ms[64]"] = median_seconds(sp.replay) * 1e3
    out["products_hot_gflops[64]"] = sp.track_hot_gflops()
    out["manual_adam_ms[64]"] = median_seconds(sp.optimizer.step) * 1e3
    phases = step_phases()
    for k in PHASES:
        out[f"phase_ms[{k}]"] = phases[k] * 1e3
    out["n_params"] = phases["n_params"]
    out["stream_gbps"] = stream_gbps(int(phases["n_params"]))
    out["optimizer_gbps"] = ADAM_ARRAYS * 4 * phases["n_params"] / phases["optimizer"] / 1e9
    if compile_variants:
        import torch._inductor.config as inductor_config

        out["compile_cache"] = float(bool(inductor_config.fx_graph_cache))  # a warm on-disk cache compiles fast
        for name, cpp in (("compiled", False), ("compiled_cpp_wrapper", True)):
            c_s, c_ms, e_ms = compiled_step_ms(cpp)
            out[f"{name}_compile_s"], out[f"{name}_step_ms"], out[f"{name}_eager_ms"] = c_s, c_ms, e_ms
    out["matmul_gflops_after"] = matmul_gflops(SQUARE, SQUARE, SQUARE)
    out["step_products_mflop[64]"] = sp.flops / 1e6
    return out | derive(out)


def derive(m: dict[str, float]) -> dict[str, float]:
    """The report's ratios, from ``measure``'s raw figures alone (MFLOP, ms, GFLOP/s), so that they can be
    re-derived from a saved measurement and checked against hand-computed values."""
    rate = max(m["matmul_gflops[1024x1024x1024]"], m["matmul_gflops_after"])
    out: dict[str, float] = {}
    out["step_floor_ms[64]"], out["adam_floor_ms"], out["attainable_fraction[64]"] = attainable_fraction(
        m["step_mflop[64]"], rate, m["n_params"], m["stream_gbps"])
    for batch in StepEfficiency.params[0]:
        out[f"step_fraction[{batch}]"] = m[f"step_gflops[{batch}]"] / rate
        out[f"manual_step_fraction[{batch}]"] = m[f"manual_step_gflops[{batch}]"] / rate
        bf16_gflops = m[f"step_mflop[{batch}]"] / m[f"manual_step_bf16_ms[{batch}]"]  # MFLOP / ms = GFLOP/s
        out[f"manual_step_bf16_fraction[{batch}]"] = bf16_gflops / rate
    out["products_in_step_gflops[64]"] = m["step_products_mflop[64]"] / m["products_in_step_ms[64]"]
    out["in_step_ceiling[64]"] = m["step_products_mflop[64]"] / (
        m["products_in_step_ms[64]"] + m["manual_adam_ms[64]"]) / rate
    out["impute100_floor_ms"] = m["impute100_mflop"] / rate
    out["impute100_ratio_to_floor"] = m["impute100_ms"] / out["impute100_floor_ms"]
    out["impute100_fast_ratio_to_floor"] = m["impute100_fast_ms"] / out["impute100_floor_ms"]
    out["impute100_products_ratio_to_floor"] = m["impute100_products_ms"] / out["impute100_floor_ms"]
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(measure(), indent=1))

