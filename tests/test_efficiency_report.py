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
