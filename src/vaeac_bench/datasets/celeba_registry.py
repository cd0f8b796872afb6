"""CelebA datasets and masks in the suite's one dataset registry and one mask registry (issue 11).

* datasets: ``celeba64`` (the 10k subset, or the official images resized to 64² when they are found) and
  ``celeba128`` (the official images only, the paper's table-4 resolution) are
  :class:`~vaeac_bench.datasets.image_registry.ImageDatasetSpec` entries with ``kind = "celeba"`` (colour,
  Gaussian likelihood; the binary-image cells are ``kind = "image"``), group ``celeba``;
* masks: GFC's O1-O6 one at a time (``gfc_o1`` .. ``gfc_o6``, table 6) and ``gfc_train``, the GFC training
  rectangles of A.3 (width and height >= 16 px at 128², a bound scaled with the image: 8 px at 64²), as image
  mechanisms beside the Yeh masks registered by :mod:`.image_registry`.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from .celeba import SUBSET_FILE, SUBSET_SHA256
from .image_masks import GFC_RECTS_128, MaskGenerator, gfc, rectangle16
from .image_registry import ImageDatasetSpec, image_mechanism
from .masks import MECHANISMS, register_mechanism
from .registry import SPECS, register

#: the masks each experiment is tested on (table 3: Yeh et al.'s four; table 4: GFC's six), by training mask
CELEBA_TEST_MASKS: dict[str, dict[str, str]] = {
    "yeh_mixture": {"Center": "yeh_center", "Pattern": "yeh_pattern", "Random": "yeh_random", "Half": "yeh_half"},
    "gfc_train": {k: f"gfc_{k.lower()}" for k in GFC_RECTS_128},
}
#: table 9's CelebA column is scored with A.3's CelebA mask: random rectangles of area >= 1/4
CELEBA_NLL_MASK = "rectangle"


def gfc_train(n: int, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """GFC training mask (A.3): uniform-corner rectangles, width and height >= 16 px at 128² (scaled: 8 at 64²)."""
    return rectangle16(n, height, width, rng, min_side=max(1, round(16 * min(height, width) / 128)))


def _gfc_one(which: str) -> MaskGenerator:
    fn = partial(gfc, which=which)
    fn.__doc__ = f"GFC mask {which} alone (table 6; defined at 128², scaled with floor/ceil at other sizes)."
    return fn  # type: ignore[return-value]


CELEBA_MASKS: dict[str, MaskGenerator] = {"gfc_train": gfc_train} | {f"gfc_{k.lower()}": _gfc_one(k)
                                                                      for k in GFC_RECTS_128}

for _name, _gen in CELEBA_MASKS.items():
    if _name not in MECHANISMS:
        register_mechanism(_name)(image_mechanism(_gen))

for _name, _res in (("celeba64", 64), ("celeba128", 128)):
    if _name not in SPECS:
        register(ImageDatasetSpec(
            name=_name, title=f"CelebA aligned faces, {_res}×{_res} (central 128 crop)", target="none",
            task="inpainting", path=SUBSET_FILE,  # type: ignore[arg-type]
            sha256=SUBSET_SHA256, kind="celeba", height=_res, width=_res,
            default_mask="yeh_mixture",
            notes=("the 10k subset (64² only) unless the official img_align_celeba images are found; "
                   "docs/celeba.md" if _res == 64 else "needs the official img_align_celeba images; docs/celeba.md"),
        ))
if "celeba" not in SPECS.groups:
    SPECS.register_group("celeba", ("celeba64",))
