"""One training harness for every neural method (VAEAC, GSNN, NN, GAIN, UM): budget, validation, best state.

A method supplies ``step(epoch)`` (one epoch, or one iteration for GAIN: the harness only counts units) and,
when it holds out data, ``score(epoch)`` (higher is better). :func:`fit_loop` then runs the budget with
the rules below, identical for every method, so the image issues inherit them:

* **Validation**: after every ``validate_every`` units and at the budget's cap (and before the first
  step when ``validate_at_start``: the reference VAEAC schedule, facts §1.6).
* **Best state, one tie rule**: a score replaces the best only when it is *strictly* greater, so the
  earliest of equal scores wins; a non-finite score never becomes the best. The best weights of ``keep``
  are restored at the end (A.2: "the best epoch by validation log-likelihood"; A.4 for GAIN).
* **Early stopping**: with ``patience``, stop once ``epoch - best_epoch >= patience`` (checked after every
  unit, as the VAEAC loop always did).
* **Budget extension** (issue 9 item 10): a run whose best unit lies within the last ``window`` units of the
  cap is under-trained (``window`` = ``patience``, or the last 10% of the budget, at least
  ``validate_every``). With ``max_extensions > 0`` the cap then grows by 50% of the initial budget, at most
  ``max_extensions`` times; a run still under-trained at the final cap says so in :class:`FitInfo`
  (``stopped="cap"``, ``under_trained=True``), never silently.
* **Checkpoint/resume**: with ``checkpoint`` (a file path) the whole loop state (modules, optimisers, torch
  generators, numpy generators, best state, history) is written atomically every ``checkpoint_every``
  units; a later call with the same path and ``key`` continues after the last completed unit and gives
  the same result as an uninterrupted run (CPU). Files are read with ``torch.load(weights_only=True)``.
* **No per-step synchronisation**: losses stay on the device; they are read once per validation (the
  divergence check) and once at the end.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

EXTENSION_FRACTION = 0.5  # each extension adds 50% of the initial budget
UNDER_TRAINED_FRACTION = 0.1  # without patience: best unit within the last 10% of the budget
CHECKPOINT_FORMAT = 1


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``"cpu"`` (default), ``"cuda"``/``"cuda:N"``, or ``"auto"`` (CUDA when available); clear error otherwise."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {device!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for but CUDA is not available; use device='cpu' or 'auto'")
    return dev


@dataclass
class FitInfo:
    """How a fit used its budget (JSON-serialisable via :meth:`to_dict`; kept as ``fit_info_`` by estimators)."""

    unit: str = "epoch"  # "epoch", or "iteration" for GAIN
    epochs_run: int = 0
    best_epoch: int = 0  # 0 = the state before the first step (reference VAEAC validates it)
    max_epochs: int = 0  # the final cap, extensions included
    initial_max_epochs: int = 0
    stopped: str = "cap"  # "early" (patience) or "cap" (the budget ran out)
    extended: int = 0  # how many times the budget was extended
    under_trained: bool = False  # best unit within the last window at the final cap
    n_scores: int = 0  # length of the validation score history
    best_score: float | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only (``best_score`` None when there was no finite score)."""
        return asdict(self)


@dataclass
class LoopResult:
    """What :func:`fit_loop` returns: the budget summary and the histories."""

    info: FitInfo
    val_epochs: list[int] = field(default_factory=list)
    val_scores: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)  # one per unit whose step returned a loss


@dataclass
class LoopState:
    """Everything a checkpoint must restore for a resumed run to continue exactly (all optional)."""

    modules: dict[str, nn.Module] = field(default_factory=dict)
    optimizers: dict[str, torch.optim.Optimizer] = field(default_factory=dict)
    generators: dict[str, torch.Generator] = field(default_factory=dict)
    rngs: dict[str, np.random.Generator] = field(default_factory=dict)


def _clone_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> None:
    """``torch.save`` to a temporary file beside ``path``, then an atomic rename (mode as a normal write)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            torch.save(payload, fh)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (tensors and plain types only)."""
    return torch.load(Path(path), map_location="cpu", weights_only=True)


