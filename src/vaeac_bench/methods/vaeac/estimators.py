"""Public log-likelihood estimators of log p(x_b | x_{1-b}, b) (appendix C, eqs. 17 and 18).

Both take a fitted :class:`~.model.VAEACModel`, values in the model's (standardised) numeric layout and
the mask ``b`` of the features to score, and return one estimate per row, computed with log-sum-exp in
chunks. Small ``n_samples`` under-estimates the log-likelihood, MC much more than IWAE (appendix C).
"""

from __future__ import annotations

import numpy as np
import torch

from .model import Batch, VAEACModel


def _estimate(kind: str, model: VAEACModel, x: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor,
              n_samples: int, generator: torch.Generator | None, max_rows: int) -> np.ndarray:
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    dev = next(model.parameters()).device
    xt = torch.as_tensor(np.asarray(x, dtype=np.float32) if not torch.is_tensor(x) else x, dtype=torch.float32,
                         device=dev)
    bt = torch.as_tensor(np.asarray(b, dtype=np.float32) if not torch.is_tensor(b) else b, dtype=torch.float32,
                         device=dev)
    if xt.shape != bt.shape or xt.dim() != 2:
        raise ValueError(f"x and b must be 2-D arrays of one shape, got {tuple(xt.shape)} and {tuple(bt.shape)}")
    data = Batch.from_values(xt, model)
    bt = torch.maximum(bt, data.missing)  # a missing cell is always unobserved (§4.3.3)
    chunk = max(1, max_rows // n_samples)
    out = []
    with torch.inference_mode():
        for s in range(0, len(data), chunk):
            part, bb = data[s:s + chunk], bt[s:s + chunk]
            fn = model.iwae if kind == "iwae" else model.mc
            est = fn(part, bb, n_samples, generator)
            out.append(est.double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def iwae_log_likelihood(model: VAEACModel, x: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor,
                        n_samples: int = 25, *, generator: torch.Generator | None = None,
                        max_rows: int = 16384) -> np.ndarray:
    """Importance-sampling (IWAE) estimate, eq. (18): z_s ~ q(z | x, b), weights p_θ p_ψ / q_φ.

    Needs a model with a proposal network (α > 0). Truly missing cells of ``x`` (NaN) are marginalised out.
    """
    return _estimate("iwae", model, x, b, n_samples, generator, max_rows)


def mc_log_likelihood(model: VAEACModel, x: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor,
                      n_samples: int = 25, *, generator: torch.Generator | None = None,
                      max_rows: int = 16384) -> np.ndarray:
    """Monte-Carlo estimate, eq. (17): z_s ~ p(z | x_{1-b}, b), averaging p_θ(x_b | z_s, x_{1-b}, b).

    Works for every model; for the NN model (delta prior) it is exact with one sample.
    """
    return _estimate("mc", model, x, b, n_samples, generator, max_rows)
