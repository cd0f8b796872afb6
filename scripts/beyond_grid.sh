#!/usr/bin/env bash
# Issue 13 §7: the comparison grid beyond the paper, one method at a time, cached and resumable.
#
# 6 UCI tables (two with categorical columns: zoo, boston's chas) x {MCAR, MAR, MNAR self-masked} x rates
# {0.1, 0.3, 0.5, 0.7} x 5 splits; VAEAC in the paper's configuration (vaeac) and in VAEACImputer()'s
# (vaeac-default). Every finished cell is a result file, so a killed run loses only the cells in flight: start
# it again and it skips what exists. Cheapest methods first, so the report fills early.
#
#   VAEAC_BENCH_DATA=../shared/data nohup bash scripts/beyond_grid.sh > beyond.log 2>&1 &
#   METHODS="miwae vaeac" JOBS=1 bash scripts/beyond_grid.sh      # a subset, on one core
#
# Reports are rendered at the end (run-bench --no-run --tables all); commit results/ and reports/ as they fill.
set -uo pipefail
cd "$(dirname "$0")/.."
BENCH="${BENCH:-.venv/bin/run-bench}"
JOBS="${JOBS:-2}"
DATASETS="${DATASETS:-iris,diabetes,boston,glass,yeast,zoo}"
METHODS="${METHODS:-mean knn iterative softimpute gain missforest miwae vaeac vaeac-default mice sinkhorn}"
# one BLAS/OpenMP thread per cell (run-bench sets these too where unset); niced so interactive work keeps a core
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
for m in $METHODS; do
    echo "== $(date -u +%FT%TZ) $m"
    nice -n 10 "$BENCH" --datasets "$DATASETS" --methods "$m" --mechanism mcar,mar,mnar-selfmask \
        --missing-rate 0.1,0.3,0.5,0.7 --splits 5 --jobs "$JOBS" --tables none \
        || echo "== $m exited $? (cells already written are kept; run again to resume)"
done
"$BENCH" --no-run --tables all
