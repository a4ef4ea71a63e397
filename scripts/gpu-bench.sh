#!/usr/bin/env bash
# Called by scripts/gpu-check.sh run on the GPU machine: PyTorch's timings and
# the copy bandwidth first, then ours for the same cases, one table.
set -euo pipefail
OUT="$1"
python3 tools/bench_torch.py --out "$OUT/torch.json"
ceiling() { python3 -c "import json; print(json.load(open('$OUT/torch.json'))['$1'])"; }
.gpu/bin/slimmable bench all --backend cuda --iters 30 --torch "$OUT/torch.json" \
    --copy-gbps "$(ceiling copy_gbps)" --peak-f32-tflops "$(ceiling f32_tflops)" \
    --peak-tf32-tflops "$(ceiling tf32_tflops)" | tee "$OUT/bench.txt"
