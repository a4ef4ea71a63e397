#!/usr/bin/env bash
# Runs `slimmable verify --backend cuda` on the CPU stand-in for the driver
# (build-fake-libcuda.sh) once with the default routes and once per kernel
# switch of src/backend/cuda (README "Kernel switches"), each flipped from
# its default, on the operators it routes. A route a GPU has never run gets
# its host code and kernels checked against the CPU reference here first.
# The two-stream backward runs twice: the stand-in's default stream order,
# then the newer stream first (fake_libcuda.cpp: one of the two shows a
# missing event wait).
#   tools/cuda_on_cpu/switch-sweep.sh [SEED] [ONLY]   (ONLY: a switch name fragment)
# Prints one line per run, then "sweep: P of R runs passed, L listed", and
# exits 1 if any run failed; logs go to
# target/cuda-on-cpu/sweep/ (FAKE_LIBCUDA_DIR: the stand-in's folder, built
# there if missing; SLIMMABLE_BIN: the binary, default target/release).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seed=${1:-1}
only=${2:-}
source "$root/scripts/env.sh"
lib=${FAKE_LIBCUDA_DIR:-$root/target/cuda-on-cpu}
[ -f "$lib/libcuda.so" ] || "$root/tools/cuda_on_cpu/build-fake-libcuda.sh" "$lib" || exit 1
bin=${SLIMMABLE_BIN:-$root/target/release/slimmable}
logs=$lib/sweep
mkdir -p "$logs"
# The fake driver ignores module images, but the backend still makes them:
# once here, as cubins, instead of by NVRTC in every run (unless the caller
# has them: SLIMMABLE_CUBIN_DIR).
if [ -z "${SLIMMABLE_CUBIN_DIR:-}" ]; then
    export SLIMMABLE_CUBIN_DIR=$lib/cubins
    "$bin" cubins --arch sm_90a "$SLIMMABLE_CUBIN_DIR" > /dev/null || exit 1
fi

# switch=value  operator filter (verify --op)
runs=(
    "default"
    "SLIMMABLE_GEMM_WGMMA=1 conv2d"
    "SLIMMABLE_GEMM_WGMMA=1;SLIMMABLE_GEMM_WGMMA_STAGES=4 conv2d"
    "SLIMMABLE_GEMM_WGMMA=1;SLIMMABLE_GEMM_WGMMA_STAGES=4;SLIMMABLE_GEMM_WGMMA_OVERLAP=1 conv2d"
    "SLIMMABLE_GEMM_WGMMA=1;SLIMMABLE_GEMM_WGMMA_BK=32 conv2d"
    "SLIMMABLE_WGRAD_SPLIT_BLOCKS=264 conv2d_wgrad"
    "SLIMMABLE_CONV_BACKWARD_STREAMS=1 conv2d_backward"
    "SLIMMABLE_CONV_BACKWARD_STREAMS=1;SLIMMABLE_FAKE_CUDA_STREAMS=newest conv2d_backward"
    "SLIMMABLE_GEMM_LDSM=0 conv2d"
    "SLIMMABLE_GEMM_LDSM=1 conv2d"
    "SLIMMABLE_GEMM_LDSM_BF16=1 conv2d"
    "SLIMMABLE_GEMM_LDSM_SPLIT=2 conv2d"
    "SLIMMABLE_GEMM_SQUARE=0 conv2d"
    "SLIMMABLE_GEMM_SQUARE=1 conv2d"
    "SLIMMABLE_PW_VEC=0 conv2d"
    "SLIMMABLE_STEM_DIRECT=0 conv2d"
    "SLIMMABLE_STEM_WGRAD_DIRECT=0 conv2d_wgrad"
    "SLIMMABLE_DW_K3=0 conv2d"
    "SLIMMABLE_DW_FLAT=0 conv2d"
    "SLIMMABLE_DW_FLAT2=0 conv2d"
    "SLIMMABLE_DW_FLAT4=0 conv2d"
    "SLIMMABLE_DW_WGRAD_NARROW=0 conv2d_wgrad"
    "SLIMMABLE_BN_RESIDENT=0 batch_norm"
    "SLIMMABLE_BN_SMALL=0 batch_norm"
    "SLIMMABLE_COPY_VEC4=0 slice_copy"
    "SLIMMABLE_SGD_MANY=0 sgd"
    "SLIMMABLE_RESIZE_IMAGE_MAJOR=1 resize"
    "SLIMMABLE_RESIZE_BILINEAR=0 resize"
    "SLIMMABLE_RESIZE_AA_TILE=0 resize"
    "SLIMMABLE_RESIZE_SAME=0 resize"
    "SLIMMABLE_RESIZE_STAGE=0 resize"
)
failed=0
ran=0
passed=0
for r in "${runs[@]}"; do
    read -r vars op <<< "$r"
    [ -n "$only" ] && [[ "$vars" != *"$only"* ]] && continue
    name=${vars//[;=]/_}
    envs=()
    [ "$vars" != default ] && IFS=';' read -ra envs <<< "$vars"
    start=$(date +%s)
    ran=$((ran + 1))
    env "${envs[@]}" LD_LIBRARY_PATH="$lib:${LD_LIBRARY_PATH:-}" \
        "$bin" verify --backend cuda --seed "$seed" ${op:+--op "$op"} > "$logs/$name.log" 2>&1
    rc=$?
    summary=$(grep -E "passed, [0-9]+ failed" "$logs/$name.log" | tail -1)
    if [ $rc -ne 0 ] || ! grep -q "fake libcuda" "$logs/$name.log"; then
        failed=1
        echo "FAIL $vars ($op): ${summary:-exit $rc, see $logs/$name.log} [$(( $(date +%s) - start )) s]"
    else
        passed=$((passed + 1))
        echo "ok   $vars (${op:-all}): $summary [$(( $(date +%s) - start )) s]"
    fi
done
echo "sweep: $passed of $ran runs passed, ${#runs[@]} listed"
exit $failed
