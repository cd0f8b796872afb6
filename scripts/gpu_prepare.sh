#!/usr/bin/env bash
# Prepare the GPU check (issue 12 §3) here, at no device time: the wheels the bare device lacks (asv and its
# pure-Python needs, for its Python 3.12) into .whl/, MNIST into .gpudata/ (both ignored by git through
# .git/info/exclude, carried by the device call), then print the device call to make.
#
#   VAEAC_BENCH_DATA=../shared/data bash scripts/gpu_prepare.sh
set -euo pipefail
cd "$(dirname "$0")/.."
: "${VAEAC_BENCH_DATA:?point VAEAC_BENCH_DATA at the data folder (it holds mnist/mnist.npz)}"
mkdir -p .git/info
for d in /.whl/ /.gpudata/; do grep -qxF "$d" .git/info/exclude 2> /dev/null || echo "$d" >> .git/info/exclude; done

# the versions this checkout's asv runs with (pyproject: asv>=0.6.6,<0.7); the device has build, packaging,
# pyyaml, tabulate and filelock already (/work/.library/device/KINDS.md)
WHEELS="asv==0.6.6 asv_runner==0.3.2 json5==0.17.3 pympler==1.1 importlib_metadata==8.7.0 virtualenv==21.15.13
distlib==0.4.4 platformdirs==4.14.9"
# shellcheck disable=SC2086
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl $WHEELS
mkdir -p .gpudata/mnist
cp -f "$VAEAC_BENCH_DATA/mnist/mnist.npz" .gpudata/mnist/

tree_mb=$(git ls-files -z --cached --others --exclude-standard | xargs -0 stat -c %s 2> /dev/null \
          | awk '{s += $1} END {printf "%.1f", s / 1048576}')
carry_mb=$(du -sm .whl .gpudata | awk '{s += $1} END {print s}')
echo "working tree ${tree_mb} MiB + carried ${carry_mb} MiB (the device takes 64 MiB in all)"
echo
echo "device call (timeout leaves a re-run inside the session's 15 device minutes):"
echo "  run(command=\"COMMIT=$(git rev-parse HEAD) COMMIT_DATE=$(git log -1 --format=%ct) bash scripts/gpu_check.sh\","
echo "      carry=[\".whl\", \".gpudata\"], timeout_s=480)"
echo "then commit what comes back as docs/performance.md (\"When a GPU is lent\") says, and call give_back."
