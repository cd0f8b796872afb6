"""The synthetic multimodal check of appendix C.2: table 8 and figure 7.

Data: p_d(x) = (1/8) Σ_i N(x | μ_i, I/10) in 2-D with μ_i ~ N(0, I) (the paper writes the variance as
1/10 on the diagonal), 100000 points; masks p(b1 = 1) = p(b2 = 1) = 0.5 independently. Model: proposal,
prior and generator are MLPs with four ReLU layers 400-200-100-50 (the generator mirrors them,
50-100-200-400, and reads ``concat(z, x_{1-b}, b)``), 25 Gaussian latents, a learnt Gaussian σ per output
(a fixed σ = 1 would make a density with spread √0.1 impossible), no standardisation (the data are already
on a unit scale). The hybrid objective (16) is trained for α ∈ {1, 0.99, 0.9}; table 8 reports the average
negative log-likelihood −log p(x_b | x_{1-b}, b) of held-out points with fresh masks, estimated by IS-10 (18)
and MC-10 (17), next to the paper's numbers and to the true value under p_d.

    from pathlib import Path
    from vaeac_bench.synthetic import make_table8
    make_table8(Path("reports"))            # the real run (minutes on one core)
    make_table8(Path("/tmp/r"), quick=True)  # a smoke run
"""

from __future__ import annotations

import csv
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .schema import Schema

N_COMPONENTS = 8
VARIANCE = 0.1
N_POINTS = 100_000
ALPHAS = (1.0, 0.99, 0.9)
HIDDEN = (400, 200, 100, 50)
LATENT = 25
#: table 8 of the paper (IS-10, MC-10 NLL); used when tables/published.csv has no table "8" rows
PAPER_TABLE8 = {1.0: (0.22, 85.0), 0.99: (0.35, 11.0), 0.9: (0.62, 1.7)}
SCHEMA = Schema.from_kinds(["x1", "x2"], [0, 0])


@dataclass(frozen=True)
class Mixture:
    """An equal-weight mixture of isotropic 2-D Gaussians."""

    means: np.ndarray  # (K, 2)
    variance: float = VARIANCE

    @classmethod
    def draw(cls, seed: int = 0, k: int = N_COMPONENTS) -> Mixture:
        """μ_i ~ N(0, I) (C.2)."""
        return cls(np.random.default_rng(seed).normal(size=(k, 2)))

    def sample(self, n: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        comp = rng.integers(0, len(self.means), n)
        return self.means[comp] + rng.normal(scale=math.sqrt(self.variance), size=(n, 2))

    def _log_comp(self, x: np.ndarray, dims: np.ndarray) -> np.ndarray:
        """log N(x_dims | μ_k,dims, v) for every row and component: (rows, K)."""
        d = x[:, None, :] - self.means[None, :, :]
        ll = -0.5 * (d ** 2 / self.variance + np.log(2 * np.pi * self.variance))
        return (ll * dims[:, None, :]).sum(-1)

    def conditional_log_density(self, x: np.ndarray, b: np.ndarray) -> np.ndarray:
        """True log p_d(x_b | x_{1-b}) per row (0 when b is empty)."""
        b = b.astype(float)
        joint = _logsumexp(self._log_comp(x, np.ones_like(b)), axis=1)
        observed = _logsumexp(self._log_comp(x, 1.0 - b), axis=1)
        return joint - observed


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    m = a.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(a - m).sum(axis=axis, keepdims=True))).squeeze(axis)


def synthetic_model(alpha: float, epochs: int, seed: int = 0, hidden: tuple[int, ...] = HIDDEN,
                    latent_dim: int = LATENT, **overrides):  # noqa: ANN201 - VAEACMethod (lazy torch import)
    """The C.2 model as a :class:`~vaeac_bench.methods.vaeac.VAEACMethod`."""
    from .methods.vaeac import VAEACMethod

    params = dict(alpha=alpha, hidden_sizes=hidden, skip_connections=False, latent_dim=latent_dim,
                  activation="relu", learn_sigma=True, standardize=False, epochs=epochs, validate_every=1,
                  patience=None, validation_samples=10, random_state=seed)
    params.update(overrides)
    return VAEACMethod(**params)


def published_table8(path: Path | None = None) -> dict[float, tuple[float, float]]:
    """The paper's table 8 from ``tables/published.csv`` when it has it, else :data:`PAPER_TABLE8`."""
    path = path or Path(__file__).parent / "tables" / "published.csv"
    if not path.exists():
        return dict(PAPER_TABLE8)
    out: dict[float, dict[str, float]] = {}
    with path.open() as fh:
        for row in csv.DictReader(fh):
            if str(row.get("table", "")).strip() != "8":
                continue
            try:
                key = float(str(row.get("row", "")).replace("α=", "").replace("alpha=", "").strip())
                col = str(row.get("column", "")).strip().upper()
                out.setdefault(key, {})[col] = float(row["value"])
            except (KeyError, ValueError):
                continue
    vals = {a: (d["IS-10"], d["MC-10"]) for a, d in out.items() if "IS-10" in d and "MC-10" in d}
    return vals or dict(PAPER_TABLE8)


def evaluate(model, X: np.ndarray, b: np.ndarray, n_samples: int = 10) -> tuple[float, float]:  # noqa: ANN001
    """Average NLL by IS-S (18) and MC-S (17) over rows (a row with nothing to generate contributes 0)."""
    is_ = -model.log_likelihood(X, b, n_samples=n_samples, estimator="iwae")
    mc = -model.log_likelihood(X, b, n_samples=n_samples, estimator="mc")
    return float(is_.mean()), float(mc.mean())


