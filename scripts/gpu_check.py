"""Table 5's and table 9's MNIST timings on one device, as the prepared GPU check runs them (issue 12 §3).

Measures, on ``--device`` (``cuda`` on the lent GPU; ``cpu`` to try the script here), with the registered
table-5 networks and the cells' own scored objects and fixed masks (``image_cell``):

* the FC VAEAC's training, ``--epochs`` (the paper's 30) epochs, total and per epoch (the paper: 5 min 47 s on
  its GPU), with its best-epoch IS-10² and MC-10² NLL on the ``--n-test`` scored objects and their times;
* the time to draw 100 inpaintings of one object (table 5: 0.7 ms on the paper's GPU), the median of
  ``--repeats`` draws after a warm-up, synchronised;
* MC-10⁴ on the first ``--mc-long`` objects (table 9's estimate), and one conv ResNet epoch (its 30-epoch cost);
* UM's ``--epochs`` epochs and its 100 sequential inpaintings of one object (table 5's UM column: 3 min 14 s
  on the paper's GPU).

Each step is written to ``--out`` as soon as it ends (a killed run keeps the steps it finished) and is skipped
once ``--deadline`` seconds have passed. A step that fails records its error and the rest still run. The
numbers are timings of this code on the named device, not cells of the CPU tables (their records stay the
CPU's; ``docs/performance.md``, "When a GPU is lent").

    python scripts/gpu_check.py --device cuda --out $OUT/gpu_timings.json
    python scripts/gpu_check.py --device cpu --epochs 1 --max-train 256 --n-test 16 --mc-long 4 --out /tmp/t.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # a bare machine: no install needed

from vaeac_bench.datasets.image_registry import image_mask  # noqa: E402
from vaeac_bench.datasets.images import load_images  # noqa: E402
from vaeac_bench.image_cell import FULL_EVAL, scored_test, test_masks  # noqa: E402
from vaeac_bench.methods import build, params_for  # noqa: E402
from vaeac_bench.provenance import machine  # noqa: E402
from vaeac_bench.runner import method_seed  # noqa: E402

DATASET, MASK, SPLIT = "mnist", "mnist_line", 0
#: the paper's GPU anchors (table 5), printed beside ours by whoever commits the output
PAPER_GPU = {"vaeac_30_epochs_s": 347.0, "vaeac_100_samples_s": 0.0007, "um_100_samples_s": None}


def sync(device: torch.device) -> None:
    """Wait for the device's queued work, so that a timer measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def draw_100(model: Any, x: torch.Tensor, b: torch.Tensor, gen: torch.Generator, n: int = 100) -> torch.Tensor:
    """``n`` inpaintings of one object: prior draws, pixel probabilities, Bernoulli pixels, observed ones kept.

    The model's own ``pixel_probs`` with a generator on the model's device: the draw alone, without the host
    copies of ``ImageVAEAC.sample_images`` (which draws its noise on the CPU, so that both devices inpaint alike).
    """
    with torch.inference_mode():
        p = model.pixel_probs(x, b, n, gen)
        pix = torch.bernoulli(p, generator=gen)
        return torch.where(b.bool(), pix, x)


