"""One training loop for VAEAC, GSNN, the hybrid and NN (appendix A.2), with two schedules.

* ``mode="reference"`` reproduces the authors' schedule (reference code facts §1.6): plain (for-loop)
  Adam, one validation pass before the first step and one after every epoch, K = 25 IWAE samples,
  validation masks redrawn at every pass, literal concatenations in the generator.
* ``mode="fast"`` (default) computes the same model and objective faster: the generator's skip matmuls are
  computed once per row (see :mod:`.networks`), Adam is the fused kernel, the validation masks are drawn
  once and the validation noise is the same at every pass (common random numbers: less noisy model
  selection), validation runs every ``validate_every`` epochs, and training may stop early when the
  validation score has not improved for ``patience`` epochs. For the models it supports (the registered VAEAC,
  GSNN and NN: fused residual generator, σ fixed at 1, α ∈ {0, 1}) the step is
  :class:`~.manual_step.ManualStep`: the same loss with its gradients written by hand instead of recorded and
  replayed by autograd, and fused Adam over one flat parameter tensor (issue 12 §6; x1.2 on the batch-64 step,
  docs/performance.md). Its noise is drawn exactly as :meth:`VAEACModel.loss` draws it, so the two steps
  follow the same path up to float rounding (``manual_step=False`` selects autograd).

Both keep what A.2 prescribes: masks p(b_i = 1) = 1 where x_i is missing and ``mask_prob`` (0.2) otherwise,
drawn fresh for every batch; Adam lr 3e-4; batches of 64 rows (a short last batch is padded with rows of a
fresh permutation, as the reference does); 25% of the rows held out; the best epoch by validation
log-likelihood (IWAE (18) when a proposal is trained, the MC estimate (17) for GSNN/NN) restored at the end.
Every random draw comes from generators seeded by ``seed``, so a CPU run is exactly reproducible.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ...nn.harness import LoopState, fit_loop
from .manual_step import ManualStep, flatten_parameters
from .model import Batch, VAEACModel

MODES = ("fast", "reference")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and validation schedule (paper/reference values as defaults)."""

    epochs: int
    batch_size: int = 64  # A.2 / reference
    lr: float = 3e-4  # reference (Adam, default betas)
    validation_fraction: float = 0.25  # A.2 (the reference README uses 0.15)
    validation_samples: int = 25  # reference IWAE K
    validate_every: int = 1
    patience: int | None = None  # epochs without improvement before stopping (None: never)
    max_extensions: int = 0  # budget extensions (+50% each) when the best epoch is in the last patience window
    mask_prob: float | tuple[float, ...] = 0.2  # A.2; a tuple gives p(b_i = 1) per column (§4.1: p(b) is free)
    mode: str = "fast"
    bf16: bool = False  # bf16 autocast of the training forward pass (CPU/CUDA)
    manual_step: bool = True  # fast mode: hand-written gradients where the model allows (ManualStep)
    max_eval_rows: int = 8192  # rows × samples per validation chunk (memory bound)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.epochs < 1 or self.batch_size < 1 or self.validation_samples < 1 or self.validate_every < 1:
            raise ValueError("epochs, batch_size, validation_samples and validate_every must be >= 1")
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ValueError(f"validation_fraction must lie in [0, 1), got {self.validation_fraction!r}")
        probs = np.atleast_1d(np.asarray(self.mask_prob, dtype=float))
        if probs.ndim != 1 or not np.all((probs >= 0.0) & (probs <= 1.0)):
            raise ValueError(f"mask_prob must lie in [0, 1] (a number or one per column), got {self.mask_prob!r}")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be >= 1 or None, got {self.patience!r}")


@dataclass
class TrainHistory:
    """What happened during training (kept with the fitted model)."""

    n_train: int = 0
    n_validation: int = 0
    epochs_run: int = 0
    best_epoch: int = 0  # 0 = the state before the first step
    best_score: float = float("nan")
    val_epochs: list[int] = field(default_factory=list)
    val_scores: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    seconds: float = 0.0
    stopped_early: bool = False
    fit_info: dict = field(default_factory=dict)  # the harness's FitInfo.to_dict()

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "hist_counts": np.array([self.n_train, self.n_validation, self.epochs_run, self.best_epoch,
                                     int(self.stopped_early)], dtype=np.int64),
            "hist_best_seconds": np.array([self.best_score, self.seconds], dtype=np.float64),
            "hist_val_epochs": np.asarray(self.val_epochs, dtype=np.int64),
            "hist_val_scores": np.asarray(self.val_scores, dtype=np.float64),
            "hist_train_loss": np.asarray(self.train_loss, dtype=np.float64),
            "hist_fit_info": np.array(json.dumps(self.fit_info)),
        }

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> TrainHistory:
        c = a["hist_counts"]
        bs = a["hist_best_seconds"]
        return cls(int(c[0]), int(c[1]), int(c[2]), int(c[3]), float(bs[0]), a["hist_val_epochs"].tolist(),
                   a["hist_val_scores"].tolist(), a["hist_train_loss"].tolist(), float(bs[1]), bool(c[4]),
                   json.loads(str(a["hist_fit_info"])) if "hist_fit_info" in a else {})


