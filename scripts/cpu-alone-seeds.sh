#!/usr/bin/env bash
# Issue 7's "every config at or above the same config trained alone", over
# seeds, at CPU scale: for each seed, MutualNet (every config evaluated)
# and the full (1.0x / 28 px) and smallest (0.25x / 16 px) configs trained
# alone, all for EPOCHS epochs of the preset, on the CPU backend, every
# config evaluated on all 10 000 test images. One folder a seed.
# RUNS picks the runs (default "mutualnet full small"); "small-random-res"
# trains the smallest width alone at a random resolution of the set each
# iteration, as MutualNet's smallest width sees them, evaluated at each.
# DATASET=mnist trains and evaluates on MNIST instead of Fashion-MNIST.
#
#   SEEDS="1 2 3" EPOCHS=12 OUT=results/... scripts/cpu-alone-seeds.sh
#   python3 tools/alone_gap_seeds.py EPOCHS OUT/seed-*   # the table over seeds
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${SEEDS:-"1 2 3"}
EPOCHS=${EPOCHS:-12}
PRESET=${PRESET:-fmnist-small}
DATASET=${DATASET:-fashion-mnist}
OUT=${OUT:?set OUT to the results folder}
RUNS=${RUNS:-"mutualnet full small"}
BIN=target/release/slimmable
[ -x "$BIN" ] || cargo build --release --bin slimmable
train() { # folder, extra arguments...
    local dir="$1"; shift
    if [ -f "$dir/results.json" ]; then
        # A finished run is kept, but only if it is of this dataset: the
        # folder names do not say which.
        if grep -q "\"dataset\": \"$DATASET\"" "$dir/results.json"; then
            return 0
        fi
        echo "$dir holds a run of another dataset than $DATASET; give another OUT" >&2
        exit 2
    fi
    "$BIN" train --overwrite --preset "$PRESET" --backend cpu --epochs "$EPOCHS" --eval-images 0 \
        --dataset "$DATASET" --out "$dir" "$@" >"$dir.log" 2>&1
    # the tables need the results, not the trained weights
    rm -f "$dir"/checkpoint.safetensors*
}
for seed in $SEEDS; do
    dir="$OUT/seed-$seed"
    mkdir -p "$dir"
    for run in $RUNS; do
        case "$run" in
        mutualnet) train "$dir/mutualnet-${EPOCHS}ep" --seed "$seed" ;;
        full) train "$dir/alone-w1.0-r28-${EPOCHS}ep" --seed "$seed" --mode alone \
            --widths 1.0,1.0 --resolutions 28 --eval-widths 1.0 ;;
        small) train "$dir/alone-w0.25-r16-${EPOCHS}ep" --seed "$seed" --mode alone \
            --widths 0.25,0.25 --resolutions 16 --eval-widths 0.25 ;;
        small-random-res) train "$dir/alone-random-res-w0.25-${EPOCHS}ep" --seed "$seed" \
            --mode alone-random-res --widths 0.25,0.25 --eval-widths 0.25 ;;
        *) echo "unknown run '$run' in RUNS (mutualnet, full, small, small-random-res)" >&2; exit 2 ;;
        esac
    done
    echo "seed $seed done: $dir"
done
