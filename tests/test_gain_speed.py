"""Issue 12 item 5: GAIN's hand-written training step computes the gradients autograd gives on the losses.

The reference below is the training step as it was written before the speed-up (autograd on the losses as
the authors' code writes them, arithmetic masks m*x + (1-m)*z, the hint b*m + fill*(1-b), a masked softmax
for every layout, single-tensor Adam), run here on the same seeds. The estimator's D and G gradients of the
first iterations must match it to float32 rounding, for both variants and mixed and all-categorical tables.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaeac_bench.methods import gain
from vaeac_bench.methods.gain import LOG_EPS, GAINImputer, he_normal_mlp
from vaeac_bench.schema import Schema

torch.set_num_threads(1)
ITERATIONS = 40


def table(all_categorical: bool, n: int = 150, seed: int = 0) -> tuple[np.ndarray, Schema]:
    """A small table with MCAR holes: mixed (3 real, a 3-level and a binary column) or categorical only."""
    rng = np.random.default_rng(seed)
    t = rng.normal(size=n)
    cat = [np.digitize(t, [-0.5, 0.5]), (t > 0), rng.integers(0, 4, n)]
    if all_categorical:
        X = np.column_stack(cat).astype(float)
        schema = Schema.from_kinds(["k3", "bin", "k4"], [3, 2, 4])
    else:
        X = np.column_stack([t, 2 * t + rng.normal(size=n), rng.normal(size=n), *cat[:2]]).astype(float)
        schema = Schema.from_kinds(["a", "b", "c", "k3", "bin"], [0, 0, 0, 3, 2])
    X[rng.random(X.shape) < 0.3] = np.nan
    return X, schema


def reference_gradients(est: GAINImputer, X: np.ndarray, schema: Schema,
                        keep: list | None = None) -> list[list[torch.Tensor]]:
    """D's then G's gradients at each of ``est.iterations`` autograd steps (no held-out cells), same seeds;
    the trained G is appended to ``keep`` when given."""
    est._resolve()
    est.seed_ = int(est.random_state)
    est.schema_, est.min_, est.max_ = schema, np.nanmin(X, axis=0), np.nanmax(X, axis=0)
    est._layout(schema)
    rng = np.random.default_rng(est._seed("fit"))
    gen = torch.Generator().manual_seed(est._seed("torch"))
    width, n_feat = int(est.offsets_[-1]), len(schema)
    init = torch.Generator().manual_seed(est._seed("init"))
    G = he_normal_mlp(width + n_feat, width, width, init)
    D = he_normal_mlp(width + n_feat, width, n_feat, init)
    opt_g = torch.optim.Adam(G.parameters(), lr=est.learning_rate, foreach=False)
    opt_d = torch.optim.Adam(D.parameters(), lr=est.learning_rate, foreach=False)
    wide, m = (torch.as_tensor(a) for a in est._encode(X))
    cat, col = est._slot_cat, est._slot_col

    def activate(logits: torch.Tensor) -> torch.Tensor:
        if est.variant == "original":
            return torch.sigmoid(logits)
        index = col.expand_as(logits)
        masked = torch.where(cat, logits, torch.full_like(logits, -torch.inf))
        block_max = torch.full((len(logits), n_feat), -torch.inf).scatter_reduce(1, index, masked.detach(), "amax")
        e = torch.exp(torch.where(cat, logits - block_max.gather(1, index), torch.zeros_like(logits)))
        soft = e / ((e * cat) @ est._assign).gather(1, index).clamp_min(1e-30)
        return torch.where(cat, soft, torch.sigmoid(logits))

    out = []
    for _ in range(est.iterations):
        idx = torch.as_tensor(rng.choice(len(wide), size=min(est.batch_size, len(wide)), replace=False))
        xb, mb = wide[idx], m[idx]
        b = (torch.rand(mb.shape, generator=gen) < est.hint_rate_).to(mb.dtype)
        h = b * mb + est.hint_fill_ * (1.0 - b)
        mw = torch.repeat_interleave(mb, torch.as_tensor(est.widths_), dim=1)
        z = torch.rand(xb.shape, generator=gen) * est.noise_scale
        g = activate(G(torch.cat([mw * xb + (1.0 - mw) * z, mb], dim=1)))
        x_hat = mw * xb + (1.0 - mw) * g
        d = torch.sigmoid(D(torch.cat([x_hat.detach(), h], dim=1)))
        d_loss = -torch.mean(mb * torch.log(d + LOG_EPS) + (1 - mb) * torch.log(1 - d + LOG_EPS))
        opt_d.zero_grad()
        d_loss.backward()
        out.append([p.grad.clone() for p in D.parameters()])
        opt_d.step()
        d = torch.sigmoid(D(torch.cat([x_hat, h], dim=1)))
        g_loss = -torch.mean((1 - mb) * torch.log(d + LOG_EPS)) + est.alpha_ * est._reconstruction(xb, g, mb)
        opt_g.zero_grad()
        g_loss.backward()
        out.append([p.grad.clone() for p in G.parameters()])
        opt_g.step()
    if keep is not None:
        keep.append(G)
    return out


@pytest.mark.parametrize("variant", ["modified", "original"])
@pytest.mark.parametrize("all_categorical", [False, True])
def test_hand_written_gradients_equal_autograd_on_the_written_losses(variant, all_categorical, monkeypatch):
    X, schema = table(all_categorical)
    kw = {"variant": variant, "iterations": 3, "batch_size": 64, "validation_fraction": 0.0, "random_state": 3}
    seen: list[list[torch.Tensor]] = []
    real = gain.FlatAdam.step

    def record(opt):  # the gradients each optimiser step applies (D's step, then G's)
        seen.append([g.clone() for g in opt.grads])
        real(opt)

    monkeypatch.setattr(gain.FlatAdam, "step", record)
    GAINImputer(**kw).fit(X, schema)
    ref = reference_gradients(GAINImputer(**kw), X, schema)
    assert len(seen) == len(ref) == 6  # D then G, three iterations
    for k, (mine, theirs) in enumerate(zip(seen, ref, strict=True)):
        for j, (a, b) in enumerate(zip(mine, theirs, strict=True)):
            net = "DG"[k % 2]
            scale = float(b.abs().max())
            assert scale > 0, f"{net} parameter {j} has no gradient: the comparison would be empty"
            # float32 rounding of two summation orders, relative to the gradient's size
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5 * scale,
                                       msg=lambda m, k=k, j=j, net=net: f"iteration {k // 2 + 1}, {net}.{j}: {m}")


@pytest.mark.parametrize("variant", ["modified", "original"])
def test_training_stays_with_the_plain_formulation_over_many_steps(variant):
    """Rounding differences stay rounding-sized over training: after 40 Adam steps the generators agree closely."""
    X, schema = table(False)
    kw = {"variant": variant, "iterations": 40, "batch_size": 64, "validation_fraction": 0.0, "random_state": 3}
    fast = GAINImputer(**kw).fit(X, schema)
    ref: list[torch.nn.Module] = []
    reference_gradients(GAINImputer(**kw), X, schema, keep=ref)
    for (k, a), b in zip(fast.G_.state_dict().items(), ref[0].state_dict().values(), strict=True):
        # each Adam step moves a weight by about lr = 1e-3; 40 steps apart would differ by up to 4e-2
        torch.testing.assert_close(a, b, rtol=0, atol=1e-4, msg=lambda m, k=k: f"G.{k}: {m}")


@pytest.mark.parametrize("all_categorical", [False, True])
def test_same_seed_gives_the_same_imputations_with_held_out_selection(all_categorical):
    X, schema = table(all_categorical)
    fits = [GAINImputer(iterations=60, eval_every=20, random_state=5).fit(X, schema) for _ in range(2)]
    assert fits[0].history_ == fits[1].history_
    np.testing.assert_array_equal(fits[0].impute(X, n=3), fits[1].impute(X, n=3))
    other = GAINImputer(iterations=60, eval_every=20, random_state=6).fit(X, schema)
    assert not np.array_equal(fits[0].impute(X, n=3), other.impute(X, n=3))


def test_flat_adam_follows_torch_adam_and_refuses_a_foreign_checkpoint():
    torch.manual_seed(0)
    net = he_normal_mlp(7, 5, 3, torch.Generator().manual_seed(1))
    ref = he_normal_mlp(7, 5, 3, torch.Generator().manual_seed(1))
    flat = gain.FlatAdam(list(net.parameters()), lr=1e-2)
    torch_adam = torch.optim.Adam(ref.parameters(), lr=1e-2)
    for _ in range(50):
        grads = [torch.randn_like(p) for p in ref.parameters()]
        for g, view in zip(grads, flat.grads, strict=True):
            view.copy_(g)
        for g, p in zip(grads, ref.parameters(), strict=True):
            p.grad = g
        flat.step()
        torch_adam.step()
    for a, b in zip(net.parameters(), ref.parameters(), strict=True):  # the parameters are views of the buffer
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    state = flat.state_dict()
    other = gain.FlatAdam(list(he_normal_mlp(7, 5, 3, torch.Generator()).parameters()), lr=1e-2)
    other.load_state_dict(state)
    assert other.step_count == 50 and torch.equal(other.exp_avg_sq, flat.exp_avg_sq)
    with pytest.raises(ValueError, match="delete the checkpoint"):
        other.load_state_dict(torch_adam.state_dict())