def fit_loop(step: Callable[[int], torch.Tensor | None], *, max_epochs: int,
             score: Callable[[int], float] | None = None, validate_every: int = 1, validate_at_start: bool = False,
             patience: int | None = None, max_extensions: int = 0, keep: nn.Module | None = None,
             state: LoopState | None = None, checkpoint: str | os.PathLike | None = None,
             checkpoint_every: int | None = None, key: str = "", unit: str = "epoch", verbose: bool | int = False,
             desc: str = "", callback: Callable[[int], None] | None = None) -> LoopResult:
    """Run ``step`` for up to ``max_epochs`` units with the module's validation, stopping and extension rules.

    ``keep`` is the module whose best-scoring weights are restored at the end (the last ones without a
    score). ``key`` identifies the run in a checkpoint, so a checkpoint of another configuration is refused.
    ``callback(epoch)`` runs after every unit; its time is not counted in ``FitInfo.seconds``.
    """
    if max_epochs < 1 or validate_every < 1:
        raise ValueError(f"max_epochs and validate_every must be >= 1, got {max_epochs} and {validate_every}")
    if patience is not None and patience < 1:
        raise ValueError(f"patience must be >= 1 or None, got {patience!r}")
    state = state or LoopState()
    if keep is not None and "keep" not in state.modules:
        state.modules = {"keep": keep, **state.modules}
    every = int(checkpoint_every or validate_every)
    window = patience if patience is not None else max(validate_every, math.ceil(UNDER_TRAINED_FRACTION * max_epochs))
    info = FitInfo(unit=unit, max_epochs=max_epochs, initial_max_epochs=max_epochs)
    res = LoopResult(info)
    losses: list[torch.Tensor] = []
    checked = 0  # losses[:checked] are known to be finite
    best_score, best_state = -math.inf, None
    start, done = 1, False

    def evaluate(epoch: int) -> None:
        nonlocal best_score, best_state
        assert score is not None
        s = float(score(epoch))
        res.val_epochs.append(epoch)
        res.val_scores.append(s)
        if math.isfinite(s) and s > best_score:  # strictly better: the earliest of equal scores wins
            best_score, info.best_epoch = s, epoch
            if keep is not None:
                best_state = _clone_state(keep)
        if pbar is not None:
            pbar.set_postfix(score=f"{s:.4g}", best=f"{best_score:.4g}@{info.best_epoch}", refresh=False)

    def check_losses(epoch: int) -> None:
        nonlocal checked
        if len(losses) > checked:
            new = torch.stack(losses[checked:])
            if not bool(torch.isfinite(new).all()):
                raise FloatingPointError(f"training diverged by {unit} {epoch} (non-finite loss)")
            checked = len(losses)

    def payload(epoch: int, finished: bool) -> dict[str, Any]:
        return {"format": CHECKPOINT_FORMAT, "key": key, "epoch": epoch, "done": finished, "cap": info.max_epochs,
                "extended": info.extended, "best_epoch": info.best_epoch, "best_score": best_score,
                "best_state": best_state, "val_epochs": list(res.val_epochs), "val_scores": list(res.val_scores),
                "losses": torch.stack(losses).cpu() if losses else torch.zeros(0),
                "modules": {k: m.state_dict() for k, m in state.modules.items()},
                "optimizers": {k: o.state_dict() for k, o in state.optimizers.items()},
                "generators": {k: g.get_state() for k, g in state.generators.items()},
                "rngs": {k: json.dumps(r.bit_generator.state) for k, r in state.rngs.items()}}

    if checkpoint is not None and Path(checkpoint).is_file():
        ck = load_checkpoint(checkpoint)
        if ck.get("format") != CHECKPOINT_FORMAT or ck.get("key") != key:
            raise ValueError(f"checkpoint {str(checkpoint)!r} belongs to another run or format; delete it or pass "
                             "another checkpoint path")
        for k, m in state.modules.items():
            m.load_state_dict(ck["modules"][k])
        for k, o in state.optimizers.items():
            o.load_state_dict(ck["optimizers"][k])
        for k, g in state.generators.items():
            g.set_state(ck["generators"][k])
        for k, r in state.rngs.items():
            r.bit_generator.state = json.loads(ck["rngs"][k])
        start, info.max_epochs, info.extended = int(ck["epoch"]) + 1, int(ck["cap"]), int(ck["extended"])
        info.epochs_run, done = int(ck["epoch"]), bool(ck["done"])
        info.best_epoch, best_score, best_state = int(ck["best_epoch"]), float(ck["best_score"]), ck["best_state"]
        res.val_epochs, res.val_scores = list(ck["val_epochs"]), list(ck["val_scores"])
        dev = next((p.device for m in state.modules.values() for p in m.parameters()), torch.device("cpu"))
        losses = list(ck["losses"].to(dev).unbind(0))
        checked = len(losses)

    pbar = None
    if verbose:
        from tqdm.auto import tqdm

        pbar = tqdm(total=info.max_epochs, initial=start - 1, desc=desc or "training", unit=unit, leave=False)
    t0 = time.perf_counter()
    excluded = 0.0
    try:
        if score is not None and validate_at_start and start == 1:
            evaluate(0)
        for_epoch = start
        while not done and for_epoch <= info.max_epochs:
            epoch, for_epoch = for_epoch, for_epoch + 1
            loss = step(epoch)
            if loss is not None:
                losses.append(loss.detach())
            info.epochs_run = epoch
            at_cap = epoch == info.max_epochs
            if score is not None and (epoch % validate_every == 0 or at_cap):
                check_losses(epoch)
                evaluate(epoch)
            if callback is not None:
                tc = time.perf_counter()
                callback(epoch)
                excluded += time.perf_counter() - tc
            if pbar is not None:
                pbar.update(1)
            done = patience is not None and math.isfinite(best_score) and epoch - info.best_epoch >= patience
            if at_cap and not done and info.extended < max_extensions and math.isfinite(best_score) \
                    and info.max_epochs - info.best_epoch < window:
                info.max_epochs += math.ceil(EXTENSION_FRACTION * info.initial_max_epochs)  # under-trained: extend
                info.extended += 1
                at_cap = False
                if pbar is not None:
                    pbar.total = info.max_epochs
            done = done or at_cap
            if checkpoint is not None and (epoch % every == 0 or done):
                save_checkpoint(checkpoint, payload(epoch, done))
    finally:
        if pbar is not None:
            pbar.close()
    check_losses(info.epochs_run)
    info.seconds = time.perf_counter() - t0 - excluded
    info.stopped = "cap" if info.epochs_run >= info.max_epochs else "early"
    info.n_scores = len(res.val_scores)
    if score is None or not math.isfinite(best_score):
        info.best_epoch = info.epochs_run
    else:
        info.best_score = best_score
        info.under_trained = info.stopped == "cap" and info.max_epochs - info.best_epoch < window
    if keep is not None and best_state is not None:
        keep.load_state_dict(best_state)
    res.losses = torch.stack(losses).double().cpu().tolist() if losses else []
    return res
