"""Binarised image datasets of the paper's inpainting half (A.3): MNIST, Omniglot 105x105 and omniglot28.

Files are looked up like the tabular ones (:mod:`.sources`: an explicit ``data_dir``, then
``$VAEAC_BENCH_DATA``, then the user cache) and verified against the sha256 in :data:`IMAGE_SPECS` (copied from
the data MANIFEST) before they are parsed. Every loader returns float32 arrays of shape (N, 1, H, W) with values
in {0, 1}, 1 = ink.

Splits: the official train/test split (MNIST 60000/10000; Omniglot "background" 19280 / "evaluation" 13180,
the paper's A.3 counts), and a validation part carved from train by a seeded permutation (the paper selects the
best epoch by validation IWAE but does not say how the validation set is made).

Binarisation (the paper only says "we binarize all images", A.3): a **fixed threshold at 0.5** (MNIST pixel
/ 255 >= 0.5). A fixed threshold gives one data set, identical for every method, seed and run, so the NLL
numbers of different methods and of a resumed run score the very same pixels; a stochastic binarisation would
make the test set itself depend on a seed. Measured with naive Bayes on the line mask (1000 test images): 177
nats at 0.5, 177 with a stochastic binarisation, 207.5 with "every non-zero pixel is ink", against the paper's
205 (table 9), so the paper may have used a much lower threshold; ``threshold=`` lets a run test that.

Omniglot is already binary (the stored file has True = background, so it is inverted: ink = 1). ``omniglot28``
is Omniglot area-averaged to 28x28 and thresholded at :data:`OMNIGLOT28_THRESHOLD` = 0.5 (measured on the
training images: ink fraction 0.078 at 105x105, 0.082 after downscaling; 0.25 would give 0.112); it is a
different data set from ``omniglot`` and its numbers must never be set beside the paper's 105x105 ones.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .sources import DataNotFoundError, cache_dir, search_dirs, verify

#: Ink fraction of a 28x28 cell from which the downscaled Omniglot pixel is ink (see the module docstring).
OMNIGLOT28_THRESHOLD = 0.5


@dataclass(frozen=True)
class ImageSpec:
    """One image data set: its files (relative to the data dir, with sha256), size and default validation size."""

    name: str
    title: str
    files: tuple[tuple[str, str], ...]  # (relative path, sha256)
    height: int
    width: int
    n_train: int
    n_test: int
    val_size: int
    latent_dim: int  # A.3: 16 for MNIST, 64 for Omniglot


_MNIST = (("mnist/mnist.npz", "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64"),)
_OMNIGLOT = (
    ("omniglot/images_background.npz", "8bf84167413cd00beacdce3fe582f780ab538d8dbef043a6d688f2527bbce199"),
    ("omniglot/images_evaluation.npz", "0b84c7ffd94c4841c0040e529c86a82eaaccb986d8eadad5673f7991b7475276"),
)

IMAGE_SPECS: dict[str, ImageSpec] = {
    "mnist": ImageSpec("mnist", "Binarised MNIST (threshold 0.5)", _MNIST, 28, 28, 60000, 10000, 10000, 16),
    "omniglot": ImageSpec("omniglot", "Omniglot 105x105 (ink = 1)", _OMNIGLOT, 105, 105, 19280, 13180, 2000, 64),
    "omniglot28": ImageSpec("omniglot28", "Omniglot downscaled to 28x28 (not the paper's resolution)", _OMNIGLOT,
                            28, 28, 19280, 13180, 2000, 64),
}


@dataclass(frozen=True)
class ImageData:
    """Train / validation / test images (N, 1, H, W) float32 in {0, 1} and their class labels."""

    name: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    y_train: np.ndarray
    y_val: np.ndarray
    y_test: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of one image."""
        return tuple(self.train.shape[1:])  # type: ignore[return-value]


