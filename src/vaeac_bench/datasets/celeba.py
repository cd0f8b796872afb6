"""CelebA faces for the inpainting tables 3, 4 and 9 (issue 11; paper §5.2, A.3).

Two sources, chosen by :func:`find_celeba_source`:

* **official**: the aligned 178×218 JPEGs (``img_align_celeba/NNNNNN.jpg``) in a user-supplied folder (an explicit
  ``official_dir``, else ``celeba/`` under ``data_dir``, ``$VAEAC_BENCH_DATA`` or the user cache). Each image is
  centre-cropped to 128×128 (the reference code's ``CenterCrop(128)``, facts §2) and kept at 128² or resized to
  64² (PIL bilinear). The official ``list_eval_partition.txt`` (0 train, 1 validation, 2 test) is used when it
  sits beside ``img_align_celeba``; otherwise the seeded split of :func:`seeded_split`.
* **subset** (the default here): ``celeba_subset/celeba_aligned_000001-010000_89x109.zip``, the first 10,000 real
  aligned images at half resolution (89×109). Their central 64×64 crop is the usual preprocessing (a central 128
  crop of the full image resized to 64; data MANIFEST). All 10,000 lie in the official *train* partition, so the
  split is our seeded rule: 8,000 train / 1,000 validation / 1,000 test (:data:`SUBSET_SPLIT`). Only 64² exists.

The images are non-commercial research data: they are read where they are and never copied anywhere.

Arrays are float32 (N, 3, H, W) in [0, 1]. The channel normalisation of A.3 ("we normalize the channels") is the
model's job: :func:`channel_stats` gives the per-channel mean and std of the training images (the reference code
uses ``Normalize(0.5, 0.5)`` instead; we follow the paper).
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .sources import DataNotFoundError, cache_dir, search_dirs, verify

SUBSET_FILE = "celeba_subset/celeba_aligned_000001-010000_89x109.zip"
SUBSET_SHA256 = "20181233426bbf9b11813189a8399d2142840fc079b4d4fbdeac10959ab50e7f"
#: (train, validation, test) sizes of the seeded split of the 10k subset (ours: the paper uses the official one)
SUBSET_SPLIT = (8000, 1000, 1000)
#: the official partition's sizes (A.3: 162770 / 19867 / 19962)
OFFICIAL_SIZES = (162770, 19867, 19962)
RESOLUTIONS = (64, 128)
OFFICIAL_CROP = 128  # reference CenterCrop(128) of the 178x218 aligned image (facts §2)


@dataclass(frozen=True)
class CelebAData:
    """Train / validation / test faces (N, 3, H, W) float32 in [0, 1] and where they came from."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    source: str  # "subset" or "official"
    resolution: int
    split_rule: str  # "official partition file" or the seeded rule

    @property
    def shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of one image."""
        return tuple(self.train.shape[1:])  # type: ignore[return-value]

    def describe(self) -> str:
        """One line naming the source, resolution and split (printed beside every number)."""
        what = "CelebA 10k subset (first 10,000 aligned images)" if self.source == "subset" else "CelebA (official)"
        return (f"{what}, {self.resolution}×{self.resolution}, {len(self.train)}/{len(self.val)}/{len(self.test)} "
                f"train/val/test ({self.split_rule})")


def center_crop_box(width: int, height: int, size: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the central ``size`` square, rounded as torchvision's ``CenterCrop``."""
    if size > min(width, height):
        raise ValueError(f"cannot crop {size}x{size} from a {width}x{height} image")
    left, top = int(round((width - size) / 2.0)), int(round((height - size) / 2.0))
    return left, top, left + size, top + size


