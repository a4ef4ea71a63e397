#!/usr/bin/env bash
# Called by scripts/gpu-check.sh run on the GPU machine: PyTorch's timings and
# the copy bandwidth first, then ours for the same cases, one table.
set -euo pipefail
OUT="$1"
python3 tools/bench_torch.py --out "$OUT/torch.json"
GBPS=$(python3 -c "import json; print(json.load(open('$OUT/torch.json'))['copy_gbps'])")
.gpu/bin/slimmable bench all --backend cuda --torch "$OUT/torch.json" --copy-gbps "$GBPS" \
    --peak-tflops "${PEAK_TFLOPS:-51}"
