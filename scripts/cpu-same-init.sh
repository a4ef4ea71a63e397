#!/usr/bin/env bash
# Issue 7's same-init comparison at CPU scale, one seed per folder: ours
# (CPU backend) and tools/reference_trainer.py in float32, in float64, and
# in float32 without oneDNN (another conv path: other rounding), all from
# the same seeded initial weights, data order, crops, flips and sampled
# configs. The seeds give the spread that one pair of runs cannot.
#
#   SEEDS="1 2 3" EPOCHS=4 OUT=results/... scripts/cpu-same-init.sh
#   VARIANTS=float32 ...                   # PyTorch's float32 run only
#   python3 tools/seed_spread.py OUT       # the table over seeds
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${SEEDS:-"0 1 2 3"}
EPOCHS=${EPOCHS:-4}
PRESET=${PRESET:-fmnist-small}
# PyTorch's runs: float32 is the comparison; float64 and nomkldnn measure
# how far rounding alone moves PyTorch (together 5 times float32's time).
VARIANTS=${VARIANTS:-"float32 float64 nomkldnn"}
# Checked before any training, not after a seed's first run.
for variant in $VARIANTS; do
    case $variant in
        float32 | float64 | nomkldnn) ;;
        *) echo "cpu-same-init: unknown variant '$variant' in VARIANTS (float32, float64, nomkldnn)" >&2; exit 2 ;;
    esac
done
OUT=${OUT:?set OUT to the results folder}
DATA=${SLIMMABLE_DATA_DIR:-/usr/share/datasets/fashion-mnist}
BIN=target/release/slimmable
[ -x "$BIN" ] || cargo build --release --bin slimmable
for seed in $SEEDS; do
    dir="$OUT/seed-$seed"
    mkdir -p "$dir"
    [ -f "$dir/init/checkpoint.safetensors" ] ||
        "$BIN" train --overwrite --preset "$PRESET" --backend cpu --epochs 0 --skip-eval --seed "$seed" --out "$dir/init"
    [ -f "$dir/mutualnet-${EPOCHS}ep/results.json" ] ||
        "$BIN" train --overwrite --preset "$PRESET" --backend cpu --epochs "$EPOCHS" --seed "$seed" --eval-images 0 \
            --log-every 1 --out "$dir/mutualnet-${EPOCHS}ep" >"$dir/mutualnet-${EPOCHS}ep.log" 2>&1
    for variant in $VARIANTS; do
        case $variant in
            float32) name=torch-mutualnet-${EPOCHS}ep.json extra=() ;;
            float64) name=torch-float64-${EPOCHS}ep.json extra=(--float64) ;;
            nomkldnn) name=torch-nomkldnn-${EPOCHS}ep.json extra=(--no-mkldnn) ;;
        esac
        [ -f "$dir/$name" ] ||
            python3 tools/reference_trainer.py --device cpu --data "$DATA" --init "$dir/init/checkpoint.safetensors" \
                --epochs "$EPOCHS" --eval-images 0 "${extra[@]}" --out "$dir/$name" >"$dir/${name%.json}.log" 2>&1
    done
    # the trained weights are not needed for the tables; the initial ones are
    rm -f "$dir/mutualnet-${EPOCHS}ep"/checkpoint.safetensors*
    python3 tools/compare_runs.py "$dir" >"$dir/comparison.md"
    echo "seed $seed done: $dir"
done
