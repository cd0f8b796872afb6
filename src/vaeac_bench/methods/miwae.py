"""MIWAE (Mattei & Frellsen, ICML 2019): a deep latent variable model trained on incomplete data.

The model is a VAE whose encoder reads the zero-imputed row (the authors' ``xhat_0``) and whose
importance-weighted bound counts only the observed cells (MIWAE bound, §3 of the paper):

    L_K = sum_i E[ log (1/K) sum_k p(x_i^o | z_ik) p(z_ik) / q(z_ik | x_i^o) ],  z_ik ~ q(z | x_i^o).

Authors' defaults (paper §4.3 UCI experiments and the authors' reference notebook, pamattei/miwae):
K = 20 importance samples, encoder and decoder MLPs with two hidden layers of 128 units (three linear
layers) and tanh (the notebook says the paper used tanh; it uses ReLU itself), orthogonal weight init,
a N(0, I) prior, a diagonal Gaussian posterior (softplus scale), a product of Student's t observation
model (scale softplus + 1e-3, degrees of freedom softplus + 3), Adam 1e-3, batch 64, standardised data,
latent dimension d = p - 1 (``latent_dim=None``). That d is unverified: the paper's text was not at hand here, and
the authors' breast-cancer notebook (p = 30) uses d = 10 "like in the MIWAE paper"; ``latent_dim=10`` gives that.

Imputation by self-normalised importance sampling (paper §4.2) with ``n_importance`` proposals per row:
single imputation = the weighted mean of the decoder means (the Student's t mean exists since df > 3; the
authors average one sample per proposal, which has the same expectation), multiple imputation = sampling
importance resampling: draw a proposal by its weight, then a value from p(x^m | z) of that proposal.

Our additions, stated as such: categorical columns are one-hot in the encoder input and have a
categorical likelihood (softmax over their block) in the decoder; their single imputation is the mode of the
weighted class probabilities. The number of epochs is chosen by the shared harness on a held-out 5% of the
rows (the MIWAE bound there, ``validation_fraction``; the authors train a fixed number of epochs, which
``validation_fraction=0`` reproduces). ``observation="gaussian"`` swaps the Student's t for a Gaussian.
"""

from __future__ import annotations

import json
import math
import os
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

from ..encoding import Standardizer, one_hot
from ..nn.harness import LoopState, fit_loop, resolve_device
from ..schema import Schema
from ..seeding import derive_seed
from .base import Imputer

SCALE_FLOOR = 1e-3  # notebook: softplus(.) + 0.001 for the observation scale (Mattei & Frellsen, NeurIPS 2018)
DF_FLOOR = 3.0  # notebook: softplus(.) + 3 degrees of freedom, so the first moments exist
ROW_CHUNK_ELEMENTS = 4_000_000  # proposals x rows x decoder width per imputation chunk (bounds memory)


def tanh_mlp(n_in: int, n_hidden: int, n_out: int, generator: torch.Generator) -> nn.Sequential:
    """Three linear layers with tanh between them, orthogonal weights (the authors' ``weights_init``)."""
    net = nn.Sequential(nn.Linear(n_in, n_hidden), nn.Tanh(), nn.Linear(n_hidden, n_hidden), nn.Tanh(),
                        nn.Linear(n_hidden, n_out))
    with torch.no_grad():
        for layer in net:
            if isinstance(layer, nn.Linear):
                nn.init.orthogonal_(layer.weight, generator=generator)
                bound = 1.0 / math.sqrt(layer.in_features)  # torch's default bias init, from our generator
                nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return net


def student_t_log_prob(x: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor, df: torch.Tensor) -> torch.Tensor:
    """Elementwise log density of the location-scale Student's t (as ``torch.distributions.StudentT``)."""
    y = (x - loc) / scale
    return (torch.lgamma(0.5 * (df + 1.0)) - torch.lgamma(0.5 * df) - 0.5 * torch.log(df * math.pi)
            - torch.log(scale) - 0.5 * (df + 1.0) * torch.log1p(y * y / df))