def locate_file(rel: str, sha256: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Find ``rel`` in the data dir, ``$VAEAC_BENCH_DATA`` or the cache, verified against ``sha256``."""
    looked = []
    for d in [*search_dirs(data_dir), cache_dir()]:
        p = Path(d) / rel
        looked.append(str(p))
        if p.is_file():
            verify(p, sha256)
            return p
    where = "\n  ".join(looked)
    raise DataNotFoundError(f"image file {rel!r} not found. Looked in:\n  {where}\nPoint --data-dir or "
                            f"$VAEAC_BENCH_DATA at a folder holding {rel} (see the data MANIFEST).")


def binarise(x: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Fixed-threshold binarisation of intensities in [0, 1]: 1 where ``x >= threshold`` (float32)."""
    return (np.asarray(x) >= threshold).astype(np.float32)


def downscale(images: np.ndarray, size: int, threshold: float = OMNIGLOT28_THRESHOLD,
              chunk: int = 2048) -> np.ndarray:
    """Area-average (N, 1, H, W) binary images to ``size`` x ``size`` and re-binarise at ``threshold``."""
    import torch
    import torch.nn.functional as F

    out = np.empty((images.shape[0], 1, size, size), dtype=np.float32)
    for s in range(0, images.shape[0], chunk):
        t = torch.from_numpy(np.ascontiguousarray(images[s:s + chunk], dtype=np.float32))
        out[s:s + chunk] = F.interpolate(t, size=(size, size), mode="area").numpy()
    return binarise(out, threshold)


def validation_split(n: int, val_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (train, validation) index arrays of ``range(n)``; both sorted so the data order is kept."""
    if not 0 <= val_size < n:
        raise ValueError(f"val_size must lie in [0, {n}) for {n} training images, got {val_size}")
    perm = np.random.default_rng(np.random.SeedSequence([seed, 0x1A6E])).permutation(n)
    return np.sort(perm[val_size:]), np.sort(perm[:val_size])


def _load_mnist(spec: ImageSpec, data_dir: str | os.PathLike | None, threshold: float) -> tuple[np.ndarray, ...]:
    (rel, sha), = spec.files
    with np.load(locate_file(rel, sha, data_dir)) as z:
        xtr, ytr, xte, yte = z["x_train"], z["y_train"], z["x_test"], z["y_test"]
    return (binarise(xtr[:, None] / 255.0, threshold), ytr.astype(np.int64), binarise(xte[:, None] / 255.0, threshold),
            yte.astype(np.int64))


def _load_omniglot(spec: ImageSpec, data_dir: str | os.PathLike | None) -> tuple[np.ndarray, ...]:
    parts = []
    for rel, sha in spec.files:
        with np.load(locate_file(rel, sha, data_dir)) as z:
            img, lab = z["images"], z["labels"]
        # True = white background in the stored file: invert so ink = 1 (MANIFEST)
        x = (~img.reshape(-1, 1, 105, 105)).astype(np.float32)
        parts += [x, lab.reshape(-1).astype(np.int64)]
    return tuple(parts)


def load_images(name: str, data_dir: str | os.PathLike | None = None, *, seed: int = 0,
                val_size: int | None = None, threshold: float = 0.5) -> ImageData:
    """Load ``mnist``, ``omniglot`` or ``omniglot28`` with its official test set and a seeded validation part.

    ``val_size`` images (default: the spec's) are moved from train to validation by a permutation seeded with
    ``seed``; the same seed always gives the same split. ``threshold`` binarises MNIST intensities and the
    area-averaged omniglot28 cells (Omniglot 105x105 is binary already). Memory: float32 Omniglot 105x105 is
    about 1.4 GB (train + test); MNIST and omniglot28 about 0.2 GB.
    """
    key = str(name).strip().lower()
    if key not in IMAGE_SPECS:
        raise ValueError(f"unknown image dataset {name!r}; pass one of {sorted(IMAGE_SPECS)}")
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must lie in (0, 1] (a fraction of full intensity), got {threshold!r}")
    spec = IMAGE_SPECS[key]
    xtr, ytr, xte, yte = (_load_mnist(spec, data_dir, threshold) if key == "mnist"
                          else _load_omniglot(spec, data_dir))
    if key == "omniglot28":
        xtr, xte = downscale(xtr, 28, threshold), downscale(xte, 28, threshold)
    if xtr.shape[0] != spec.n_train or xte.shape[0] != spec.n_test:
        raise ValueError(f"{key}: expected {spec.n_train}/{spec.n_test} train/test images, found "
                         f"{xtr.shape[0]}/{xte.shape[0]}; the data files are not the MANIFEST's")
    tr, va = validation_split(xtr.shape[0], spec.val_size if val_size is None else int(val_size), seed)
    return ImageData(key, xtr[tr], xtr[va], xte, ytr[tr], ytr[va], yte)
