#!/usr/bin/env bash
# The prepared GPU check (issue 12 §3): one run on a lent GPU machine, about 5-6 minutes (first lent run,
# 2026-12-04: tests 24 s, timings 150 s). Prepare here with `bash scripts/gpu_prepare.sh` (it prints the exact
# device call). On the device, from the repository root, with OUT set by the device tool:
#
#   COMMIT=<hash> COMMIT_DATE=<unix seconds> bash scripts/gpu_check.sh
#
# What lands in $OUT (each step has its own time limit; a failed step does not stop the next):
#   env.txt             nvidia-smi, torch and CUDA versions
#   pytest_cuda.log     tests/test_cuda.py (the CUDA paths) and tests/test_device.py on the GPU
#   gpu_timings.json    table 5 and 9 on the GPU: scripts/gpu_check.py (FC VAEAC 30 epochs, NLL, 100 samples,
#   gpu_check.log       MC-10^4, one conv epoch), written after every step
#   asv_*.json, asv.log the asv suite's device-parametrised benchmarks in this Python (asv's existing env),
#                       its result re-keyed to COMMIT: commit them under results/asv/<machine>/
# docs/performance.md ("When a GPU is lent") says how to commit what comes back.
set -uo pipefail
: "${OUT:?OUT must name the folder whose files come back}"
cd "$(dirname "$0")/.."
COMMIT="${COMMIT:-unknown}"
MACHINE="${MACHINE:-device-h200}"
# only the CUDA parameter combinations (asv matches -b against "name(param, ...)" with repr'd params): the CPU
# ones on the device's 16-core host took the first lent run past 390 s before any result was saved
ASV_BENCH="${ASV_BENCH:-^bench_(vaeac\.(TrainStep|Validation|Imputation)|images\.ImageTrainStep)\..*\(.*'cuda'.*\)$}"
export PYTHONUNBUFFERED=1 VAEAC_BENCH_DATA="${VAEAC_BENCH_DATA:-$PWD/.gpudata}"
PY="${PY:-python3}"
DEVICE="${DEVICE:-cuda}"  # DEVICE=cpu with small GPU_CHECK_ARGS tries the whole script on a CPU machine
GPU_CHECK_ARGS="${GPU_CHECK_ARGS:---deadline 170 --mc-long 100}"

# the package and asv, into this Python without an index (a bare machine reaches nothing): a .pth file makes
# them importable in every process, asv's benchmark processes too
SITE=/tmp/vaeac_site
rm -rf "$SITE"
if compgen -G ".whl/*.whl" > /dev/null; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" .whl/*.whl
fi
echo "$PWD/src" > "$SITE.pth.txt"
[ -d "$SITE" ] && echo "$SITE" >> "$SITE.pth.txt"
cp "$SITE.pth.txt" "$($PY -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/vaeac_bench_gpu.pth" \
    || echo "site-packages not writable: PYTHONPATH alone carries the package"
export PYTHONPATH="$PWD/src:$SITE${PYTHONPATH:+:$PYTHONPATH}"
# asv discards PYTHONPATH in its benchmark processes unless ASV_PYTHONPATH names it (asv/environment.py); the
# .pth file alone did not reach them on the H200 (first lent run, 2026-12-04)
export ASV_PYTHONPATH="$PYTHONPATH"
STEPS="${STEPS:-tests timings asv}"  # a re-run can take only the steps that failed, e.g. STEPS=asv

{ date -u; nvidia-smi; $PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda,
torch.cuda.get_device_name() if torch.cuda.is_available() else 'NO CUDA')"; nproc; } > "$OUT/env.txt" 2>&1
status=0

if [[ " $STEPS " == *" tests "* ]]; then
echo "== tests"
timeout "${PYTEST_TIMEOUT:-120}" $PY -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_device.py \
    > "$OUT/pytest_cuda.log" 2>&1 || status=1
tail -3 "$OUT/pytest_cuda.log"
fi

if [[ " $STEPS " == *" timings "* ]]; then
echo "== table 5/9 timings"
# shellcheck disable=SC2086
timeout "${CHECK_TIMEOUT:-240}" $PY scripts/gpu_check.py --device "$DEVICE" --out "$OUT/gpu_timings.json" $GPU_CHECK_ARGS \
    > "$OUT/gpu_check.log" 2>&1 || status=1
tail -5 "$OUT/gpu_check.log"
fi

echo "== asv"
if [[ " $STEPS " != *" asv "* ]]; then
    :
elif $PY -c "import asv" 2> /dev/null && command -v git > /dev/null; then
    # asv reads commits from git; the device's copy of the tree has none. Its existing environment runs the
    # benchmarks from this tree and builds nothing, so an empty commit gives asv a hash, and the result is
    # re-keyed to the real commit afterwards (asv keys results by commit hash and date only)
    if ! git rev-parse HEAD > /dev/null 2>&1; then
        git init -q -b main . && git -c user.name=gpu-check -c user.email=gpu-check@localhost \
            commit -q --allow-empty -m "stands for $COMMIT"
    fi
    snap="$(git rev-parse HEAD)"
    $PY -m asv machine --yes --machine "$MACHINE" --cpu "$(nproc) cores (device host)" \
        --os "$(uname -sr)" --ram "$(free -g | awk '/Mem:/ {print $2}')GB" > "$OUT/asv.log" 2>&1
    timeout "${ASV_TIMEOUT:-150}" $PY -m asv run -E "existing:$(command -v $PY)" --set-commit-hash "$snap" --machine "$MACHINE" \
        -b "$ASV_BENCH" -a repeat=5 --show-stderr >> "$OUT/asv.log" 2>&1 || status=1
    $PY - "$MACHINE" "$snap" "$COMMIT" "${COMMIT_DATE:-0}" "$OUT" <<'EOF' >> "$OUT/asv.log" 2>&1 || status=1
import json, shutil, sys
from pathlib import Path
machine, snap, commit, date, out = sys.argv[1:]
folder = Path("results/asv") / machine
shutil.copy(folder / "machine.json", Path(out) / "asv_machine.json")
for p in folder.glob(f"{snap[:8]}-*.json"):
    d = json.loads(p.read_text())
    d["commit_hash"] = commit
    if int(date) > 0:
        d["date"] = int(date) * 1000
    name = p.name.replace(snap[:8], commit[:8], 1)
    (Path(out) / f"asv_{name}").write_text(json.dumps(d, indent=1))
    print("asv result", name)
shutil.copy("results/asv/benchmarks.json", Path(out) / "asv_benchmarks.json")
EOF
else
    echo "asv or git missing on this machine: carry the asv wheels (scripts/gpu_prepare.sh)" > "$OUT/asv.log"
    status=1
fi
tail -3 "$OUT/asv.log"
exit $status