def gaussian_log_prob(x: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Elementwise log density of N(loc, scale^2)."""
    y = (x - loc) / scale
    return -0.5 * y * y - torch.log(scale) - 0.5 * math.log(2 * math.pi)


class MIWAEImputer(Imputer):
    """MIWAE imputer (Mattei & Frellsen 2019) with the authors' UCI defaults; categoricals are our extension."""

    multiple: ClassVar[bool] = True
    _POS_INT: ClassVar[list] = [Interval(Integral, 1, None, closed="left")]
    _parameter_constraints: ClassVar[dict[str, list]] = {
        "n_samples": _POS_INT, "latent_dim": [*_POS_INT, None], "hidden_dim": _POS_INT,
        "observation": [StrOptions({"student_t", "gaussian"})], "epochs": _POS_INT, "batch_size": _POS_INT,
        "learning_rate": [Interval(Real, 0, None, closed="neither")], "n_importance": _POS_INT,
        "validation_fraction": [Interval(Real, 0, 1, closed="left")], "validate_every": _POS_INT,
        "patience": [*_POS_INT, None], "max_extensions": [Interval(Integral, 0, None, closed="left")],
        "random_state": [Interval(Integral, 0, None, closed="left"), None], "device": [str, torch.device],
        "checkpoint": [str, os.PathLike, None], "verbose": ["verbose"],
    }

    def __init__(self, n_samples: int = 20, latent_dim: int | None = None, hidden_dim: int = 128,
                 observation: str = "student_t", epochs: int = 500, batch_size: int = 64,
                 learning_rate: float = 1e-3, n_importance: int = 1000, validation_fraction: float = 0.05,
                 validate_every: int = 5, patience: int | None = 50, max_extensions: int = 0,
                 random_state: int | None = None, device: str = "cpu", checkpoint: str | None = None,
                 verbose: int = 0):
        self.n_samples = n_samples
        self.latent_dim = latent_dim
        self.hidden_dim = hidden_dim
        self.observation = observation
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.n_importance = n_importance
        self.validation_fraction = validation_fraction
        self.validate_every = validate_every
        self.patience = patience
        self.max_extensions = max_extensions
        self.random_state = random_state
        self.device = device
        self.checkpoint = checkpoint
        self.verbose = verbose

    def _not_config(self) -> set[str]:
        """The checkpoint path does not change results either."""
        return super()._not_config() | {"checkpoint"}

    def _seed(self, *keys: object) -> int:
        """A seed for one random stream, derived from ``random_state`` (or one fresh seed per fit)."""
        if not hasattr(self, "seed_"):
            rs = self.random_state
            self.seed_ = int(rs) if rs is not None else int(np.random.SeedSequence().generate_state(1)[0])
        return derive_seed("miwae", self.seed_, *keys)

    # -- layout ---------------------------------------------------------------------------------------
    def _layout(self, schema: Schema) -> None:
        """Index tensors: real columns, and each categorical block padded to the widest (for one log-softmax)."""
        dev = resolve_device(self.device)
        self._dev = dev
        self.real_ = np.where(schema.real_mask)[0]
        self.cat_ = np.where(schema.categorical_mask)[0]
        ks = [schema[int(j)].n_categories for j in self.cat_]
        self._in_width = len(self.real_) + int(sum(ks))
        kmax = max(ks, default=1)
        idx = np.zeros((len(ks), kmax), dtype=np.int64)
        valid = np.zeros((len(ks), kmax), dtype=bool)
        pos = 0
        for c, k in enumerate(ks):
            idx[c, :k] = np.arange(pos, pos + k)
            valid[c, :k] = True
            pos += k
        self._cat_idx = torch.as_tensor(idx, device=dev)
        self._cat_valid = torch.as_tensor(valid, device=dev)
        self._n_cat_slots = pos
        self._n_params = len(self.real_) * (3 if self.observation == "student_t" else 2)

    def _encode(self, X: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encoder input (standardised, one-hot, missing -> 0), real values/mask, categorical codes/mask."""
        Z = self.std_.transform(X)
        wide = one_hot(Z[:, np.r_[self.real_, self.cat_]], self._sub_schema)
        real = Z[:, self.real_]
        codes = X[:, self.cat_]
        t = lambda a, dt=torch.float32: torch.as_tensor(a, dtype=dt, device=self._dev)  # noqa: E731
        return (t(wide), t(np.nan_to_num(real, nan=0.0)), t(~np.isnan(real)), t(np.nan_to_num(codes, nan=0.0),
                                                                                 torch.long), t(~np.isnan(codes)))

    # -- the model ------------------------------------------------------------------------------------
    def _posterior(self, wide: torch.Tensor, k: int, gen: torch.Generator
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """``k`` reparameterised draws z ~ q(z | x^o) per row and log p(z) - log q(z | x^o), both (k, B, ...)."""
        out = self.encoder_(wide)
        d = self.latent_dim_
        mu, sd = out[:, :d], nn.functional.softplus(out[:, d:])
        eps = torch.randn((k, *mu.shape), generator=gen, device=wide.device)
        z = mu + sd * eps
        log_pz = (-0.5 * z * z).sum(-1) - 0.5 * d * math.log(2 * math.pi)
        log_q = (-0.5 * eps * eps - torch.log(sd)).sum(-1) - 0.5 * d * math.log(2 * math.pi)
        return z, log_pz - log_q

    def _decode(self, z: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Observation-model parameters: real loc, scale, df (None for Gaussian) and padded categorical log-probs."""
        out = self.decoder_(z)
        r = len(self.real_)
        loc = out[..., :r]
        scale = nn.functional.softplus(out[..., r:2 * r]) + SCALE_FLOOR
        df = nn.functional.softplus(out[..., 2 * r:3 * r]) + DF_FLOOR if self.observation == "student_t" else None
        logits = out[..., self._n_params:]
        if len(self.cat_):
            padded = logits[..., self._cat_idx].masked_fill(~self._cat_valid, -torch.inf)
            logp = torch.log_softmax(padded, dim=-1)
        else:
            logp = logits.new_zeros((*logits.shape[:-1], 0, 1))
        return loc, scale, df, logp

    def _log_weights(self, batch: tuple[torch.Tensor, ...], k: int, gen: torch.Generator
                     ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """Log importance weights log p(x^o|z) + log p(z) - log q(z|x^o), shape (k, B), and the decoder output."""
        wide, real, m_real, codes, m_cat = batch
        z, log_prior_ratio = self._posterior(wide, k, gen)
        loc, scale, df, logp = self._decode(z)
        if self.observation == "student_t":
            lp_real = student_t_log_prob(real, loc, scale, df)
        else:
            lp_real = gaussian_log_prob(real, loc, scale)
        log_px = (lp_real * m_real).sum(-1)
        if len(self.cat_):
            idx = codes.unsqueeze(0).expand(k, -1, -1).unsqueeze(-1)
            lp_cat = logp.gather(-1, idx).squeeze(-1)  # the observed code's log-probability
            log_px = log_px + (lp_cat * m_cat).sum(-1)
        return log_px + log_prior_ratio, (loc, scale, df, logp)

    def _bound(self, batch: tuple[torch.Tensor, ...], gen: torch.Generator) -> torch.Tensor:
        """Per-row MIWAE bound: logsumexp_k(log w_k) - log K (the paper's L_K)."""
        k = int(self.n_samples)
        lw, _ = self._log_weights(batch, k, gen)
        return torch.logsumexp(lw, 0) - math.log(k)

    # -- fitting --------------------------------------------------------------------------------------
    def _fit(self, X: np.ndarray, schema: Schema) -> None:
        if hasattr(self, "seed_"):
            del self.seed_
        self.schema_ = schema
        self.std_ = Standardizer().fit(X, schema)
        self._prepare(schema)
        rng = np.random.default_rng(self._seed("fit"))
        gen = torch.Generator(device=self._dev).manual_seed(self._seed("torch"))
        init = torch.Generator().manual_seed(self._seed("init"))
        self._build(init)
        opt = torch.optim.Adam([*self.encoder_.parameters(), *self.decoder_.parameters()],
                               lr=float(self.learning_rate))

        n = X.shape[0]
        n_val = int(round(float(self.validation_fraction) * n)) if n >= 20 else 0
        perm = rng.permutation(n)
        val_rows, train_rows = perm[:n_val], perm[n_val:]
        train = self._encode(X[train_rows])
        val = self._encode(X[val_rows]) if n_val else None
        n_train, bs = len(train_rows), min(int(self.batch_size), len(train_rows))

        def step(epoch: int) -> torch.Tensor:
            order = torch.as_tensor(rng.permutation(n_train), device=self._dev)  # random reshuffling (notebook)
            total = torch.zeros((), device=self._dev)
            for s in range(0, n_train, bs):
                idx = order[s:s + bs]
                loss = -self._bound(tuple(t[idx] for t in train), gen).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                total = total + loss.detach()
            return total

        def score(epoch: int) -> float:  # the MIWAE bound of the held-out rows, fixed noise: higher is better
            assert val is not None
            with torch.no_grad():
                g = torch.Generator(device=self._dev).manual_seed(self._seed("validation"))
                return float(self._bound(val, g).mean())

        both = nn.ModuleDict({"encoder": self.encoder_, "decoder": self.decoder_})
        key = repr((self.config(), self.seed_, X.shape))
        res = fit_loop(step, max_epochs=int(self.epochs), score=score if val is not None else None,
                       validate_every=int(self.validate_every), patience=self.patience if val is not None else None,
                       max_extensions=int(self.max_extensions), keep=both,
                       state=LoopState(optimizers={"adam": opt}, generators={"torch": gen}, rngs={"batches": rng}),
                       checkpoint=self.checkpoint, key=key, verbose=bool(self.verbose), desc="miwae")
        self.fit_info_ = res.info.to_dict()
        self.history_ = list(zip(res.val_epochs, res.val_scores, strict=True))

    def _prepare(self, schema: Schema) -> None:
        """Derived sizes and the sub-schema (real columns first, then categoricals) of the encoder input."""
        self._layout(schema)
        p = len(schema)
        self.latent_dim_ = int(self.latent_dim) if self.latent_dim is not None else max(1, p - 1)  # paper: d = p-1
        order = np.r_[self.real_, self.cat_].astype(int)
        self._sub_schema = Schema(tuple(schema[int(j)] for j in order))

    def _build(self, init: torch.Generator) -> None:
        """Fresh encoder (input -> 2d) and decoder (d -> observation parameters) networks."""
        h, d = int(self.hidden_dim), self.latent_dim_
        self.encoder_ = tanh_mlp(self._in_width, h, 2 * d, init).to(self._dev)
        self.decoder_ = tanh_mlp(d, h, self._n_params + self._n_cat_slots, init).to(self._dev)

    # -- imputation -----------------------------------------------------------------------------------
    def _impute(self, X: np.ndarray, n: int, n_importance: int | None = None) -> np.ndarray:
        """``n`` imputations: SIR draws (n > 1) or the self-normalised IS mean / mode (n == 1)."""
        L = int(n_importance or self.n_importance)
        gen = torch.Generator(device=self._dev).manual_seed(self._seed("impute"))
        rng = np.random.default_rng(self._seed("impute-draws"))
        out = np.repeat(X[None].astype(float), n, axis=0)
        width = max(1, self._n_params + self._n_cat_slots)
        chunk = max(1, ROW_CHUNK_ELEMENTS // (L * width))
        self.encoder_.eval()
        self.decoder_.eval()
        with torch.no_grad():
            for s in range(0, X.shape[0], chunk):
                rows = X[s:s + chunk]
                lw, (loc, scale, df, logp) = self._log_weights(self._encode(rows), L, gen)
                w = torch.softmax(lw, 0)  # (L, B): self-normalised importance weights
                if n == 1:
                    out[0, s:s + chunk] = self._mean_mode(rows, w, loc, logp)
                else:
                    out[:, s:s + chunk] = self._sir(rows, n, w, loc, scale, df, logp, rng)
        return out

    def _mean_mode(self, rows: np.ndarray, w: torch.Tensor, loc: torch.Tensor, logp: torch.Tensor) -> np.ndarray:
        """Single imputation: weighted mean of the real means, mode of the weighted class probabilities."""
        res = np.empty(rows.shape)
        mean = torch.einsum("lb,lbr->br", w, loc).cpu().double().numpy()
        res[:, self.real_] = mean
        if len(self.cat_):
            probs = torch.einsum("lb,lbck->bck", w, logp.exp())
            res[:, self.cat_] = probs.argmax(-1).cpu().numpy()
        return self._unscale(res)

    def _sir(self, rows: np.ndarray, n: int, w: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor,
             df: torch.Tensor | None, logp: torch.Tensor, rng: np.random.Generator) -> np.ndarray:
        """Sampling importance resampling: a proposal per draw by weight, then x^m ~ p(x^m | z) of it."""
        B = rows.shape[0]
        wn = w.double().cpu().numpy().T  # (B, L)
        cum = np.cumsum(wn, axis=1)
        u = rng.random((n, B, 1)) * cum[:, -1:][None]
        pick = np.minimum((u > cum[None]).sum(-1), wn.shape[1] - 1)  # (n, B) proposal indices
        pick_t = torch.as_tensor(pick, device=loc.device)
        cols = torch.arange(B, device=loc.device)
        res = np.empty((n, *rows.shape))
        loc_k = loc[pick_t, cols].double().cpu().numpy()  # (n, B, r)
        scale_k = scale[pick_t, cols].double().cpu().numpy()
        if df is not None:
            noise = rng.standard_t(df[pick_t, cols].double().cpu().numpy())
        else:
            noise = rng.standard_normal(loc_k.shape)
        res[..., self.real_] = loc_k + scale_k * noise
        if len(self.cat_):
            p = logp[pick_t, cols].exp().double().cpu().numpy()  # (n, B, c, kmax)
            c = np.cumsum(p, axis=-1)
            u = rng.random((*p.shape[:-1], 1)) * c[..., -1:]
            res[..., self.cat_] = np.minimum((u > c).sum(-1), p.shape[-1] - 1)
        return np.stack([self._unscale(r) for r in res])

    def _unscale(self, Z: np.ndarray) -> np.ndarray:
        """Undo the standardisation of the real columns (categorical codes pass through)."""
        return self.std_.inverse_transform(Z)

    # -- persistence ----------------------------------------------------------------------------------
    def _get_state(self) -> dict[str, np.ndarray]:
        state = {f"enc.{k}": v.detach().cpu().numpy() for k, v in self.encoder_.state_dict().items()}
        state.update({f"dec.{k}": v.detach().cpu().numpy() for k, v in self.decoder_.state_dict().items()})
        state.update(self.std_.get_state(), seed=np.array(self.seed_), fit_info=np.array(json.dumps(self.fit_info_)))
        return state

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.seed_ = int(state["seed"])
        self.std_ = Standardizer.from_state(state)
        self.fit_info_ = json.loads(str(state["fit_info"]))
        self._prepare(self.schema_)
        self._build(torch.Generator().manual_seed(0))
        for net, prefix in ((self.encoder_, "enc."), (self.decoder_, "dec.")):
            net.load_state_dict({k[len(prefix):]: torch.as_tensor(v) for k, v in state.items()
                                 if k.startswith(prefix)})
