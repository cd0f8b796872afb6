"""The explicit list of methods. Adding a method = one module under ``methods/`` plus one entry here."""

from __future__ import annotations

from . import MethodSpec, register, register_group

_M = "vaeac_bench.methods"
# the source each family's results depend on (package-relative; nn/ holds the shared networks and training)
# (files, not folders: image-only modules added beside them, e.g. nn/conv.py, do not stale tabular cells);
# Each list names the files whose functions the method's cells execute, no more: a file a cell only imports (a
# module body of definitions) is left out, so that an edit of it stales nothing it cannot change. That is checked
# by tests/test_provenance_audit.py, which traces a quick cell of every family (docs/provenance.md).
_NN_CODE = ("nn/blocks.py", "nn/encoding.py", "nn/gaussian.py", "nn/harness.py", "nn/layout.py", "nn/likelihood.py")
# VAEAC_CODE is public: the table-8 synthetic cells (synthetic.py) train the same model and score it with the
# likelihood estimators (estimators.py), which the grid's cells never call, so _VAEAC_GRID_CODE leaves them out
VAEAC_CODE = ("methods/vaeac/estimators.py", "methods/vaeac/fast_sampler.py", "methods/vaeac/manual_step.py",
              "methods/vaeac/method.py", "methods/vaeac/model.py", "methods/vaeac/networks.py",
              "methods/vaeac/training.py", *_NN_CODE, "encoding.py")
_VAEAC_GRID_CODE = tuple(f for f in VAEAC_CODE if f != "methods/vaeac/estimators.py")
#: the VAEAC files the image and CelebA networks execute or read constants from (their own networks are in
#: nn/conv.py and celeba_model.py; the tabular networks, step, sampler and estimators are not theirs)
VAEAC_SHARED_CODE = ("methods/vaeac/model.py", "methods/vaeac/training.py", "nn/gaussian.py", "nn/harness.py",
                     "nn/layout.py", "nn/likelihood.py")
_GAIN_CODE = ("methods/gain.py", "nn/harness.py", "encoding.py", "fpenv.py")
_UM_CODE = ("methods/um.py", "nn/blocks.py", "nn/encoding.py", "nn/harness.py", "nn/layout.py", "nn/likelihood.py",
            "encoding.py")

register(MethodSpec(
    "mean", f"{_M}.simple:MeanModeImputer", label="Mean/mode", code=("methods/simple.py",),
    description="Column mean (real) or mode (categorical) of the training data: the floor every method must beat.",
))
register(MethodSpec(
    "mice", f"{_M}.mice:MICEImputer",
    # n=10 imputations as in §5.1; miceforest's defaults otherwise
    params={"iterations": 5, "num_datasets": 10, "mean_match_candidates": 5},
    quick={"iterations": 1, "boosting_rounds": 5},
    label="MICE", code=("methods/mice.py", "methods/refit.py"),
    description="Multiple imputation by chained equations (miceforest, LightGBM models, predictive mean matching).",
))
register(MethodSpec(
    "missforest", f"{_M}.missforest:MissForestImputer",
    # Stekhoven & Bühlmann (2012): 100 trees, at most 10 iterations, stop when the change grows
    params={"n_estimators": 100, "max_iter": 10},
    quick={"n_estimators": 10, "max_iter": 2},
    label="MissForest", code=("methods/missforest.py", "methods/refit.py", "encoding.py"),
    description="Iterative random-forest imputation (Stekhoven & Bühlmann), scikit-learn forests.",
))

# --- VAEAC family (issue 3): one model, three objectives (appendix C, D.2) -------------------------
register(MethodSpec(
    "vaeac", f"{_M}.vaeac:VAEACMethod", params={"alpha": 1.0}, quick={"epochs": 5}, label="VAEAC",
    code=_VAEAC_GRID_CODE,
    description="Variational autoencoder with arbitrary conditioning (Ivanov et al., 2019).",
))
register(MethodSpec(
    "gsnn", f"{_M}.vaeac:VAEACMethod", params={"alpha": 0.0}, quick={"epochs": 5}, label="GSNN",
    code=_VAEAC_GRID_CODE,
    description="Gaussian stochastic neural network: the hybrid objective (16) with alpha = 0.",
))
register(MethodSpec(
    "nn", f"{_M}.vaeac:VAEACMethod", params={"alpha": 0.0, "delta_prior": True}, quick={"epochs": 5}, label="NN",
    code=_VAEAC_GRID_CODE,
    description="Deterministic network: GSNN with a delta-function prior (single imputation).",
))

