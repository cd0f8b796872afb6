"""CelebA inpainting methods of the registry (issue 11): Gaussian VAEAC / GSNN, Gaussian naive Bayes, classical.

Every method takes faces (N, 3, H, W) float in [0, 1] and masks (N, H, W) with True = unobserved, and gives
``sample_images(x, mask, S, seed) -> (S, N, 3, H, W)`` inpaintings in [0, 1] with the observed pixels kept;
the ones with a density also give ``nll`` (table 9, in the normalised space the model is trained in, A.3).

* :class:`CelebAVAEAC`: VAEAC (α = 1) or GSNN (α = 0) with the Gaussian likelihood of
  :mod:`.celeba_model`; channels normalised by the training set's per-channel mean and std (A.3). An
  inpainting is the generator's mean μ_θ(z) for z drawn from the prior, as the reference ``inpaint.py``
  (facts §2), so 10 inpaintings differ only through z;
* :class:`GaussianNaiveBayes`: each pixel-channel an independent Gaussian fit on train (table 9's "pixels and
  colors independence"); its exact NLL, and the per-pixel mean as its inpainting;
* :class:`ClassicalInpainting`: scikit-image's biharmonic inpainting and OpenCV's Telea and Navier-Stokes
  (optional extra ``inpainting``), deterministic, so one inpainting is also the best of 10.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from .image_methods import ImageMethod

#: the paper trains its CelebA models for 50 epochs (A.3)
PAPER_EPOCHS = 50


def _masks(mask: np.ndarray, n: int) -> np.ndarray:
    m = np.asarray(mask, dtype=bool)
    if m.ndim == 4:
        m = m[:, 0]
    if m.ndim != 3 or m.shape[0] != n:
        raise ValueError(f"mask must be (N, H, W) (True = unobserved) for {n} images, got shape {m.shape}")
    return m


class CelebAVAEAC(ImageMethod):
    """VAEAC (``alpha=1``) or GSNN (``alpha=0``) on colour faces: Gaussian likelihood, 64 latents (A.3)."""

    # the defaults are the registered budget (methods/registry.py, _CELEBA_NN): 20 epochs on the whole train split
    def __init__(self, alpha: float = 1.0, epochs: int = 20, batch_size: int = 16, lr: float = 2e-4,
                 blocks: int = 1, latent_dim: int = 64, validation_samples: int = 25, max_val: int | None = 64,
                 max_train: int | None = None, device: str = "cpu", random_state: int | None = None,
                 verbose: int = 0):
        self.alpha = alpha
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.blocks = blocks
        self.latent_dim = latent_dim
        self.validation_samples = validation_samples
        self.max_val = max_val
        self.max_train = max_train
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def fit_images(self, train: np.ndarray, val: np.ndarray, mask_fn: Any, dataset: str = "celeba64",
                   checkpoint: str | os.PathLike | None = None) -> CelebAVAEAC:
        """Normalise channels by train's statistics (A.3) and train; resumes from ``checkpoint`` if present.

        The statistics are those of the whole ``train``, also when ``max_train`` trains on its first images only,
        so that this model's NLL is in the same normalised space as naive Bayes' (table 9).
        """
        from ..datasets.celeba import channel_stats
        from ..nn.harness import resolve_device
        from .celeba_model import train_celeba

        stats = channel_stats(train)
        train = train[: self.max_train] if self.max_train is not None else train
        val = val[: self.max_val] if self.max_val is not None else val
        res = int(train.shape[-1])
        self.model_, self.mean_, self.std_, out = train_celeba(
            train, val, mask_fn, alpha=float(self.alpha), epochs=int(self.epochs), batch_size=int(self.batch_size),
            lr=float(self.lr), blocks=int(self.blocks), latent_dim=int(self.latent_dim),
            validation_samples=int(self.validation_samples), seed=0 if self.random_state is None else int(
                self.random_state), device=resolve_device(self.device), checkpoint=checkpoint,
            verbose=bool(self.verbose), stats=stats)
        self.history_ = {"val_epochs": out.val_epochs, "val_scores": out.val_scores, "train_loss": out.losses}
        self.fit_info_ = out.info.to_dict() | {
            "network": f"conv ResNet (reference CelebA structure at {res}², {self.blocks} block(s)/stage)",
            "paper_epochs": PAPER_EPOCHS, "n_train": int(len(train)), "n_val": int(len(val)),
            "budget_note": f"{out.info.epochs_run} of the paper's {PAPER_EPOCHS} epochs",
        }
        return self

    def normalise(self, x: np.ndarray) -> np.ndarray:
        """[0, 1] images -> the per-channel standardised values the model sees (A.3)."""
        from .celeba_model import normalise

        return normalise(x, self.mean_, self.std_)

    def denormalise(self, z: np.ndarray) -> np.ndarray:
        """The model's values -> [0, 1] images, clipped."""
        return np.clip(np.asarray(z) * self.std_[:, None, None] + self.mean_[:, None, None], 0.0, 1.0)

    def estimators(self) -> tuple[str, ...]:
        """IS (eq. 18) needs a proposal (VAEAC); MC (eq. 17) always works."""
        return ("is", "mc") if float(self.alpha) > 0 else ("mc",)

    def _fitted(self) -> Any:
        if not hasattr(self, "model_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit_images(train, val, mask_fn) first")
        return self.model_

    def nll(self, X: np.ndarray, mask: np.ndarray, kind: str, n_samples: int, seed: int = 0,
            batch_size: int = 16, sample_chunk: int = 10) -> np.ndarray:
        """−log p(x_b | x_{1-b}, b) per object in nats, of the normalised values (the paper's space, A.3)."""
        import torch

        from ..image_nll import is_nll, mc_nll
        from .vaeac.image import EstimatorView

        if kind not in self.estimators():
            raise ValueError(f"kind must be one of {self.estimators()} for alpha={self.alpha}, got {kind!r}")
        m = _masks(mask, len(X))
        fn = is_nll if kind == "is" else mc_nll
        return fn(EstimatorView(self._fitted()), self.normalise(X), m, n_samples,
                  generator=torch.Generator().manual_seed(seed), batch_size=batch_size, sample_chunk=sample_chunk)

    def sample_images(self, X: np.ndarray, mask: np.ndarray, n_samples: int, seed: int = 0,
                      batch_size: int = 16) -> np.ndarray:
        """``n_samples`` inpaintings (S, N, 3, H, W) in [0, 1]: μ_θ(z), z from the prior; observed pixels kept."""
        import torch

        model = self._fitted()
        x = np.asarray(X, dtype=np.float32)
        m = _masks(mask, len(x))
        g = torch.Generator().manual_seed(seed)
        out = np.empty((n_samples, *x.shape), dtype=np.float32)
        dev = next(model.parameters()).device
        was = model.training
        model.eval()  # BatchNorm statistics: an inpainting must not depend on the other images of its batch
        try:
            with torch.inference_mode():
                for s in range(0, len(x), batch_size):
                    xb = torch.as_tensor(self.normalise(x[s:s + batch_size])).to(dev)
                    bb = torch.as_tensor(m[s:s + batch_size, None]).float().to(dev).expand_as(xb)
                    mu = model.inpaint_means(xb, bb, n_samples, g).cpu().numpy()
                    out[:, s:s + batch_size] = self.denormalise(mu.reshape(-1, *x.shape[1:])).reshape(mu.shape)
        finally:
            model.train(was)
        return np.where(m[None, :, None], out, x[None])


