"""The runner: one atomic file per cell, cached cells skipped, an interrupted run resumes losing nothing."""

from __future__ import annotations

import json

import pytest

from vaeac_bench.results import iter_results, long_table
from vaeac_bench.runner import plan, run


def _files(d):
    return sorted(p for p in d.rglob("*.json"))


def test_cells_are_written_once_and_skipped_when_rerun(tmp_path):
    cells = plan(["iris"], ["mean"], [0, 1, 2])
    first = run(cells, tmp_path, jobs=1, progress=False)
    assert len(first.computed) == 3 and not first.skipped and not first.failed
    files = _files(tmp_path)
    assert len(files) == 3
    stamps = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files}
    second = run(cells, tmp_path, jobs=1, progress=False)
    assert second.computed == [] and len(second.skipped) == 3
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in _files(tmp_path)} == stamps


def test_result_file_records_config_seed_metrics_timing_versions(tmp_path):
    run(plan(["iris"], ["mean"], [0]), tmp_path, progress=False)
    (path,) = _files(tmp_path)
    r = json.loads(path.read_text())
    assert r["dataset"] == "iris" and r["method"] == "mean" and r["split"] == 0
    assert r["config"]["target"].endswith(":MeanModeImputer") and r["config"]["params"] == {}
    assert set(r["metrics"]) == {"nrmse", "pfc", "accuracy", "train_nrmse", "train_pfc"}
    assert 0.5 < r["metrics"]["nrmse"] < 1.5 and 0.5 < r["metrics"]["train_nrmse"] < 1.5
    assert r["n_imputations"] == {"requested": 10, "returned": 1}
    assert {f["name"] for f in r["per_feature"]} >= {"sepal length (cm)", "target"}
    assert r["timing"]["fit_s"] >= 0 and "numpy" in r["provenance"]["versions"] and r["seeds"]["split"] == 0
    assert r["config_hash"] in path.name


def test_interrupted_run_resumes_without_recomputing_finished_cells(tmp_path):
    """Simulate a kill after the second finished cell; the re-run computes exactly the rest."""
    cells = plan(["iris", "breast"], ["mean"], [0, 1, 2])
    done = []

    def kill_after_two(label, error):
        done.append(label)
        if len(done) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(cells, tmp_path, jobs=1, progress=False, on_cell_done=kill_after_two)
    survivors = {p: p.read_bytes() for p in _files(tmp_path)}
    assert len(survivors) == 2
    resumed = run(cells, tmp_path, jobs=1, progress=False)
    assert sorted(resumed.skipped) == sorted(done) and len(resumed.computed) == 4
    for p, content in survivors.items():
        assert p.read_bytes() == content


def test_parallel_jobs_give_the_same_numbers_as_one_job(tmp_path):
    cells = plan(["iris"], ["missforest"], [0, 1], quick=True)
    run(cells, tmp_path / "a", jobs=1, progress=False)
    run(cells, tmp_path / "b", jobs=2, progress=False)
    a = {(r["split"]): r["metrics"] for r in iter_results(tmp_path / "a")}
    b = {(r["split"]): r["metrics"] for r in iter_results(tmp_path / "b")}
    assert a == b


def test_a_failing_cell_writes_nothing_and_leaves_other_results_intact(tmp_path, monkeypatch):
    cells = plan(["iris"], ["mean"], [0, 1])
    run(cells[:1], tmp_path, progress=False)
    kept = {p: p.read_bytes() for p in _files(tmp_path)}

    import vaeac_bench.runner as runner

    def broken(cell, data_dir=None, threads=1, device="cpu"):
        raise ValueError("column 'x' is broken")

    monkeypatch.setattr(runner, "compute_cell", broken)
    summary = run(cells, tmp_path, progress=False)
    assert list(summary.failed) == ["iris/mean/split1"] and "column 'x'" in summary.failed["iris/mean/split1"]
    assert {p: p.read_bytes() for p in _files(tmp_path)} == kept


def test_a_changed_configuration_is_a_different_cell(tmp_path):
    full = plan(["iris"], ["missforest"], [0])
    quick = plan(["iris"], ["missforest"], [0], quick=True)
    assert full[0].key.config_hash != quick[0].key.config_hash
    assert plan(["iris"], ["missforest"], [0], rate=0.3)[0].key.relpath() != full[0].key.relpath()


def test_tidy_long_table(tmp_path):
    run(plan(["iris", "diabetes"], ["mean"], [0]), tmp_path, progress=False)
    df = long_table(iter_results(tmp_path))
    assert list(df.columns) == ["dataset", "method", "split", "mechanism", "rate", "metric", "value"]
    assert set(df.metric) >= {"nrmse", "accuracy", "r2", "time_fit_s"}
    assert df[(df.dataset == "diabetes") & (df.metric == "pfc")].shape[0] == 1  # the binary 'sex' column