#: the VAEAC product's configuration (issue 13 §1; ``product.py``): a mixture of 5 complete rows per latent draw
#: (``nn/mixture.py``) with each learnt σ bounded by ``sigma_max`` standard deviations, the hybrid objective (16)
#: with α = 0.5, training masks Bernoulli(0.4) (§4.1: p(b) is free; A.2's is 0.2), early stopping after 100 epochs
#: without a better validation IWAE (the benchmark's 50 stops the mixture too early for its point imputations), and
#: a 128 × 4 network with 16 latents. ``VAEACImputer()``'s defaults are these, and the benchmark runs them as
#: ``vaeac-default`` beside the paper's ``vaeac`` (issue 13 §7). Chosen by the multimodal draws they give and the
#: point accuracy they keep (docs/estimators.md)
VAEAC_PRODUCT_PARAMS = {"alpha": 0.5, "mask_prob": 0.4, "patience": 100, "learn_sigma": True, "width": 128,
                        "depth": 4, "latent_dim": 16, "sigma_max": 0.25, "n_components": 5}
register(MethodSpec(
    "vaeac-default", "vaeac_bench.product:ProductVAEAC", params=VAEAC_PRODUCT_PARAMS, quick={"epochs": 5},
    label="VAEAC (default)", code=("product.py", "nn/mixture.py", *_VAEAC_GRID_CODE),
    description="VAEAC as VAEACImputer() fits it: a 5-row mixture output with σ ≤ 0.25 sd, α = 0.5, masks "
                "Bernoulli(0.4), patience 100, 128 × 4 network (not the paper's).",
))

# --- GAIN and the Universal Marginalizer (issue 4) ------------------------------------------------
register(MethodSpec(
    # appendix A.4: one-hot, loss (12), alpha = 10, hint b*m + 0.5(1-b) with b ~ Bernoulli(0.01), 5% of the
    # observed cells held out to pick the iteration; batch 128, Adam 1e-3 and at most 10000 iterations are
    # the GAIN authors' code defaults (reference-code-facts §5)
    "gain", f"{_M}.gain:GAINImputer",
    params={"variant": "modified", "alpha": 10.0, "hint_rate": 0.01, "validation_fraction": 0.05,
            "iterations": 10000, "batch_size": 128},
    quick={"iterations": 200}, label="GAIN", code=_GAIN_CODE,
    description="GAIN as modified in the paper's appendix A.4 (one-hot, loss (12), alpha=10, 1% hint).",
))
for _a in ("0.1", "0.5", "1", "2", "10"):
    register(MethodSpec(
        # the authors' code (reference-code-facts §5): min-max, hint m * Bernoulli(0.9), MSE reconstruction,
        # 10000 iterations of batch 128, no held-out selection; alpha from table 7's grid
        f"gain-original-a{_a}", f"{_M}.gain:GAINImputer",
        params={"variant": "original", "alpha": float(_a), "hint_rate": 0.9, "validation_fraction": 0.0,
                "iterations": 10000, "batch_size": 128},
        quick={"iterations": 200}, label=f"GAIN original, α={_a}", code=_GAIN_CODE,
        description=f"GAIN as its authors' code does it (Yoon et al., 2018), alpha={_a}.",
    ))
register_group("gain-original", tuple(f"gain-original-a{a}" for a in ("0.1", "0.5", "1", "2", "10")))
for _name, _mt, _desc in (("um", "fixed", "with the appendix B.3 training-mask fix"),
                          ("um-naive", "naive", "trained naively on masks from p(b) only (B.3's failure case)")):
    register(MethodSpec(
        # masks: truly missing + MCAR(0.2) as for VAEAC (A.2); imputation takes each step's mean / mode along a
        # random permutation (A.2's RMSE-optimal choice, as VAEAC's sampler); docs/gain_um.md
        _name, f"{_M}.um:UniversalMarginalizer",
        params={"mask_training": _mt, "missing_rate": 0.2, "sampling": "most_probable"},
        quick={"epochs": 5}, label="UM" if _mt == "fixed" else "UM (naive masks)", code=_UM_CODE,
        description=f"Universal Marginalizer {_desc}; sequential imputation along a random permutation.",
    ))