def split_validation(n_rows: int, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Hold out ceil(n·fraction) rows for validation, keeping at least one training row (A.2: 25%).

    Fewer than 2 rows, or ``fraction == 0``, gives no validation set (the last epoch is kept).
    """
    n_val = math.ceil(n_rows * fraction) if n_rows >= 2 else 0
    n_val = min(n_val, n_rows - 1)
    perm = rng.permutation(n_rows)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def epoch_indices(n: int, batch_size: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """ceil(n / batch) batches of exactly ``batch_size`` rows: a shuffled pass, padded from fresh passes."""
    steps = max(1, math.ceil(n / batch_size))
    need = steps * batch_size
    parts, have = [], 0
    while have < need:
        parts.append(torch.randperm(n, generator=generator, device=device))
        have += n
    return torch.cat(parts)[:need].view(steps, batch_size)


def draw_mask(missing: torch.Tensor, p: float | tuple[float, ...], generator: torch.Generator) -> torch.Tensor:
    """b = missing ∨ Bernoulli(p): the training mask distribution of §4.3.3 / A.2 (float 0/1).

    ``p`` is one probability for every cell or one per column.
    """
    r = torch.rand(missing.shape, generator=generator, device=missing.device, dtype=missing.dtype)
    if not isinstance(p, float | int):
        if len(p) != missing.shape[-1]:
            raise ValueError(f"mask_prob has {len(p)} entries but the data has {missing.shape[-1]} columns")
        p = torch.as_tensor(p, dtype=missing.dtype, device=missing.device)
    return torch.maximum(missing, (r < p).to(missing.dtype))


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig,
                   params: list[torch.nn.Parameter] | None = None) -> torch.optim.Optimizer:
    """Adam, lr 3e-4 (reference); the fused kernel in fast mode, the plain for-loop one in reference mode.

    ``params`` replaces the model's trainable parameters (the one flat tensor of :func:`flatten_parameters`).
    """
    if params is None:
        params = [p for p in model.parameters() if p.requires_grad]
    if cfg.mode == "reference":
        return torch.optim.Adam(params, lr=cfg.lr, foreach=False)
    try:
        return torch.optim.Adam(params, lr=cfg.lr, fused=True)
    except (RuntimeError, TypeError, ValueError):  # older torch without fused CPU Adam
        return torch.optim.Adam(params, lr=cfg.lr, foreach=True)


def manual_step(model: torch.nn.Module, cfg: TrainConfig) -> ManualStep | None:
    """The hand-written step for ``model`` under ``cfg``, or None where autograd trains it.

    Autograd stays for reference mode (the authors' schedule), bf16 autocast, ``manual_step=False`` and
    the models :class:`ManualStep` does not cover (it says why when built directly).
    """
    if cfg.mode != "fast" or cfg.bf16 or not cfg.manual_step or not isinstance(model, VAEACModel):
        return None
    if not all(p.requires_grad for p in model.parameters()):
        return None  # frozen parameters: ManualStep writes every gradient
    try:
        return ManualStep(model)
    except ValueError:
        return None


def _unflatten(model: torch.nn.Module) -> None:
    """Give every parameter its own storage again and drop the gradients (after a flat-parameter fit)."""
    with torch.no_grad():
        for p in model.parameters():
            p.data = p.data.clone()
            p.grad = None


@torch.inference_mode()
def validation_score(model: VAEACModel, data: Batch, b: torch.Tensor, n_samples: int,
                     generator: torch.Generator, max_rows: int = 8192) -> float:
    """Mean validation log-likelihood: IWAE (18) with a proposal, else MC (17) (exact for NN)."""
    use_iwae = model.nets.proposal is not None
    chunk = max(1, max_rows // n_samples)
    total = 0.0
    for start in range(0, len(data), chunk):
        part, bb = data[start:start + chunk], b[start:start + chunk]
        est = model.iwae(part, bb, n_samples, generator) if use_iwae else model.mc(part, bb, n_samples, generator)
        total += float(est.double().sum())
    return total / len(data)


def train(model: VAEACModel, X: np.ndarray, cfg: TrainConfig, seed: int, *, verbose: int = 0,
          callback: Callable[[int, VAEACModel, TrainHistory], None] | None = None,
          checkpoint: str | os.PathLike | None = None) -> TrainHistory:
    """Fit ``model`` on ``X`` (rows, D; standardised, NaN = missing) and restore its best state.

    The loop itself is :func:`vaeac_bench.nn.harness.fit_loop` (tie rule, early stopping, budget extension,
    checkpoint/resume). ``callback(epoch, model, history)`` runs after every epoch (its own time is not
    counted in ``history.seconds``); the speed script uses it to snapshot the model.
    """
    device = next(model.parameters()).device
    ss = np.random.SeedSequence(seed)
    split_seed, torch_seed, val_seed = (int(s.generate_state(1)[0]) for s in ss.spawn(3))
    tr_idx, va_idx = split_validation(X.shape[0], cfg.validation_fraction, np.random.default_rng(split_seed))
    gen = torch.Generator(device=device).manual_seed(torch_seed)
    xt = torch.as_tensor(X, dtype=torch.float32, device=device)  # the data moves to the device once
    data = Batch.from_values(xt, model)
    train_data = data[torch.as_tensor(tr_idx, device=device)]
    val_data = data[torch.as_tensor(va_idx, device=device)] if va_idx.size else None
    hist = TrainHistory(n_train=int(tr_idx.size), n_validation=int(va_idx.size))
    manual = manual_step(model, cfg)
    # the manual step's Adam runs over one flat tensor of which every parameter is a view (undone at the end)
    opt = make_optimizer(model, cfg, [flatten_parameters(model)] if manual is not None else None)

    val_gen = torch.Generator(device=device)
    fixed_val_b = None
    if val_data is not None and cfg.mode == "fast":
        fixed_val_b = draw_mask(val_data.missing, cfg.mask_prob, val_gen.manual_seed(val_seed))

    def evaluate(epoch: int) -> float:
        assert val_data is not None
        if cfg.mode == "fast":
            b, g = fixed_val_b, val_gen.manual_seed(val_seed + 1)  # same masks and noise at every pass
        else:
            b, g = draw_mask(val_data.missing, cfg.mask_prob, gen), gen  # redrawn every pass (reference)
        return validation_score(model, val_data, b, cfg.validation_samples, g, cfg.max_eval_rows)

    amp = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=cfg.bf16)

    n_noise, latent = model.n_noise(), model.arch.latent_dim

    def step(epoch: int) -> torch.Tensor:
        model.train()
        loss_sum = torch.zeros((), device=device)
        batches = epoch_indices(len(train_data), cfg.batch_size, gen, device)
        for idx in batches:
            batch = train_data[idx]
            b = draw_mask(batch.missing, cfg.mask_prob, gen)
            if manual is not None:
                # the draw model.loss makes when it draws the noise itself: the same stream as autograd's path
                noise = torch.randn((n_noise, len(batch), latent), generator=gen, dtype=batch.x.dtype,
                                    device=device) if n_noise else None
                loss_sum += manual.step(batch, b, noise, opt)
                continue
            with amp:
                loss = model.loss(batch, b, gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.detach()
        return loss_sum / len(batches)  # stays on the device: no synchronisation per epoch

    def after(epoch: int) -> None:
        hist.epochs_run = epoch
        callback(epoch, model, hist)  # type: ignore[misc]

    step_kind = "manual" if manual is not None else "autograd"  # the Adam state's layouts differ
    key = json.dumps({"cfg": repr(cfg), "seed": int(seed), "shape": list(X.shape), "step": step_kind})
    try:
        res = fit_loop(step, max_epochs=cfg.epochs, score=evaluate if val_data is not None else None,
                       validate_every=cfg.validate_every, validate_at_start=cfg.mode == "reference",
                       patience=cfg.patience, max_extensions=cfg.max_extensions, keep=model,
                       state=LoopState(optimizers={"adam": opt}, generators={"train": gen}),
                       checkpoint=checkpoint,
                       key=key, verbose=bool(verbose), desc="vaeac",
                       callback=after if callback is not None else None)
    finally:
        if manual is not None:
            _unflatten(model)
    info = res.info
    hist.epochs_run, hist.best_epoch = info.epochs_run, info.best_epoch
    hist.best_score = info.best_score if info.best_score is not None else float("nan")
    hist.val_epochs, hist.val_scores, hist.train_loss = res.val_epochs, res.val_scores, res.losses
    hist.seconds, hist.stopped_early = info.seconds, info.stopped == "early"
    hist.fit_info = info.to_dict() | {"step": step_kind}
    model.eval()
    return hist
