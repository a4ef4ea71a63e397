#!/usr/bin/env bash
# The main job: list the backends, train the small MutualNet preset on
# Fashion-MNIST on the best backend (CUDA, else a hardware wgpu adapter,
# else the CPU), recalibrate and evaluate every width x resolution config,
# and print the grid and the query table. Results land in runs/main/
# (replacing the previous main job's).
# Extra arguments go to `slimmable train` and take the place of the
# defaults above: `--preset fmnist-full`, `--resume` (to continue an
# interrupted main job instead of replacing it), `--out DIR` (a run saved
# there is replaced only with --overwrite, as for `slimmable train`).
# RUN_DRY=1 prints the train command instead of building and running.
set -euo pipefail
cd "$(dirname "$0")/.."
given() { # flag: whether the caller passed it (as `--flag V` or `--flag=V`)
    local a
    for a in "${args[@]}"; do
        if [ "$a" = "$1" ] || [[ $a == "$1="* ]]; then return 0; fi
    done
    return 1
}
args=("$@")
defaults=()
# (clap refuses an option given twice, and --overwrite beside --resume;
# a resumed run keeps its own preset.)
if ! given --preset && ! given --resume; then defaults+=(--preset fmnist-small); fi
if ! given --out; then
    defaults+=(--out runs/main)
    if ! given --resume && ! given --overwrite; then defaults+=(--overwrite); fi
fi
command=(./target/release/slimmable train "${defaults[@]}" "$@")
if [ "${RUN_DRY:-0}" = 1 ]; then
    echo "${command[*]}"
    exit 0
fi
source scripts/env.sh
cargo build --release -q
./target/release/slimmable devices
"${command[@]}"
