"""asv benchmarks of VAEAC (scikit-learn asv_benchmarks style: classes with setup / time_* / peakmem_*).

Data: a Yeast-shaped table (1113 rows = Yeast's training split, 8 real columns and one 10-level
categorical, 50% missing) generated here, so the suite needs no data files. Devices: CPU, plus CUDA when
``torch.cuda.is_available()``. Torch runs on one thread, as the benchmark runner does.

    asv run --bench bench_vaeac          # with an asv.conf.json pointing at this folder
    python -m benchmarks.bench_vaeac     # a quick direct run of every benchmark once
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from vaeac_bench.methods.vaeac import Batch, TrainConfig, VAEACMethod, VAEACModel
from vaeac_bench.methods.vaeac.manual_step import flatten_parameters
from vaeac_bench.methods.vaeac.training import draw_mask, make_optimizer, manual_step
from vaeac_bench.nn import FeatureLayout
from vaeac_bench.schema import Schema

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
SCHEMA = Schema.from_kinds([f"r{i}" for i in range(8)] + ["class"], [0] * 8 + [10])


def yeast_like(n: int = 1113, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    cls = rng.integers(0, 10, n)
    real = rng.normal(size=(n, 8)) + cls[:, None] * 0.1
    X = np.column_stack([real, cls]).astype(float)
    X[rng.random(X.shape) < 0.5] = np.nan
    return X


def registered_step(batch: int = 64, step_cls: type | None = None) -> Callable[[], None]:
    """One optimiser step as ``training.train`` takes it for the registered (fast-mode) VAEAC, on this table.

    ``training.manual_step`` decides which step that is: since 2026-12-05 the hand-written gradients with one flat
    fused Adam, autograd where they do not apply. So a slower hand-written step, or training that falls back to
    autograd, shows here (``TrainStep`` always times autograd's step). ``step_cls``, a variant of ``ManualStep``
    (``bench_efficiency``'s bf16 step), replaces that choice. The returned function's ``optimizer`` is its Adam."""
    torch.set_num_threads(1)
    model = VAEACModel(FeatureLayout.from_schema(SCHEMA), fused=True, zero_latent_heads=True,
                       generator=torch.Generator().manual_seed(0))
    data = Batch.from_values(torch.tensor(yeast_like(), dtype=torch.float32), model)
    cfg = TrainConfig(epochs=1, mode="fast")
    manual = step_cls(model) if step_cls is not None else manual_step(model, cfg)
    opt = make_optimizer(model, cfg, [flatten_parameters(model)] if manual is not None else None)
    gen = torch.Generator().manual_seed(1)
    n_noise, latent = model.n_noise(), model.arch.latent_dim

    def run() -> None:
        rows = data[torch.randint(0, len(data), (batch,), generator=gen)]
        b = draw_mask(rows.missing, cfg.mask_prob, gen)
        if manual is None:
            loss = model.loss(rows, b, gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return
        noise = torch.randn((n_noise, batch, latent), generator=gen) if n_noise else None
        manual.step(rows, b, noise, opt)

    run()  # warm-up
    run.manual = manual is not None  # which step it times (tests check the hand-written one)
    run.optimizer = opt  # bench_efficiency.StepProducts times the optimizer's step alone
    return run


class RegisteredTrainStep:
    """One optimiser step on a batch of 64 rows as the registered methods train (``registered_step``: the
    hand-written gradients and one flat fused Adam since 2026-12-05), CPU only."""

    timeout = 300

    def setup(self) -> None:
        self.run = registered_step(64)

    def time_train_step(self) -> None:
        self.run()

    def peakmem_train_step(self) -> None:
        self.run()


class TrainStep:
    """One optimiser step on a batch of 64 rows through autograd (``VAEACModel.loss``): the step of reference
    mode and of the models the hand-written step does not cover. The registered methods' fast-mode step is
    ``RegisteredTrainStep``'s."""

    param_names = ["mode", "device", "bf16"]
    params = (["fast", "reference"], DEVICES, [False, True])
    timeout = 300

    def setup(self, mode: str, device: str, bf16: bool) -> None:
        if mode == "reference" and bf16:
            raise NotImplementedError  # asv skips this combination
        torch.set_num_threads(1)
        fast = mode == "fast"
        self.model = VAEACModel(FeatureLayout.from_schema(SCHEMA), fused=fast, zero_latent_heads=fast,
                                generator=torch.Generator().manual_seed(0), device=device)
        X = torch.tensor(yeast_like(), dtype=torch.float32, device=device)
        self.data = Batch.from_values(X, self.model)
        self.opt = make_optimizer(self.model, TrainConfig(epochs=1, mode=mode))
        self.gen = torch.Generator(device=device).manual_seed(1)
        self.bf16 = bf16
        self.device = device
        self.step()  # warm-up

    def step(self) -> None:
        idx = torch.randint(0, len(self.data), (64,), generator=self.gen, device=self.device)
        batch = self.data[idx]
        b = draw_mask(batch.missing, 0.2, self.gen)
        with torch.autocast(device_type=self.device, dtype=torch.bfloat16, enabled=self.bf16):
            loss = self.model.loss(batch, b, self.gen)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        if self.device == "cuda":
            torch.cuda.synchronize()

    def time_train_step(self, mode: str, device: str, bf16: bool) -> None:
        self.step()

    def peakmem_train_step(self, mode: str, device: str, bf16: bool) -> None:
        self.step()


class Validation:
    """One validation pass: IWAE with 25 samples over 278 rows (Yeast's validation rows)."""

    param_names = ["mode", "device"]
    params = (["fast", "reference"], DEVICES)

    def setup(self, mode: str, device: str) -> None:
        torch.set_num_threads(1)
        fast = mode == "fast"
        self.model = VAEACModel(FeatureLayout.from_schema(SCHEMA), fused=fast, zero_latent_heads=fast,
                                generator=torch.Generator().manual_seed(0), device=device)
        X = torch.tensor(yeast_like(278), dtype=torch.float32, device=device)
        self.data = Batch.from_values(X, self.model)
        self.gen = torch.Generator(device=device).manual_seed(1)
        self.b = draw_mask(self.data.missing, 0.2, self.gen)

    def time_iwae25(self, mode: str, device: str) -> None:
        with torch.inference_mode():
            float(self.model.iwae(self.data, self.b, 25, self.gen).mean())


class Imputation:
    """Fit once (2 epochs), then time 10 imputations of 371 test rows (sampling latency) and peak memory."""

    param_names = ["device"]
    params = (DEVICES,)
    timeout = 600

    def setup(self, device: str) -> None:
        torch.set_num_threads(1)
        self.method = VAEACMethod(epochs=2, random_state=0, device=device).fit(yeast_like(), SCHEMA)
        self.X = yeast_like(371, seed=1)

    def time_impute_10(self, device: str) -> None:
        self.method.impute(self.X, n=10)

    def peakmem_impute_10(self, device: str) -> None:
        self.method.impute(self.X, n=10)


class ProductSampleOneRow:
    """100 draws for one row of a DataFrame through the product (``VAEACImputer().sample``: a list of 100 frames),
    a 1-epoch model: what a practitioner's multiple imputation of one record costs, decoding included."""

    timeout = 300

    def setup(self) -> None:
        import pandas as pd

        from vaeac_bench import VAEACImputer

        torch.set_num_threads(1)
        X = yeast_like()
        frame = pd.DataFrame(X[:, :8], columns=SCHEMA.names[:8])
        frame["class"] = pd.Categorical.from_codes(np.nan_to_num(X[:, 8], nan=-1).astype(int), list("abcdefghij"))
        self.imputer = VAEACImputer(epochs=1, verbose=0, random_state=0).fit(frame)
        self.row = frame.iloc[[3]]

    def time_sample_100(self) -> None:
        self.imputer.sample(self.row, n=100, random_state=0)


class Fit:
    """A full fit of 5 epochs (training throughput including validation passes).

    ``time_fit_5_epochs`` is the method's own budget rule, kept for its history (``scripts/grid_cpu_hours.py``
    scales machines by it): in fast mode the budget is extended (+50%, twice at most) while the best epoch is in
    the last window, so on this data the fast fit runs 11 epochs and the reference fit 5. ``time_fit_5_epochs_fixed``
    turns the extensions off, so both modes train exactly 5 epochs and their times compare.
    """

    param_names = ["mode"]
    params = (["fast", "reference"],)
    timeout = 600
    number = 1
    repeat = 1

    def setup(self, mode: str) -> None:
        torch.set_num_threads(1)
        self.X = yeast_like()

    def time_fit_5_epochs(self, mode: str) -> None:
        VAEACMethod(epochs=5, mode=mode, random_state=0).fit(self.X, SCHEMA)

    def time_fit_5_epochs_fixed(self, mode: str) -> None:
        VAEACMethod(epochs=5, mode=mode, max_extensions=0, random_state=0).fit(self.X, SCHEMA)

    def peakmem_fit_5_epochs(self, mode: str) -> None:
        VAEACMethod(epochs=5, mode=mode, random_state=0).fit(self.X, SCHEMA)


if __name__ == "__main__":  # a quick direct run without asv
    import itertools
    import time

    for cls in (RegisteredTrainStep, TrainStep, Validation, Imputation, Fit):
        for combo in itertools.product(*getattr(cls, "params", ())):
            obj = cls()
            try:
                obj.setup(*combo)
            except NotImplementedError:
                continue
            for name in dir(obj):
                if name.startswith("time_"):
                    t0 = time.perf_counter()
                    getattr(obj, name)(*combo)
                    print(f"{cls.__name__}.{name}{combo}: {1000 * (time.perf_counter() - t0):.1f} ms")
