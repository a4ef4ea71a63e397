#!/usr/bin/env bash
# Called by scripts/gpu-check.sh run on the GPU machine: PyTorch's timings and
# the copy bandwidth first, then ours for the same cases, one table.
set -euo pipefail
OUT="$1"
python3 tools/bench_torch.py --out "$OUT/torch.json"
# PyTorch eager's MutualNet iteration of the ImageNet MobileNetV2 (issue 7),
# filed under the name `slimmable bench mutualnet` gives its row.
python3 tools/reference_trainer.py --imagenet --iters 10 --out "$OUT/torch_mutualnet_imagenet.json"
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
t = json.load(open(f"{out}/torch.json"))
m = json.load(open(f"{out}/torch_mutualnet_imagenet.json"))
t["cases"]["mutualnet/mobilenet_v2_imagenet_b128_r224"] = {"ms": m["ms_per_iteration"]}
json.dump(t, open(f"{out}/torch.json", "w"), indent=1)
PY
ceiling() { python3 -c "import json; print(json.load(open('$OUT/torch.json'))['$1'])"; }
.gpu/bin/slimmable bench all --backend cuda --iters 30 --torch "$OUT/torch.json" \
    --copy-gbps "$(ceiling copy_gbps)" --peak-f32-tflops "$(ceiling f32_tflops)" \
    --peak-tf32-tflops "$(ceiling tf32_tflops)" --peak-bf16-tflops "$(ceiling bf16_tflops)" \
    | tee "$OUT/bench.txt"