def figure7(models: dict[float, object], mixture: Mixture, path: Path, n: int = 3000, seed: int = 1) -> Path:
    """Samples of p(x1, x2), p(x1 | x2) and p(x2 | x1) for each α, the observed feature from its true
    marginal (figure 7); the first row shows the data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    truth = mixture.sample(n, seed)
    rows = [("data", None)] + [(f"α = {a:g}", m) for a, m in models.items()]
    fig, axes = plt.subplots(len(rows), 3, figsize=(10, 3.2 * len(rows)), sharex=True, sharey=True)
    titles = ["p(x1, x2)", "p(x1 | x2), x2 ~ p(x2)", "p(x2 | x1), x1 ~ p(x1)"]
    for r, (label, model) in enumerate(rows):
        for c in range(3):
            ax = axes[r, c]
            if model is None:
                pts = truth
            else:
                X = truth.copy()
                if c == 0:
                    X[:] = np.nan
                else:
                    X[:, c - 1] = np.nan
                pts = model.sample_standardised(model.scaler_.transform(X), 1, seed=seed + c, most_probable=False)[0]
                keep = ~np.isnan(X)
                pts[keep] = X[keep]
            ax.scatter(pts[:, 0], pts[:, 1], s=1, alpha=0.3, color="C0" if model is None else "C1")
            if r == 0:
                ax.set_title(titles[c], fontsize=9)
            if c == 0:
                ax.set_ylabel(f"{label}\nx2")
            if r == len(rows) - 1:
                ax.set_xlabel("x1")
    fig.suptitle("Synthetic mixture of 8 Gaussians (appendix C.2): VAEAC / hybrid samples", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def make_table8(reports_dir: Path, quick: bool = False, seed: int = 0, epochs: int | None = None,
                alphas: tuple[float, ...] = ALPHAS, verbose: bool = True) -> list[Path]:
    """Train the C.2 models for each α and write ``table08.md`` and ``figure07.png`` in ``reports_dir``.

    ``quick`` uses 4000 points, small networks and 3 epochs (a smoke test, not a result).
    """
    reports_dir = Path(reports_dir)
    mixture = Mixture.draw(seed)
    n_points = 4000 if quick else N_POINTS
    n_test = 1000 if quick else 10_000
    epochs = epochs if epochs is not None else (3 if quick else 30)
    hidden = (32, 16) if quick else HIDDEN
    latent = 4 if quick else LATENT
    X = mixture.sample(n_points, seed + 1)
    Xt = mixture.sample(n_test, seed + 2)
    bt = np.random.default_rng(seed + 3).random(Xt.shape) < 0.5  # p(b_i = 1) = 0.5 (C.2)
    true_nll = float(-mixture.conditional_log_density(Xt, bt).mean())
    models, rows = {}, []
    for a in alphas:
        # the training masks follow C.2 too: every feature unobserved with probability 0.5
        m = synthetic_model(a, epochs, seed, hidden=hidden, latent_dim=latent, mask_prob=0.5)
        t0 = time.perf_counter()
        m.fit(X, SCHEMA)
        secs = time.perf_counter() - t0
        is10, mc10 = evaluate(m, Xt, bt, 10)
        models[a] = m
        rows.append((a, is10, mc10, m.history_.best_epoch, m.history_.epochs_run, secs))
        if verbose:
            print(f"alpha={a:g}: IS-10 {is10:.3f}  MC-10 {mc10:.3f}  (best epoch {m.history_.best_epoch}, "
                  f"{secs:.0f} s)", flush=True)
    paper = published_table8()
    lines = [
        "# Table 8: negative log-likelihood of the hybrid model on synthetic data (appendix C.2)",
        "",
        f"{'Quick smoke run, not a result.' if quick else 'Full run.'} Data: mixture of 8 Gaussians in 2-D "
        f"(μ_i ~ N(0, I), variance {VARIANCE}), {n_points} training points (25% held out for validation), "
        f"{n_test} test points with masks p(b_i = 1) = 0.5; NLL averaged over test points (a point with nothing "
        "to generate counts 0). Model: MLPs 400-200-100-50 (ReLU), 25 latents, learnt output σ, "
        f"{epochs} epochs, best epoch by validation IWAE. Lower is better.",
        "",
        "| VAEAC weight | IS-10 (ours) | MC-10 (ours) | IS-10 (paper) | MC-10 (paper) | best epoch |",
        "|---|---|---|---|---|---|",
    ]
    for a, is10, mc10, best, run, _ in rows:
        p_is, p_mc = paper.get(a, (float("nan"), float("nan")))
        lines.append(f"| α = {a:g} | {is10:.3f} | {mc10:.3f} | {p_is:g} | {p_mc:g} | {best}/{run} |")
    lines += [
        "",
        f"True NLL under the data distribution for the same test points and masks: {true_nll:.3f}.",
        "",
        "Regenerate: `python -c \"from pathlib import Path; from vaeac_bench.synthetic import make_table8; "
        "make_table8(Path('reports'))\"` (or `run-bench --tables 8`). Training time per model: "
        + ", ".join(f"α={a:g}: {s:.0f} s" for a, *_, s in rows) + " (1 CPU thread).",
        "",
        "![figure 7](figure07.png)",
        "",
    ]
    reports_dir.mkdir(parents=True, exist_ok=True)
    table = reports_dir / "table08.md"
    table.write_text("\n".join(lines))
    fig = figure7(models, mixture, reports_dir / "figure07.png", n=1000 if quick else 3000)
    return [table, fig]