class GaussianNaiveBayes(ImageMethod):
    """Table 9's baseline on colour images: every pixel-channel an independent Gaussian (normalised space)."""

    def __init__(self, var_floor: float = 1e-4):
        self.var_floor = var_floor

    def fit_images(self, train: np.ndarray, val: np.ndarray, mask_fn: Any, dataset: str = "celeba64",
                   checkpoint: str | os.PathLike | None = None) -> GaussianNaiveBayes:
        """Per-channel normalisation as the VAEAC (A.3), then a mean and variance per pixel-channel."""
        from ..datasets.celeba import channel_stats

        x = np.asarray(train, dtype=np.float64)
        self.mean_, self.std_ = channel_stats(train)
        z = (x - self.mean_[:, None, None]) / self.std_[:, None, None]
        self.mu_, self.var_ = z.mean(0), np.maximum(z.var(0), self.var_floor)
        self.fit_info_ = {"n_train": int(len(train)), "network": "none (independent pixel-channels)"}
        return self

    def estimators(self) -> tuple[str, ...]:
        """Only the exact NLL."""
        return ("exact",)

    def nll(self, X: np.ndarray, mask: np.ndarray, kind: str = "exact", n_samples: int = 1, seed: int = 0,
            **_: Any) -> np.ndarray:
        """Exact −Σ_{hidden pixel-channels} log N(z | μ, σ²) per object, z the normalised values."""
        if kind not in self.estimators():
            raise ValueError(f"kind must be 'exact' (pixel-channels are independent), got {kind!r}")
        if not hasattr(self, "mu_"):
            raise RuntimeError("GaussianNaiveBayes is not fitted: call fit_images first")
        x = np.asarray(X, dtype=np.float64)
        m = np.broadcast_to(_masks(mask, len(x))[:, None], x.shape)
        z = (x - self.mean_[:, None, None]) / self.std_[:, None, None]
        lp = -0.5 * (math.log(2 * math.pi) + np.log(self.var_) + (z - self.mu_) ** 2 / self.var_)
        return -(lp * m).reshape(len(x), -1).sum(1)

    def sample_images(self, X: np.ndarray, mask: np.ndarray, n_samples: int, seed: int = 0) -> np.ndarray:
        """The per-pixel mean face in the hidden pixels (deterministic), ``n_samples`` copies."""
        x = np.asarray(X, dtype=np.float32)
        m = _masks(mask, len(x))[:, None]
        face = np.clip(self.mu_ * self.std_[:, None, None] + self.mean_[:, None, None], 0, 1).astype(np.float32)
        return np.broadcast_to(np.where(m, face[None], x)[None], (n_samples, *x.shape)).copy()


