"""Page faults of the image networks with and without torch's huge pages (docs/performance.md, "Page faults").

Runs the same work in two fresh processes, ``THP_MEM_ALLOC_ENABLE=0`` and ``=1`` (torch reads it once, at its
first large allocation, so one process cannot measure both): the validation score of an untrained conv VAEAC
(the loop a cell runs every epoch and, at 100 samples, to score its 1000 objects) and a few training steps.
Prints user and system CPU seconds, minor page faults, wall seconds and whether the numbers are the same bits.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

WORK = """
import json, resource, sys, time
import numpy as np, torch
from vaeac_bench.datasets.image_registry import image_mask
from vaeac_bench.methods.vaeac.image import ImageVAEACModel, default_arch, image_batch
from vaeac_bench.methods.vaeac.model import ObjectiveConfig
from vaeac_bench.methods.vaeac.training import validation_score

dataset, side, mask, alpha, n, samples, steps = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), \\
    int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
torch.set_num_threads(1)
m = ImageVAEACModel((1, side, side), "conv", default_arch(dataset, "conv", alpha), ObjectiveConfig(alpha=alpha),
                    generator=torch.Generator().manual_seed(0), device=torch.device("cpu"))
x = torch.as_tensor((np.random.default_rng(0).random((n, 1, side, side)) < 0.2).astype(np.float32))
b = torch.as_tensor(image_mask(mask)(n, side, side, np.random.default_rng(1))).reshape(n, -1).float()


def usage():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return np.array([r.ru_utime, r.ru_stime, r.ru_minflt, time.perf_counter()])


out = {}
u = usage()
with torch.no_grad():
    score = validation_score(m.eval(), image_batch(x), b, samples, torch.Generator().manual_seed(3), max_rows=4096)
out["validation"] = (usage() - u).tolist()
m.train()
opt = torch.optim.Adam(m.parameters(), 3e-4)
gen = torch.Generator().manual_seed(5)
u = usage()
for _ in range(steps):
    loss = m.loss(image_batch(x[:64]), b[:64], gen)
    opt.zero_grad()
    loss.backward()
    opt.step()
out["train"] = (usage() - u).tolist()
out["bits"] = repr((score, float(loss.detach())))
out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def main(argv: list[str] | None = None) -> None:
    """Run the work with huge pages off, then on; print a Markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="omniglot", choices=["omniglot", "mnist", "omniglot28"])
    ap.add_argument("--alpha", type=float, default=1.0, help="1 VAEAC (IWAE validation), 0 GSNN (MC)")
    ap.add_argument("--objects", type=int, default=40)
    ap.add_argument("--samples", type=int, default=25, help="validation samples per object (the cells' 25)")
    ap.add_argument("--steps", type=int, default=3, help="training steps of batch min(64, objects)")
    args = ap.parse_args(argv)
    side, mask = {"omniglot": (105, "rectangle"), "mnist": (28, "mnist_line"), "omniglot28": (28, "rectangle")}[
        args.dataset]
    rows, bits = [], set()
    for flag in ("0", "1"):
        env = {**os.environ, "THP_MEM_ALLOC_ENABLE": flag, "OMP_NUM_THREADS": "1"}
        cmd = [sys.executable, "-c", WORK, args.dataset, str(side), mask, str(args.alpha), str(args.objects),
               str(args.samples), str(args.steps)]
        res = json.loads(subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout)
        bits.add(res["bits"])
        for part in ("validation", "train"):
            user, sys_s, faults, wall = res[part]
            rows.append(f"| {flag} | {part} | {user:.2f} | {sys_s:.2f} | {int(faults):,} | {wall:.2f} | "
                        f"{res['peak_mb']:.0f} |")
    print(f"{args.dataset} conv, alpha {args.alpha}, {args.objects} objects x {args.samples} samples, "
          f"{args.steps} steps\n")
    print("| THP | part | user s | system s | minor faults | wall s | peak MB |\n|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"\nsame bits with and without: {len(bits) == 1}")


if __name__ == "__main__":
    main()
