"""asv benchmarks of the image half (tables 5 and 9, CelebA's tables 3, 4 and 9): training steps and sampling.

* ``ImageTrainStep``: one optimiser step of the image VAEAC, as its training loop takes it: the conv ResNet and
  the one-hidden-layer FC network on a batch of 64 binary 28x28 images under the MNIST line mask, and the
  Gaussian CelebA network at 64x64 on a batch of 16 under the mixture of Yeh et al.'s masks.
* ``ImageSampling``: the time to draw 100 inpaintings of one object, table 5's second column, for the FC and
  conv VAEAC and for UM, whose sampling is sequential by design (one network pass per hidden pixel: the paper's
  point in table 5). Measured the same way for all three, through each method's ``sample_images``.

Weights are untrained (a one-batch fit for the sampling benchmarks): the cost of a step or a draw does not
depend on them. Images are random binary (or uniform, CelebA), so the suite needs no data files. One torch
thread; CUDA too when present (the paper's anchors are GPU times: table 5, 30 MNIST epochs in 5 min 47 s and 100
samples in 0.7 ms).
"""

from __future__ import annotations

import numpy as np
import torch

from vaeac_bench.datasets.image_registry import image_mask
from vaeac_bench.methods.celeba_model import GaussianImageVAEACModel, celeba_arch
from vaeac_bench.methods.image_methods import ImageVAEAC
from vaeac_bench.methods.image_um import ImageUM
from vaeac_bench.methods.vaeac.image import ImageTrainConfig, ImageVAEACModel, default_arch, image_batch, replace_cfg
from vaeac_bench.methods.vaeac.model import ObjectiveConfig
from vaeac_bench.methods.vaeac.training import make_optimizer

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
#: network -> (image shape, batch size, mask): the training loops' own batch sizes (A.3; CelebA 16, docs/celeba.md)
STEP_CASES = {"mnist-conv": ((1, 28, 28), 64, "mnist_line"), "mnist-fc": ((1, 28, 28), 64, "mnist_line"),
              "celeba64": ((3, 64, 64), 16, "yeh_mixture")}


def binary_images(n: int, shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    """``n`` random binary images with MNIST's ink density (about 13% of the pixels on)."""
    return (np.random.default_rng(seed).random((n, *shape)) < 0.13).astype(np.float32)


class ImageTrainStep:
    """One optimiser step of the image VAEAC (training throughput of the table-5/9 and CelebA networks)."""

    param_names = ["network", "device"]
    params = (list(STEP_CASES), DEVICES)
    timeout = 300

    def setup(self, network: str, device: str) -> None:
        torch.set_num_threads(1)
        shape, self.batch_size, mask = STEP_CASES[network]
        gen = torch.Generator().manual_seed(0)
        if network == "celeba64":
            self.model = GaussianImageVAEACModel(shape, celeba_arch(64), ObjectiveConfig(alpha=1.0), generator=gen,
                                                 device=device)
            x = np.random.default_rng(0).normal(size=(256, *shape)).astype(np.float32)  # normalised faces' scale
        else:
            net = network.split("-")[1]
            self.model = ImageVAEACModel(shape, net, default_arch("mnist", net, 1.0), ObjectiveConfig(alpha=1.0),
                                         generator=gen, device=device)
            x = binary_images(256, shape)
        self.x = torch.as_tensor(x, device=device)
        self.mask_fn, self.rng = image_mask(mask), np.random.default_rng(1)
        self.opt = make_optimizer(self.model, replace_cfg(ImageTrainConfig(epochs=1)))
        self.gen = torch.Generator(device=device).manual_seed(1)
        self.device = device
        self.model.train()
        self.step()  # warm-up (first-call allocations, oneDNN primitive creation)

    def step(self) -> None:
        c, h, w = self.model.image_shape
        idx = torch.randint(0, len(self.x), (self.batch_size,), generator=self.gen, device=self.device)
        b = torch.as_tensor(self.mask_fn(self.batch_size, h, w, self.rng), device=self.device)
        b = b.reshape(self.batch_size, -1).float().repeat(1, c)
        loss = self.model.loss(image_batch(self.x[idx]), b, self.gen)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        if self.device == "cuda":
            torch.cuda.synchronize()

    def time_train_step(self, network: str, device: str) -> None:
        self.step()

    def peakmem_train_step(self, network: str, device: str) -> None:
        self.step()


class ImageSampling:
    """Table 5's second column: 100 inpaintings of one MNIST object under the line mask."""

    param_names = ["method"]
    params = (["vaeac-fc", "vaeac-conv", "um"],)
    timeout = 600
    number = 1
    repeat = 1  # UM's 100 sequential draws take about a minute here: one measurement, as table 5 reports one
    warmup_time = 0

    def setup(self, method: str) -> None:
        torch.set_num_threads(1)
        train, val = binary_images(64, (1, 28, 28)), binary_images(16, (1, 28, 28), seed=1)
        mask_fn = image_mask("mnist_line")
        if method == "um":
            est = ImageUM(epochs=1, random_state=0)  # the registered table-5 network: hidden 256, depth 10
        else:
            est = ImageVAEAC(network=method.split("-")[1], epochs=1, validation_samples=2, random_state=0)
        self.est = est.fit_images(train, val, mask_fn, dataset="mnist")
        self.x = binary_images(1, (1, 28, 28), seed=2)
        self.b = mask_fn(1, 28, 28, np.random.default_rng(3))

    def time_sample_100_one_object(self, method: str) -> None:
        self.est.sample_images(self.x, self.b, 100, seed=0)
