"""Naive Bayes baseline of table 9: pixels independent, each a Bernoulli fit on the training images.

Table 9 (appendix C.3): "Naive Bayes is a baseline method which assumes pixels and colors independence".
The per-pixel probability is Laplace-smoothed, p = (ones + 1) / (N + 2): with the raw frequency a pixel never
inked in train (MNIST's borders) would get p = 0 and one inked test pixel an infinite NLL. Because the pixels
are independent, the NLL of the hidden pixels given the observed ones is exact:
−Σ_{i ∈ b} log Bernoulli(x_i | p_i), and the observed pixels change nothing.
"""

from __future__ import annotations

import numpy as np


def _images(x: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 3:
        a = a[:, None]
    if a.ndim != 4:
        raise ValueError(f"{name} must be (N, C, H, W) images or (N, H, W) masks, got shape {a.shape}")
    return a


class NaiveBayesImages:
    """Per-pixel Bernoulli model of binary images (scikit-learn style: ``fit`` then ``nll`` / ``sample``)."""

    def __init__(self, alpha: float = 1.0):
        """``alpha``: the additive (Laplace, alpha = 1) smoothing count per outcome."""
        self.alpha = alpha

    def fit(self, X: np.ndarray) -> NaiveBayesImages:
        """Estimate p_i = (Σ x_i + alpha) / (N + 2·alpha) for every pixel of the (N, C, H, W) binary ``X``."""
        if not self.alpha > 0:
            raise ValueError(f"alpha must be > 0 (Laplace smoothing keeps every p inside (0, 1)), got {self.alpha!r}")
        x = _images(X, "X")
        if x.shape[0] == 0 or not np.isin(x, (0.0, 1.0)).all():
            raise ValueError("X must be a non-empty array of binary images with values in {0, 1}")
        self.pixel_prob_ = (x.sum(0) + self.alpha) / (x.shape[0] + 2 * self.alpha)
        return self

    def _check(self, X: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not hasattr(self, "pixel_prob_"):
            raise RuntimeError("NaiveBayesImages is not fitted: call fit(train_images) first")
        x, m = _images(X, "X"), _images(mask, "mask").astype(bool)
        if x.shape[1:] != self.pixel_prob_.shape:
            raise ValueError(f"X has image shape {x.shape[1:]}, the model was fit on {self.pixel_prob_.shape}")
        m = np.broadcast_to(m, x.shape) if m.shape[1] == 1 else m
        if m.shape != x.shape:
            raise ValueError(f"mask must match X, got shapes {m.shape} and {x.shape}")
        return x, m

    def nll(self, X: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Exact −log p(x_b) per image in nats, summed over the pixels where ``mask`` is True (unobserved)."""
        x, m = self._check(X, mask)
        p = self.pixel_prob_
        ll = np.where(x > 0.5, np.log(p), np.log1p(-p))
        return -(ll * m).reshape(x.shape[0], -1).sum(1)

    def sample(self, X: np.ndarray, mask: np.ndarray, n_samples: int, rng: np.random.Generator) -> np.ndarray:
        """``n_samples`` completions (S, N, C, H, W): hidden pixels drawn from their Bernoulli, observed ones kept."""
        x, m = self._check(X, mask)
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy Generator (np.random.default_rng(seed)), got {type(rng).__name__}")
        draws = (rng.random((n_samples, *x.shape)) < self.pixel_prob_).astype(np.float32)
        return np.where(m, draws, x.astype(np.float32))