# --- comparators a reader expects beside a 2019 method (issue 13 §2) --------------------------------
_TAB = ("methods/_tabular.py", "encoding.py")
register(MethodSpec(
    "knn", f"{_M}.knn:KNNImputer", params={"n_neighbors": 5, "weights": "uniform"}, label="KNN",
    code=("methods/knn.py", "methods/refit.py", *_TAB),
    description="k-nearest-neighbour imputation (scikit-learn KNNImputer, 5 neighbours; Troyanskaya et al., 2001).",
))
register(MethodSpec(
    "iterative", f"{_M}.iterative:IterativeImputer", params={"max_iter": 10, "tol": 1e-3, "sample_posterior": True},
    quick={"max_iter": 3}, label="Iterative (Bayesian ridge)",
    code=("methods/iterative.py", "methods/refit.py", *_TAB),
    description="Chained equations with Bayesian ridge (scikit-learn IterativeImputer); one posterior chain per draw.",
))
register(MethodSpec(
    "softimpute", f"{_M}.softimpute:SoftImputeImputer", params={"max_iter": 100, "tol": 1e-5},
    quick={"max_iter": 20}, label="SoftImpute", code=("methods/softimpute.py", "methods/refit.py", *_TAB),
    description="Low-rank completion by soft-thresholded SVD (Mazumder, Hastie & Tibshirani, 2010), "
                "lambda = sigma_max/50.",
))
register(MethodSpec(
    # Muzellec et al. (2020) defaults; geomloss is an optional extra (vaeac-bench[comparators])
    "sinkhorn", f"{_M}.sinkhorn:SinkhornImputer",
    params={"n_iter": 3000, "batch_size": 128, "lr": 1e-2, "eps_quantile": 0.5, "eps_multiplier": 0.05,
            "noise": 0.1},
    quick={"n_iter": 300}, label="Sinkhorn (OT)", code=("methods/sinkhorn.py", *_TAB),
    description="Optimal-transport imputation with batched Sinkhorn divergences (Muzellec et al., 2020); "
                "needs geomloss.",
))

register(MethodSpec(
    # Mattei & Frellsen (2019) §4.3 and their notebook: K=20, tanh MLPs of width 128, d = p-1, Student's t,
    # Adam 1e-3, batch 64; categoricals one-hot with a categorical likelihood (our extension); docs/estimators.md
    "miwae", f"{_M}.miwae:MIWAEImputer",
    params={"n_samples": 20, "hidden_dim": 128, "observation": "student_t", "batch_size": 64, "learning_rate": 1e-3},
    quick={"epochs": 5, "n_importance": 100}, label="MIWAE",
    code=("methods/miwae.py", "nn/harness.py", "encoding.py"),
    description="Missing-data importance-weighted autoencoder (Mattei & Frellsen, 2019), trained on incomplete data; "
                "self-normalised importance sampling imputation.",
))

# --- image inpainting (issue 10): binary MNIST / Omniglot; scored by NLL of the hidden pixels (C, eqs. 17-18) ---
_IMG_CELL = ("datasets/images.py", "datasets/image_masks.py", "datasets/image_registry.py", "image_cell.py",
             "argcheck.py")
