"""``run-bench`` end to end: help, clear one-line errors, a quick run that writes results and reports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from vaeac_bench.cli import main


def test_help_lists_every_option():
    out = subprocess.run([sys.executable, "-m", "vaeac_bench.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for opt in ("--datasets", "--methods", "--splits", "--missing-rate", "--n-imputations", "--data-dir",
                "--results-dir", "--jobs", "--quick", "--tables", "--download", "--export"):
        assert opt in out.stdout


@pytest.mark.parametrize("args, message", [
    (["--datasets", "nosuch"], "unknown dataset 'nosuch'"),
    (["--methods", "nosuch"], "unknown method 'nosuch'"),
    (["--tables", "12"], "unknown table(s) ['12']"),  # 3, 4 and 6 are CelebA's since issue 11
])
def test_unknown_names_give_a_one_line_error(args, message, capsys):
    assert main(args + ["-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.startswith("run-bench: error:")


def test_missing_data_file_says_where_it_looked(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("VAEAC_BENCH_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert main(["--datasets", "yeast", "--methods", "mean", "--data-dir", str(tmp_path / "none"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "yeast/yeast.csv.gz" in err and "--download" in err


def test_bad_numbers_are_refused(capsys):
    with pytest.raises(SystemExit):
        main(["--missing-rate", "1.5"])
    assert "--missing-rate must be in [0, 1)" in capsys.readouterr().err


def test_quick_run_writes_results_and_reports_and_resumes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["--datasets", "iris", "--methods", "mean,missforest", "--splits", "2", "--quick", "--jobs", "1", "-q",
            "--tables", "10,11", "--export", "long.csv"]
    assert main(args) == 0
    results = sorted((tmp_path / "bench-quick" / "results").rglob("*.json"))
    assert len(results) == 4
    table = (tmp_path / "bench-quick" / "reports" / "table10.md").read_text()
    assert "| Iris |" in table and "0.59 ± 0.02" in table  # the paper's MICE value beside ours
    assert "(2/5 splits)" in table and "not run" in table
    assert (tmp_path / "long.csv").read_text().startswith("dataset,method,split,mechanism,rate,metric,value")
    stamps = [p.stat().st_mtime_ns for p in results]
    assert main(args) == 0
    assert [p.stat().st_mtime_ns for p in results] == stamps


def test_no_run_with_an_empty_results_dir_is_one_clear_error(tmp_path, capsys):
    assert main(["--no-run", "--results-dir", str(tmp_path / "empty"), "--reports-dir", str(tmp_path / "r"),
                 "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("run-bench: error:") and "holds none" in err and "\n" not in err
    assert not (tmp_path / "r").exists()


def test_tables_none_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["--datasets", "iris", "--methods", "mean", "--splits", "1", "--tables", "none", "-q",
                 "--results-dir", "res", "--reports-dir", "rep"]) == 0
    assert len(list((tmp_path / "res").rglob("*.json"))) == 1  # the cell ran
    assert not (tmp_path / "rep").exists()


def test_download_without_network_is_one_clear_error(tmp_path, monkeypatch, capsys):
    import urllib.error
    import urllib.request

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    monkeypatch.delenv("VAEAC_BENCH_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert main(["--datasets", "yeast", "--methods", "mean", "--download", "--data-dir", str(tmp_path / "none"),
                 "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("run-bench: error: cannot get the data") and "network" in err and "\n" not in err


def test_quick_reports_carry_the_banner_and_no_marks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["--datasets", "iris,diabetes", "--methods", "mean,missforest", "--splits", "2", "--quick",
                 "--jobs", "1", "-q", "--tables", "10,11"]) == 0
    for name in ("table10.md", "table11.md", "summary.md"):
        text = (tmp_path / "bench-quick" / "reports" / name).read_text()
        assert "not comparable with the paper" in text, name
        rows = [line for line in text.splitlines() if line.startswith("| ")]
        assert (bool(rows) or name == "summary.md") and not any("▲" in r or "▼" in r for r in rows), name
    # the same numbers rendered for a full run do carry marks (paper, Iris MICE: 0.59 ± 0.02)
    import pandas as pd

    from vaeac_bench.tables import TABLES, render_table

    summ = pd.DataFrame([{"dataset": "iris", "method": "mice", "kind": "imputation", "mean": 0.9, "std": 0.01,
                          "n": 5, "stale": 0}])
    assert "0.900 ± 0.010 ▼" in render_table(TABLES["10"], summ)
    quick = render_table(TABLES["10"], summ, quick=True)
    assert "0.900 ± 0.010 |" in quick and "not comparable with the paper" in quick


def test_the_main_job_prints_an_honest_summary(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = ["--datasets", "iris", "--methods", "mean", "--splits", "2", "--tables", "none", "-q"]
    assert main(args) == 0
    assert "0 cell(s) reused from the cache in results, 2 computed" in capsys.readouterr().err
    assert main(args) == 0
    assert "2 cell(s) reused from the cache in results, 0 computed" in capsys.readouterr().err


BLOCKER = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "miceforest", "lightgbm"):
            raise ImportError(f"{name} is blocked: the renderer must not import it")
        return None
sys.meta_path.insert(0, _Block())
from vaeac_bench.cli import main
rc = main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.startswith("vaeac_bench.methods.") and m != "vaeac_bench.methods.base"
                and m != "vaeac_bench.methods.registry")
assert not loaded, loaded
sys.exit(rc)
"""


