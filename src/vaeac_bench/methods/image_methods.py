"""Image inpainting methods of the registry (issue 10): VAEAC / GSNN on binary images and naive Bayes (table 9).

They are :class:`Imputer` subclasses so that the method registry, ``build`` and ``seed`` treat them like every
other method, but they score image datasets (``fit_images`` / ``nll`` / ``sample_images``); a table given to
``fit`` is refused with a message naming the image datasets. The VAEAC ones record which network (conv or FC)
produced a number and how many epochs ran against the paper's (30 on MNIST, 50 on Omniglot).
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import numpy as np

from ..schema import Schema
from .base import Imputer

IMAGE_ONLY = ("{name} is an image inpainting method: run it on an image dataset (mnist, omniglot, omniglot28), "
              "e.g. run-bench --datasets images --methods {name}")


class ImageMethod(Imputer):
    """Shared refusal of tabular data; subclasses implement ``fit_images``, ``nll`` and ``sample_images``."""

    multiple: ClassVar[bool] = True

    def _fit(self, X: np.ndarray, schema: Schema) -> None:
        raise TypeError(IMAGE_ONLY.format(name=type(self).__name__))

    def _impute(self, X: np.ndarray, n: int) -> np.ndarray:
        raise TypeError(IMAGE_ONLY.format(name=type(self).__name__))


class ImageVAEAC(ImageMethod):
    """VAEAC (``alpha=1``) or GSNN (``alpha=0``) on binary images, conv (A.1) or one-hidden-layer FC network."""

    def __init__(self, alpha: float = 1.0, network: str = "conv", epochs: int = 30, batch_size: int = 64,
                 lr: float = 3e-4, validation_samples: int = 25, max_train: int | None = None,
                 max_val: int | None = None, device: str = "cpu", random_state: int | None = None, verbose: int = 0):
        self.alpha = alpha
        self.network = network
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.validation_samples = validation_samples
        self.max_train = max_train
        self.max_val = max_val
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def fit_images(self, train: np.ndarray, val: np.ndarray, mask_fn: Any, dataset: str = "mnist",
                   checkpoint: str | os.PathLike | None = None) -> ImageVAEAC:
        """Train on (N, C, H, W) binary images with masks from ``mask_fn``; resumes from ``checkpoint`` if present."""
        import torch

        from ..nn.harness import resolve_device
        from .vaeac.image import PAPER_EPOCHS, ImageTrainConfig, ImageVAEACModel, default_arch, train_image_model
        from .vaeac.model import ObjectiveConfig

        if self.network not in ("conv", "fc"):
            raise ValueError(f"network must be 'conv' or 'fc', got {self.network!r}")
        if not 0.0 <= float(self.alpha) <= 1.0:
            raise ValueError(f"alpha must lie in [0, 1] (eq. 16), got {self.alpha!r}")
        for name in ("max_train", "max_val"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or int(v) < 1):
                raise ValueError(f"{name} must be None (all images) or an int >= 1, got {v!r}")
        train = train[: self.max_train] if self.max_train is not None else train
        val = val[: self.max_val] if self.max_val is not None else val
        seed = 0 if self.random_state is None else int(self.random_state)
        arch = default_arch(dataset, self.network, float(self.alpha))
        self.model_ = ImageVAEACModel(train.shape[1:], self.network, arch, ObjectiveConfig(alpha=float(self.alpha)),
                                      generator=torch.Generator().manual_seed(seed), device=resolve_device(self.device))
        cfg = ImageTrainConfig(epochs=int(self.epochs), batch_size=int(self.batch_size), lr=float(self.lr),
                               validation_samples=int(self.validation_samples))
        res = train_image_model(self.model_, train, val, mask_fn, cfg, seed, checkpoint=checkpoint,
                                verbose=bool(self.verbose))
        paper = PAPER_EPOCHS.get(dataset)
        self.history_ = {"val_epochs": res.val_epochs, "val_scores": res.val_scores, "train_loss": res.losses}
        self.fit_info_ = res.info.to_dict() | {
            "network": self.network, "paper_epochs": paper, "n_train": int(len(train)), "n_val": int(len(val)),
            "budget_note": (f"{res.info.epochs_run} of the paper's {paper} epochs" if paper else
                            f"{res.info.epochs_run} epochs"),
        }
        return self

    def estimators(self) -> tuple[str, ...]:
        """The NLL estimators this model supports: IS (eq. 18) needs a proposal, MC (eq. 17) always works."""
        return ("is", "mc") if float(self.alpha) > 0 else ("mc",)

    def _view(self) -> Any:
        from .vaeac.image import EstimatorView

        if not hasattr(self, "model_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit_images(train, val, mask_fn) first")
        return EstimatorView(self.model_)

    def nll(self, X: np.ndarray, mask: np.ndarray, kind: str, n_samples: int, seed: int = 0,
            batch_size: int = 64, sample_chunk: int = 100) -> np.ndarray:
        """−log p(x_b | x_{1-b}, b) per object: ``kind`` "is" (eq. 18, VAEAC only) or "mc" (eq. 17), S samples."""
        import torch

        from ..image_nll import is_nll, mc_nll

        if kind not in ("is", "mc"):
            raise ValueError(f"kind must be 'is' (importance sampling, eq. 18) or 'mc' (eq. 17), got {kind!r}")
        if kind == "is" and float(self.alpha) == 0.0:
            raise ValueError("GSNN (alpha=0) has no proposal network: use kind='mc'")
        fn = is_nll if kind == "is" else mc_nll
        return fn(self._view(), X, mask, n_samples, generator=torch.Generator().manual_seed(seed),
                  batch_size=batch_size, sample_chunk=sample_chunk)

    def sample_images(self, X: np.ndarray, mask: np.ndarray, n_samples: int, seed: int = 0) -> np.ndarray:
        """``n_samples`` inpaintings (S, N, C, H, W): hidden pixels drawn (Bernoulli), observed ones kept."""
        import torch

        view = self._view()
        x = torch.as_tensor(np.asarray(X), dtype=torch.float32)
        b = torch.as_tensor(np.asarray(mask), dtype=torch.float32).reshape(len(x), 1, *x.shape[2:])
        b = b.expand_as(x)
        g = torch.Generator().manual_seed(seed)
        model = view.model
        was = model.training
        model.eval()  # BatchNorm statistics: a sample must not depend on the other images of its batch
        try:
            with torch.inference_mode():
                dev = next(model.parameters()).device
                p = model.pixel_probs(x.to(dev), b.to(dev), n_samples, g).cpu()
                draws = (torch.rand(p.shape, generator=g) < p).float()
        finally:
            model.train(was)
        return torch.where(b.bool(), draws, x).numpy()


def all_hidden(n: int, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """The mask with every pixel unobserved: VAEAC then is a plain VAE (figure 9)."""
    return np.ones((n, height, width), dtype=bool)


class ImageVAE(ImageVAEAC):
    """A plain VAE (figure 9's baseline): :class:`ImageVAEAC` trained and scored with every pixel unobserved.

    With b = 1 the prior network sees a constant input, so p(z) is one learnt Gaussian, q(z | x) the encoder and
    the generator reads z alone: a VAE with a learnt Gaussian prior (the paper's VAE presumably used N(0, I)).
    Its validation IWAE and its NLL are −log p(x) of the whole image; the mask a cell passes is ignored.
    """

    def fit_images(self, train: np.ndarray, val: np.ndarray, mask_fn: Any, dataset: str = "mnist",
                   checkpoint: str | os.PathLike | None = None) -> ImageVAE:
        """Train as :class:`ImageVAEAC` with :func:`all_hidden` masks."""
        super().fit_images(train, val, all_hidden, dataset=dataset, checkpoint=checkpoint)
        self.fit_info_["nll_scope"] = "whole image (every pixel unobserved; the cell's mask is ignored)"
        return self

    def nll(self, X: np.ndarray, mask: np.ndarray, kind: str, n_samples: int, seed: int = 0,
            batch_size: int = 64, sample_chunk: int = 100) -> np.ndarray:
        """−log p(x) of each whole image (IS, eq. 18 with b = 1)."""
        full = all_hidden(len(X), X.shape[2], X.shape[3], np.random.default_rng(0))
        return super().nll(X, full, kind, n_samples, seed, batch_size, sample_chunk)


class NaiveBayesImageMethod(ImageMethod):
    """Table 9's baseline: independent per-pixel Bernoulli fit on train (Laplace smoothing), exact NLL."""

    def __init__(self, alpha: float = 1.0, max_train: int | None = None):
        self.alpha = alpha
        self.max_train = max_train

    def fit_images(self, train: np.ndarray, val: np.ndarray, mask_fn: Any, dataset: str = "mnist",
                   checkpoint: str | os.PathLike | None = None) -> NaiveBayesImageMethod:
        """Count ink per pixel on ``train`` (``val``, ``mask_fn`` and ``checkpoint`` are not needed)."""
        from .naive_bayes import NaiveBayesImages

        train = train[: self.max_train] if self.max_train is not None else train
        self.model_ = NaiveBayesImages(self.alpha).fit(train)
        self.fit_info_ = {"n_train": int(len(train)), "network": "none (independent pixels)"}
        return self

    def estimators(self) -> tuple[str, ...]:
        """Only the exact NLL (pixels are independent)."""
        return ("exact",)

    def nll(self, X: np.ndarray, mask: np.ndarray, kind: str, n_samples: int, seed: int = 0,
            batch_size: int = 64, sample_chunk: int = 100) -> np.ndarray:
        """The exact −log p(x_b) per object (every estimator gives it: pixels are independent)."""
        if not hasattr(self, "model_"):
            raise RuntimeError("NaiveBayesImageMethod is not fitted: call fit_images first")
        return self.model_.nll(X, mask)

    def sample_images(self, X: np.ndarray, mask: np.ndarray, n_samples: int, seed: int = 0) -> np.ndarray:
        """``n_samples`` completions (S, N, C, H, W)."""
        return self.model_.sample(X, mask, n_samples, np.random.default_rng(seed))
