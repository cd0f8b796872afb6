"""Do VAEAC's draws show every mode of a known multimodal conditional? (issue 13 §1; docs/estimators.md)

Fits the VAEAC model with the benchmark's defaults on two known conditionals and prints, per query, the share of
draws nearest each true mode and the total variation (TV) to the true weights, for the reference draws (the
generator's mean / most probable category per z) and for draws with the output noise:

* ``mixture``: the paper's 2-D mixture of appendix C.2 (:mod:`vaeac_bench.synthetic`, variance 0.01), 3000 points;
  queries x2 | x1 at x1 = -0.76, -0.64, -0.52 (multimodal, hundreds of training points near them: the slow
  test's), then -0.62, -0.97, -0.21 (last session's; the last two lie between components, where few points are).
* ``mixed``: c ∈ {a, b} with P(b) = 0.4; x = ±2 (50/50) + N(0, 0.3²) when c = a, N(0, 0.3²) when c = b; 1000
  rows. Queries: x | c = a (modes -2 / +2, 0.5 / 0.5) and (c, x) with nothing observed ((a, -2) / (a, +2) / (b, 0),
  0.3 / 0.3 / 0.4).

``--sigma-max c`` fits the product model instead (``VAEACImputer()``'s: a learnt σ bounded by c standard
deviations, :mod:`vaeac_bench.product`; pass ``--params '{"width": 128, "depth": 4,
"latent_dim": 16}'`` for the product's network). ``--sigma`` is the fixed output σ in standardised units
(A.2: 1); ``VAEACMethod`` has no ``output_sigma`` parameter (it is code-frozen), so the script prototypes it
exactly: real columns standardised, divided by σ and fitted with ``standardize=False`` and σ = 1.
``--learn-sigma`` learns σ instead. One thread; run niced:

    PYTHONPATH=src OMP_NUM_THREADS=1 nice -n 15 python scripts/imputer_multimodal.py mixed --sigma 1 0.25
    PYTHONPATH=src OMP_NUM_THREADS=1 nice -n 15 python scripts/imputer_multimodal.py mixture --sigma 1 \
        --sigma-max 0.25 --params '{"width": 128, "depth": 4, "latent_dim": 16}'
"""

from __future__ import annotations

import argparse
import inspect
import json
import time

import numpy as np


def mixed_table(n: int = 1000, seed: int = 0) -> np.ndarray:
    """Columns (c, x): c = 1 ("b") with probability 0.4; x | c = a is ±2 (50/50) + N(0, 0.3²), else N(0, 0.3²)."""
    rng = np.random.default_rng(seed)
    c = rng.random(n) < 0.4
    side = np.where(rng.random(n) < 0.5, -2.0, 2.0)
    return np.c_[c.astype(float), np.where(c, 0.0, side) + 0.3 * rng.normal(size=n)]


def shares(draws: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Share of draws (rows × dims) nearest each centre (centres × dims)."""
    near = np.argmin(((draws[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    return np.bincount(near, minlength=len(centres)) / len(draws)


def queries(case: str) -> tuple[np.ndarray, list, list[int], np.ndarray]:
    """Training data, and per query: (row with NaN, column(s) drawn, centres, true weights)."""
    from vaeac_bench.synthetic import VARIANCE_SMALL, Mixture

    if case == "mixed":
        return mixed_table(), [
            (np.array([0.0, np.nan]), [1], np.array([[-2.0], [2.0]]), np.array([0.5, 0.5])),
            (np.array([np.nan, np.nan]), [0, 1], np.array([[0, -2.0], [0, 2.0], [1, 0.0]]), np.array([0.3, 0.3, 0.4])),
        ]
    mix = Mixture.draw(seed=0, variance=VARIANCE_SMALL)
    out = []
    for x1 in (-0.76, -0.64, -0.52, -0.62, -0.97, -0.21):
        lw = -0.5 * (x1 - mix.means[:, 0]) ** 2 / mix.variance
        w = np.exp(lw - lw.max())
        w /= w.sum()
        keep = w > 0.1
        out.append((np.array([x1, np.nan]), [1], mix.means[keep, 1:], w[keep] / w[keep].sum()))
    return mix.sample(3000, seed=1), out


def main() -> None:
    import torch

    from vaeac_bench.methods.vaeac import VAEACMethod
    from vaeac_bench.schema import Schema

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("case", choices=("mixed", "mixture"))
    ap.add_argument("--sigma", type=float, nargs="+", default=[1.0, 0.25])
    ap.add_argument("--learn-sigma", action="store_true")
    ap.add_argument("--sigma-max", type=float, default=None,
                    help="the product model: learnt σ bounded by this many standard deviations (ignores --sigma)")
    ap.add_argument("--params", default="{}", help="extra VAEACMethod parameters as JSON")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    X, qs = queries(args.case)
    schema = Schema.from_kinds(["c", "x"], [2, 0]) if args.case == "mixed" else Schema.from_kinds(["x1", "x2"], [0, 0])
    real = schema.real_mask
    native = "output_sigma" in inspect.signature(VAEACMethod.__init__).parameters
    for sigma in args.sigma:
        params = {"learn_sigma": args.learn_sigma, "random_state": args.seed, **json.loads(args.params)}
        mu, sd = np.where(real, np.nanmean(X, 0), 0.0), np.where(real, np.nanstd(X, 0, ddof=1) * sigma, 1.0)
        if native:
            params["output_sigma"] = sigma
            mu, sd = np.zeros(X.shape[1]), np.ones(X.shape[1])  # the method does it
        else:
            params["standardize"] = False
        t0 = time.process_time()
        if args.sigma_max is not None:
            from vaeac_bench.product import ProductVAEAC

            params = {"random_state": args.seed, **json.loads(args.params), "sigma_max": args.sigma_max}
            mu, sd = np.zeros(X.shape[1]), np.ones(X.shape[1])
            m = ProductVAEAC(**params).fit(X, schema)
        else:
            m = VAEACMethod(**params).fit((X - mu) / sd, schema)
        cpu = time.process_time() - t0
        for row, cols, centres, weights in qs:
            q = ((row - mu) / sd)[None]
            for noise in (False, True):
                d = m.sample_standardised(m.scaler_.transform(q), 2000, seed=1, most_probable=not noise)
                d = m.scaler_.inverse_transform(d[:, 0, :]) * sd + mu
                w = np.where(real[cols], 1.0, 10.0)  # a draw in the wrong category is never nearest a mode of it
                sh = shares(d[:, cols] * w, centres * w)
                print(json.dumps({"case": args.case, "sigma": sigma, "sigma_max": args.sigma_max,
                                  "learn_sigma": args.learn_sigma,
                                  "query": [None if np.isnan(v) else v for v in row], "noise": noise,
                                  "truth": np.round(weights, 3).tolist(), "shares": np.round(sh, 3).tolist(),
                                  "tv": round(float(0.5 * np.abs(sh - weights).sum()), 3),
                                  "sd": round(float(d[:, cols[-1]].std()), 3), "epochs": m.fit_info_["epochs_run"],
                                  "best_epoch": m.fit_info_["best_epoch"], "cpu_s": round(cpu, 1)}), flush=True)


if __name__ == "__main__":
    main()
