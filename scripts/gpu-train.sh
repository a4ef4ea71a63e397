#!/usr/bin/env bash
# Issue 7's accuracy runs on the GPU machine, after `scripts/gpu-check.sh run`
# (which unpacked .gpu/bin; Fashion-MNIST travels in .data/, see its build):
#   1. ours, MutualNet, EPOCHS (12) epochs: the grid, query table and plot;
#      beside it PyTorch eager (tools/reference_trainer.py --data --init,
#      from our initial weights) on the same recipe for CMP_EPOCHS (4) epochs;
#   2. then one after the other: the full and the smallest config trained
#      alone for EPOCHS epochs, and ours for CMP_EPOCHS epochs (against
#      PyTorch). (Side by side they time-slice the GPU and took 2-3x longer,
#      2026-11-26.)
# On an H200 step 1 takes about 290 s and step 2 about 200 s: give it its
# own device call (ONLY_COMPARE=1: just ours and PyTorch for CMP_EPOCHS, side
# by side; on an H200 PyTorch's 4 epochs took longer than 179 s beside ours,
# 2026-11-26: give it 240 s or more). Speeds here are not measurements (PyTorch shares the GPU
# in step 1; gpu-check.sh times both alone); accuracies are. The trainers
# write under RUNS (/tmp/runs). Every run stops
# at BUDGET seconds from the start; results are packed into
# $OUT/train.tgz (the device tool returns at most 8 files: after
# gpu-check.sh in the same call, which leaves 3, it fits).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-.gpu/out}/train"
mkdir -p "$OUT"
BIN="${BIN:-.gpu/bin/slimmable}"
# A call of its own re-carries .gpu packed (run 10's first try found no
# binaries): unpack it as gpu-check.sh run does.
if [ ! -x "$BIN" ] && [ -f .gpu/bundle.txz ]; then tar -C .gpu -xJf .gpu/bundle.txz; fi
# The kernels as cubins, where scripts/gpu-check.sh build packed them.
if [ -d .gpu/cubin ]; then export SLIMMABLE_CUBIN_DIR="$PWD/.gpu/cubin"; fi
DATA="${DATA:-.data/fashion-mnist}"
PRESET="${PRESET:-fmnist-full}"   # fmnist-small: a quick trial of this script on a CPU
TORCH_DEVICE="${TORCH_DEVICE:-cuda}"
EPOCHS="${EPOCHS:-12}"
CMP="${CMP_EPOCHS:-4}"
END=$((SECONDS + ${BUDGET:-540}))
left() { echo $((END - SECONDS > 1 ? END - SECONDS : 1)); }
RUN_OUT="$OUT"   # where ours() and start_torch() write
RUNS="${RUNS:-/tmp/runs}"   # the trainers' own folders (checkpoints stay here)
# WARMUP_EPOCHS=E: both trainers warm the learning rate up linearly for E
# epochs (the recipe travels to PyTorch in the init checkpoint). Without it
# the fmnist-full recipe's first iterations blow up (cross-entropy from 2.3
# to about 20 by iteration 10, in ours and in PyTorch, CPU and GPU alike)
# and the runs part ways there (run 9). LR=R: both trainers peak at R
# instead of the preset's 0.1 (results/2026-11-28-stability-cpu: at 0.1 the
# stem turns by most of a radian a step; see its README for a rate that
# trains without blowing up, so that the two runs can be compared config by config).
warm=()
if [ -n "${WARMUP_EPOCHS:-}" ]; then warm=(--warmup-epochs "$WARMUP_EPOCHS"); fi
if [ -n "${LR:-}" ]; then warm+=(--lr "$LR"); fi

ours() { # name, extra train arguments...
    local name="$1"; shift
    # (A run the budget stops must not pass on an earlier call's results:
    # RUNS outlives a call on a warm machine, and --overwrite keeps files.)
    rm -rf "${RUNS:?}/$name"
    timeout "$(left)" "$BIN" train --overwrite --preset "$PRESET" --data-dir "$DATA" \
        --out "$RUNS/$name" --log-every 200 "${warm[@]}" "$@" >"$RUN_OUT/$name.log" 2>&1
    echo "$name: exit $? after $SECONDS s" | tee -a "$OUT/status.txt"
    mkdir -p "$RUN_OUT/$name"
    cp "$RUNS/$name"/{results.json,results.csv,table.txt,accuracy_vs_macs.svg,accuracy_vs_macs.png} \
        "$RUN_OUT/$name/" 2>/dev/null
}

