#!/usr/bin/env bash
# Issue 7's accuracy runs on the GPU machine, after `scripts/gpu-check.sh run`
# (which unpacked .gpu/bin; Fashion-MNIST travels in .data/, see its build):
#   1. ours, MutualNet, EPOCHS (12) epochs: the grid, query table and plot;
#      beside it PyTorch eager (tools/reference_trainer.py --data) on the
#      same recipe for CMP_EPOCHS (4) epochs;
#   2. then, side by side: ours for CMP_EPOCHS epochs (against PyTorch), and
#      the full and the smallest config trained alone for EPOCHS epochs.
# Runs share the GPU, so their speeds are not measurements (gpu-check.sh
# times ours and PyTorch's alone); accuracies are. Every run stops at
# BUDGET seconds from the start; results land in $OUT/train/.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-.gpu/out}/train"
mkdir -p "$OUT"
BIN=.gpu/bin/slimmable
DATA=.data/fashion-mnist
EPOCHS="${EPOCHS:-12}"
CMP="${CMP_EPOCHS:-4}"
END=$((SECONDS + ${BUDGET:-330}))
left() { echo $((END - SECONDS > 1 ? END - SECONDS : 1)); }

ours() { # name, extra train arguments...
    local name="$1"; shift
    timeout "$(left)" "$BIN" train --preset fmnist-full --data-dir "$DATA" \
        --out "/tmp/runs/$name" --log-every 200 "$@" >"$OUT/$name.log" 2>&1
    echo "$name: exit $? after $SECONDS s" | tee -a "$OUT/status.txt"
    mkdir -p "$OUT/$name"
    cp /tmp/runs/"$name"/{results.json,results.csv,table.txt,accuracy_vs_macs.svg,accuracy_vs_macs.png} \
        "$OUT/$name/" 2>/dev/null
}

timeout "$(left)" python3 tools/reference_trainer.py --data "$DATA" --epochs "$CMP" \
    --out "$OUT/torch-mutualnet-${CMP}ep.json" >"$OUT/torch-mutualnet-${CMP}ep.log" 2>&1 &
torch_pid=$!
ours "mutualnet-${EPOCHS}ep" --epochs "$EPOCHS"
ours "mutualnet-${CMP}ep" --epochs "$CMP" &
ours "alone-1.0-28-${EPOCHS}ep" --epochs "$EPOCHS" --mode alone --widths 1.0,1.0 \
    --resolutions 28 --eval-widths 1.0 &
ours "alone-0.25-16-${EPOCHS}ep" --epochs "$EPOCHS" --mode alone --widths 0.25,0.25 \
    --resolutions 16 --eval-widths 0.25 &
wait
wait "$torch_pid" 2>/dev/null
echo "torch: done after $SECONDS s" >>"$OUT/status.txt"
cat "$OUT/status.txt"
for f in "$OUT"/*/table.txt; do echo "== $f"; cat "$f"; done
tail -3 "$OUT"/*.log
