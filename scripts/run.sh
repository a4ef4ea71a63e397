#!/usr/bin/env bash
# The main job: list the backends, train the small MutualNet preset on
# Fashion-MNIST on the best backend (CUDA, else a hardware wgpu adapter,
# else the CPU), recalibrate and evaluate every width x resolution config,
# and print the grid and the query table. Results land in runs/main/
# (replacing the previous main job's).
# Extra arguments go to `slimmable train` (e.g. --preset fmnist-full).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --release -q
./target/release/slimmable devices
./target/release/slimmable train --preset fmnist-small --out runs/main --overwrite "$@"
