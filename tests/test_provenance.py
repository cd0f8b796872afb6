"""Provenance (issue 9 item 1): what produced each result, and stale cells recognised, recomputed, marked."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from vaeac_bench.provenance import code_digest, cpu_id, is_stale, machine, source_digest
from vaeac_bench.results import atomic_write_text, iter_results
from vaeac_bench.runner import migrate, plan, run
from vaeac_bench.tables import TABLES, render_table


def test_result_records_its_provenance(tmp_path):
    run(plan(["iris"], ["mean"], [0]), tmp_path, progress=False)
    (r,) = iter_results(tmp_path)
    p = r["provenance"]
    assert p["code_digest"] == code_digest("mean") and len(p["code_digest"]) == 64
    assert p["method"] == "mean" and p["target"].endswith(":MeanModeImputer")
    assert p["data_source"] == "sklearn:load_iris" and p["seeds"]["split"] == 0 and "method" in p["seeds"]
    assert {"python", "numpy", "scikit-learn"} <= set(p["versions"]) and p["package_version"]
    assert p["machine"]["cores"] == os.cpu_count() and p["machine"]["cpu"] and p["machine"]["threads"] == 1
    assert p["peak_rss_mb"] > 10 and p["training"] is None  # the mean has no training loop
    assert not is_stale(r)


# two processors of a fabricated /proc/cpuinfo: only the first one's block is read
CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC
stepping\t: 1
flags\t\t: fpu sse2 avx2 fma avx512f avx512_bf16 avx512_vnni sha_ni

processor\t: 1
vendor_id\t: GenuineIntel
cpu family\t: 6
"""


def test_a_record_names_the_cpu_by_its_kernels_not_only_its_name():
    """"AMD EPYC" named two CPUs that trained one cell to different weights: the record says which one it was."""
    assert cpu_id(CPUINFO) == "AuthenticAMD 25/17/1 avx2 fma avx512f avx512_vnni avx512_bf16"
    assert cpu_id(CPUINFO.replace(" avx512f avx512_bf16 avx512_vnni", "")) == "AuthenticAMD 25/17/1 avx2 fma"
    assert cpu_id("processor\t: 0\nflags\t: avx2\n") is None  # no vendor: nothing to name
    assert "cpu_id" in machine()  # None where /proc/cpuinfo is missing (not Linux)
    if Path("/proc/cpuinfo").is_file():
        assert machine()["cpu_id"] == cpu_id(Path("/proc/cpuinfo").read_text())


def _package(root: Path, body: str) -> None:
    (root / "m.py").write_text(body)


def test_digest_ignores_docstrings_and_comments_but_not_code(tmp_path):
    _package(tmp_path, '"""Module."""\n\ndef f(x):\n    """Doc."""\n    return x + 1\n')
    base = source_digest(["m.py"], root=tmp_path)
    _package(tmp_path, '"""Other words."""\n# a comment\n\ndef f(x):\n    """New doc."""\n    return x + 1  # why\n')
    assert source_digest(["m.py"], root=tmp_path) == base
    _package(tmp_path, '"""Module."""\n\ndef f(x):\n    """Doc."""\n    return x + 2\n')
    assert source_digest(["m.py"], root=tmp_path) != base


def test_every_registered_method_has_a_digest_over_existing_code():
    from vaeac_bench.methods import REGISTRY, resolve

    resolve("all")
    digests = {name: code_digest(name) for name in REGISTRY}
    assert digests["vaeac"] == digests["gsnn"] and digests["vaeac"] != digests["mean"]


def test_renderer_marks_stale_and_not_run_cells_and_counts_them():
    summ = pd.DataFrame([
        {"dataset": "iris", "method": "mice", "kind": "imputation", "mean": 0.6, "std": 0.01, "n": 5, "stale": 0},
        {"dataset": "iris", "method": "missforest", "kind": "imputation", "mean": 0.6, "std": 0.01, "n": 5,
         "stale": 2}])
    text = render_table(TABLES["10"], summ)
    row = next(line for line in text.splitlines() if line.startswith("| Iris"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "0.600 ± 0.010" and cells[3] == "0.600 ± 0.010 (stale)" and cells[5] == "not run"
    assert "Cells of ours: 1 current, 1 stale, 124 not run." in text
    assert all(c for c in cells)  # never a blank cell


def test_migrate_renames_old_style_files_when_their_parameters_match(tmp_path):
    run(plan(["iris"], ["missforest"], [0], quick=True), tmp_path, progress=False)
    (new_path,) = tmp_path.rglob("*.json")
    r = json.loads(new_path.read_text())
    old_cfg = {k: v for k, v in r["config"].items() if k not in ("target", "params")}
    old_cfg["method_config"] = {"class": "MissForestImputer", "version": 1, "params": r["provenance"]["params"]}
    old_path = new_path.with_name(new_path.name.replace(r["config_hash"], "0123456789"))
    atomic_write_text(old_path, json.dumps(r | {"config": old_cfg, "config_hash": "0123456789"}))
    new_path.unlink()
    bad = json.loads(old_path.read_text())
    bad["config"]["method_config"]["params"]["n_estimators"] = 7  # parameters the registry no longer runs
    atomic_write_text(old_path.with_name("mcar-0.5_split1_abcdefabcd.json"), json.dumps(bad | {"split": 1}))
    report = migrate(tmp_path)
    assert report.renamed == 1 and len(report.mismatched) == 1 and report.current == 0
    assert new_path.is_file() and not old_path.exists()
    moved = json.loads(new_path.read_text())
    assert moved["config_hash"] == r["config_hash"] and moved["legacy_config"] == old_cfg
    assert migrate(tmp_path).current == 1
