"""scripts/efficiency_report.py: the report's fractions are computed right and old measurements still render.

The measurement itself (``benchmarks.bench_efficiency.measure``) is a benchmark, run by asv and by the script;
these tests feed the renderer fabricated figures with known ratios.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("efficiency_report", REPO / "scripts" / "efficiency_report.py")
er = importlib.util.module_from_spec(_spec)
sys.modules["efficiency_report"] = er
_spec.loader.exec_module(er)

META = {"date": "2026-12-04 00:00 UTC", "cpu": "Test CPU, x86_64, 2 cores", "conditions": "fabricated",
        "load_average": "0.0"}


def _measured(with_bf16_1024: bool) -> dict[str, float]:
    m = {"matmul_gflops[1024x1024x1024]": 100.0, "matmul_gflops_after": 200.0, "matmul_gflops[64x256x256]": 150.0,
         "step_mflop[64]": 1000.0, "step_ms[64]": 20.0, "step_gflops[64]": 50.0, "step_fraction[64]": 0.25,
         "step_mflop[1024]": 16000.0, "step_ms[1024]": 100.0, "step_gflops[1024]": 160.0,
         "step_fraction[1024]": 0.8, "step_ms_bf16[64]": 40.0, "impute100_ms": 3.0, "impute100_mflop": 150.0,
         "impute100_floor_ms": 0.75, "impute100_ratio_to_floor": 4.0}
    if with_bf16_1024:
        m.update({"step_ms_bf16[1024]": 50.0, "matmul_gflops_bf16[1024x1024x1024]": 1000.0})
    return m


def test_report_states_fractions_of_the_higher_reference_rate_and_bf16_speed() -> None:
    text = er.render(_measured(True), META)
    assert "Test CPU, x86_64, 2 cores" in text
    assert "| fp32 matmul 64x256x256 (the step's layer shape) | 150.0 GFLOP/s | 75% |" in text  # 150 / max(100, 200)
    assert "| 50.0 GFLOP/s | 25% |" in text and "| 160.0 GFLOP/s | 80% |" in text
    assert "| 40.00 ms | x0.50 speed vs fp32 |" in text  # batch 64: bf16 twice as slow
    assert "| 50.00 ms | x2.00 speed vs fp32 |" in text  # batch 1024: bf16 twice as fast
    assert "| 1000.0 GFLOP/s | 5.0x the fp32 rate |" in text
    assert "4.0x its floor (750 us)" in text


def test_measurements_without_the_2026_12_04_figures_still_render(tmp_path: Path) -> None:
    (tmp_path / "efficiency.json").write_text(json.dumps({"meta": META, "measured": _measured(False)}))
    assert er.main(["--render-only", "--out-dir", str(tmp_path)]) == 0
    text = (tmp_path / "efficiency.md").read_text()
    assert "batch 64, bf16 autocast" in text and "batch 1024, bf16" not in text and "bf16 matmul" not in text


def test_the_attainable_fraction_adds_adams_traffic_to_the_products() -> None:
    sys.path.insert(0, str(REPO))
    from benchmarks.bench_efficiency import ADAM_ARRAYS, attainable_fraction

    # 1000 MFLOP at 200 GFLOP/s = 5 ms; 1M parameters x 7 arrays x 4 B = 28 MB at 14 GB/s = 2 ms
    products, adam, frac = attainable_fraction(1000.0, 200.0, 1e6, 14.0)
    assert ADAM_ARRAYS == 7
    assert (products, adam) == (5.0, 2.0) and abs(frac - 5 / 7) < 1e-12


def test_the_step_budget_and_compile_rows_render() -> None:
    m = _measured(True) | {"phase_ms[batch]": 1.0, "phase_ms[forward]": 6.0, "phase_ms[backward]": 8.0,
                           "phase_ms[optimizer]": 5.0, "n_params": 2.5e6, "optimizer_gbps": 14.0,
                           "stream_gbps": 28.0, "adam_floor_ms": 2.5, "step_floor_ms[64]": 5.0,
                           "attainable_fraction[64]": 2 / 3, "compiled_compile_s": 45.0, "compiled_step_ms": 25.0,
                           "compiled_eager_ms": 20.0, "manual_step_ms[64]": 16.0, "manual_step_gflops[64]": 62.5,
                           "manual_step_fraction[64]": 0.3125, "impute100_fast_ms": 1.5,
                           "impute100_fast_ratio_to_floor": 2.0}
    text = er.render(m, META)
    assert "| 62.5 GFLOP/s (16.00 ms, x1.25 speed) | 31% |" in text  # autograd step 20 ms, the same FLOPs
    assert "| 1.50 ms | 2.0x its floor |" in text
    assert "| 1.00 / 6.00 / 8.00 / 5.00 ms | Adam 25% of the step |" in text
    assert "| 14.0 / 28.0 GB/s | Adam floor 2.50 ms |" in text
    assert "| 7.50 ms | 67% |" in text
    assert "the first call took 45 s)" in text and "| x0.80 speed vs eager |" in text
    assert "cpp_wrapper" not in text  # a variant that was not measured gets no row
    assert "replayed in its order" not in text  # measured since 2026-12-07 only


def test_the_in_step_product_rows_render() -> None:
    # 1000 MFLOP replayed in 12.5 ms = 80 GFLOP/s; the ceiling adds Adam's 3.5 ms: 1000 / 16 ms = 62.5 GFLOP/s
    m = _measured(True) | {"step_products[64]": 144.0, "products_in_step_ms[64]": 12.5,
                           "products_in_step_gflops[64]": 80.0, "products_hot_gflops[64]": 160.0,
                           "manual_adam_ms[64]": 3.5, "in_step_ceiling[64]": 62.5 / 200.0,
                           "impute100_products_ms": 0.9, "impute100_products_ratio_to_floor": 1.2,
                           "manual_step_bf16_ms[64]": 10.0, "manual_step_bf16_fraction[64]": 0.5}
    text = er.render(m, META)
    assert "step's 144 matrix products" in text
    assert "| 80.0 / 160.0 GFLOP/s (12.50 ms in the step's order) | 40% / 80% |" in text
    assert "| 16.00 ms (Adam 3.50 ms) | 31% |" in text
    assert "replayed on their own in the sampler's order | 0.90 ms | 1.2x its floor |" in text
    assert "batch 64, its products in bf16 under autocast (benchmark only; results: docs/performance.md) | 10.00 ms " \
           "| 50% |" in text and "batch 1024, its products in bf16" not in text


def test_step_products_records_every_product_with_its_flops_and_replays_it() -> None:
    sys.path.insert(0, str(REPO))
    import torch
    from benchmarks.bench_efficiency import counted_flops, replay, step_products

    gen = torch.Generator().manual_seed(0)
    x, w, b = torch.randn(8, 5, generator=gen), torch.randn(3, 5, generator=gen), torch.randn(3, generator=gen)
    grad = torch.empty(5, 3)

    def run() -> None:  # a linear layer (addmm), a product into a preallocated gradient (mm.out), an elementwise op
        y = torch.nn.functional.linear(x, w, b).relu()
        torch.mm(x.t(), y, out=grad)

    calls, flops = step_products(run)
    assert len(calls) == 2 and flops == counted_flops(run) == 2 * (8 * 5 * 3 + 5 * 8 * 3)
    expected = grad.clone()
    grad.zero_()
    replay(calls)  # the benchmarks' replay writes the same gradient
    assert torch.equal(grad, expected)


def test_derive_computes_every_ratio_from_the_raw_figures_by_hand() -> None:
    """The ratios measure() reports, re-derived from raw MFLOP / ms / GFLOP/s (a unit slip once put the bf16 step
    at 0.06% instead of 63%)."""
    sys.path.insert(0, str(REPO))
    from benchmarks.bench_efficiency import derive

    raw = {"matmul_gflops[1024x1024x1024]": 100.0, "matmul_gflops_after": 200.0,  # rate: the higher, 200
           "step_mflop[64]": 1000.0, "step_gflops[64]": 50.0, "manual_step_gflops[64]": 80.0,
           "manual_step_bf16_ms[64]": 8.0,  # 1000 MFLOP in 8 ms = 125 GFLOP/s
           "step_mflop[1024]": 16000.0, "step_gflops[1024]": 160.0, "manual_step_gflops[1024]": 170.0,
           "manual_step_bf16_ms[1024]": 40.0,  # 400 GFLOP/s
           "n_params": 1e6, "stream_gbps": 14.0,  # Adam: 28 MB at 14 GB/s = 2 ms
           "step_products_mflop[64]": 900.0, "products_in_step_ms[64]": 6.0, "manual_adam_ms[64]": 3.0,
           "impute100_mflop": 150.0, "impute100_ms": 3.0, "impute100_fast_ms": 1.5, "impute100_products_ms": 0.9}
    d = derive(raw)
    expected = {"step_fraction[64]": 0.25, "manual_step_fraction[64]": 0.4, "manual_step_bf16_fraction[64]": 0.625,
                "step_fraction[1024]": 0.8, "manual_step_fraction[1024]": 0.85, "manual_step_bf16_fraction[1024]": 2.0,
                "step_floor_ms[64]": 5.0, "adam_floor_ms": 2.0, "attainable_fraction[64]": 5 / 7,
                "products_in_step_gflops[64]": 150.0, "in_step_ceiling[64]": 100.0 / 200.0,  # 900 MFLOP in 9 ms
                "impute100_floor_ms": 0.75, "impute100_ratio_to_floor": 4.0, "impute100_fast_ratio_to_floor": 2.0,
                "impute100_products_ratio_to_floor": 1.2}
    assert set(d) == set(expected)
    for k, v in expected.items():
        assert abs(d[k] - v) < 1e-12, (k, d[k], v)


def test_the_direct_sampler_row_says_what_its_measurement_timed() -> None:
    """Measurements of 2026-12-05 to 2026-12-07 timed the method's path twice; the row must not call it direct."""
    m = _measured(True) | {"impute100_fast_ms": 3.3, "impute100_fast_ratio_to_floor": 4.4}
    repeat = er.render(m, META | {"date": "2026-12-06 10:00 UTC"})
    assert "a repeat of the row above" in repeat and "one `FastSampler.sample` call" not in repeat
    direct = er.render(m | {"impute100_fast_direct": 1.0, "impute100_key_ms": 0.15},
                       META | {"date": "2026-12-07 20:00 UTC"})
    assert "one `FastSampler.sample` call on the batch the method builds" in direct
    assert "| 0.15 ms | 5% of the method's call |" in direct  # 0.15 ms of impute100_ms = 3.0 ms
    assert "a repeat of the row above" not in direct


def test_the_direct_sampler_benchmark_calls_neither_the_method_nor_sampler_for(monkeypatch) -> None:
    """``ImputeOneRowFast`` times ``FastSampler.sample`` alone (its draws equal the method's:
    tests/test_fast_sampler.py)."""
    import torch
    from benchmarks.bench_efficiency import ImputeOneRowFast

    from vaeac_bench.methods.vaeac import VAEACMethod, fast_sampler

    bench = ImputeOneRowFast()
    bench.setup()

    def refuse(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("the direct benchmark went through the method's path")

    monkeypatch.setattr(fast_sampler, "_weights_key", refuse)
    monkeypatch.setattr(VAEACMethod, "sample_standardised", refuse)
    monkeypatch.setattr(VAEACMethod, "impute", refuse)
    draws = bench.run()
    assert draws.shape == (100, 1, bench.row.shape[1]) and bool(torch.isfinite(draws).all())