def test_a_real_kill_loses_nothing(tmp_path):
    """SIGKILL a real run-bench process mid-grid; the re-run keeps every finished file and completes the rest."""
    import os
    import signal
    import subprocess
    import sys
    import time

    args = [sys.executable, "-m", "vaeac_bench.cli", "--datasets", "iris,breast", "--methods", "missforest",
            "--quick", "--splits", "5", "--jobs", "1", "--tables", "none", "-q", "--results-dir", str(tmp_path)]
    proc = subprocess.Popen(args, env=os.environ | {"PYTHONWARNINGS": "ignore"}, start_new_session=True)
    try:
        deadline = time.time() + 120
        while len(_files(tmp_path)) < 2 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    survivors = {p: p.read_bytes() for p in _files(tmp_path)}
    assert 2 <= len(survivors) < 10
    for content in survivors.values():
        json.loads(content)  # every visible result is complete
    resumed = run(plan(["iris", "breast"], ["missforest"], range(5), quick=True), tmp_path, progress=False)
    assert len(resumed.skipped) == len(survivors) and len(resumed.computed) == 10 - len(survivors)
    for p, content in survivors.items():
        assert p.read_bytes() == content


def test_stale_cells_are_recomputed_unless_accepted(tmp_path):
    """A cell whose recorded code digest differs from the current source (or is absent) is stale."""
    cells = plan(["iris"], ["mean"], [0, 1, 2])
    run(cells, tmp_path, progress=False)
    old, nodigest = _files(tmp_path)[:2]
    record = json.loads(old.read_text())
    record["provenance"]["code_digest"] = "0" * 64  # as computed by older code
    old.write_text(json.dumps(record))
    record = json.loads(nodigest.read_text())
    del record["provenance"]  # as written before provenance existed
    nodigest.write_text(json.dumps(record))
    kept = run(cells, tmp_path, progress=False, accept_stale=True)
    assert kept.computed == [] and sorted(kept.stale_kept) == ["iris/mean/split0", "iris/mean/split1"]
    assert "2 stale kept" in kept.describe() and "1 cell(s) reused" in kept.describe()
    refreshed = run(cells, tmp_path, progress=False)
    assert sorted(refreshed.computed) == ["iris/mean/split0", "iris/mean/split1"]
    assert refreshed.reused == ["iris/mean/split2"] and "2 of them stale and recomputed" in refreshed.describe()
    assert len(_files(tmp_path)) == 3  # one file per dataset x method x split: the recomputed file replaced it
    assert json.loads(old.read_text())["provenance"]["code_digest"] != "0" * 64


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    """Atomic writes: a crash before the rename keeps the old content and cleans its temp file up."""
    import os

    from vaeac_bench.results import atomic_write_text

    target = tmp_path / "a.json"
    atomic_write_text(target, "old")

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(target, "new")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_mechanism_and_rate_lists_plan_their_product_and_one_value_keeps_the_old_keys():
    """Issue 13 §3: lists of mechanisms and rates plan every combination; one value is today's grid exactly."""
    grid = plan(["iris"], ["mean"], [0, 1], ["mcar", "mnar-selfmask"], [0.3, 0.5])
    assert {(c.key.mechanism, c.key.rate) for c in grid} == {("mcar", 0.3), ("mcar", 0.5), ("mnar-selfmask", 0.3),
                                                             ("mnar-selfmask", 0.5)}
    assert len(grid) == 8 and len({c.key.relpath() for c in grid}) == 8 and len({c.label for c in grid}) == 8
    single = plan(["iris"], ["mean"], [0], "mcar", 0.5)
    assert [c.key for c in plan(["iris"], ["mean"], [0], ["mcar"], [0.5])] == [c.key for c in single]
    assert single[0].label == "iris/mean/split0"  # the paper's setting keeps its short label
    assert single[0].key.relpath().name.startswith("mcar-0.5_split0_")
    assert {c.label for c in grid if c.key.mechanism == "mnar-selfmask"} >= {"iris/mean/split0/mnar-selfmask-0.3"}


