"""The CI performance gate's suite (``scripts/perf_gate.py``): small, fast, seeded cases compared commit to commit.

* ``GateQuality``: ``track_`` scores (NRMSE, PFC, NLL) of one fixed, seeded, small case per method, on one
  torch thread. They are deterministic on CPU, so the gate compares them exactly (docs/performance.md).
* ``GateTiming``: ``time_`` benchmarks a few milliseconds to a second long (VAEAC training step and sampling,
  GAIN, MissForest, MICE fits, the training harness's bookkeeping), interleaved between the two commits.

The data is a generated mixed table (no data files), so the gate runs on a fresh clone.
"""

from __future__ import annotations

import time

import numpy as np

from .common import single_thread

# the fixed small case: 240 rows, 4 correlated real columns and two categoricals (3 and 4 levels), 50% MCAR
N_ROWS, N_TRAIN = 240, 180
# methods whose quality the gate tracks, with their registry quick budgets ("sinkhorn" needs geomloss, absent
# from the bench extra, and "um-naive" shares UM's code path)
QUALITY_METHODS = ["mean", "knn", "iterative", "softimpute", "mice", "missforest", "vaeac", "gsnn", "nn", "gain",
                   "gain-original-a1", "um", "miwae"]


def mixed_case(seed: int = 0):
    """The gate's fixed table: (truth, observed train rows, observed test rows, test mask, schema)."""
    from vaeac_bench.schema import Schema

    rng = np.random.default_rng(seed)
    t = rng.normal(size=(N_ROWS, 1))
    real = t + 0.5 * rng.normal(size=(N_ROWS, 4))
    c3 = np.digitize(t[:, 0] + 0.3 * rng.normal(size=N_ROWS), [-0.5, 0.5]).astype(float)
    c4 = np.digitize(real[:, 0], [-1.0, 0.0, 1.0]).astype(float)
    truth = np.column_stack([real, c3, c4])
    missing = rng.random(truth.shape) < 0.5
    missing[missing.all(axis=1), 0] = False  # keep one observed cell per row
    observed = np.where(missing, np.nan, truth)
    schema = Schema.from_kinds(["r0", "r1", "r2", "r3", "c3", "c4"], [0, 0, 0, 0, 3, 4])
    return truth, observed[:N_TRAIN], observed[N_TRAIN:], missing[N_TRAIN:], schema


def quality_scores() -> dict[str, dict[str, float]]:
    """NRMSE and PFC of 10 imputations of the gate table's test rows per method; NLL for VAEAC and UM."""
    from vaeac_bench.methods import build, seed
    from vaeac_bench.metrics import score_imputations

    single_thread()
    truth, train, test, hidden, schema = mixed_case()
    out = {}
    for method in QUALITY_METHODS:
        model = seed(build(method, quick=True), 0).fit(train, schema)
        s = score_imputations(truth[N_TRAIN:], model.impute(test, n=10), hidden, schema)
        out[method] = {"nrmse": float(s.nrmse), "pfc": float(s.pfc)}
        if method == "vaeac":  # IWAE-25 estimate of log p(hidden | observed), per row
            out[method]["nll"] = float(-np.mean(model.log_likelihood(truth[N_TRAIN:], hidden, n_samples=25,
                                                                     random_state=0)))
        elif method == "um":  # chain rule (11)
            out[method]["nll"] = float(-np.mean(model.log_likelihood(truth[N_TRAIN:], hidden, seed=0)))
    return out


class GateQuality:
    """Quality of the fixed seeded case per method (every method fitted once per commit, in ``setup_cache``)."""

    param_names = ["method"]
    params = (QUALITY_METHODS,)
    timeout = 900

    def setup_cache(self) -> dict[str, dict[str, float]]:
        return quality_scores()

    def track_nrmse(self, scores: dict, method: str) -> float:
        return scores[method]["nrmse"]

    track_nrmse.unit = "NRMSE"

    def track_pfc(self, scores: dict, method: str) -> float:
        return scores[method]["pfc"]

    track_pfc.unit = "PFC"

    def track_nll(self, scores: dict, method: str) -> float:
        """Mean NLL per test row of its hidden cells given the observed ones (NaN, i.e. n/a: no likelihood)."""
        return scores[method].get("nll", float("nan"))

    track_nll.unit = "nats"


class _Timed:
    """asv attributes shared by the gate's timings: a few samples per round, one round per asv invocation.

    The gate interleaves the two commits itself (one ``asv run --append-samples`` per commit and round), so
    each invocation takes 2-3 samples of at least 50 ms (about 1.5 s of sampling).
    """

    timeout = 300
    timer = time.process_time  # CPU time of the (one-thread) process: less hurt by a shared machine
    repeat = (2, 3, 1.5)
    sample_time = 0.05
    warmup_time = 0.05
    rounds = 1


class GateVAEACStep(_Timed):
    """One VAEAC optimiser step, batch 64, on the Yeast-shaped table of ``bench_vaeac``, as ``training.train``
    takes it (``bench_vaeac.registered_step``: the hand-written step since 2026-12-05). Until 2026-12-07 this
    timed ``bench_vaeac.TrainStep``, autograd's step, which the registered methods no longer train with."""

    def setup(self) -> None:
        from .bench_vaeac import registered_step

        single_thread()
        self.run = registered_step(64)

    def time_vaeac_train_step(self) -> None:
        self.run()


class GateVAEACSample(_Timed):
    """10 VAEAC imputations of the gate table's 60 test rows (a model fitted for one epoch, once per process)."""

    def setup(self) -> None:
        from vaeac_bench.methods import build, seed

        single_thread()
        _, self.train, self.test, _, self.schema = mixed_case()
        self.model = seed(build("vaeac", epochs=1), 0).fit(self.train, self.schema)

    def time_vaeac_impute_60x10(self) -> None:
        self.model.impute(self.test, n=10)


class GateFits(_Timed):
    """Fits of GAIN and MissForest at their registry quick budgets on the gate table (MICE's quick fit takes
    ~2.5 s, too long for the gate; its quality is tracked in ``GateQuality``)."""

    param_names = ["method"]
    params = (["gain", "missforest"],)

    def setup(self, method: str) -> None:
        from vaeac_bench.methods import build, seed

        single_thread()
        _, self.train, _, _, self.schema = mixed_case()
        self.make = lambda: seed(build(method, quick=True), 0)

    def time_fit(self, method: str) -> None:
        self.make().fit(self.train, self.schema)


class GateHarness(_Timed):
    """The training harness's bookkeeping for 20,000 no-op units (GAIN runs 10,000 tiny ones through it)."""

    def setup(self) -> None:
        single_thread()

    def time_harness_loop_20k(self) -> None:
        from vaeac_bench.nn.harness import fit_loop

        fit_loop(lambda epoch: None, max_epochs=20_000, score=lambda epoch: 0.0, validate_every=100)
