"""Image datasets and image masks as entries of the suite's one dataset registry and one mask registry (issue 10).

* datasets: ``mnist``, ``omniglot`` (105x105, the paper's) and ``omniglot28`` (a different, downscaled dataset:
  never beside the paper's Omniglot numbers) are :class:`ImageDatasetSpec` entries of ``SPECS`` with
  ``kind = "image"``, group ``images``; :func:`dataset_kind` tells the runner which cell to compute;
* masks: every generator of :data:`~vaeac_bench.datasets.image_masks.IMAGE_MASKS` is a mechanism of
  ``MECHANISMS`` (the registry of MCAR/MAR/MNAR), wrapped to the mechanism signature ``fn(data, rate, rng)``:
  ``data`` holds images (N, C, H, W) or (N, H, W), ``rate`` is ignored (each mask has the paper's own
  statistics) and the result is a bool array of ``data``'s shape, True = unobserved.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .image_masks import IMAGE_MASKS, MaskGenerator
from .images import IMAGE_SPECS
from .masks import MECHANISMS, register_mechanism
from .registry import SPECS, register
from .spec import DatasetSpec

#: the mask each image dataset is scored with by default (A.3: MNIST's observed 3-pixel band; rectangles else)
DEFAULT_IMAGE_MASK = {"mnist": "mnist_line", "omniglot": "rectangle", "omniglot28": "rectangle"}


@dataclass(frozen=True)
class ImageDatasetSpec(DatasetSpec):
    """A dataset of binary images: the files and sizes live in :data:`~vaeac_bench.datasets.images.IMAGE_SPECS`."""

    kind: str = "image"
    height: int = 0
    width: int = 0
    default_mask: str = "rectangle"

    def __hash__(self) -> int:
        return hash(self.name)


def dataset_kind(name: str) -> str:
    """``"image"`` for an image dataset, ``"table"`` for every other registered dataset."""
    return getattr(SPECS.get(name), "kind", "table")


def image_mechanism(gen: MaskGenerator) -> Callable[[np.ndarray, float, np.random.Generator], np.ndarray]:
    """Wrap an image mask generator ``fn(n, H, W, rng)`` as a mechanism ``fn(data, rate, rng)`` (rate unused)."""

    def mechanism(data: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
        shape = np.shape(data)
        if len(shape) not in (3, 4):
            raise ValueError(f"an image mask needs images (N, C, H, W) or (N, H, W) as data, got shape {shape}; "
                             "tabular data takes mcar or a MAR/MNAR mechanism")
        m = gen(int(shape[0]), int(shape[-2]), int(shape[-1]), rng)
        return np.broadcast_to(m[:, None], shape).copy() if len(shape) == 4 else m

    mechanism.image_mask = gen  # type: ignore[attr-defined]
    mechanism.__doc__ = f"Image mask (rate ignored): {(gen.__doc__ or '').strip().splitlines()[0]}"
    return mechanism


def image_mask(name: str) -> MaskGenerator:
    """The generator ``fn(n, H, W, rng)`` behind a registered image mask, or a ValueError naming the image masks."""
    fn = MECHANISMS.get(name)
    gen = getattr(fn, "image_mask", None)
    if gen is None:
        raise ValueError(f"mask {name!r} is not an image mask; pass one of {sorted(IMAGE_MASKS)}")
    return gen


def _sha(files: tuple[tuple[str, str], ...]) -> str:
    """The file's sha256, or for several files the sha256 of their sha256s joined by "+" (one data-source id)."""
    if len(files) == 1:
        return files[0][1]
    return hashlib.sha256("+".join(sha for _, sha in files).encode()).hexdigest()


for _name, _gen in IMAGE_MASKS.items():
    if _name not in MECHANISMS:
        register_mechanism(_name)(image_mechanism(_gen))

for _name, _spec in IMAGE_SPECS.items():
    if _name not in SPECS:
        register(ImageDatasetSpec(
            name=_name, title=_spec.title, target="label", task="classification",
            path=_spec.files[0][0], sha256=_sha(_spec.files), height=_spec.height, width=_spec.width,
            default_mask=DEFAULT_IMAGE_MASK[_name],
            notes="binary images (threshold 0.5, docs/images.md); the class label is not imputed",
        ))
if "images" not in SPECS.groups:
    SPECS.register_group("images", tuple(IMAGE_SPECS))
