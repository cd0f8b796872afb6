"""The shared training harness (issue 9 items 10 and 20): tie rule, stopping, extension, checkpoint/resume."""

from __future__ import annotations

import json
import math
import os
import stat

import numpy as np
import pytest
import torch
from torch import nn

from vaeac_bench.nn.harness import (
    FitInfo,
    LoopState,
    fit_loop,
    load_checkpoint,
    resolve_device,
)


def scripted(scores: list[float], model: nn.Module | None = None):
    """A step that stamps the epoch into ``model``'s weight and a score read from ``scores``."""

    def step(epoch: int) -> torch.Tensor:
        if model is not None:
            with torch.no_grad():
                model.weight.fill_(float(epoch))
        return torch.tensor(0.5)

    return step, (lambda epoch: scores[epoch - 1])


def test_earliest_of_equal_scores_wins_and_its_weights_are_restored():
    model = nn.Linear(1, 1)
    step, score = scripted([1.0, 3.0, 3.0, 2.0], model)
    res = fit_loop(step, max_epochs=4, score=score, keep=model)
    assert res.info.best_epoch == 2 and res.info.best_score == 3.0
    assert float(model.weight.detach()) == 2.0  # the best epoch's weights, not the last ones
    assert res.val_epochs == [1, 2, 3, 4] and res.losses == [0.5] * 4


def test_non_finite_scores_never_become_the_best():
    step, score = scripted([float("nan"), 1.0, float("inf"), -math.inf])
    assert fit_loop(step, max_epochs=4, score=score).info.best_epoch == 2


def test_patience_stops_early_and_says_so():
    step, score = scripted([1.0, 2.0] + [0.0] * 20)
    info = fit_loop(step, max_epochs=20, score=score, patience=3).info
    assert (info.epochs_run, info.best_epoch, info.stopped, info.under_trained) == (5, 2, "early", False)


def test_a_still_improving_run_is_extended_then_recorded_at_the_cap():
    """Validation keeps improving (as on Phishing): +50% twice, then stopped="cap" and under-trained."""
    step, score = scripted([float(e) for e in range(1, 100)])
    info = fit_loop(step, max_epochs=10, score=score, patience=4, max_extensions=2).info
    assert (info.initial_max_epochs, info.max_epochs, info.extended) == (10, 20, 2)
    assert (info.epochs_run, info.best_epoch, info.stopped, info.under_trained) == (20, 20, "cap", True)
    d = json.loads(json.dumps(info.to_dict()))
    assert d["stopped"] == "cap" and d["extended"] == 2 and d["n_scores"] == 20


def test_without_extensions_an_under_trained_run_is_still_flagged():
    step, score = scripted([float(e) for e in range(1, 100)])
    info = fit_loop(step, max_epochs=10, score=score, validate_every=5).info
    assert (info.max_epochs, info.extended, info.stopped, info.under_trained, info.n_scores) == (10, 0, "cap", True, 2)


def test_a_run_that_plateaued_is_not_extended():
    step, score = scripted([1.0, 5.0] + [0.0] * 30)
    info = fit_loop(step, max_epochs=10, score=score, max_extensions=2).info  # window: the last 10%
    assert (info.max_epochs, info.extended, info.stopped, info.under_trained) == (10, 0, "cap", False)


def test_without_a_score_the_last_epoch_is_kept():
    model = nn.Linear(1, 1)
    step, _ = scripted([], model)
    info = fit_loop(step, max_epochs=3, keep=model).info
    assert info.best_epoch == 3 and info.best_score is None and float(model.weight.detach()) == 3.0


def test_a_diverging_loss_is_an_error():
    with pytest.raises(FloatingPointError, match="diverged"):
        fit_loop(lambda e: torch.tensor(float("nan")), max_epochs=3, score=lambda e: 0.0)


def test_bad_budget_is_named():
    with pytest.raises(ValueError, match="max_epochs"):
        fit_loop(lambda e: None, max_epochs=0)
    with pytest.raises(ValueError, match="patience"):
        fit_loop(lambda e: None, max_epochs=2, patience=0)