_IMG_DATA = (*_IMG_CELL, "image_nll.py")  # image_nll.py: the IWAE / MC estimators of the hidden pixels' NLL
_IMG_VAEAC_CODE = ("methods/image_methods.py", "methods/vaeac/image.py", "nn/conv.py", *_IMG_DATA, *VAEAC_SHARED_CODE)
# quick: a tiny subset (max_train / max_val) and one epoch, for smoke runs and tests
_IMG_QUICK = {"epochs": 1, "max_train": 128, "max_val": 32, "validation_samples": 5}
# budgets: the FC nets get the paper's 30 epochs (table 5). A conv MNIST epoch took about 3.5 min on an idle EPYC
# core; since 2026-12-04 (direct Bernoulli likelihood, NHWC convs) it takes about 2.5 min on the Xeon, and its
# validation IWAE-25 on all 10000 validation images would still cost more than the epoch, so the conv nets get 10
# epochs (was 4) with validation on the first 1000: what one session of this 2-core CPU allows beside the rest of
# the image grid (docs/images.md). The same budget applies to Omniglot; `--device cuda` runs the conv cells on a GPU.
_IMG_BUDGET = {"conv": {"epochs": 10, "max_val": 1000}, "fc": {"epochs": 30}}
for _net in ("conv", "fc"):
    _sfx = "" if _net == "conv" else "-fc"
    _netlabel = "conv ResNet, A.1" if _net == "conv" else "one-hidden-layer FC, A.1"
    register(MethodSpec(
        f"vaeac-image{_sfx}", f"{_M}.image_methods:ImageVAEAC",
        params={"alpha": 1.0, "network": _net, **_IMG_BUDGET[_net]},
        quick=_IMG_QUICK, label=f"VAEAC ({_net})", code=_IMG_VAEAC_CODE,
        description=f"VAEAC on binary images ({_netlabel}); best epoch by validation IWAE.",
    ))
    register(MethodSpec(
        f"gsnn-image{_sfx}", f"{_M}.image_methods:ImageVAEAC",
        params={"alpha": 0.0, "network": _net, **_IMG_BUDGET[_net]},
        quick=_IMG_QUICK, label=f"GSNN ({_net})", code=_IMG_VAEAC_CODE,
        description=f"GSNN on binary images ({_netlabel}): the hybrid objective (16) with alpha = 0.",
    ))
register(MethodSpec(
    "naive-bayes-image", f"{_M}.image_methods:NaiveBayesImageMethod", params={"alpha": 1.0}, label="Naive Bayes",
    code=("methods/image_methods.py", "methods/naive_bayes.py", "methods/vaeac/image.py", *_IMG_CELL),
    description="Independent per-pixel Bernoulli (Laplace smoothing): table 9's baseline, exact NLL.",
))

register(MethodSpec(
    # figure 9's baseline: the FC image VAEAC trained and scored with every pixel unobserved (a plain VAE); 10
    # epochs, what this shared CPU allowed beside the 30-epoch VAEAC (figure 9 compares the curves' shapes)
    "vae-image-fc", f"{_M}.image_methods:ImageVAE", params={"alpha": 1.0, "network": "fc", "epochs": 10},
    quick=_IMG_QUICK, label="VAE (fc)", code=_IMG_VAEAC_CODE,
    description="A plain VAE on MNIST (figure 9): the FC image VAEAC with every pixel unobserved; NLL of whole images.",
))
register(MethodSpec(
    # table 5 / figure 12: the tabular UM's objective (10) and chain rule (11) on pixels, B.3 masks from p(b)
    "um-image", f"{_M}.image_um:ImageUM", params={"hidden": 256, "depth": 10, "epochs": 30},
    quick={"epochs": 1, "max_train": 128, "max_val": 32}, label="UM",
    code=("methods/image_um.py", "methods/image_methods.py", "methods/vaeac/image.py", "nn/conv.py",
          "nn/gaussian.py", *_IMG_CELL, *_UM_CODE),
    description="Universal Marginalizer with the B.3 mask fix on MNIST (table 5): sequential sampling and chain rule.",
))
for _variant, _gname in (("modified", "gain-image"), ("original", "gain-original-image")):
    register(MethodSpec(
        # D.4 / figure 11: GAIN trained on line-masked MNIST; hidden 256, alpha 10 and batch 128 as the authors'
        # MNIST code (reference-code-facts §5, 1996ed9), but 3000 of its 10000 iterations (0.15-0.25 s each on
        # this shared 2-core CPU)
        _gname, f"{_M}.image_gain:ImageGAIN",
        params={"variant": _variant, "alpha": 10.0, "iterations": 3000, "batch_size": 128, "hidden_dim": 256},
        quick={"iterations": 200, "max_train": 512}, label=f"GAIN ({_variant})",
        code=("methods/image_gain.py", "methods/image_methods.py", "methods/vaeac/image.py", *_IMG_CELL,
              *_GAIN_CODE),
        description=f"GAIN ({_variant}) on line-masked MNIST (appendix D.4, figure 11); samples only, no likelihood.",
    ))

