"""GAIN on binary images (appendix D.4, figure 11): the tabular :class:`GAINImputer` through its public interface.

D.4 runs "the released GAIN code with a different mask generator" on MNIST with the line mask: GAIN never sees an
unobserved pixel, so each training image gets one mask from p(b) (drawn once, as the authors' code draws its
missingness once) and its hidden pixels become NaN. Every pixel is a binary categorical column, so ``"modified"``
(A.4) one-hots it with a softmax output and loss (12), and ``"original"`` min-max scales it and rounds the output.
The hidden width is 256, as the authors' MNIST code (reference-code-facts §5, ``1996ed9``; the tabular default of
"data width" would be 1568 wide here); the original variant takes that code's alpha = 10.

GAIN has no likelihood, so its cells report no NLL: they give the training time, the 100-sample time and the
gallery (figure 11). Its samples are GAIN's own outputs: argmax of each pixel's softmax (modified) or the rounded
sigmoid (original), with fresh generator noise per sample, drawn on a stream named by ``sample_images``'s seed.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..argcheck import check_int
from .image_methods import ImageMethod


def pixel_schema(n_pixels: int) -> Any:
    """A table schema of ``n_pixels`` binary categorical columns."""
    from ..schema import Schema

    return Schema.from_kinds([f"px{i}" for i in range(n_pixels)], [2] * n_pixels)


def masked_table(X: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Images (N, C, H, W) as a float table (N, C·H·W) with NaN where ``mask`` (N, H, W) is True."""
    n, c = len(X), X.shape[1]
    table = np.asarray(X, dtype=float).reshape(n, -1).copy()
    table[np.tile(np.asarray(mask, dtype=bool).reshape(n, -1), (1, c))] = np.nan
    return table


class ImageGAIN(ImageMethod):
    """GAIN (``variant`` "original" or "modified", A.4) trained on masked images, imputing the hidden pixels."""

    def __init__(self, variant: str = "modified", alpha: float | None = None, iterations: int = 10000,
                 batch_size: int = 128, hidden_dim: int = 256, eval_every: int = 100, max_train: int | None = None,
                 device: str = "cpu", random_state: int | None = None, verbose: int = 0):
        self.variant = variant
        self.alpha = alpha
        self.iterations = iterations
        self.batch_size = batch_size
        self.hidden_dim = hidden_dim
        self.eval_every = eval_every
        self.max_train = max_train
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def fit_images(self, train: np.ndarray, val: np.ndarray, mask_fn: Any, dataset: str = "mnist",
                   checkpoint: str | os.PathLike | None = None) -> ImageGAIN:
        """Hide one ``mask_fn`` mask per training image and fit GAIN on what is left (``val`` is not used)."""
        from .gain import GAINImputer

        train = train[: self.max_train] if self.max_train is not None else train
        seed = 0 if self.random_state is None else int(self.random_state)
        n, c, h, w = train.shape
        self.shape_ = (int(c), int(h), int(w))
        b = mask_fn(n, h, w, np.random.default_rng(np.random.SeedSequence([seed, 3])))
        self.model_ = GAINImputer(variant=self.variant, alpha=self.alpha, iterations=int(self.iterations),
                                  batch_size=int(self.batch_size), hidden_dim=int(self.hidden_dim),
                                  eval_every=int(self.eval_every), random_state=seed, device=self.device,
                                  checkpoint=None if checkpoint is None else str(checkpoint),
                                  verbose=int(self.verbose))
        self.model_.fit(masked_table(train, b), pixel_schema(c * h * w))
        info = dict(self.model_.fit_info_)
        self.history_ = {"val_iterations": [int(i) for i, _ in self.model_.history_],
                         "val_error": [float(e) for _, e in self.model_.history_]}
        self.fit_info_ = info | {
            "network": f"GAIN {self.variant} MLPs (hidden {self.hidden_dim})", "n_train": int(n), "n_val": 0,
            "epochs_run": info.get("epochs_run"), "paper_epochs": None,
            "budget_note": f"{info.get('epochs_run')} iterations of batch {self.batch_size}",
        }
        return self

    def estimators(self) -> tuple[str, ...]:
        """None: GAIN defines no likelihood (figure 11 shows samples only)."""
        return ()

    def nll(self, X: np.ndarray, mask: np.ndarray, kind: str, n_samples: int, seed: int = 0,
            batch_size: int = 64, sample_chunk: int = 100) -> np.ndarray:
        """Refused: GAIN has no likelihood to score."""
        raise ValueError("GAIN defines no likelihood of the hidden pixels; it has no NLL estimator")

    def sample_images(self, X: np.ndarray, mask: np.ndarray, n_samples: int, seed: int = 0) -> np.ndarray:
        """``n_samples`` GAIN imputations (S, N, C, H, W), fresh generator noise for each.

        The noise is drawn from a torch generator seeded from ``seed`` (and the fitted model's seed): the same
        seed gives the same samples, another seed other ones.
        """
        if not hasattr(self, "model_"):
            raise RuntimeError("ImageGAIN is not fitted: call fit_images(train, val, mask_fn) first")
        check_int(n_samples, "n_samples", 1)
        out = self.model_.impute(masked_table(X, mask), int(n_samples), stream=f"image-samples-{int(seed)}")
        return out.reshape(int(n_samples), len(X), *self.shape_)