class Toy:
    """A small regression fitted with Adam, a torch generator and a numpy generator: every state resume needs."""

    def __init__(self) -> None:
        torch.manual_seed(0)
        self.model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-2)
        self.gen = torch.Generator().manual_seed(1)
        self.rng = np.random.default_rng(2)
        data = np.random.default_rng(3)
        self.X = torch.as_tensor(data.normal(size=(64, 3)), dtype=torch.float32)
        self.y = self.X.sum(1, keepdim=True) ** 2
        self.crash_at: int | None = None

    def step(self, epoch: int) -> torch.Tensor:
        if epoch == self.crash_at:
            raise KeyboardInterrupt
        idx = torch.as_tensor(self.rng.choice(64, 16, replace=False))
        noise = torch.randn(16, 1, generator=self.gen) * 0.1
        loss = ((self.model(self.X[idx]) - self.y[idx] - noise) ** 2).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss.detach()

    def score(self, epoch: int) -> float:
        with torch.no_grad():
            return -float(((self.model(self.X) - self.y) ** 2).mean())

    def run(self, **kw):
        state = LoopState(optimizers={"adam": self.opt}, generators={"g": self.gen}, rngs={"r": self.rng})
        return fit_loop(self.step, max_epochs=12, score=self.score, validate_every=2, keep=self.model, state=state,
                        key="toy", **kw)


def test_resume_continues_from_the_last_checkpoint_with_identical_results(tmp_path):
    straight = Toy()
    ref = straight.run()
    ck = tmp_path / "sub" / "toy.pt"
    broken = Toy()
    broken.crash_at = 7
    with pytest.raises(KeyboardInterrupt):
        broken.run(checkpoint=ck, checkpoint_every=3)
    assert load_checkpoint(ck)["epoch"] == 6  # the last completed multiple of checkpoint_every
    resumed = Toy()
    res = resumed.run(checkpoint=ck, checkpoint_every=3)
    assert res.val_scores == ref.val_scores and res.losses == ref.losses
    assert res.info.best_epoch == ref.info.best_epoch and res.info.epochs_run == 12
    for a, b in zip(resumed.model.state_dict().values(), straight.model.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    again = Toy().run(checkpoint=ck, checkpoint_every=3)  # a finished run is not trained further
    assert again.val_scores == ref.val_scores and again.info.epochs_run == 12


def test_checkpoint_of_another_run_is_refused_and_has_a_normal_file_mode(tmp_path):
    ck = tmp_path / "toy.pt"
    Toy().run(checkpoint=ck)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(ck.stat().st_mode) == 0o666 & ~umask
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file was renamed, not left behind
    with pytest.raises(ValueError, match="another run"):
        fit_loop(lambda e: None, max_epochs=2, checkpoint=ck, key="other")


def test_progress_bar_only_when_verbose(capsys):
    step, score = scripted([1.0, 2.0, 3.0])
    fit_loop(step, max_epochs=3, score=score, desc="toy-quiet")
    assert "toy-quiet" not in capsys.readouterr().err
    fit_loop(step, max_epochs=3, score=score, verbose=True, desc="toy-loud")
    assert "toy-loud" in capsys.readouterr().err


def test_resolve_device_names_the_fix():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ValueError, match="device must be"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")


def test_fit_info_defaults_are_json():
    assert json.loads(json.dumps(FitInfo().to_dict()))["stopped"] == "cap"


@pytest.mark.parametrize("target", ["vaeac_bench.methods.vaeac:VAEACMethod", "vaeac_bench.methods.gain:GAINImputer",
                                    "vaeac_bench.methods.um:UniversalMarginalizer"])
def test_every_constructor_parameter_of_a_neural_method_is_constrained(target):
    """Item 12: one validation style (scikit-learn's ``_parameter_constraints``) covering every parameter."""
    import importlib

    mod, name = target.split(":")
    cls = getattr(importlib.import_module(mod), name)
    assert set(cls._parameter_constraints) == set(cls().get_params(deep=False))
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="'random_state' parameter"):
        cls(random_state=-1)._validate_params()


def test_harness_options_at_no_op_defaults_keep_gain_and_um_cache_keys():
    """GAIN/UM results are unchanged by the harness, so their cache keys must be too; a real option shows."""
    from vaeac_bench.methods.gain import GAINImputer
    from vaeac_bench.methods.um import UniversalMarginalizer

    for cls in (GAINImputer, UniversalMarginalizer):
        params = cls(checkpoint="x.pt", verbose=1).config()["params"]
        assert not {"max_extensions", "patience", "checkpoint", "verbose"} & set(params)
        assert cls(max_extensions=1).config()["params"]["max_extensions"] == 1
    assert UniversalMarginalizer(patience=5).config()["params"]["patience"] == 5
