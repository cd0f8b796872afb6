"""VAEAC training speed: reference-faithful schedule against the fast mode, on one dataset split.

Both runs train the same model (same seed, same train/validation rows) and are scored at the same epochs
by one common yardstick that neither uses for model selection: the IWAE estimate with ``--eval-samples``
samples on the held-out validation rows, with masks and noise fixed once. The evaluation time is excluded
from the training times. Reported: per-step and per-validation milliseconds, seconds per epoch, and the
wall/CPU time each run needs to reach the reference run's selected model's score.

    python scripts/vaeac_speed.py --dataset yeast --ref-epochs 300 --fast-epochs 300 \\
        --out reports/vaeac_speed.json

Run it with nothing else heavy on the machine; it pins torch to one thread.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch


def micro(schema, Xs, mode: str, bf16: bool, steps: int = 40) -> dict:
    """Median milliseconds of one training step and of one K=25 validation pass (278 rows)."""
    from vaeac_bench.methods.vaeac import Batch, TrainConfig, VAEACModel
    from vaeac_bench.methods.vaeac.training import draw_mask, make_optimizer, validation_score
    from vaeac_bench.nn import FeatureLayout

    fast = mode == "fast"
    m = VAEACModel(FeatureLayout.from_schema(schema), fused=fast, zero_latent_heads=fast,
                   generator=torch.Generator().manual_seed(0))
    data = Batch.from_values(torch.tensor(Xs, dtype=torch.float32), m)
    opt = make_optimizer(m, TrainConfig(epochs=1, mode=mode))
    g = torch.Generator().manual_seed(1)
    amp = torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)
    ts = []
    for i in range(steps + 5):
        idx = torch.randint(0, len(data), (64,), generator=g)
        b = data[idx]
        mask = draw_mask(b.missing, 0.2, g)
        t0 = time.perf_counter()
        with amp:
            loss = m.loss(b, mask, g)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i >= 5:
            ts.append(time.perf_counter() - t0)
    n_val = min(len(data), 278)
    vb = data[:n_val]
    vm = draw_mask(vb.missing, 0.2, g)
    tv = []
    for _ in range(3):
        t0 = time.perf_counter()
        validation_score(m, vb, vm, 25, g)
        tv.append(time.perf_counter() - t0)
    return {"mode": mode, "bf16": bf16, "step_ms": 1000 * float(np.median(ts)), "val25_ms": 1000 * float(np.median(tv)),
            "val_rows": n_val}


def curve(split, mode: str, epochs: int, seed: int, eval_every: int, eval_samples: int, extra: dict) -> dict:
    """Train one configuration, scoring the current model every ``eval_every`` epochs with the yardstick."""
    from vaeac_bench.methods.vaeac import Batch, VAEACMethod, train
    from vaeac_bench.methods.vaeac.training import draw_mask, split_validation, validation_score
    from vaeac_bench.seeding import derive_seed

    meth = VAEACMethod(mode=mode, epochs=epochs, random_state=seed, **extra)
    meth.schema_ = split.schema
    from vaeac_bench.encoding import Standardizer

    X = split.train_obs
    scaler = Standardizer().fit(X, split.schema)
    Xs = scaler.transform(X)
    cfg = meth._train_config(X.shape[0])
    model = meth._build_model(split.schema, seed)
    train_seed = derive_seed(seed, "train")
    # the validation rows train() will hold out (same derivation as training.train)
    ss = np.random.SeedSequence(train_seed)
    split_seed = int(ss.spawn(3)[0].generate_state(1)[0])
    _, va = split_validation(X.shape[0], cfg.validation_fraction, np.random.default_rng(split_seed))
    val = Batch.from_values(torch.tensor(Xs[va], dtype=torch.float32), model)
    vb = draw_mask(val.missing, 0.2, torch.Generator().manual_seed(12345))
    points = []
    cpu0 = time.process_time()
    excluded_cpu = 0.0
    t_start = time.perf_counter()
    excluded = 0.0

    def cb(epoch, mdl, hist):
        nonlocal excluded_cpu, excluded
        if epoch % eval_every and epoch != cfg.epochs:
            return
        c0, w0 = time.process_time(), time.perf_counter()
        score = validation_score(mdl, val, vb, eval_samples, torch.Generator().manual_seed(777))
        points.append({"epoch": epoch, "wall_s": w0 - t_start - excluded, "cpu_s": c0 - cpu0 - excluded_cpu,
                       "score": score})
        excluded_cpu += time.process_time() - c0
        excluded += time.perf_counter() - w0

    hist = train(model, Xs, cfg, train_seed, callback=cb)
    final = validation_score(model, val, vb, eval_samples, torch.Generator().manual_seed(777))
    return {"mode": mode, "epochs": cfg.epochs, "epochs_run": hist.epochs_run, "best_epoch": hist.best_epoch,
            "stopped_early": hist.stopped_early, "train_wall_s": hist.seconds, "selected_score": final,
            "points": points, "config": {k: v for k, v in cfg.__dict__.items()}}


def time_to(points: list[dict], target: float, key: str) -> float | None:
    for p in points:
        if p["score"] >= target:
            return p[key]
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="yeast")
    ap.add_argument("--split", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ref-epochs", type=int, default=300)
    ap.add_argument("--fast-epochs", type=int, default=300)
    ap.add_argument("--eval-every", type=int, default=10)
    ap.add_argument("--eval-samples", type=int, default=100)
    ap.add_argument("--bf16", action="store_true", help="also time a bf16-autocast fast run")
    ap.add_argument("--skip-curves", action="store_true", help="only the step/validation micro-benchmarks")
    ap.add_argument("--out", type=Path, default=Path("reports/vaeac_speed.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)

    from vaeac_bench.datasets import load, make_split
    from vaeac_bench.encoding import Standardizer

    split = make_split(load(args.dataset), args.split)
    Xs = Standardizer().fit(split.train_obs, split.schema).transform(split.train_obs)
    result: dict = {"dataset": args.dataset, "split": args.split, "torch": torch.__version__,
                    "threads": torch.get_num_threads(), "micro": []}
    for mode, bf16 in (("reference", False), ("fast", False), ("fast", True)):
        result["micro"].append(micro(split.schema, Xs, mode, bf16))
        print(result["micro"][-1], flush=True)
    if not args.skip_curves:
        runs = [("reference", args.ref_epochs, {}), ("fast", args.fast_epochs, {"patience": None})]
        if args.bf16:
            runs.append(("fast", args.fast_epochs, {"patience": None, "bf16": True}))
        result["curves"] = []
        for mode, epochs, extra in runs:
            c = curve(split, mode, epochs, args.seed, args.eval_every, args.eval_samples, extra)
            c["extra"] = extra
            result["curves"].append(c)
            print(mode, extra, "train s", round(c["train_wall_s"], 1), "selected", round(c["selected_score"], 4),
                  "best epoch", c["best_epoch"], flush=True)
        ref = result["curves"][0]
        target = ref["selected_score"]
        ref_wall = next(p["wall_s"] for p in ref["points"] if p["epoch"] >= ref["best_epoch"])
        ref_cpu = next(p["cpu_s"] for p in ref["points"] if p["epoch"] >= ref["best_epoch"])
        result["target"] = {"score": target, "reference_wall_s": ref_wall, "reference_cpu_s": ref_cpu,
                            "reference_s_per_epoch": ref["train_wall_s"] / ref["epochs_run"]}
        for c in result["curves"][1:]:
            c["time_to_target_wall_s"] = time_to(c["points"], target, "wall_s")
            c["time_to_target_cpu_s"] = time_to(c["points"], target, "cpu_s")
            c["s_per_epoch"] = c["train_wall_s"] / c["epochs_run"]
            print(c["extra"], "to target: wall", c["time_to_target_wall_s"], "cpu", c["time_to_target_cpu_s"],
                  "vs reference wall", ref_wall, "cpu", ref_cpu, flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
