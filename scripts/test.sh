#!/usr/bin/env bash
# The test command (README, CI): formatting, lints, then every test with the
# WGSL kernels on a real Vulkan adapter and every CUDA kernel compiled by
# NVRTC, and Fashion-MNIST read and checksummed. A missing adapter, NVRTC or
# dataset fails the run instead of skipping; set SLIMMABLE_REQUIRE_VULKAN=0,
# SLIMMABLE_REQUIRE_NVRTC=0 or SLIMMABLE_REQUIRE_DATA=0 to allow skips.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
export SLIMMABLE_REQUIRE_VULKAN="${SLIMMABLE_REQUIRE_VULKAN:-1}"
export SLIMMABLE_REQUIRE_NVRTC="${SLIMMABLE_REQUIRE_NVRTC:-1}"
export SLIMMABLE_REQUIRE_DATA="${SLIMMABLE_REQUIRE_DATA:-1}"

cargo fmt --check
cargo clippy --all-targets -- -D warnings
# The examples as programs (`cargo test` builds them only as test harnesses):
# tests/cuda_backend_on_cpu.rs runs cuda_raw_launch on the libcuda stand-in.
cargo build --examples
cargo test --all-targets
