"""PSNR of inpaintings (paper §5.2, tables 3 and 4) on the [0, 255] scale.

The paper reports the PSNR of one random inpainting and the best PSNR among 10 inpaintings, but not over
which pixels. We report both:

* **whole image**: MSE over every pixel and channel of the image (the observed pixels are kept, so they add
  no error); this is what the comparators (Yeh et al., Li et al.) compute, and what is printed beside the
  paper's numbers;
* **hidden region**: MSE over the unobserved pixels (and channels) only.

Images are in [0, 1] (after undoing the normalisation and clipping), scaled to [0, 255] here; PSNR =
10 log10(255² / MSE) per image, then averaged over images. The best of k picks, per image, the inpainting
with the lowest MSE (the same one for both regions, because the observed pixels are identical).
"""

from __future__ import annotations

import numpy as np

MAX_VALUE = 255.0
#: MSE floor (a perfect inpainting would give an infinite PSNR): 1e-10 on the 255² scale, i.e. 148 dB at most
MSE_FLOOR = 1e-10


def squared_errors(samples: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MSE (S, N) over the whole image and over the hidden region, on the [0, 255] scale.

    ``samples`` (S, N, C, H, W) and ``truth`` (N, C, H, W) in [0, 1]; ``mask`` (N, H, W), True = unobserved.
    """
    s = np.clip(np.asarray(samples, dtype=np.float64), 0.0, 1.0) * MAX_VALUE
    t = np.clip(np.asarray(truth, dtype=np.float64), 0.0, 1.0) * MAX_VALUE
    if s.ndim != 5 or s.shape[1:] != t.shape:
        raise ValueError(f"samples must be (S, N, C, H, W) over truth {t.shape}, got {s.shape}")
    m = np.asarray(mask, dtype=bool)
    if m.shape != (t.shape[0], *t.shape[2:]):
        raise ValueError(f"mask must be (N, H, W) = {(t.shape[0], *t.shape[2:])}, got {m.shape}")
    se = ((s - t[None]) ** 2).sum(2)  # (S, N, H, W): summed over channels
    whole = se.reshape(*se.shape[:2], -1).sum(-1) / (t[0].size)
    hidden_n = m.reshape(len(m), -1).sum(1) * t.shape[1]
    hidden = (se * m[None]).reshape(*se.shape[:2], -1).sum(-1) / np.maximum(hidden_n, 1)
    return whole, hidden


def psnr_from_mse(mse: np.ndarray) -> np.ndarray:
    """10 log10(255² / MSE), the MSE floored at :data:`MSE_FLOOR`."""
    return 10.0 * np.log10(MAX_VALUE**2 / np.maximum(mse, MSE_FLOOR))


def psnr_curves(samples: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> dict[str, list[float]]:
    """Mean PSNR over images of the best of the first k inpaintings, k = 1..S, for "whole" and "hidden".

    Entry 0 is one random inpainting (the first), entry S-1 the best of S.
    """
    whole, hidden = squared_errors(samples, truth, mask)
    best = np.minimum.accumulate(whole, axis=0)  # (S, N) running best by MSE
    pick = np.array([np.argmin(whole[: k + 1], axis=0) for k in range(len(whole))])  # (S, N)
    hid_best = np.take_along_axis(hidden, pick, axis=0)
    return {"whole": psnr_from_mse(best).mean(1).tolist(), "hidden": psnr_from_mse(hid_best).mean(1).tolist()}
