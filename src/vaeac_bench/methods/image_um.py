"""Universal Marginalizer on binary images (table 5, figure 12): the tabular UM's pieces on an image-sized input.

The chain rule, the objective and the network come from :mod:`vaeac_bench.methods.um` through its module-level
functions (``um_objective`` (10), ``sequential_sample`` and ``chain_rule_log_likelihood`` (11), ``make_mlp``), on
the pixel layout of the image VAEAC (every pixel a binary categorical column, i.e. a Bernoulli likelihood). What
images change is the mask: the tabular UM draws b0 from MCAR, here b0 ~ p(b) is the dataset's image mask (the
line mask on MNIST) and B.3's fix is applied to it: u ~ U[0, 1] per object, b1 ~ Bernoulli(u)^D, b = b0 ∘ b1, so the
network sees every number of unobserved pixels the chain rule asks for.

Sampling and the likelihood are sequential by design (§5.3): |b| network calls, each depending on the previous
one's draw (700 on MNIST with the line mask), batched over objects and samples only. The NLL is the chain rule
(11) along one uniformly random permutation of the unobserved pixels per object (B.3: "uniform distribution over
the permutations"), exact for that ordering; ``n_samples`` does not apply.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .image_methods import ImageMethod


def b3_masks(mask_fn: Any, n: int, h: int, w: int, channels: int, rng: np.random.Generator) -> np.ndarray:
    """B.3's request masks (n, C·H·W), 1 = unobserved: b0 ~ p(b) from ``mask_fn``, u ~ U[0,1], b = b0 ∘ Bernoulli(u)."""
    b0 = np.asarray(mask_fn(n, h, w, rng), dtype=bool).reshape(n, -1)
    level = rng.random((n, 1))
    b = b0 & (rng.random(b0.shape) < level)
    return np.tile(b, (1, channels)).astype(np.float32)


