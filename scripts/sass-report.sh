#!/usr/bin/env bash
# Static SASS instruction counts of CUDA kernels (no GPU needed): the PTX
# NVRTC makes, assembled by ptxas (scripts/ptxas-report.sh's wheel) and
# disassembled by cuobjdump + nvdisasm from their PyPI wheels.
#   scripts/sass-report.sh UNIT ARCH KERNEL...   e.g.
#   scripts/sass-report.sh dw3x3s1_flat sm_90 slimmable_dwconv2d_fwd_k3s1_flat4
# Per kernel: all instructions, FFMA, HMMA, barriers, the instructions after
# the first barrier and between the first two (a loop body in the kernels
# that stage through shared memory), and the loop with the most HMMAs with
# its instructions per HMMA. Static counts include branches not taken: a
# proxy for comparing two versions of a kernel, not a timing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
UNIT="$1" ARCH="$2"
shift 2
CACHE="$SLIMMABLE_CACHE"
PTXAS="$CACHE/nvcc-13.0.88/nvidia/cu13/bin/ptxas"
if [ ! -x "$PTXAS" ]; then
    python3 -m pip install -q --target "$CACHE/nvcc-13.0.88" nvidia-cuda-nvcc==13.0.88
fi
TOOLS="$CACHE/sass-tools"
if [ ! -x "$TOOLS/nvidia/cu13/bin/cuobjdump" ] || [ -z "$(find "$TOOLS" -name nvdisasm -type f)" ]; then
    python3 -m pip install -q --no-deps --target "$TOOLS" \
        nvidia-cuda-cuobjdump==13.2.51 nvidia-cuda-nvdisasm==13.5.37
fi
CUOBJDUMP="$TOOLS/nvidia/cu13/bin/cuobjdump"
NVDISASM_DIR="$(dirname "$(find "$TOOLS" -name nvdisasm -type f | head -1)")"
chmod +x "$CUOBJDUMP" "$NVDISASM_DIR/nvdisasm"
DIR="$(mktemp -d)"
trap 'rm -rf "$DIR"' EXIT
cargo run -q --example dump_ptx -- "$DIR" "$ARCH" >/dev/null
"$PTXAS" -arch="$ARCH" "$DIR/$UNIT.ptx" -o "$DIR/$UNIT.cubin"
for k in "$@"; do
    PATH="$NVDISASM_DIR:$PATH" NVDISASM_PATH="$NVDISASM_DIR" "$CUOBJDUMP" -sass -fun "$k" \
        "$DIR/$UNIT.cubin" | grep -E '^\s+/\*[0-9a-f]{4,5}\*/' \
        | sed -E 's#^\s*/\*([0-9a-f]+)\*/\s*#\1 #; s#\s*/\*.*##; s# ;$##' >"$DIR/$k.lst"
    python3 - "$k" "$DIR/$k.lst" <<'EOF'
import re, sys
name, path = sys.argv[1], sys.argv[2]
rows = [l.split(None, 1) for l in open(path) if l.strip()]
if not rows:
    sys.exit(f"{name}: no such kernel in the unit")
addr = [int(a, 16) for a, _ in rows]
ins = [i for _, i in rows]
bars = [n for n, i in enumerate(ins) if "BAR.SYNC" in i]
count = lambda seq, op: sum(1 for i in seq if op in i)
after = len(ins) - bars[0] - 1 if bars else 0
between = bars[1] - bars[0] - 1 if len(bars) > 1 else 0
best = None  # the backward branch whose body holds the most HMMAs
for n, i in enumerate(ins):
    m = re.search(r"BRA\s+\S*?(0x[0-9a-f]+)", i)
    if m and int(m.group(1), 16) < addr[n] and int(m.group(1), 16) in addr:
        body = ins[addr.index(int(m.group(1), 16)):n + 1]
        h = count(body, "HMMA")
        if h and (best is None or h > best[1]):
            best = (len(body), h)
loop = f", loop {best[0]} / {best[1]} HMMA = {best[0] / best[1]:.1f} each" if best else ""
print(f"{name}: {len(ins)} instructions, FFMA {count(ins, 'FFMA')}, HMMA {count(ins, 'HMMA')}, "
      f"barriers {len(bars)}, after the first barrier {after}, between the first two {between}{loop}")
EOF
done
