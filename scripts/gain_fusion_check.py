"""Would fusing modified GAIN's small ops bring its Mushroom cell under 15 s? (issue 12 §5; benchmark only)

Builds the grid's Mushroom split-0 GAIN fit up to its loop (``fit_loop`` patched to hand back the step's closure),
then times N iterations of (a) the registered eager step and (b) the same iteration with everything but the
batch's row choice and the random draws in one ``torch.compile`` region (Adam's step-dependent scalars passed as
tensors, so it compiles once), from the same state, twice each, in CPU ms per iteration. Last, one iteration of
each from the same state and streams, to show both compute the same update (max abs difference of the weights).
Usage: ``python scripts/gain_fusion_check.py [N]`` (N = 2000). docs/performance.md, "GAIN: fused" has a run.
"""
import inspect
import json
import sys
import time

import torch

torch.set_num_threads(1)
import vaeac_bench.methods.gain as gm  # noqa: E402
from vaeac_bench.datasets import load  # noqa: E402
from vaeac_bench.datasets.splits import make_split  # noqa: E402
from vaeac_bench.methods import build, seed  # noqa: E402
from vaeac_bench.runner import method_seed, plan  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
cell = plan(["mushroom"], ["gain"], [0])[0]
k = cell.key
split = make_split(load(k.dataset), k.split, k.mechanism, k.rate)
est = seed(build(k.method), method_seed(k.dataset, k.method, k.split))
captured = {}


class Captured(Exception):
    pass


def fake_fit_loop(step, **kw):
    inner = inspect.getclosurevars(step).nonlocals["step"]
    captured.update(inspect.getclosurevars(inner).nonlocals)
    captured["step"] = inner
    raise Captured


gm.fit_loop = fake_fit_loop
try:
    with gm.flush_denormals():
        est._fit(split.train_obs, split.schema)
except Captured:
    pass
c = captured
self, G, D, opt_g, opt_d = c["self"], c["G"], c["D"], c["opt_g"], c["opt_d"]
rows_t, cuts, rng, gen = c["rows_t"], c["cuts"], c["rng"], c["gen"]
alpha, hint_rate, hint_fill, inv_cells = c["alpha"], c["hint_rate"], c["hint_fill"], c["inv_cells"]
width, batch, n_rows = c["width"], c["batch"], c["n_rows"]
print("captured", sorted(c), flush=True)

state = {"g": opt_g.flat, "d": opt_d.flat, "gm": opt_g.exp_avg, "gv": opt_g.exp_avg_sq, "dm": opt_d.exp_avg,
         "dv": opt_d.exp_avg_sq}
snap = {n: t.clone() for n, t in state.items()}


def restore():
    for n, t in state.items():
        t.copy_(snap[n])
    opt_g.step_count = opt_d.step_count = 0


def adam(opt, lr_t, eps_t):  # opt.step's update with its step-dependent scalars as tensors (no recompiles)
    b1, b2 = opt.betas
    opt.exp_avg.lerp_(opt.grad, 1 - b1)
    opt.exp_avg_sq.mul_(b2).addcmul_(opt.grad, opt.grad, value=1 - b2)
    torch.sqrt(opt.exp_avg_sq, out=opt._denom).add_(eps_t)
    opt.flat.addcdiv_(opt.exp_avg, opt._denom * (1.0 / lr_t))  # lr_t already negative


def body(rows, u, hb, lr_d, eps_d, lr_g, eps_g):
    xb, mb, not_m, mw, not_mw = rows.tensor_split(cuts, dim=1)
    h = mb * hb if hint_fill == 0.0 else (mb - hint_fill).mul_(hb).add_(hint_fill)
    g_in = torch.cat([torch.addcmul(xb, not_mw, u, value=float(self.noise_scale)), mb], 1)
    logits, g_r1, g_r2 = gm.mlp_forward_saved(G, g_in)
    g = self._activate(logits)
    d_in = torch.cat([torch.addcmul(xb, not_mw, g), h], dim=1)
    d_logit, r1, r2 = gm.mlp_forward_saved(D, d_in)
    d = torch.sigmoid(d_logit)
    omd = torch.rsub(d, 1)
    d_d = (not_m / (omd + gm.LOG_EPS) - mb / (d + gm.LOG_EPS)) * inv_cells
    gm.mlp_backward(D, d_in, r1, r2, d_d * d * omd, out=opt_d.grads)
    adam(opt_d, lr_d, eps_d)
    d_logit, r1, r2 = gm.mlp_forward_saved(D, d_in)
    d = torch.sigmoid(d_logit)
    d_d = not_m / (d + gm.LOG_EPS) * -inv_cells
    d_x_hat = gm.mlp_backward(D, d_in, r1, r2, d_d * d * torch.rsub(d, 1), input_cols=width, params=False)[1]
    d_g = torch.addcmul(self._reconstruction_grad(xb, g, mb, mw, alpha), not_mw, d_x_hat)
    gm.mlp_backward(G, g_in, g_r1, g_r2, self._activate_backward(g, d_g), out=opt_g.grads)
    adam(opt_g, lr_g, eps_g)


def scalars(opt):
    opt.step_count += 1
    b1, b2 = opt.betas
    root_c2 = (1 - b2 ** opt.step_count) ** 0.5
    return (torch.tensor(-opt.lr * root_c2 / (1 - b1 ** opt.step_count)), torch.tensor(opt.eps * root_c2))


compiled = torch.compile(body, dynamic=False)


def fused_step(it: int = 0):  # it: the registered step's signature (unused)
    idx = torch.as_tensor(rng.choice(n_rows, size=batch, replace=False))
    rows = rows_t.index_select(0, idx).float()
    mb = rows[:, cuts[0]:cuts[1]]
    # the registered step's draw order: the hint's Bernoulli first, then the noise
    hb = (torch.rand(mb.shape, generator=gen) < hint_rate).float()
    u = torch.rand((batch, width), generator=gen)
    lr_d, eps_d = scalars(opt_d)
    lr_g, eps_g = scalars(opt_g)
    compiled(rows, u, hb, lr_d, eps_d, lr_g, eps_g)


def timed(fn, n):
    c0 = time.process_time()
    with torch.no_grad(), gm.flush_denormals():
        for i in range(n):
            fn(i)
    return time.process_time() - c0


out = {}
with torch.no_grad(), gm.flush_denormals():
    restore()
    c0, w0 = time.process_time(), time.perf_counter()
    fused_step()  # the first call compiles (TORCHINDUCTOR_CACHE_DIR: a fresh folder gives a cold compile)
    out["compile_cpu_s"], out["compile_wall_s"] = time.process_time() - c0, time.perf_counter() - w0
for _ in range(2):
    restore()
    out.setdefault("eager_ms_per_it", []).append(timed(c["step"], N) / N * 1e3)
    restore()
    out.setdefault("fused_ms_per_it", []).append(timed(fused_step, N) / N * 1e3)
print(json.dumps(out), flush=True)

# sanity: one iteration each from the same state and random streams gives the same parameters (to rounding)
with torch.no_grad(), gm.flush_denormals():
    rs, gs = rng.bit_generator.state, gen.get_state()
    restore()
    c["step"](0)
    eager = (opt_g.flat.clone(), opt_d.flat.clone())
    restore()
    rng.bit_generator.state = rs
    gen.set_state(gs)
    fused_step()
    diffs = [float((a - b).abs().max()) for a, b in zip(eager, (opt_g.flat, opt_d.flat), strict=True)]
    moved = float((eager[0] - snap["g"]).abs().max())
print(json.dumps({"max_abs_diff_G_D": diffs, "G_moved_by": moved}))
