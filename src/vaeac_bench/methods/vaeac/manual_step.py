"""VAEAC's training loss and its gradients written out by hand, without autograd (issue 12 §5, §6).

At batch 64 the default tabular step is overhead-bound: about 600 small ops, each recorded by autograd and
replayed by its engine, cost more than the matrix products (docs/performance.md, "Compute efficiency").
:class:`ManualStep` computes the same loss as :meth:`VAEACModel.loss` and writes the same gradients into
``param.grad`` with plain tensor ops under ``torch.no_grad()``: the forward keeps what the backward needs
(pre-activations, the prior's saved activations), the backward is the chain rule written per layer, as GAIN's
second pass does for its two small networks.

Scope: the registered tabular models, i.e. the fused generator with U-Net skips (``fused=True``, residual
trunks, leaky ReLU), σ fixed at 1 for real columns, and α ∈ {0, 1} (VAEAC, GSNN, NN). Anything else is
refused at construction with the reason. ``training.train`` uses it in fast mode for every model it supports
(``training.manual_step``) and keeps autograd for the rest. ``tests/test_manual_step.py`` checks loss and
gradients against autograd in float64, and the wired training loop against the autograd one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...nn import full_input, observed_input
from ...nn.blocks import ResidualMLP
from ...nn.likelihood import HALF_LOG_2PI
from .model import Batch, VAEACModel

_SLOPE = 0.01  # nn.LeakyReLU's default, the reference's activation (facts §1.3)


def _lrelu_backward(grad: torch.Tensor, pre: torch.Tensor) -> torch.Tensor:
    return torch.ops.aten.leaky_relu_backward(grad, pre, _SLOPE, False)


def _sigma_and_grad(raw: torch.Tensor, floor: float) -> tuple[torch.Tensor, torch.Tensor]:
    """σ = max(softplus(raw), floor) and dσ/draw (zero where the floor binds, as clamp_min's gradient)."""
    sp = F.softplus(raw)
    return sp.clamp_min(floor), torch.sigmoid(raw) * (sp >= floor)


def flatten_parameters(model: torch.nn.Module) -> torch.nn.Parameter:
    """Make every parameter of ``model`` a view of one flat parameter, and every ``.grad`` a view of its gradient.

    Fused Adam over one tensor does the same per-element update as over the 86 tensors of a default VAEAC, without
    the per-tensor bookkeeping (a step counter, a device check and a dispatch per tensor, about 1.5 ms a step at
    batch 64). Returns the flat parameter to give the optimiser; the module's ``state_dict`` is unchanged.
    """
    params = list(model.parameters())
    flat = torch.nn.Parameter(torch.cat([q.detach().reshape(-1) for q in params]))
    flat.grad = torch.zeros_like(flat)
    start = 0
    for q in params:
        n = q.numel()
        q.data = flat.data[start:start + n].view_as(q)
        q.grad = flat.grad[start:start + n].view_as(q)
        start += n
    return flat


class ManualStep:
    """One training step's loss and gradients for ``model`` (same values as ``model.loss`` and autograd)."""

    def __init__(self, model: VAEACModel):
        arch, obj, nets = model.arch, model.objective, model.nets
        gen = nets.generator
        problems = []
        if not model.fused or not gen.skips or not gen.residual or arch.hidden_sizes is not None:
            problems.append("the fused residual generator with skip connections (fused=True, hidden_sizes=None)")
        if arch.activation != "leaky_relu":
            problems.append(f"activation 'leaky_relu' (got {arch.activation!r})")
        if model.layout.learn_sigma or hasattr(model.layout, "log_prob"):
            problems.append("real columns with σ fixed at 1 (learn_sigma=False, the paper's output family)")
        if obj.alpha not in (0.0, 1.0):
            problems.append(f"alpha 0 or 1 (got {obj.alpha}; the hybrid draws two latent samples)")
        if problems:
            raise ValueError("ManualStep supports only " + "; ".join(problems) + ". Train this model with "
                             "autograd (VAEACModel.loss).")
        self.model = model
        for p in model.parameters():
            if p.grad is None:
                p.grad = torch.zeros_like(p)

    # -- the two trunks ----------------------------------------------------------------------------------
    @staticmethod
    def _trunk_forward(net: ResidualMLP, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor],
                                                                     list[torch.Tensor]]:
        pre = torch.addmm(net.inp.bias, x, net.inp.weight.t())
        h = F.leaky_relu(pre, _SLOPE)
        hs, pres = [h], [pre]
        for block in net.layers:
            a = torch.addmm(block.linear.bias, h, block.linear.weight.t())
            h = h + F.leaky_relu(a, _SLOPE)
            hs.append(h)
            pres.append(a)
        return torch.addmm(net.head.bias, h, net.head.weight.t()), hs, pres

    @staticmethod
    def _trunk_backward(net: ResidualMLP, x: torch.Tensor, hs: list[torch.Tensor], pres: list[torch.Tensor],
                        d_head: torch.Tensor, extra: list[torch.Tensor | None] | None = None) -> None:
        """Write the trunk's gradients; ``extra[i]`` is a gradient arriving at ``hs[i]`` from elsewhere."""
        torch.mm(d_head.t(), hs[-1], out=net.head.weight.grad)
        torch.sum(d_head, 0, out=net.head.bias.grad)
        g = d_head @ net.head.weight
        if extra is not None and extra[-1] is not None:
            g = g + extra[-1]
        for i in range(len(net.layers) - 1, -1, -1):
            lin = net.layers[i].linear
            ga = _lrelu_backward(g, pres[i + 1])
            torch.mm(ga.t(), hs[i], out=lin.weight.grad)
            torch.sum(ga, 0, out=lin.bias.grad)
            g = torch.addmm(g, ga, lin.weight)
            if extra is not None and extra[i] is not None:
                g = g + extra[i]
        ga = _lrelu_backward(g, pres[0])
        torch.mm(ga.t(), x, out=net.inp.weight.grad)
        torch.sum(ga, 0, out=net.inp.bias.grad)

    # -- the step ------------------------------------------------------------------------------------------
    @torch.no_grad()
    def loss_and_grad(self, batch: Batch, b: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        """The loss of :meth:`VAEACModel.loss` for ``noise`` (its ``n_noise()`` draws), gradients in ``.grad``."""
        model, obj, nets, lt = self.model, self.model.objective, self.model.nets, self.model.lt
        gen = nets.generator
        n_rows = batch.x.shape[0]
        d = model.arch.latent_dim
        scale = -1.0 / n_rows  # loss = -mean(vlb)

        # prior p(z | x_{1-b}, b), its saved activations feed the generator's skips
        prior_in = observed_input(batch.x_onehot, b, lt)
        p_out, p_hs, p_pres = self._trunk_forward(nets.prior, prior_in)
        mu_p = p_out[:, :d]
        delta = obj.delta_prior
        sig_p, dsig_p = (None, None) if delta else _sigma_and_grad(p_out[:, d:], obj.latent_sigma_floor)
        if obj.alpha > 0:  # VAEAC: z from the proposal q(z | x, b)
            q_in = full_input(batch.x_onehot, batch.missing, b)
            q_out, q_hs, q_pres = self._trunk_forward(nets.proposal, q_in)
            mu_q = q_out[:, :d]
            sig_q, dsig_q = _sigma_and_grad(q_out[:, d:], obj.latent_sigma_floor)
            z = torch.addcmul(mu_q, sig_q, noise[0])
        else:  # GSNN: z from the prior; NN: the prior mean
            z = mu_p if delta else torch.addcmul(mu_p, sig_p, noise[0])

        # generator p(x_b | z, x_{1-b}, b): skip terms of the prior's activations, deepest first
        n_blocks = len(gen.blocks)
        pre_in = torch.addmm(gen.inp.bias, z, gen.inp.weight.t())
        g = F.leaky_relu(pre_in, _SLOPE)
        gs, g_pres = [g], []
        for i, blk in enumerate(gen.blocks):
            a = torch.addmm(blk.bias, p_hs[n_blocks - 1 - i], blk.weight_b.t())
            a = torch.addmm(a, g, blk.weight_a.t())
            g = g + F.leaky_relu(a, _SLOPE)
            gs.append(g)
            g_pres.append(a)
        out = torch.addmm(gen.out.bias, prior_in, gen.out.weight_b.t())
        out = torch.addmm(out, g, gen.out.weight_a.t())

        # reconstruction log-likelihood (eq. 9: w = b ∧ ¬missing) and its gradient wrt the output
        w = b * (1.0 - batch.missing)
        rec = torch.zeros(n_rows, dtype=out.dtype, device=out.device)
        d_out = torch.empty_like(out)
        layout = model.layout
        r = layout.n_real
        if r:
            xr = torch.nan_to_num(batch.x.index_select(-1, lt.real_idx), nan=0.0)
            wr = w.index_select(-1, lt.real_idx)
            diff = xr - out[:, :r]
            rec = rec + ((-HALF_LOG_2PI - 0.5 * diff * diff) * wr).sum(-1)
            torch.mul(diff * wr, scale, out=d_out[:, :r])
        if layout.n_cat:
            pad = torch.full((n_rows, 1), float("-inf"), dtype=out.dtype, device=out.device)
            grouped = torch.cat([out[:, r:], pad], dim=-1)[:, lt.cat_gather]  # (rows, C, K)
            s = torch.softmax(grouped, dim=-1)
            p = s.clamp_min(obj.min_prob) * lt.cat_valid
            total = p.sum(-1, keepdim=True)
            xc = torch.nan_to_num(batch.x.index_select(-1, lt.cat_idx), nan=0.0).long().unsqueeze(-1)
            wc = w.index_select(-1, lt.cat_idx).unsqueeze(-1)
            p_y = p.gather(-1, xc)
            rec = rec + ((p_y.log() - total.log()) * wc).sum((-1, -2))
            # d log p_y / d p_k = [k = y] / p_y - 1 / P; clamp_min passes the gradient where s >= min_prob
            g_p = torch.zeros_like(p).scatter_(-1, xc, 1.0 / p_y) - 1.0 / total
            g_s = g_p * (wc * scale) * ((s >= obj.min_prob) & lt.cat_valid)
            g_l = s * (g_s - (g_s * s).sum(-1, keepdim=True))  # softmax's Jacobian
            d_out[:, r:] = g_l[:, lt.cat_valid]  # valid slots in (column, level) order = the logits' order

        # the latent terms of the objective: vlb = reg(p) + α (rec_q - KL(q || p)) + (1 - α) rec_p
        vlb = rec - (mu_p * mu_p).sum(-1) / (2 * obj.sigma_mu ** 2)
        d_mu_p = mu_p * (-scale / obj.sigma_mu ** 2)
        if sig_p is not None:
            vlb = vlb + obj.sigma_sigma * (sig_p.log() - sig_p).sum(-1)
            d_sig_p = (1.0 / sig_p - 1.0) * (obj.sigma_sigma * scale)
        if obj.alpha > 0:
            var_p = sig_p * sig_p
            dm = mu_q - mu_p
            vlb = vlb - (sig_p.log() - sig_q.log() + (sig_q * sig_q + dm * dm) / (2 * var_p) - 0.5).sum(-1)
            d_mu_q = dm / var_p * (-scale)
            d_mu_p = d_mu_p + dm / var_p * scale
            d_sig_q = (sig_q / var_p - 1.0 / sig_q) * (-scale)
            d_sig_p = d_sig_p + (1.0 / sig_p - (sig_q * sig_q + dm * dm) / (var_p * sig_p)) * (-scale)

        # generator backward; gradients arriving at the prior's saved activations are kept for the prior
        torch.mm(d_out.t(), g, out=gen.out.weight_a.grad)
        torch.mm(d_out.t(), prior_in, out=gen.out.weight_b.grad)
        torch.sum(d_out, 0, out=gen.out.bias.grad)
        dg = d_out @ gen.out.weight_a
        extra: list[torch.Tensor | None] = [None] * len(p_hs)
        for i in range(n_blocks - 1, -1, -1):
            blk = gen.blocks[i]
            ga = _lrelu_backward(dg, g_pres[i])
            torch.mm(ga.t(), gs[i], out=blk.weight_a.grad)
            torch.mm(ga.t(), p_hs[n_blocks - 1 - i], out=blk.weight_b.grad)
            torch.sum(ga, 0, out=blk.bias.grad)
            extra[n_blocks - 1 - i] = ga @ blk.weight_b
            dg = torch.addmm(dg, ga, blk.weight_a)
        ga = _lrelu_backward(dg, pre_in)
        torch.mm(ga.t(), z, out=gen.inp.weight.grad)
        torch.sum(ga, 0, out=gen.inp.bias.grad)
        dz = ga @ gen.inp.weight

        # z's gradient into whichever network drew it, then the two trunks
        if obj.alpha > 0:
            d_mu_q = d_mu_q + dz
            d_sig_q = d_sig_q + dz * noise[0]
            self._trunk_backward(nets.proposal, q_in, q_hs, q_pres, torch.cat([d_mu_q, d_sig_q * dsig_q], -1))
        elif delta:
            d_mu_p = d_mu_p + dz
        else:
            d_mu_p = d_mu_p + dz
            d_sig_p = d_sig_p + dz * noise[0]
        d_raw_p = torch.zeros_like(mu_p) if sig_p is None else d_sig_p * dsig_p
        self._trunk_backward(nets.prior, prior_in, p_hs, p_pres, torch.cat([d_mu_p, d_raw_p], -1), extra)
        return -vlb.mean()

    def step(self, batch: Batch, b: torch.Tensor, noise: torch.Tensor | None,
             optimizer: torch.optim.Optimizer) -> torch.Tensor:
        """One optimiser step on ``batch``: gradients by hand, then ``optimizer.step()``. Returns the loss."""
        loss = self.loss_and_grad(batch, b, noise)
        optimizer.step()
        return loss

