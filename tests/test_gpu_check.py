"""The prepared GPU check (scripts/gpu_check.py): its report keeps every finished step, records a failed step's
error without stopping, skips steps past its deadline, and (slow) runs end to end on the CPU."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: the steps a full run of the check reports (the slow end-to-end test expects each; a fast test keeps this list
#: equal to the script's, so a new step cannot leave the slow test stale unnoticed)
STEPS = {"fc_vaeac_fit", "fc_vaeac_is100", "fc_vaeac_mc100", "fc_vaeac_100_samples", "fc_vaeac_mc10000",
         "conv_vaeac_one_epoch", "um_fit_and_100_samples"}


def _load():
    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "scripts" / "gpu_check.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_report_keeps_finished_steps_and_records_failures_and_deadlines(tmp_path):
    gc = _load()
    out = tmp_path / "t.json"
    rep = gc.Report(out, deadline_s=3600, meta={"environment": {"device": "cpu"}})
    assert json.loads(out.read_text())["steps"] == {}  # written before any step: a kill loses nothing started

    def boom():
        raise RuntimeError("Expected a 'cuda' device type for generator but found 'cpu'")

    assert rep.step("ok", lambda: {"seconds": 1.5}) == {"seconds": 1.5}
    assert rep.step("broken", boom) is None
    assert rep.step("after", lambda: {"seconds": 2.0}) == {"seconds": 2.0}  # a failure does not stop the rest
    rep.deadline = -1.0
    assert rep.step("late", lambda: {"seconds": 9.0}) is None
    steps = json.loads(out.read_text())["steps"]
    assert steps["ok"] == {"seconds": 1.5} and steps["after"] == {"seconds": 2.0}
    assert steps["broken"]["error"].startswith("RuntimeError: Expected a 'cuda' device type")
    assert steps["late"]["skipped"].startswith("deadline of -1 s passed")
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write leaves no temp file behind


def test_cuda_asked_where_there_is_none_is_refused(tmp_path, monkeypatch):
    gc = _load()
    monkeypatch.setattr(gc.torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit) as exit_:
        gc.main(["--device", "cuda", "--out", str(tmp_path / "t.json")])
    assert exit_.value.code == 2 and not (tmp_path / "t.json").exists()


def test_the_end_to_end_test_expects_every_step_the_script_runs():
    import re

    named = set(re.findall(r'rep\.step\("([a-z0-9_]+)"', (REPO / "scripts" / "gpu_check.py").read_text()))
    assert named == STEPS, f"scripts/gpu_check.py runs {sorted(named)}; update STEPS in {__file__}"


@pytest.mark.slow
def test_the_check_runs_end_to_end_on_the_cpu(tmp_path):
    data = Path(os.environ.get("VAEAC_BENCH_DATA", REPO.parent / "shared" / "data"))
    if not (data / "mnist" / "mnist.npz").is_file():
        pytest.skip("MNIST not in the data dir")
    out = tmp_path / "t.json"
    subprocess.run([sys.executable, str(REPO / "scripts" / "gpu_check.py"), "--device", "cpu", "--epochs", "1",
                    "--max-train", "256", "--n-test", "16", "--mc-long", "4", "--repeats", "3", "--out", str(out)],
                   check=True, env=os.environ | {"VAEAC_BENCH_DATA": str(data)}, capture_output=True)
    rep = json.loads(out.read_text())
    assert set(rep["steps"]) == STEPS
    assert not [k for k, v in rep["steps"].items() if "error" in v or "skipped" in v]
    assert rep["steps"]["fc_vaeac_fit"]["epochs_run"] == 1 and rep["data"]["n_train"] == 256
    assert rep["steps"]["fc_vaeac_100_samples"]["median_s"] > 0 and "sample_images_s" in rep["steps"][
        "fc_vaeac_100_samples"]  # on the CPU the estimator's own call works
    um = rep["steps"]["um_fit_and_100_samples"]  # table 5's UM column (since 2026-12-05)
    assert um["epochs_run"] == 1 and um["sample100_one_object_s"] > 0
    assert rep["environment"]["device"] == "cpu" and rep["finished"]


def _asv_names(bench: str, params: tuple[list[str], ...]) -> list[str]:
    """The parametrised names asv matches ``-b`` against: ``name(param, ...)`` with each param repr'd."""
    import itertools

    return [f"{bench}({', '.join(repr(v) for v in combo)})" for combo in itertools.product(*params)]


def test_the_asv_selection_takes_only_the_cuda_combinations():
    import re

    text = (REPO / "scripts" / "gpu_check.sh").read_text()
    regex = re.search(r'ASV_BENCH="\$\{ASV_BENCH:-(.*)\}"', text).group(1).replace("\\\\", "\\")
    dev = ["cpu", "cuda"]
    names = (_asv_names("bench_vaeac.TrainStep.time_train_step", (["fast", "reference"], dev, [False, True]))
             + _asv_names("bench_vaeac.Validation.time_iwae25", (["fast", "reference"], dev))
             + _asv_names("bench_vaeac.Imputation.time_impute_10", (dev,))
             + _asv_names("bench_images.ImageTrainStep.peakmem_train_step", (["mnist-fc"], dev)))
    picked = [n for n in names if re.search(regex, n)]
    assert picked and all("'cuda'" in n for n in picked)
    assert len(picked) == sum("'cuda'" in n for n in names)  # every CUDA combination of the four suites
    assert not re.search(regex, "bench_vaeac.Fit.time_fit('fast')")


def test_table5_gets_a_column_from_the_latest_gpu_check_and_ignores_cpu_reports(tmp_path):
    from vaeac_bench.tables.images import gpu_checks, render_table5

    gpu_dir = tmp_path / "gpu"
    gpu_dir.mkdir()
    steps = {"fc_vaeac_fit": {"fit_s": 114.8, "fit_wall_s": 119.4, "epochs_run": 30},
             "fc_vaeac_is100": {"mean": 73.93, "std": 24.1},
             "fc_vaeac_100_samples": {"median_s": 0.00054, "repeats": 20}}
    for name, device, started in (("a.json", "cuda", "2026-12-01"), ("b.json", "cuda", "2026-12-04"),
                                  ("c.json", "cpu", "2026-12-05")):
        env = {"device": device, "gpu": "NVIDIA H200", "torch": "2.11.0", "cuda": "13.0"}
        (gpu_dir / name).write_text(json.dumps({"started": started, "environment": env, "steps": steps}))
    (gpu_dir / "d.log").write_text("not a report")
    checks = gpu_checks(tmp_path)
    assert [c["file"] for c in checks] == ["a.json", "b.json"]  # oldest first; the CPU try-out is no GPU result
    text = render_table5([], gpu=checks[-1])
    row = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]] for line in text.splitlines()
           if line.startswith("| ") and "---" not in line}
    gpu_col = row[""].index("VAEAC FC (ours, GPU)")
    assert row["Negative log-likelihood"][gpu_col] == "74 ± 24"
    assert row["Training time"][gpu_col] == "115 s (30 epochs, 3.8 s an epoch)"
    assert row["100 samples for one object"][gpu_col] == "0.54 ms"
    assert "NVIDIA H200" in text and "results/gpu/b.json" in text
    assert "no GPU lent yet" in render_table5([])
