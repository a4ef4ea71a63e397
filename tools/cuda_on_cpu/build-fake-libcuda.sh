#!/usr/bin/env bash
# Builds the CPU stand-in for the CUDA driver (fake_libcuda.cpp) and one
# library of kernels per kernels/*.cu unit into OUT_DIR (default
# target/cuda-on-cpu); `build-fake-libcuda.sh OUT_DIR EXTRA.cu ...` adds
# units of test kernels (the stand-in's own test plants faults that way).
# Put OUT_DIR first on LD_LIBRARY_PATH and the CUDA backend runs on the CPU:
#   tools/cuda_on_cpu/build-fake-libcuda.sh
#   LD_LIBRARY_PATH=target/cuda-on-cpu:$LD_LIBRARY_PATH slimmable verify --backend cuda --op conv
# NVRTC must still be present (the backend compiles the kernels to PTX as
# it does on a GPU; the fake driver ignores the PTX). Needs g++ with C++20.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/target/cuda-on-cpu}
mkdir -p "$out/src"
shim=$root/tools/cuda_on_cpu
flags=(-std=c++20 -O1 -fPIC -pthread -w -fvisibility=hidden -fno-weak -DSHIM_FIBERS -I"$root/kernels" -I"$shim"
       -fsanitize=alignment -fno-sanitize-recover=alignment)

build_unit() {
    local cu=$1 stem
    stem=$(basename "$cu" .cu)
    # The unit's kernels: every extern "C" function named slimmable_*, found
    # in the preprocessed source (entry points made by macros included),
    # with the thread limit of its __launch_bounds__ (1024 without one), as
    # "name limit" lines.
    local kernels
    kernels=$(g++ "${flags[@]}" -DSHIM_KEEP_LAUNCH_BOUNDS -E -P -include cuda_shim.h \
            -include fake_unit_smem.h -x c++ "$cu" | tr '\n' ' ' |
        perl -ne 'while (/extern "C"\s+void\s+(?:__launch_bounds__\(\s*((?:[^,()]|\([^()]*\))+?)\s*(?:,(?:[^()]|\([^()]*\))*)?\)\s+)?(slimmable_\w+)\s*\(/g) { print "$2 ", ($1 // "1024"), "\n" }' |
        sort -u)
    if [ -z "$kernels" ]; then
        echo "build-fake-libcuda: no kernels found in $cu" >&2
        return 1
    fi
    {
        echo '#include "cuda_shim.h"'
        echo '#include "fake_unit_smem.h"'
        echo "#include \"$(cd "$(dirname "$cu")" && pwd)/$stem.cu\""
        printf '#define FAKE_ENTRIES'
        while read -r name limit; do printf ' FAKE_ENTRY(%s, %s)' "$name" "$limit"; done <<< "$kernels"
        echo
        echo '#include "fake_unit.h"'
    } > "$out/src/unit_$stem.cpp"
    g++ "${flags[@]}" -shared "$out/src/unit_$stem.cpp" -o "$out/libslimmable_cuda_unit_$stem.so"
}

pids=()
for cu in "$root"/kernels/*.cu "${@:2}"; do
    build_unit "$cu" &
    pids+=($!)
done
g++ -std=c++17 -O1 -fPIC -shared -fvisibility=hidden -Wall -Werror -I"$shim" \
    "$shim/fake_libcuda.cpp" -o "$out/libcuda.so" -Wl,-soname,libcuda.so -ldl
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
exit $status