# --- CelebA inpainting (issue 11): colour faces, Gaussian likelihood; PSNR (tables 3, 4) and NLL (table 9) ---
# image_cell.py: the CelebA cell reuses its score summary and checkpoint naming; image_methods.py: the estimators'
# base class, which reads methods/vaeac/image.py's PAPER_EPOCHS
_CELEBA_DATA = ("datasets/celeba.py", "datasets/celeba_registry.py", "datasets/image_masks.py",
                "datasets/image_registry.py", "celeba_cell.py", "image_cell.py", "psnr.py", "methods/celeba.py",
                "methods/image_methods.py", "methods/vaeac/image.py", "argcheck.py")
#: what a CelebA network's training depends on (its checkpoint name holds this code's digest, celeba_cell.py)
CELEBA_TRAIN_CODE = ("methods/celeba.py", "methods/celeba_model.py", "methods/vaeac/image.py", "nn/conv.py",
                     "datasets/celeba.py", "datasets/celeba_registry.py", "datasets/image_masks.py", "argcheck.py",
                     *VAEAC_SHARED_CODE)
_CELEBA_CODE = ("image_nll.py", *CELEBA_TRAIN_CODE, *_CELEBA_DATA)
# CPU budget (docs/celeba.md): the reference code's batch 16 and Adam 2e-4, 1 ResBlock per stage (the code has 4),
# 20 epochs over all 8000 training faces of the subset (the paper: 50 over 162,770): what one session allowed
_CELEBA_NN = {"epochs": 20, "batch_size": 16, "lr": 2e-4, "blocks": 1, "latent_dim": 64, "max_train": None,
              "max_val": 64}
_CELEBA_QUICK = {"epochs": 1, "max_train": 64, "max_val": 16, "validation_samples": 5}
for _name, _alpha, _lab in (("vaeac-celeba", 1.0, "VAEAC"), ("gsnn-celeba", 0.0, "GSNN")):
    register(MethodSpec(
        _name, f"{_M}.celeba:CelebAVAEAC", params={"alpha": _alpha, **_CELEBA_NN}, quick=_CELEBA_QUICK,
        label=_lab, code=_CELEBA_CODE,
        description=f"{_lab} on CelebA faces: Gaussian likelihood, 64 latents, the reference network at 64² (A.3).",
    ))
register(MethodSpec(
    "naive-bayes-celeba", f"{_M}.celeba:GaussianNaiveBayes", params={"var_floor": 1e-4}, label="Naive Bayes",
    code=_CELEBA_DATA,
    description="Independent Gaussian per pixel and channel (table 9's baseline); inpaints the mean face.",
))
for _algo, _lab, _lib in (("biharmonic", "Biharmonic", "scikit-image"), ("telea", "Telea", "OpenCV"),
                          ("navier-stokes", "Navier-Stokes", "OpenCV")):
    register(MethodSpec(
        f"{_algo}-inpaint", f"{_M}.celeba:ClassicalInpainting", params={"algorithm": _algo}, label=_lab,
        code=_CELEBA_DATA,
        description=f"{_lab} inpainting ({_lib}, optional extra 'inpainting'): classical, no training.",
    ))

# --- groups ----------------------------------------------------------------------------------------
# the columns of the paper's tables 1/2/10/11, plus the mean/mode floor
register_group("paper", ("mean", "mice", "missforest", "gain", "vaeac", "gsnn", "nn"))
register_group("comparators", ("knn", "iterative", "softimpute", "sinkhorn", "miwae"))
# the image methods (pair with image datasets only: run-bench --datasets images)
register_group("images", ("vaeac-image", "vaeac-image-fc", "gsnn-image", "gsnn-image-fc", "naive-bayes-image",
                          "vae-image-fc", "um-image", "gain-image", "gain-original-image"))
# the CelebA methods (pair with CelebA only: run-bench --datasets celeba)
register_group("celeba", ("vaeac-celeba", "gsnn-celeba", "naive-bayes-celeba", "biharmonic-inpaint", "telea-inpaint",
                          "navier-stokes-inpaint"))
