"""The bf16 hand-written step of benchmarks/bench_efficiency.py (timed there; its results checked by
scripts/bf16_step_check.py): its copy of manual_step.py rewrites every product into a gradient, and its
gradients stay close to the fp32 step's, so the precision comparison compares the same step."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import torch

import vaeac_bench.methods.vaeac.manual_step as ms
from vaeac_bench.methods.vaeac import Batch
from vaeac_bench.methods.vaeac.manual_step import ManualStep
from vaeac_bench.methods.vaeac.training import draw_mask

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_manual_step import _data, _model  # noqa: E402 - the manual step's own small model and data

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks import bench_efficiency as check  # noqa: E402 - bf16_source, bf16_step_class


def test_the_copy_writes_no_product_into_an_fp32_gradient() -> None:
    src = Path(ms.__file__).read_text()
    copy = check.bf16_source(src)
    into_grad = re.compile(r"torch\.(mm|sum)\([^\n]*out=")
    assert into_grad.search(src) and not into_grad.search(copy)
    assert copy.count(".copy_(torch.mm(") == src.count("torch.mm(")  # every product into a gradient, rewritten


def test_the_bf16_step_follows_the_fp32_step() -> None:
    model = _model("vaeac").float()
    gen = torch.Generator().manual_seed(1)
    batch = Batch.from_values(torch.tensor(_data(seed=1), dtype=torch.float32), model)
    b = draw_mask(batch.missing, 0.3, gen)
    noise = torch.randn((model.n_noise(), len(batch), model.arch.latent_dim), generator=gen)
    ManualStep(model).loss_and_grad(batch, b, noise)
    ref = torch.cat([p.grad.reshape(-1) for p in model.parameters()]).clone()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = check.bf16_step_class()(model).loss_and_grad(batch, b, noise)
    got = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    assert torch.isfinite(loss) and got.dtype == torch.float32
    cos = torch.nn.functional.cosine_similarity(got, ref, dim=0)
    assert cos > 0.99, f"the bf16 gradients point elsewhere (cosine {cos:.4f})"
    assert not torch.equal(got, ref)  # the products did run in bf16


def _row(ds: str, split: int, prec: str, nrmse: float, fit_s: float, epochs: int, offset: int | None = None) -> str:
    row = {"dataset": ds, "split": split, "prec": prec, "metrics": {"nrmse": nrmse, "pfc": None},
           "fit_s": fit_s, "epochs": epochs}
    if offset is not None:  # rows written before --seed-offsets existed have none (the grid's seed)
        row["seed_offset"] = offset
    return json.dumps(row) + "\n"


def test_the_summary_states_the_shift_in_split_sds_and_the_speed_per_epoch(tmp_path: Path) -> None:
    script = _script()
    fp32, bf16 = tmp_path / "fp32.jsonl", tmp_path / "bf16.jsonl"
    # fp32 NRMSE 1, 2, 3 (mean 2, sd 1); bf16 1.5, 2.5, 3.5 (mean 2.5): +0.50 sd. fp32 30 s over 30 epochs,
    # bf16 10 s over 20 epochs: 1.0 against 0.5 s an epoch, x2.00
    fp32.write_text("".join(_row("iris", s, "fp32", 1.0 + s, 10.0, 10) for s in range(3)))
    bf16.write_text("".join(_row("iris", s, "bf16", 1.5 + s, 10.0 / 3, 20 / 3) for s in range(3)))
    text = script.summary(fp32, bf16, results=None)
    assert "| iris | NRMSE | 3 | 2.0000 | 2.5000 | +0.50 | +0.5000 | - | - | 30 | 10 | x2.00 |" in text
    assert text.endswith("| **all** | | | | | | | | | 30 | 10 | x2.00 |")


def test_the_summary_pairs_cells_by_split_and_seed_offset(tmp_path: Path) -> None:
    script = _script()
    fp32, bf16 = tmp_path / "fp32.jsonl", tmp_path / "bf16.jsonl"
    # the same split under two seeds: fp32 1.0 (grid seed, no offset recorded) and 3.0 (offset 1); bf16 2.0 and
    # 3.0. Paired differences +1, 0: mean +0.5, se 0.5, t +1.0. Cell sd of fp32 sqrt(2), so +0.5/1.414 = +0.35.
    # An fp32 cell bf16 did not run (offset 2) is left out of both.
    fp32.write_text(_row("iris", 0, "fp32", 1.0, 1.0, 1) + _row("iris", 0, "fp32", 3.0, 1.0, 1, offset=1)
                    + _row("iris", 0, "fp32", 9.0, 1.0, 1, offset=2))
    bf16.write_text(_row("iris", 0, "bf16", 3.0, 1.0, 1, offset=1) + _row("iris", 0, "bf16", 2.0, 1.0, 1, offset=0))
    text = script.summary(fp32, bf16, results=None)
    assert "| iris | NRMSE | 2 | 2.0000 | 2.5000 | +0.35 | +0.5000 ± 0.5000 (+1.0) | - | - | 2 | 2 | x1.00 |" in text


def test_a_torn_last_line_is_dropped_so_the_run_resumes_cleanly(tmp_path: Path) -> None:
    script = _script()
    out = tmp_path / "fp32.jsonl"
    out.write_text(_row("iris", 0, "fp32", 1.0, 1.0, 1) + '{"dataset": "gla')  # killed while writing
    rows = script.read_rows(out)
    assert [r["dataset"] for r in rows] == ["iris"] and out.read_text() == _row("iris", 0, "fp32", 1.0, 1.0, 1)


def _script():  # noqa: ANN202 - the script as a module
    spec = importlib.util.spec_from_file_location("bf16_step_check", REPO / "scripts" / "bf16_step_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