def _decode(data: bytes, crop: int, resolution: int) -> np.ndarray:
    """JPEG bytes -> (3, resolution, resolution) uint8: central ``crop`` square, resized when needed."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im = im.convert("RGB")
        im = im.crop(center_crop_box(im.width, im.height, crop))
        if crop != resolution:
            im = im.resize((resolution, resolution), Image.BILINEAR)
        return np.asarray(im, dtype=np.uint8).transpose(2, 0, 1)


def seeded_split(n: int, sizes: tuple[int, int, int] | None, seed: int) -> tuple[np.ndarray, ...]:
    """Sorted (train, val, test) indices of ``range(n)`` from a permutation seeded by ``seed``.

    ``sizes`` None gives the official proportions (80.3 / 9.8 / 9.9 %). The same seed always gives the same split.
    """
    if sizes is None:
        tot = sum(OFFICIAL_SIZES)
        n_val, n_test = round(n * OFFICIAL_SIZES[1] / tot), round(n * OFFICIAL_SIZES[2] / tot)
        sizes = (n - n_val - n_test, n_val, n_test)
    if sum(sizes) > n or min(sizes) < 1:
        raise ValueError(f"split sizes {sizes} need {sum(sizes)} images (each >= 1), only {n} available")
    perm = np.random.default_rng(np.random.SeedSequence([seed, 0xCE1EBA])).permutation(n)
    a, b = sizes[0], sizes[0] + sizes[1]
    return np.sort(perm[:a]), np.sort(perm[a:b]), np.sort(perm[b:b + sizes[2]])


def find_celeba_source(data_dir: str | os.PathLike | None = None,
                       official_dir: str | os.PathLike | None = None) -> tuple[str, Path]:
    """("official", folder of img_align_celeba) if one is found or given, else ("subset", the verified zip)."""
    if official_dir is not None:
        d = Path(official_dir)
        img = d if d.name == "img_align_celeba" else d / "img_align_celeba"
        if not img.is_dir() or not any(img.glob("*.jpg")):
            raise DataNotFoundError(f"{official_dir!r} holds no img_align_celeba/*.jpg (the official aligned images)")
        return "official", img
    roots = [*search_dirs(data_dir), cache_dir()]
    for r in roots:
        img = Path(r) / "celeba" / "img_align_celeba"
        if img.is_dir() and any(img.glob("*.jpg")):
            return "official", img
    looked = []
    for r in roots:
        p = Path(r) / SUBSET_FILE
        looked.append(str(p))
        if p.is_file():
            verify(p, SUBSET_SHA256)
            return "subset", p
    where = "\n  ".join(looked)
    raise DataNotFoundError(f"CelebA not found: no celeba/img_align_celeba/ and no {SUBSET_FILE} in\n  {where}\n"
                            "Point --data-dir or $VAEAC_BENCH_DATA at the shared data folder.")


def _partition(img_dir: Path) -> dict[str, int] | None:
    for p in (img_dir.parent / "list_eval_partition.txt", img_dir.parent / "Eval" / "list_eval_partition.txt"):
        if p.is_file():
            out = {}
            for line in p.read_text().split("\n"):
                parts = line.replace(",", " ").split()
                if len(parts) == 2 and parts[1] in ("0", "1", "2"):
                    out[parts[0]] = int(parts[1])
            return out
    return None


def load_celeba(data_dir: str | os.PathLike | None = None, *, resolution: int = 64, seed: int = 0,
                official_dir: str | os.PathLike | None = None, max_images: int | None = None) -> CelebAData:
    """Load CelebA faces at ``resolution`` (64 or 128) from the official images if present, else the 10k subset.

    ``seed`` seeds the split when no official partition file is available; ``max_images`` reads only the first
    images (sorted by file name; for tests and smoke runs).
    """
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {RESOLUTIONS}, got {resolution!r}")
    source, where = find_celeba_source(data_dir, official_dir)
    if source == "subset":
        if resolution != 64:
            raise ValueError("the 10k CelebA subset is at half resolution (89x109): only 64x64 exists; point "
                             "--data-dir at the official img_align_celeba images for 128x128")
        with zipfile.ZipFile(where) as z:
            names = sorted(n for n in z.namelist() if n.endswith(".jpg"))[:max_images]
            x = np.stack([_decode(z.read(n), 64, 64) for n in names])
        sizes = SUBSET_SPLIT if max_images is None else None
        tr, va, te = seeded_split(len(x), sizes, seed)
        rule = f"seeded split of the subset, seed {seed}"
    else:
        files = sorted(where.glob("*.jpg"))[:max_images]
        x = np.stack([_decode(f.read_bytes(), OFFICIAL_CROP, resolution) for f in files])
        part = _partition(where)
        if part is not None:
            lab = np.array([part.get(f.name, -1) for f in files])
            if (lab < 0).any():
                raise ValueError(f"list_eval_partition.txt does not list {int((lab < 0).sum())} of the images")
            tr, va, te = (np.flatnonzero(lab == k) for k in range(3))
            rule = "official partition file"
        else:
            tr, va, te = seeded_split(len(x), None, seed)
            rule = f"seeded split in the official proportions, seed {seed}"
    f = x.astype(np.float32) / 255.0
    return CelebAData(f[tr], f[va], f[te], source, resolution, rule)


def channel_stats(train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std (shape (C,)) of (N, C, H, W) training images (A.3's channel normalisation)."""
    x = np.asarray(train, dtype=np.float64)
    return x.mean(axis=(0, 2, 3)).astype(np.float32), x.std(axis=(0, 2, 3)).astype(np.float32)