def test_no_run_renders_without_torch_or_miceforest(tmp_path):
    """A fresh venv without torch must still render: the blocker raises on any torch/miceforest import."""
    from pathlib import Path

    results = Path(__file__).resolve().parents[1] / "results"
    out = subprocess.run([sys.executable, "-c", BLOCKER, "--no-run", "-q", "--results-dir", str(results),
                          "--reports-dir", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "| Iris |" in (tmp_path / "table10.md").read_text()
    index = (tmp_path / "index.md").read_text()  # issue 13 §6: the same command writes the index and the figures
    for name in ("table10.md", "beyond.md", "figure_rates.png", "figure_ranks.png", "figure_cost.png"):
        assert f"]({name})" in index and (tmp_path / name).is_file()
    check = subprocess.run([sys.executable, "-c", BLOCKER.replace("from vaeac_bench.cli import main", "import torch")],
                           capture_output=True, text=True)
    assert "is blocked" in check.stderr  # the blocker itself works


def test_mechanism_and_rate_lists_run_every_combination_and_tables_keep_the_paper_setting(tmp_path, monkeypatch):
    """Issue 13 §3: ``--mechanism a,b --missing-rate x,y`` runs the product; the paper tables show 50% MCAR only."""
    import json

    import pandas as pd

    monkeypatch.chdir(tmp_path)
    assert main(["--datasets", "iris", "--methods", "mean", "--splits", "1", "--mechanism", "mcar,mnar-selfmask",
                 "--missing-rate", "0.3,0.5", "--tables", "10", "-q", "--export", "long.csv"]) == 0
    files = sorted(p.name.split("_split")[0] for p in (tmp_path / "results").rglob("*.json"))
    assert files == ["mcar-0.3", "mcar-0.5", "mnar-selfmask-0.3", "mnar-selfmask-0.5"]
    paper = json.loads(next((tmp_path / "results").rglob("mcar-0.5_*.json")).read_text())
    table = (tmp_path / "reports" / "table10.md").read_text()
    assert f"{paper['metrics']['nrmse']:.3f} (1/5 splits)" in table  # the (mcar, 0.5) cell, not another
    long = pd.read_csv(tmp_path / "long.csv")
    assert set(zip(long.mechanism, long.rate, strict=True)) == {("mcar", 0.3), ("mcar", 0.5), ("mnar-selfmask", 0.3),
                                                                ("mnar-selfmask", 0.5)}


@pytest.mark.parametrize("args, message", [
    (["--missing-rate", "0.1,x"], "--missing-rate must be a number in [0, 1) or a comma-separated list"),
    (["--missing-rate", "0.3,1"], "--missing-rate must be in [0, 1), got 1.0"),
])
def test_bad_rate_lists_are_refused(args, message, capsys):
    with pytest.raises(SystemExit):
        main(args)
    assert message in capsys.readouterr().err


def test_an_unknown_mechanism_in_a_list_is_one_clear_error(capsys):
    assert main(["--mechanism", "mcar,nosuch", "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("run-bench: error:") and "nosuch" in err and "\n" not in err


def test_splits_zero_is_refused_with_the_spelling_of_split_index_zero(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--splits", "0", "--no-run"])
    assert exit_.value.code == 2 and "for split index 0 alone write '0,'" in capsys.readouterr().err


def test_threads_per_cell_reach_the_cells_and_set_the_default_jobs(tmp_path, monkeypatch):
    """--threads N runs each cell with N threads (recorded in its provenance); --jobs then defaults to cores // N."""
    import vaeac_bench.runner as runner

    monkeypatch.chdir(tmp_path)
    args = ["--datasets", "iris", "--methods", "mean", "--splits", "1", "--quick", "-q", "--tables", "none"]
    seen: dict = {}
    real = runner.run

    def spy(*a, **kw):
        seen.update(kw)
        return real(*a, **kw)

    monkeypatch.setattr(runner, "run", spy)
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    assert main([*args, "--threads", "2"]) == 0
    assert seen["threads"] == 2 and seen["jobs"] == 2  # 4 cores / 2 threads
    record = json.loads(next((tmp_path / "bench-quick" / "results").rglob("*.json")).read_text())
    assert record["provenance"]["machine"]["threads"] == 2
    assert main([*args, "--threads", "3", "--jobs", "1"]) == 0 and seen["jobs"] == 1
    assert main(args) == 0 and seen["threads"] == 1 and seen["jobs"] == 4
    with pytest.raises(SystemExit):
        main([*args, "--threads", "0"])


HUGE_PAGES = """
import json, os, sys
from pathlib import Path
from vaeac_bench.cli import huge_page_allocations
got = huge_page_allocations(Path(sys.argv[1]))
print(json.dumps([got, os.environ.get("THP_MEM_ALLOC_ENABLE"), "torch" in sys.modules]))
"""


@pytest.mark.parametrize(("modes", "preset", "expected"), [
    ("always [madvise] never\n", None, [True, "1"]),
    ("[always] madvise never\n", None, [True, "1"]),
    ("always madvise [never]\n", None, [False, None]),  # the kernel offers none: leave torch's default
    (None, None, [False, None]),  # no such sysfs file (not Linux, or an old kernel)
    ("always [madvise] never\n", "0", [False, "0"]),  # the user's choice stands
])
def test_huge_pages_are_asked_for_where_the_kernel_offers_them_and_never_over_the_user(tmp_path, modes, preset,
                                                                                       expected):
    """Issue 12: run-bench sets THP_MEM_ALLOC_ENABLE=1 before torch loads, unless the kernel or the user says no."""
    import os

    sysfs = tmp_path / "enabled"
    if modes is not None:
        sysfs.write_text(modes)
    env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    if preset is not None:
        env["THP_MEM_ALLOC_ENABLE"] = preset
    out = subprocess.run([sys.executable, "-c", HUGE_PAGES, str(sysfs)], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout) == [*expected, False]  # and torch was not loaded to decide it


SCORE_BITS = """
import numpy as np, torch
from vaeac_bench.datasets.image_registry import image_mask
from vaeac_bench.methods.vaeac.image import ImageVAEACModel, default_arch, image_batch
from vaeac_bench.methods.vaeac.model import ObjectiveConfig
from vaeac_bench.methods.vaeac.training import validation_score
torch.set_num_threads(1)
m = ImageVAEACModel((1, 105, 105), "conv", default_arch("omniglot", "conv", 1.0), ObjectiveConfig(alpha=1.0),
                    generator=torch.Generator().manual_seed(0), device=torch.device("cpu"))
x = torch.as_tensor((np.random.default_rng(0).random((4, 1, 105, 105)) < 0.2).astype(np.float32))
b = torch.as_tensor(image_mask("rectangle")(4, 105, 105, np.random.default_rng(1))).reshape(4, -1).float()
with torch.no_grad():
    v = validation_score(m.eval(), image_batch(x), b, 6, torch.Generator().manual_seed(3))
m.train()
loss = m.loss(image_batch(x), b, torch.Generator().manual_seed(5))
loss.backward()
g = sum(float(p.grad.double().abs().sum()) for p in m.parameters() if p.grad is not None)
print(repr((v, float(loss), g)))
"""


def test_huge_pages_change_no_bit_of_an_omniglot_conv_score_or_gradient():
    """What run-bench's THP_MEM_ALLOC_ENABLE=1 changes is page faults, not numbers: the same validation IWAE, loss and
    gradients of the 105x105 conv VAEAC (whose tensors are large enough to take huge pages) with it and without."""
    import os

    outs = []
    for flag in ("0", "1"):
        env = {**os.environ, "THP_MEM_ALLOC_ENABLE": flag, "OMP_NUM_THREADS": "1"}
        out = subprocess.run([sys.executable, "-c", SCORE_BITS], capture_output=True, text=True, env=env, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        outs.append(out.stdout.strip())
    assert outs[0] == outs[1]


@pytest.mark.parametrize("flag", ["1", "0"])
def test_records_say_whether_torch_took_huge_pages(tmp_path, monkeypatch, flag):
    """The timings of a record depend on the allocator setting, so its provenance names it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("THP_MEM_ALLOC_ENABLE", flag)
    args = ["--datasets", "iris", "--methods", "mean", "--splits", "1", "--quick", "-q", "--tables", "none"]
    assert main([*args, "--jobs", "1"]) == 0  # in this process (a reused worker keeps the environment it began with)
    record = json.loads(next((tmp_path / "bench-quick" / "results").rglob("*.json")).read_text())
    assert record["provenance"]["machine"]["torch_thp"] is (flag == "1")