class Report:
    """The JSON written after every step: environment, then one entry per step (value, seconds or error)."""

    def __init__(self, path: Path, deadline_s: float, meta: dict[str, Any]):
        self.path, self.t0, self.deadline = path, time.perf_counter(), deadline_s
        self.data: dict[str, Any] = {"started": datetime.now(UTC).isoformat(timespec="seconds"), **meta,
                                     "paper_gpu": PAPER_GPU, "steps": {}}
        self.write()

    def write(self) -> None:
        """Write the report atomically (a temp file renamed over the last one)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps(self.data, indent=1, allow_nan=False) + "\n")
        os.replace(tmp, self.path)

    def step(self, name: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
        """Run ``fn`` unless the deadline passed; record what it returns, or its error, and write the report."""
        elapsed = time.perf_counter() - self.t0
        if elapsed > self.deadline:
            self.data["steps"][name] = {"skipped": f"deadline of {self.deadline:.0f} s passed ({elapsed:.0f} s)"}
            self.write()
            return None
        print(f"[{elapsed:6.1f} s] {name}", flush=True)
        try:
            out = fn()
            self.data["steps"][name] = out
        except Exception as exc:  # noqa: BLE001 - one failed step must not lose the others
            out = None
            self.data["steps"][name] = {"error": f"{type(exc).__name__}: {exc}",
                                        "traceback": traceback.format_exc(limit=4)}
        self.data["elapsed_s"] = time.perf_counter() - self.t0
        self.write()
        return out


def environment(device: torch.device) -> dict[str, Any]:
    """Where the numbers come from: torch, CUDA and the GPU's name, and the host's CPU."""
    env: dict[str, Any] = {"device": str(device), "torch": torch.__version__, "python": platform.python_version(),
                           "host": machine()}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env |= {"gpu": props.name, "gpu_memory_gb": round(props.total_memory / 2**30, 1),
                "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version()}
    return env


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--data-dir", default=None, help="holds mnist/mnist.npz (default: VAEAC_BENCH_DATA)")
    ap.add_argument("--epochs", type=int, default=30, help="FC VAEAC epochs (the paper's table 5: 30)")
    ap.add_argument("--max-train", type=int, default=None, help="train on the first N images (a try-out)")
    ap.add_argument("--n-test", type=int, default=FULL_EVAL.n_test, help="scored objects (table 9: 1000)")
    ap.add_argument("--mc-long", type=int, default=1000, help="objects for MC-10^4 (0: skip)")
    ap.add_argument("--repeats", type=int, default=20, help="timed 100-sample draws (median reported)")
    ap.add_argument("--deadline", type=float, default=420.0, help="seconds after which steps are skipped")
    args = ap.parse_args(argv)

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda: CUDA is not available here (try --device cpu)")
    torch.set_num_threads(1 if device.type == "cpu" else torch.get_num_threads())
    rep = Report(args.out, args.deadline, {"environment": environment(device), "args": {
        k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}})

    data = load_images(DATASET, args.data_dir, seed=SPLIT)
    train = data.train[: args.max_train] if args.max_train else data.train
    x_test, selection = scored_test(DATASET, data.test, args.n_test)
    b_test = test_masks(DATASET, MASK, SPLIT, x_test)
    mask_fn = image_mask(MASK)
    rep.data["data"] = {"n_train": int(len(train)), "n_val": int(len(data.val)), "n_test": int(len(x_test)),
                        "test_selection": selection}
    seed = method_seed(DATASET, "vaeac-image-fc", SPLIT)
    est: dict[str, Any] = {}

    def fit_fc() -> dict[str, Any]:
        m = build("vaeac-image-fc", epochs=args.epochs, device=str(device), random_state=seed)
        t0 = time.perf_counter()
        m.fit_images(train, data.val, mask_fn, dataset=DATASET)
        sync(device)
        wall = time.perf_counter() - t0
        est["fc"] = m
        info = m.fit_info_
        return {"params": params_for("vaeac-image-fc", epochs=args.epochs), "fit_wall_s": wall,
                "fit_s": info.get("seconds"), "epochs_run": info.get("epochs_run"),
                "best_epoch": info.get("best_epoch"),
                "epoch_s": (info.get("seconds") or wall) / max(1, int(info.get("epochs_run") or 1))}

    rep.step("fc_vaeac_fit", fit_fc)

    def nll(kind: str, s: int, n: int) -> Callable[[], dict[str, Any]]:
        def run() -> dict[str, Any]:
            t0 = time.perf_counter()
            v = est["fc"].nll(x_test[:n], b_test[:n], kind, s, seed=seed)
            sync(device)
            return {"objects": int(len(v)), "samples": s, "mean": float(v.mean()), "std": float(v.std()),
                    "seconds": time.perf_counter() - t0}
        return run

    if "fc" in est:
        rep.step("fc_vaeac_is100", nll("is", FULL_EVAL.is_samples, len(x_test)))
        rep.step("fc_vaeac_mc100", nll("mc", FULL_EVAL.mc_samples, len(x_test)))

        def sample_timing() -> dict[str, Any]:
            model = est["fc"].model_
            model.eval()
            x = torch.as_tensor(x_test[:1], device=device)
            b = torch.as_tensor(b_test[:1], dtype=torch.float32, device=device).reshape(1, 1, *x.shape[2:])
            gen = torch.Generator(device=device).manual_seed(seed)
            draw_100(model, x, b, gen)  # warm-up (kernel selection, allocations)
            times = []
            for _ in range(int(args.repeats)):
                sync(device)
                t0 = time.perf_counter()
                draw_100(model, x, b, gen)
                sync(device)
                times.append(time.perf_counter() - t0)
            out: dict[str, Any] = {"median_s": statistics.median(times), "min_s": min(times), "repeats": len(times)}
            try:  # the estimator's own call, host round trip included (it failed on CUDA before 2026-12-05)
                t0 = time.perf_counter()
                est["fc"].sample_images(x_test[:1], b_test[:1], 100, seed=seed)
                out["sample_images_s"] = time.perf_counter() - t0
            except RuntimeError as exc:
                out["sample_images_error"] = str(exc).splitlines()[0]
            return out

        rep.step("fc_vaeac_100_samples", sample_timing)
        if args.mc_long > 0:
            rep.step("fc_vaeac_mc10000", nll("mc", 10_000, int(args.mc_long)))

    def conv_epoch() -> dict[str, Any]:
        m = build("vaeac-image", epochs=1, device=str(device), random_state=seed)
        t0 = time.perf_counter()
        m.fit_images(train, data.val, mask_fn, dataset=DATASET)
        sync(device)
        wall = time.perf_counter() - t0
        return {"params": params_for("vaeac-image", epochs=1), "one_epoch_wall_s": wall,
                "fit_s": m.fit_info_.get("seconds"), "thirty_epochs_estimate_s": 30 * wall}

    rep.step("conv_vaeac_one_epoch", conv_epoch)

    def um_fit_and_sample() -> dict[str, Any]:
        # table 5's UM column: the registered network and budget, trained and sampled on the device
        useed = method_seed(DATASET, "um-image", SPLIT)
        m = build("um-image", epochs=args.epochs, device=str(device), random_state=useed)
        t0 = time.perf_counter()
        m.fit_images(train, data.val, mask_fn, dataset=DATASET)
        sync(device)
        wall = time.perf_counter() - t0
        t1 = time.perf_counter()
        m.sample_images(x_test[:1], b_test[:1], 100, seed=useed)
        sync(device)
        return {"params": params_for("um-image", epochs=args.epochs), "fit_wall_s": wall,
                "epochs_run": m.fit_info_.get("epochs_run"), "sample100_one_object_s": time.perf_counter() - t1}

    rep.step("um_fit_and_100_samples", um_fit_and_sample)
    rep.data["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    rep.write()
    failed = [k for k, v in rep.data["steps"].items() if "error" in v]
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "traceback"} for k, v in rep.data["steps"].items()},
                     indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
