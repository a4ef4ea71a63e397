#!/usr/bin/env bash
# The WGSL kernels on the GPU machine's own Vulkan driver, called by
# `scripts/gpu-check.sh run` when VULKAN=1 (after it unpacked .gpu/bin).
# That machine has the NVIDIA Vulkan driver but no loader: bring Debian's
# libvulkan1 here first and carry it (`.gl`, git-ignored):
#   mkdir -p .gl /tmp/amd64/partial
#   o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
#   apt-get $o update && (cd .gl && apt-get $o download libvulkan1 libegl1 \
#       libglvnd0 libopengl0 libgl1 libglx0 libgles2)
# (Run 9 found no adapter with libvulkan1 alone, where run 8 had found
# one; the device tool's README brings these, and the driver's manifest
# names libGLX_nvidia, which loads libglvnd's libraries. Untested yet; the
# loader's own errors now go to the log, VK_LOADER_DEBUG below.)
# Then: the adapter, verify on wgpu, the cross-backend tests, every bench
# family at the CUDA suite's sizes beside PyTorch, the trainer's speed and
# its per-operation profile.
# Within VULKAN_BUDGET seconds. One log, $OUT/wgpu.log; the bench table in $OUT/wgpu-bench.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-.gpu/out}"
LOG="$OUT/wgpu.log"
: >"$LOG"
# (Without them, say so once, instead of dpkg's error about a literal '*'.)
debs=(.gl/*.deb)
if [ -e "${debs[0]}" ]; then
    for f in "${debs[@]}"; do dpkg -x "$f" /; done
    ldconfig
else
    echo "NOTE  wgpu: no loader packages in .gl/ (see scripts/gpu-vulkan.sh's header); trying without"
fi
ls -l /usr/local/nvidia/share/vulkan/icd.d /usr/share/vulkan/icd.d /etc/vulkan/icd.d >>"$LOG" 2>&1
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -f "$icd" ]; then export VK_DRIVER_FILES="$icd"; fi
export SLIMMABLE_REQUIRE_VULKAN=1
status=0
# Every step ends by VULKAN_BUDGET seconds (default 150) from here.
END=$((SECONDS + ${VULKAN_BUDGET:-150}))
step() { # name, seconds, command...
    local name="$1" limit="$2"; shift 2
    if [ $((END - SECONDS)) -lt "$limit" ]; then limit=$((END - SECONDS)); fi
    if [ "$limit" -lt 5 ]; then echo "SKIP  wgpu: $name (out of time)"; return; fi
    echo "=== $name" >>"$LOG"
    local t0=$SECONDS
    if timeout "$limit" "$@" >>"$LOG" 2>&1; then echo "PASS  wgpu: $name ($((SECONDS - t0)) s)"
    else echo "FAIL  wgpu: $name ($((SECONDS - t0)) s)"; tail -20 "$LOG"; status=1; fi
}
# The loader's errors and warnings (which manifest or library failed) in
# the log of this first step only.
step "slimmable devices" 60 env VK_LOADER_DEBUG=error,warn .gpu/bin/slimmable devices
# Without a hardware adapter the rest would time lavapipe or nothing.
if ! grep -q "DiscreteGpu" "$LOG"; then
    echo "FAIL  wgpu: no hardware Vulkan adapter (see $LOG)"
    exit 1
fi
# What NVIDIA's own compiler makes of every WGSL kernel (register count,
# and whatever else its VK_KHR_pipeline_executable_properties reports):
# the table into the log and the summary's conv rows, every statistic as
# JSON, the GEMM forward's internal representations if the driver gives
# any. Stop 27's question: do the GEMMs' 64 accumulators fit in registers
# there? (AMD's compiler keeps them in registers, old accessor and new.)
step "slimmable shaders (NVIDIA's compiler)" 60 .gpu/bin/slimmable shaders --adapter NVIDIA
grep -aE '^conv2d\.wgsl +slimmable_conv2d_(fwd|dgrad|wgrad)_f32 ' "$LOG" | sed 's/^/      shaders /'
timeout 60 .gpu/bin/slimmable shaders --adapter NVIDIA --json >"$OUT/wgpu-shader-stats.json" 2>>"$LOG"
timeout 60 .gpu/bin/slimmable shaders --adapter NVIDIA --all --entry conv2d_fwd_f32 \
    --isa "$OUT/nvidia-isa" >>"$LOG" 2>&1
step "verify --backend wgpu" 120 .gpu/bin/slimmable verify --backend wgpu
for t in ops_cross_backend conv_fixtures resize_fixtures submission_order; do
    if [ -x ".gpu/tests/$t" ]; then step "test $t" 120 ".gpu/tests/$t" --test-threads=1; fi
done
ceiling() { python3 -c "import json; print(json.load(open('$OUT/torch.json'))['$1'])"; }
# One family at a time, so that one too slow for its limit loses only its rows.
for family in copy conv resize bn mutualnet; do
    step "bench $family" 90 .gpu/bin/slimmable bench "$family" --backend wgpu --iters 20 \
        --torch "$OUT/torch.json" --copy-gbps "$(ceiling copy_gbps)" \
        --peak-f32-tflops "$(ceiling f32_tflops)" --peak-tf32-tflops "$(ceiling tf32_tflops)" \
        --peak-bf16-tflops "$(ceiling bf16_tflops)"
done
# The GEMM rows into the summary. Stop 27 indexed the accumulators by
# constants only; run 10 (H200, Vulkan): res3x3 w1.0 r224 fwd_f32 7.259 ms,
# dgrad 7.511, wgrad 7.577, pw1x1 fwd_f32 0.478, the MutualNet iteration 1330.8.
grep -aE '^(conv/(res3x3|pw1x1)_w1\.00_r224/(fwd_f32|dgrad|wgrad)|mutualnet/[^ ]+) ' "$LOG" | sed 's/^/      wgpu /'
# A/B: split weight gradients aiming for 256 workgroups (lavapipe's
# target, and every adapter's before stop 14) against the GPU default.
step "bench conv, SLIMMABLE_WGSL_WGRAD_WORKGROUPS=256" 60 \
    env SLIMMABLE_WGSL_WGRAD_WORKGROUPS=256 .gpu/bin/slimmable bench conv --backend wgpu \
    --iters 20 --torch "$OUT/torch.json"
# A/B: shaders with naga's loop bounding (every adapter's before stop 14).
step "bench conv, SLIMMABLE_WGSL_LOOP_BOUNDING=1" 60 \
    env SLIMMABLE_WGSL_LOOP_BOUNDING=1 .gpu/bin/slimmable bench conv --backend wgpu \
    --iters 20 --torch "$OUT/torch.json"
sed -n '/^=== bench /,$p' "$LOG" >"$OUT/wgpu-bench.txt"
if [ -d .data/fashion-mnist ]; then
    step "train fmnist-full, 100 iterations" 120 .gpu/bin/slimmable train --overwrite --backend wgpu \
        --preset fmnist-full --epochs 1 --images-per-epoch 12800 --skip-eval \
        --data-dir .data/fashion-mnist --out /tmp/gpu-run-wgpu --log-every 50
    # A/B: every operation submitted alone (before stop 14) against batches.
    step "train fmnist-full, 100 iterations, SLIMMABLE_WGSL_SUBMIT_EVERY=1" 120 \
        env SLIMMABLE_WGSL_SUBMIT_EVERY=1 .gpu/bin/slimmable train --overwrite --backend wgpu \
        --preset fmnist-full --epochs 1 --images-per-epoch 12800 --skip-eval \
        --data-dir .data/fashion-mnist --out /tmp/gpu-run-wgpu-ab --log-every 50
    # Where a wgpu training iteration's time goes, operation by operation.
    step "train --profile-ops 10" 60 .gpu/bin/slimmable train --overwrite --backend wgpu \
        --preset fmnist-full --profile-ops 10 --data-dir .data/fashion-mnist \
        --out /tmp/gpu-profile-wgpu
    cp /tmp/gpu-profile-wgpu/profile.txt "$OUT/profile-wgpu.txt" 2>/dev/null
fi
exit $status