# PyTorch in the background, from our seeded initial weights (`--epochs 0`
# writes them; ours with the same seed draws the same), so the two runs
# differ only by rounding, not by their initial draws. FLOAT64=1: the same
# run in float64 beside it, to measure how far rounding alone moves each
# config (compare_runs.py prints both float32 runs against it; on the CPU
# the spread reached about a point, see results/2026-11-27-seeds-cpu).
torch_pids=""
start_torch() { # seed
    local init="$RUNS/init-$1"
    "$BIN" train --overwrite --preset "$PRESET" --data-dir "$DATA" --epochs 0 --skip-eval --seed "$1" \
        "${warm[@]}" --out "$init" >"$RUN_OUT/init.log" 2>&1
    timeout "$(left)" python3 tools/reference_trainer.py --device "$TORCH_DEVICE" --data "$DATA" \
        --epochs "$CMP" --init "$init/checkpoint.safetensors" \
        --out "$RUN_OUT/torch-mutualnet-${CMP}ep.json" >"$RUN_OUT/torch-mutualnet-${CMP}ep.log" 2>&1 &
    torch_pids=$!
    if [ "${FLOAT64:-0}" = 1 ]; then
        timeout "$(left)" python3 tools/reference_trainer.py --device "$TORCH_DEVICE" --data "$DATA" \
            --epochs "$CMP" --init "$init/checkpoint.safetensors" --float64 \
            --out "$RUN_OUT/torch-float64-${CMP}ep.json" >"$RUN_OUT/torch-float64-${CMP}ep.log" 2>&1 &
        torch_pids="$torch_pids $!"
    fi
}
wait_torch() {
    for pid in $torch_pids; do
        wait "$pid"
        echo "torch ($pid): exit $? after $SECONDS s" | tee -a "$OUT/status.txt"
    done
    torch_pids=""
}
pack() {
    tar -C "$(dirname "$OUT")" -czf "$OUT.tgz" "$(basename "$OUT")" && rm -rf "$OUT"
}

if [ "${ONLY_COMPARE:-0}" = 1 ]; then
    # Only the same-epochs comparison with PyTorch, both side by side
    # (PyTorch is bound by its launches on the CPU, ours by the GPU): about
    # 200 s a seed on an H200. SEEDS="0 1": one folder a seed (seed-S/) and
    # their spread (tools/seed_spread.py), since a single pair of runs
    # differs by rounding alone by about a point a config on the CPU.
    seeds=(${SEEDS:-0})
    for seed in "${seeds[@]}"; do
        RUN_OUT="$OUT"
        [ "${#seeds[@]}" -gt 1 ] && RUN_OUT="$OUT/seed-$seed"
        mkdir -p "$RUN_OUT"
        start_torch "$seed"
        ours "mutualnet-${CMP}ep" --epochs "$CMP" --seed "$seed"
        wait_torch
        python3 tools/compare_runs.py "$RUN_OUT" | tee "$RUN_OUT/comparison.md"
    done
    if [ "${#seeds[@]}" -gt 1 ]; then
        python3 tools/seed_spread.py "$CMP" "$OUT"/seed-* | tee "$OUT/seed-spread.md"
    fi
    pack
    exit 0
fi
# PYTORCH=0: no PyTorch run and no CMP_EPOCHS run of ours (for an
# accuracy pair that fills a call: e.g. EPOCHS=36 ALONE=small PYTORCH=0, ours
# and the smallest config alone, about 470 s on an H200).
[ "${PYTORCH:-1}" = 1 ] && start_torch 0
ours "mutualnet-${EPOCHS}ep" --epochs "$EPOCHS"
# ALONE=small: only the smallest config trained alone.
if [ "${ALONE:-both}" != small ]; then
    ours "alone-1.0-28-${EPOCHS}ep" --epochs "$EPOCHS" --mode alone --widths 1.0,1.0 \
        --resolutions 28 --eval-widths 1.0
fi
ours "alone-0.25-16-${EPOCHS}ep" --epochs "$EPOCHS" --mode alone --widths 0.25,0.25 \
    --resolutions 16 --eval-widths 0.25
# RANDOM_RES=1: the smallest width also trained alone at a random resolution
# of the set each iteration, as MutualNet's smallest width sees them
# (results/2026-11-29-alone-random-res-24ep-cpu: on the CPU preset that mix
# costs the width more at 16 px than MutualNet's gap to the 16-px-only run).
if [ "${RANDOM_RES:-0}" = 1 ]; then
    ours "alone-random-res-0.25-${EPOCHS}ep" --epochs "$EPOCHS" --mode alone-random-res \
        --widths 0.25,0.25 --eval-widths 0.25
fi
if [ "${PYTORCH:-1}" = 1 ]; then
    wait_torch
    ours "mutualnet-${CMP}ep" --epochs "$CMP"
fi
# (No table when the budget stopped every run: the glob stays literal.)
for f in "$OUT"/*/table.txt; do [ -f "$f" ] && { echo "== $f"; cat "$f"; }; done
python3 tools/compare_runs.py "$OUT" | tee "$OUT/comparison.md"
pack
