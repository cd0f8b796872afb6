"""Torch building blocks shared by the neural imputers (VAEAC/GSNN/NN, GAIN, UM).

* :class:`FeatureLayout` / :class:`LayoutTensors`: where each column lives in the one-hot input and in a
  network's parameter output (built once from a :class:`~vaeac_bench.schema.Schema`).
* :func:`one_hot`, :func:`expand_mask`, :func:`observed_input`, :func:`full_input`: encoding of the numeric
  layout (NaN = missing) for a network.
* :func:`log_prob`, :func:`sample`, :func:`categorical_log_probs`: masked mixed Gaussian/categorical
  likelihood (σ fixed at 1 or learnt; categorical probabilities clamped at 1e-4) and sampling.
* :class:`ResidualBlock`, :class:`ResidualMLP`, :class:`SplitLinear`, :func:`make_activation`,
  :func:`build_seeded`: layers (one residual trunk for VAEAC and the UM) and seeded initialisation without
  torch's global RNG.
* :func:`split_gaussian`, :func:`kl_normal`, :func:`log_normal`, :func:`normal_gamma_regulariser`: latent
  Gaussians.
* :mod:`.harness`: the one training loop of every neural method (validation, early stopping, budget
  extension, checkpoint/resume, progress, device placement).

Importing this package imports torch; the rest of ``vaeac_bench`` does not.
"""

from __future__ import annotations

from .blocks import ACTIVATIONS, ResidualBlock, ResidualMLP, SplitLinear, build_seeded, make_activation, reset_linear_
from .encoding import expand_mask, full_input, observed_input, one_hot
from .gaussian import LATENT_SIGMA_FLOOR, kl_normal, log_normal, normal_gamma_regulariser, split_gaussian
from .layout import FeatureLayout, LayoutTensors
from .likelihood import MIN_PROB, SIGMA_FLOOR, categorical_log_probs, gaussian_sigma, log_prob, sample

__all__ = [
    "ACTIVATIONS", "LATENT_SIGMA_FLOOR", "MIN_PROB", "SIGMA_FLOOR", "FeatureLayout", "LayoutTensors",
    "ResidualBlock", "ResidualMLP", "SplitLinear", "build_seeded", "categorical_log_probs", "expand_mask", "full_input",
    "gaussian_sigma",
    "kl_normal", "log_normal", "log_prob", "make_activation", "normal_gamma_regulariser", "observed_input",
    "one_hot", "reset_linear_", "sample", "split_gaussian",
]
