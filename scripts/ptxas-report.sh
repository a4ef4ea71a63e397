#!/usr/bin/env bash
# Registers, shared memory and spills of every CUDA kernel, from the PTX
# NVRTC makes, assembled by ptxas from the nvidia-cuda-nvcc wheel (no GPU
# needed): scripts/ptxas-report.sh [sm_90] [grep pattern]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
ARCH="${1:-sm_90}"
NVCC_DIR="$SLIMMABLE_CACHE/nvcc-13.0.88"
PTXAS="$NVCC_DIR/nvidia/cu13/bin/ptxas"
if [ ! -x "$PTXAS" ]; then
    python3 -m pip install -q --target "$NVCC_DIR" nvidia-cuda-nvcc==13.0.88
fi
DIR="$(mktemp -d)"
trap 'rm -rf "$DIR"' EXIT
cargo run -q --example dump_ptx -- "$DIR" "$ARCH" >/dev/null
status=0
for f in "$DIR"/*.ptx; do
    if ! log="$("$PTXAS" -arch="$ARCH" -v "$f" -o /dev/null 2>&1)"; then
        echo "ptxas-report: $(basename "$f") does not assemble for $ARCH:" >&2
        echo "$log" | grep -vE "^ptxas info" >&2
        status=1
        continue
    fi
    echo "$log" | grep -E "Compiling entry|registers|spill" | sed "s|^ptxas info *: ||" \
        | paste - - - | grep -E "${2:-.}" || true
done
exit $status