CLASSICAL = ("biharmonic", "telea", "navier-stokes")


class ClassicalInpainting(ImageMethod):
    """Biharmonic (scikit-image), Telea or Navier-Stokes (OpenCV, radius 3 px): no training, one answer."""

    def __init__(self, algorithm: str = "biharmonic", radius: int = 3):
        self.algorithm = algorithm
        self.radius = radius

    def fit_images(self, train: np.ndarray, val: np.ndarray, mask_fn: Any, dataset: str = "celeba64",
                   checkpoint: str | os.PathLike | None = None) -> ClassicalInpainting:
        """Nothing to learn; checks that the library is installed (``pip install vaeac-bench[inpainting]``)."""
        if self.algorithm not in CLASSICAL:
            raise ValueError(f"algorithm must be one of {CLASSICAL}, got {self.algorithm!r}")
        try:
            if self.algorithm == "biharmonic":
                import skimage.restoration  # noqa: F401
            else:
                import cv2  # noqa: F401
        except ImportError as err:
            raise ImportError(f"{self.algorithm} inpainting needs the optional extra: pip install "
                              f"'vaeac-bench[inpainting]' ({err})") from err
        self.fit_info_ = {"n_train": 0, "network": "none (classical inpainting)"}
        return self

    def estimators(self) -> tuple[str, ...]:
        """No density, so no NLL."""
        return ()

    def inpaint(self, X: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """One inpainting (N, 3, H, W) in [0, 1]; observed pixels kept."""
        if not hasattr(self, "fit_info_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit_images first (it checks the "
                               "algorithm and the optional library)")
        x = np.asarray(X, dtype=np.float32)
        m = _masks(mask, len(x))
        out = np.empty_like(x)
        for i in range(len(x)):
            img = x[i].transpose(1, 2, 0)
            if self.algorithm == "biharmonic":
                from skimage.restoration import inpaint_biharmonic

                res = inpaint_biharmonic(img.astype(np.float64), m[i], channel_axis=-1)
            else:
                import cv2

                flag = cv2.INPAINT_TELEA if self.algorithm == "telea" else cv2.INPAINT_NS
                u8 = np.round(img * 255).astype(np.uint8)
                res = cv2.inpaint(np.ascontiguousarray(u8), m[i].astype(np.uint8), self.radius, flag) / 255.0
            out[i] = np.clip(res, 0, 1).transpose(2, 0, 1)
        return np.where(m[:, None], out, x)

    def sample_images(self, X: np.ndarray, mask: np.ndarray, n_samples: int, seed: int = 0) -> np.ndarray:
        """``n_samples`` copies of the one deterministic inpainting."""
        one = self.inpaint(X, mask)
        return np.broadcast_to(one[None], (n_samples, *one.shape)).copy()
