#!/usr/bin/env bash
# The main job (for now): list the backends and verify every operator on the
# best one against the CPU reference.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --release -q
./target/release/slimmable devices
./target/release/slimmable verify "$@"