class ImageUM(ImageMethod):
    """UM (Douglas et al., 2017) with the B.3 training-mask fix on binary images; residual MLP (width, depth)."""

    def __init__(self, hidden: int = 256, depth: int = 10, epochs: int = 30, batch_size: int = 64,
                 lr: float = 3e-4, max_train: int | None = None, max_val: int | None = None, chunk: int = 1000,
                 device: str = "cpu", random_state: int | None = None, verbose: int = 0):
        self.hidden = hidden
        self.depth = depth
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.max_train = max_train
        self.max_val = max_val
        self.chunk = chunk
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def fit_images(self, train: np.ndarray, val: np.ndarray, mask_fn: Any, dataset: str = "mnist",
                   checkpoint: str | os.PathLike | None = None) -> ImageUM:
        """Maximise objective (10) under B.3 masks; best epoch by the validation objective (fixed masks)."""
        import torch

        from ..nn import build_seeded
        from ..nn.harness import LoopState, fit_loop, resolve_device
        from .um import make_mlp, um_objective
        from .vaeac.image import PAPER_EPOCHS, pixel_layout

        train = train[: self.max_train] if self.max_train is not None else train
        val = val[: self.max_val] if self.max_val is not None else val
        seed = 0 if self.random_state is None else int(self.random_state)
        c, h, w = (int(v) for v in train.shape[1:])
        self.shape_ = (c, h, w)
        dev = resolve_device(self.device)
        layout = pixel_layout(c * h * w)
        self.lt_ = layout.tensors(dev)
        n_in, n_out = layout.in_width + layout.n_features, layout.out_width
        gen = torch.Generator().manual_seed(seed)  # weights drawn on the CPU: the same start on every device
        self.net_ = build_seeded(lambda: make_mlp(n_in, n_out, int(self.hidden), int(self.depth)), gen).to(dev)
        rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
        val_rng = np.random.default_rng(np.random.SeedSequence([seed, 2]))
        # data and validation masks moved to the device once (issue 12 §3); each batch's B.3 masks are drawn on the
        # host (numpy, seeded as on the CPU) and moved with the batch
        xt = torch.as_tensor(train.reshape(len(train), -1), dtype=torch.float32, device=dev)
        xv = torch.as_tensor(val.reshape(len(val), -1), dtype=torch.float32, device=dev)
        bv = torch.as_tensor(b3_masks(mask_fn, len(val), h, w, c, val_rng), device=dev)
        opt = torch.optim.Adam(self.net_.parameters(), lr=float(self.lr))
        bs = int(self.batch_size)
        lt, net = self.lt_, self.net_

        def step(epoch: int) -> torch.Tensor:
            net.train()
            perm = torch.as_tensor(rng.permutation(len(xt)), device=dev)
            total = torch.zeros((), device=dev)  # read once per epoch, never per step
            for s in range(0, len(xt), bs):
                xb = xt[perm[s:s + bs]]
                b = torch.as_tensor(b3_masks(mask_fn, len(xb), h, w, c, rng), device=dev)
                loss = -um_objective(net, lt, xb, b).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.detach()
            return total / max(1, -(-len(xt) // bs))

        def score(epoch: int) -> float:
            net.eval()
            with torch.no_grad():
                return float(torch.cat([um_objective(net, lt, xv[s:s + 1024], bv[s:s + 1024])
                                        for s in range(0, len(xv), 1024)]).mean())

        # the device is where, not what: a checkpoint written on the GPU resumes on the CPU and back
        key = repr(({k: v for k, v in self.get_params(deep=False).items() if k not in ("verbose", "device")}, seed,
                    train.shape))
        res = fit_loop(step, max_epochs=int(self.epochs), score=score, keep=net,
                       state=LoopState(optimizers={"adam": opt}, rngs={"masks": rng}), checkpoint=checkpoint,
                       key=key, verbose=bool(self.verbose), desc="um image")
        net.eval()
        paper = PAPER_EPOCHS.get(dataset)
        self.history_ = {"val_epochs": res.val_epochs, "val_scores": res.val_scores, "train_loss": res.losses}
        self.fit_info_ = res.info.to_dict() | {
            "network": f"residual MLP (width {self.hidden}, {self.depth} blocks)", "paper_epochs": paper,
            "n_train": int(len(train)), "n_val": int(len(val)),
            "budget_note": f"{res.info.epochs_run} of the paper's {paper} epochs" if paper else None,
        }
        return self

    def estimators(self) -> tuple[str, ...]:
        """The chain rule (11) along one random permutation per object."""
        return ("chain",)

    def _tensors(self, X: np.ndarray, mask: np.ndarray) -> tuple[Any, Any]:
        import torch

        if not hasattr(self, "net_"):
            raise RuntimeError("ImageUM is not fitted: call fit_images(train, val, mask_fn) first")
        n, c = len(X), self.shape_[0]
        dev = next(self.net_.parameters()).device
        x = torch.as_tensor(np.asarray(X).reshape(n, -1), dtype=torch.float32, device=dev)
        b = torch.as_tensor(np.tile(np.asarray(mask).reshape(n, -1), (1, c)), dtype=torch.float32, device=dev)
        return x, b

    def nll(self, X: np.ndarray, mask: np.ndarray, kind: str, n_samples: int, seed: int = 0,
            batch_size: int = 64, sample_chunk: int = 100) -> np.ndarray:
        """−log p(x_b | x_{1-b}, b) per object by the chain rule (11): |b| sequential calls, batched over objects."""
        import torch

        from .um import chain_rule_log_likelihood

        if kind != "chain":
            raise ValueError(f"UM has one likelihood, the chain rule (11): kind='chain', got {kind!r}")
        x, b = self._tensors(X, mask)
        g = torch.Generator(device=x.device).manual_seed(seed)  # the tabular UM's helpers draw on the data's device
        step = int(self.chunk)
        return -torch.cat([chain_rule_log_likelihood(self.net_, self.lt_, x[s:s + step], b[s:s + step], g)
                           for s in range(0, len(x), step)]).double().cpu().numpy()

    def sample_images(self, X: np.ndarray, mask: np.ndarray, n_samples: int, seed: int = 0) -> np.ndarray:
        """``n_samples`` inpaintings (S, N, C, H, W) by sequential sampling (11), all S·N rows at once."""
        import torch

        from .um import sequential_sample

        x, b = self._tensors(X, mask)
        x = x * (1 - b)  # the hidden pixels' true values never reach the sampler
        g = torch.Generator(device=x.device).manual_seed(seed)
        out = sequential_sample(self.net_, self.lt_, x.repeat(n_samples, 1), b.repeat(n_samples, 1), g)
        return out.cpu().numpy().reshape(n_samples, len(X), *self.shape_)