def test_a_multiple_imputation_cell_records_distributional_scores_that_match_the_functions(tmp_path):
    """Issue 13 §4: W1, CRPS, 50/90% coverage and Brier of a real cell equal the functions of
    :mod:`distributional` called directly on the same (deterministic) imputations; the cache key is unchanged."""
    import numpy as np

    from vaeac_bench.datasets import load, make_split
    from vaeac_bench.distributional import (
        brier_per_column,
        crps_per_column,
        interval_coverage,
        wasserstein_per_column,
    )
    from vaeac_bench.methods import build, seed
    from vaeac_bench.metrics import aggregate
    from vaeac_bench.provenance import source_digest
    from vaeac_bench.runner import method_seed

    (cell,) = plan(["diabetes"], ["iterative"], [0], n_imputations=3, quick=True)
    run([cell], tmp_path, progress=False)
    (r,) = iter_results(tmp_path)
    assert r["config_hash"] == cell.key.config_hash and "distributional" not in r["config"]
    dist = r["distributional"]
    assert dist["code_digest"] == source_digest(("distributional.py",)) and dist["n_draws"] == 3
    split = make_split(load("diabetes"), 0)
    feats = list(range(split.target_index))
    sub = split.schema.select(feats)
    est = seed(build("iterative", quick=True), method_seed("diabetes", "iterative", 0)).fit(split.train_obs,
                                                                                          split.schema)
    draws = est.impute(split.test_obs, n=3)[:, :, feats]
    truth, scored = split.test_true[:, feats], split.test_scored[:, feats]
    assert dist["wasserstein"]["columns"] == wasserstein_per_column(truth, draws, scored, sub)
    assert dist["wasserstein_point"]["columns"] == wasserstein_per_column(truth, aggregate(draws, sub), scored, sub)
    assert dist["crps"]["columns"] == crps_per_column(truth, draws, scored, sub)
    cov = interval_coverage(truth, draws, scored, sub)
    assert dist["coverage"]["0.9"]["columns"] == cov[0.9] and dist["coverage"]["0.5"]["columns"] == cov[0.5]
    assert dist["brier"]["columns"] == brier_per_column(truth, draws, scored, sub)
    assert set(dist["brier"]["columns"]) == {"sex"} and "target" not in dist["crps"]["columns"]
    assert dist["crps"]["mean"] == pytest.approx(float(np.mean([v for v in dist["crps"]["columns"].values()
                                                                 if v is not None])))
    std = {f.name: float(np.std(truth[~np.isnan(truth[:, j]), j])) for j, f in enumerate(sub) if not f.is_categorical}
    assert dist["column_std"] == pytest.approx(std)
    from vaeac_bench.results import distributional_means

    flat = distributional_means(r)
    assert flat["w1"] == pytest.approx(np.mean([v / std[c] for c, v in dist["wasserstein"]["columns"].items()]))
    assert flat["coverage_90"] == dist["coverage"]["0.9"]["mean"] and flat["brier"] == dist["brier"]["mean"]
    # the flat means reach the long table; a record without them (computed before) simply has none
    df = long_table([r])
    assert {"w1", "w1_point", "crps", "brier", "coverage_50", "coverage_90"} <= set(df.metric)
    old = {k: v for k, v in r.items() if k != "distributional"}
    assert not {"w1", "crps"} & set(long_table([old]).metric)


def test_a_single_imputation_cell_records_only_the_wasserstein_distances(tmp_path):
    run(plan(["diabetes"], ["mean"], [0]), tmp_path, progress=False)
    (r,) = iter_results(tmp_path)
    dist = r["distributional"]
    assert dist["n_draws"] == 1 and dist["wasserstein"] == dist["wasserstein_point"]
    assert dist["wasserstein"]["mean"] > 0 and not {"crps", "coverage", "brier"} & set(dist)


def test_a_noise_model_is_scored_as_a_distribution_on_its_noisy_draws(tmp_path):
    """Issue 13 §4 and §1: ``vaeac-default`` (VAEACImputer()'s model, a learnt output noise) is scored as a
    distribution on the draws ``sample`` gives (``sample_draws``: noise included), its NRMSE and W1 of the point
    on the noiseless imputations; the paper's ``vaeac`` (σ = 1, no noise model) on its imputations."""
    import numpy as np

    from vaeac_bench.datasets import load, make_split
    from vaeac_bench.distributional import interval_coverage, wasserstein_per_column
    from vaeac_bench.methods import build, seed
    from vaeac_bench.metrics import aggregate, score_imputations
    from vaeac_bench.runner import method_seed

    cells = plan(["iris"], ["vaeac-default", "vaeac"], [0], n_imputations=4, quick=True)
    run(cells, tmp_path, progress=False)
    rec = {r["method"]: r for r in iter_results(tmp_path)}
    assert rec["vaeac"]["distributional"]["draws"] == "imputations"
    dist = rec["vaeac-default"]["distributional"]
    assert dist["draws"] == "sample_draws" and dist["n_draws"] == 4
    split = make_split(load("iris"), 0)
    feats = list(range(split.target_index))
    sub = split.schema.select(feats)
    est = seed(build("vaeac-default", quick=True), method_seed("iris", "vaeac-default", 0))
    est.fit(split.train_obs, split.schema)
    imps, noisy = est.impute(split.test_obs, n=4), est.sample_draws(split.test_obs, 4)
    truth, scored = split.test_true[:, feats], split.test_scored[:, feats]
    observed = ~np.isnan(split.test_obs)
    assert np.array_equal(noisy[:, observed], np.broadcast_to(split.test_obs[observed], noisy[:, observed].shape))
    hidden = split.test_scored[:, feats] & sub.real_mask[None, :]
    assert not np.allclose(noisy[:, :, feats][:, hidden], imps[:, :, feats][:, hidden])  # the noise is there
    cov = interval_coverage(truth, noisy[:, :, feats], scored, sub)
    assert dist["coverage"]["0.9"]["columns"] == cov[0.9]
    point = wasserstein_per_column(truth, aggregate(imps[:, :, feats], sub), scored, sub)
    assert dist["wasserstein_point"]["columns"] == point
    s = score_imputations(split.test_true, imps, split.test_scored, split.schema, columns=feats)
    assert rec["vaeac-default"]["metrics"]["nrmse"] == pytest.approx(s.nrmse)
