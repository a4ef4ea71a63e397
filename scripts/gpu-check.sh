#!/usr/bin/env bash
# The one GPU check (see shared GPU.md):
#   scripts/gpu-check.sh build   here: release test binaries + CLI into .gpu/
#   scripts/gpu-check.sh run     on the GPU machine, in a copy of the tree
#                                (carry .gpu): CUDA tests, verify --backend cuda,
#                                benches beside PyTorch; one log under $OUT.
#   AB="S1;S2" scripts/gpu-check.sh run
#                                a recheck (after changing defaults): the
#                                tests, verify and the table beside PyTorch,
#                                then verify and the conv and resize benches
#                                under each setting Si (NAME=VALUE ...), their
#                                rows matching AB_ROWS (and the 224-px
#                                resize rows) in the summary; no
#                                other A/B, trainer or Vulkan steps.
set -euo pipefail
cd "$(dirname "$0")/.."

build() {
    source scripts/env.sh
    rm -rf .gpu && mkdir -p .gpu/tests .gpu/bin
    cargo build --release -q
    cp target/release/slimmable .gpu/bin/
    # The raw-launch example checks its own results (the README's way for
    # other engines to call our kernels).
    cargo build --release -q --example cuda_raw_launch
    cp target/release/examples/cuda_raw_launch .gpu/bin/
    cargo test --release --no-run --message-format=json -q 2>/dev/null \
        | python3 -c '
import json, sys, shutil, os
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"] \
            and m["target"]["kind"] != ["bench"]:
        name = m["target"]["name"]
        # CPU-only checks (layouts, file formats, the checker itself, the
        # AMD compiler through Mesa, which that machine lacks, the CUDA
        # backend on the libcuda stand-in, which a real driver makes moot,
        # and the rehearsals of these scripts against stubs) stay here.
        if name in ("bench_names", "models_cost", "models_checkpoint", "models_fixture",
                    "verify_catches_faults", "data", "train", "slimmable",
                    "cuda_kernels_on_cpu", "cuda_backend_on_cpu", "wgsl_on_amd_compiler",
                    "gpu_script_rehearsals"):
            continue
        shutil.copy(m["executable"], f".gpu/tests/{name}")
        print("  test binary:", name)
'
    # Nothing may need this machine's libraries beyond glibc and the loader.
    for f in .gpu/bin/* .gpu/tests/*; do
        if ldd "$f" | grep -q "not found"; then echo "gpu-check: $f has missing libraries" >&2; exit 1; fi
    done
    # Every kernel as sm_90a machine code (H100, H200): the GPU machine loads
    # these instead of compiling at each process's start (cubin_cache.rs).
    target/release/slimmable cubins .gpu/cubin --arch sm_90a >/dev/null
    # Stripped and compressed: the tree that travels is limited to 64 MiB.
    strip .gpu/bin/* .gpu/tests/*
    tar -C .gpu -cJf .gpu/bundle.txz bin tests cubin && rm -rf .gpu/bin .gpu/tests .gpu/cubin
    # Fashion-MNIST for the trainer check (the GPU machine has no datasets).
    if [ -d /usr/share/datasets/fashion-mnist ]; then
        mkdir -p .data && cp -r /usr/share/datasets/fashion-mnist .data/
    fi
    du -sh .gpu .data 2>/dev/null
}

run() {
    if [ -f .gpu/bundle.txz ]; then tar -C .gpu -xJf .gpu/bundle.txz; fi
    OUT="${OUT:-.gpu/out}"; mkdir -p "$OUT"
    LOG="$OUT/gpu-check.log"; : > "$LOG"
    export CARGO_MANIFEST_DIR="$PWD" SLIMMABLE_BIN="$PWD/.gpu/bin/slimmable"
    export SLIMMABLE_REQUIRE_CUDA=1 SLIMMABLE_REQUIRE_NVRTC=1 XDG_RUNTIME_DIR=/tmp
    # The kernels built here as cubins (build); `slimmable devices` says
    # whether they match this source and the device.
    if [ -d .gpu/cubin ]; then export SLIMMABLE_CUBIN_DIR="$PWD/.gpu/cubin"; fi
    summary=()
    step() { # name, command...
        local name="$1"; shift
        # Past DEADLINE seconds from the start, no step starts: the report
        # (the summary, the tables) still runs before the device call's
        # limit cuts the script off.
        if [ -n "${DEADLINE:-}" ] && [ "$SECONDS" -ge "$DEADLINE" ]; then
            summary+=("SKIP  $name (past DEADLINE=$DEADLINE s)"); return 0
        fi
        echo "=== $name" | tee -a "$LOG"
        local t0=$SECONDS
        if "$@" >>"$LOG" 2>&1; then summary+=("PASS  $name ($((SECONDS - t0)) s)")
        else summary+=("FAIL  $name ($((SECONDS - t0)) s)"); tail -30 "$LOG"; fi
    }
    # The bench rows (an extended regex) that step NAME logged, into the
    # summary under the step's settings (the A/Bs of the newest kernels),
    # each with the same case's time in the default table ($OUT/bench.txt,
    # when the benchmarks step wrote it) and the speed-up over it.
    rows_to_summary() {
        grep -qxF "=== $1" "$LOG" || return 0  # the step was skipped
        summary+=("      ${1#bench }: case, ms; default ms, speed-up")
        while IFS= read -r line; do summary+=("        $line"); done < <(
            sed -n "/^=== $1\$/,/^=== /p" "$LOG" | grep -E "$2" \
                | awk -v base="$OUT/bench.txt" '
                    BEGIN { while ((getline l < base) > 0) { split(l, f); d[f[1]] = f[2] } }
                    { s = sprintf("%-44s %9s", $1, $2)
                      if (($1 in d) && $2 + 0 > 0) s = s sprintf("; %9s, %.2fx", d[$1], d[$1] / $2)
                      print s }')
    }
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$LOG"
    step "slimmable devices" .gpu/bin/slimmable devices
    for t in .gpu/tests/*; do
        # QUICK=1 skips the NVRTC compile test (every unit for three
        # architectures, about 40 s; CI compiles them all too).
        if [ "${QUICK:-0}" = 1 ] && [ "$(basename "$t")" = nvrtc_compile ]; then continue; fi
        step "test $(basename "$t")" "$t" --test-threads=1
    done
    step "verify --backend cuda" .gpu/bin/slimmable verify --backend cuda
    if [ -x .gpu/bin/cuda_raw_launch ]; then
        step "example cuda_raw_launch" .gpu/bin/cuda_raw_launch
    fi
    # The same from NVRTC's PTX, compiled at start-up (both routes checked;
    # the two steps' seconds compare them).
    step "verify --backend cuda, kernels compiled at start-up" \
        env -u SLIMMABLE_CUBIN_DIR .gpu/bin/slimmable verify --backend cuda
    if [ -x scripts/gpu-bench.sh ]; then step "benchmarks" scripts/gpu-bench.sh "$OUT"; fi
    if [ -n "${AB:-}" ]; then
        local settings v
        IFS=';' read -ra settings <<<"$AB"
        for v in "${settings[@]}"; do
            # (Each under a timeout: a setting may run kernels no GPU ran
            # before, and a hung one must not spend the session's device time.)
            # shellcheck disable=SC2086 # $v is a list of NAME=VALUE words
            step "verify, $v" env $v timeout 300 .gpu/bin/slimmable verify --backend cuda
            for b in conv resize; do
                # shellcheck disable=SC2086
                step "bench $b, $v" env $v timeout 300 \
                    .gpu/bin/slimmable bench $b --backend cuda --iters 30 --torch "$OUT/torch.json"
            done
            rows_to_summary "bench conv, $v" "${AB_ROWS:-^conv/res3x3_w1.00_r(224|128)/(fwd_tf32|dgrad|wgrad|train) }"
            rows_to_summary "bench resize, $v" '^resize/u8_256x224'
        done
        vulkan
        report
        return
    fi
    # QUICK=1 (a second call in a session): the tests, verify, the benchmark
    # table beside PyTorch, the A/Bs of the newest kernels and the trainer
    # against PyTorch; not the older A/Bs, profiles and most of Nsight.
    local full=1
    if [ "${QUICK:-0}" = 1 ]; then full=0; fi
    # The resize-pack kernels off the default route: bilinear and antialias
    # on the per-column kernel (SLIMMABLE_RESIZE_BILINEAR=0
    # SLIMMABLE_RESIZE_AA_TILE=0); the tile kernels without their same-size
    # path (SLIMMABLE_RESIZE_SAME=0); the bilinear tile kernel without
    # staged spans (SLIMMABLE_RESIZE_STAGE=0): tests, cases and the bench
    # (A/B against the defaults in benchmarks above). Stop 31 removed the
    # routes that lost (two-warp bilinear tiles, the staged antialias twin,
    # the 256-thread tiled kernel).
    local per_column=(SLIMMABLE_RESIZE_BILINEAR=0 SLIMMABLE_RESIZE_AA_TILE=0)
    # First the tile kernels' blocks image by image instead of output by
    # output (SLIMMABLE_RESIZE_IMAGE_MAJOR=1, stop 24, untimed).
    local variants=("SLIMMABLE_RESIZE_IMAGE_MAJOR=1" "SLIMMABLE_RESIZE_STAGE=0" "SLIMMABLE_RESIZE_SAME=0")
    if [ "$full" = 1 ]; then
        variants+=("${per_column[*]}")
    fi
    for v in "${variants[@]}"; do
        # shellcheck disable=SC2086 # $v is a list of NAME=VALUE words
        for t in resize_fixtures resize_cli ops_cross_backend; do
            if [ -x ".gpu/tests/$t" ]; then
                step "test $t, $v" env $v ".gpu/tests/$t" --test-threads=1
            fi
        done
        # shellcheck disable=SC2086
        step "verify resize_pack, $v" env $v .gpu/bin/slimmable verify --backend cuda --op resize_pack
        # shellcheck disable=SC2086
        step "bench resize, $v" env $v \
            .gpu/bin/slimmable bench resize --backend cuda --iters 30 --torch "$OUT/torch.json"
        rows_to_summary "bench resize, $v" '^resize/'
    done
    if [ "$full" = 1 ]; then
        step "bench resize, per-column" env "${per_column[@]}" \
            .gpu/bin/slimmable bench resize --backend cuda --iters 30 --torch "$OUT/torch.json"
        # A/B, conv: the 3x3 stride-1 depthwise passes on the tiled 3x3
        # kernels instead of the flat ones, the pointwise passes on the
        # generic implicit GEMM instead of their twins, the stem on the GEMM
        # instead of its direct kernels.
        step "bench conv, SLIMMABLE_DW_FLAT=0 SLIMMABLE_PW_VEC=0 SLIMMABLE_STEM_DIRECT=0" \
            env SLIMMABLE_DW_FLAT=0 SLIMMABLE_PW_VEC=0 SLIMMABLE_STEM_DIRECT=0 \
            .gpu/bin/slimmable bench conv --backend cuda --iters 30 --torch "$OUT/torch.json"
        # A/B, the flat depthwise passes on planes a multiple of 4 wide: their
        # ROW4 twins (default) against the general flat kernels.
        step "bench conv, SLIMMABLE_DW_FLAT4=0" env SLIMMABLE_DW_FLAT4=0 \
            .gpu/bin/slimmable bench conv --backend cuda --iters 30 --torch "$OUT/torch.json"
    fi
    # A/B, the slice copy: the scalar kernel against the 4-wide one (stop 14).
    step "bench copy, SLIMMABLE_COPY_VEC4=0" env SLIMMABLE_COPY_VEC4=0 \
        .gpu/bin/slimmable bench copy --backend cuda --iters 30 --torch "$OUT/torch.json"
    # The ldmatrix twins of the square tiles (stop 20, kernels/conv2d_ldsm.cu;
    # default since run 10 where launch_conv::ldsm_wins, which verify's
    # small grids meet): checked forced everywhere they fit, and with the
    # forward's and dgrad's K split three ways; then the conv bench without them, with them everywhere
    # they fit, and with K split in two (the res3x3 rows against the
    # default).
    local ldsm_variants=("SLIMMABLE_GEMM_LDSM=1" "SLIMMABLE_GEMM_LDSM=1 SLIMMABLE_GEMM_LDSM_SPLIT=3")
    for v in "${ldsm_variants[@]}"; do
        # shellcheck disable=SC2086 # $v is a list of NAME=VALUE words
        step "verify conv2d, $v" env $v .gpu/bin/slimmable verify --backend cuda --op conv2d
    done
    for v in "SLIMMABLE_GEMM_LDSM=0" "SLIMMABLE_GEMM_LDSM=1" "SLIMMABLE_GEMM_LDSM_SPLIT=2" \
        "SLIMMABLE_GEMM_LDSM=1 SLIMMABLE_GEMM_LDSM_SPLIT=2"; do
        # shellcheck disable=SC2086 # $v is a list of NAME=VALUE words
        step "bench conv, $v" env $v \
            .gpu/bin/slimmable bench conv --backend cuda --iters 30 --torch "$OUT/torch.json"
        # Its res3x3 w1.0 rows in the summary (the default's are in bench.txt).
        rows_to_summary "bench conv, $v" '^conv/res3x3_w1.00_r(224|128)/(fwd_tf32|dgrad|wgrad|train) '
    done
    # A/B, the GEMM wgrad's pixel split (stop 24): one wave of 128 x 128
    # blocks on an H200 (264) and half a wave, each split longer and fewer
    # atomic adds, against the default of four blocks an SM.
    for v in "SLIMMABLE_WGRAD_SPLIT_BLOCKS=264" "SLIMMABLE_WGRAD_SPLIT_BLOCKS=132"; do
        # shellcheck disable=SC2086 # $v is a list of NAME=VALUE words
        step "bench conv, $v" env $v \
            .gpu/bin/slimmable bench conv --backend cuda --iters 30 --torch "$OUT/torch.json"
        rows_to_summary "bench conv, $v" '^conv/(res3x3|pw1x1|stem)_w1.00_r(224|128)/(wgrad|train) '
    done
    # A/B, each conv's wgrad on a second stream beside its dgrad (stop 33,
    # SLIMMABLE_CONV_BACKWARD_STREAMS=1, never run on a GPU): checked, then
    # the training passes of the conv bench and the ImageNet MutualNet
    # iteration against the default's.
    step "verify conv2d_backward, SLIMMABLE_CONV_BACKWARD_STREAMS=1" env SLIMMABLE_CONV_BACKWARD_STREAMS=1 \
        timeout 300 .gpu/bin/slimmable verify --backend cuda --op conv2d_backward
    for b in conv mutualnet; do
        step "bench $b, SLIMMABLE_CONV_BACKWARD_STREAMS=1" env SLIMMABLE_CONV_BACKWARD_STREAMS=1 \
            timeout 300 .gpu/bin/slimmable bench $b --backend cuda --iters 30 --torch "$OUT/torch.json"
    done
    rows_to_summary "bench conv, SLIMMABLE_CONV_BACKWARD_STREAMS=1" '^conv/[a-z0-9_]+_w1.00_r(224|128)/train '
    rows_to_summary "bench mutualnet, SLIMMABLE_CONV_BACKWARD_STREAMS=1" '^mutualnet/'
    # The opt-in BF16 twins of the ldmatrix tiles (stop 22,
    # SLIMMABLE_GEMM_LDSM_BF16=1): checked, then the conv bench with them
    # (the res3x3 BF16 forward rows in the summary).
    step "verify conv2d, SLIMMABLE_GEMM_LDSM_BF16=1" env SLIMMABLE_GEMM_LDSM_BF16=1 \
        .gpu/bin/slimmable verify --backend cuda --op conv2d
    step "bench conv, SLIMMABLE_GEMM_LDSM_BF16=1" env SLIMMABLE_GEMM_LDSM_BF16=1 \
        .gpu/bin/slimmable bench conv --backend cuda --iters 30 --torch "$OUT/torch.json"
    rows_to_summary "bench conv, SLIMMABLE_GEMM_LDSM_BF16=1" '^conv/res3x3_w1.00_r(224|128)/fwd_bf16 '
    # The opt-in warpgroup-MMA twins of the three-stage TF32 ldmatrix tiles
    # (stop 23, SLIMMABLE_GEMM_WGMMA=1, sm_90a; never run on a GPU before):
    # checked where the default takes the ldmatrix tiles, everywhere they
    # fit, with K split three ways, with four stages, overlapped and on K
    # tiles of 32; then the conv bench with them where the default takes the
    # ldmatrix tiles, everywhere they fit, with four stages plain and
    # overlapped, and on K tiles of 32 (the
    # res3x3 rows in the summary, against the default). Each step under a
    # timeout (a wrong descriptor may hang a block); if the first check
    # fails, the rest are skipped rather than spend device time on them.
    local wgmma_ok=1
    for v in "SLIMMABLE_GEMM_WGMMA=1" "SLIMMABLE_GEMM_WGMMA=1 SLIMMABLE_GEMM_LDSM=1" \
        "SLIMMABLE_GEMM_WGMMA=1 SLIMMABLE_GEMM_LDSM=1 SLIMMABLE_GEMM_LDSM_SPLIT=3" \
        "SLIMMABLE_GEMM_WGMMA=1 SLIMMABLE_GEMM_LDSM=1 SLIMMABLE_GEMM_WGMMA_STAGES=4" \
        "SLIMMABLE_GEMM_WGMMA=1 SLIMMABLE_GEMM_LDSM=1 SLIMMABLE_GEMM_WGMMA_OVERLAP=1" \
        "SLIMMABLE_GEMM_WGMMA=1 SLIMMABLE_GEMM_LDSM=1 SLIMMABLE_GEMM_WGMMA_BK=32"; do
        if [ "$wgmma_ok" = 0 ]; then summary+=("SKIP  verify conv2d, $v"); continue; fi
        # shellcheck disable=SC2086 # $v is a list of NAME=VALUE words
        step "verify conv2d, $v" env $v timeout 60 .gpu/bin/slimmable verify --backend cuda --op conv2d
        if [[ "${summary[-1]}" == FAIL* ]] && [ "$v" = SLIMMABLE_GEMM_WGMMA=1 ]; then wgmma_ok=0; fi
    done
    for v in "SLIMMABLE_GEMM_WGMMA=1" "SLIMMABLE_GEMM_WGMMA=1 SLIMMABLE_GEMM_LDSM=1" \
        "SLIMMABLE_GEMM_WGMMA=1 SLIMMABLE_GEMM_WGMMA_STAGES=4" \
        "SLIMMABLE_GEMM_WGMMA=1 SLIMMABLE_GEMM_WGMMA_OVERLAP=1" \
        "SLIMMABLE_GEMM_WGMMA=1 SLIMMABLE_GEMM_WGMMA_BK=32"; do
        if [ "$wgmma_ok" = 0 ]; then summary+=("SKIP  bench conv, $v"); continue; fi
        # shellcheck disable=SC2086 # $v is a list of NAME=VALUE words
        step "bench conv, $v" env $v timeout 90 \
            .gpu/bin/slimmable bench conv --backend cuda --iters 30 --torch "$OUT/torch.json"
        rows_to_summary "bench conv, $v" '^conv/res3x3_w1.00_r(224|128)/(fwd_tf32|dgrad|wgrad|train) '
    done
    # A/B, the stem's weight gradient: stop 15's register-tiled direct
    # kernel (default) against the split-K GEMM.
    step "bench conv, SLIMMABLE_STEM_WGRAD_DIRECT=0" env SLIMMABLE_STEM_WGRAD_DIRECT=0 \
        .gpu/bin/slimmable bench conv --backend cuda --iters 30 --torch "$OUT/torch.json"
    # A/B, the flat depthwise forward and dgrad on even planes not a
    # multiple of 4 wide (dw3x3_a's 14x14): their ROW2 twins (default)
    # against the general flat kernels.
    step "bench conv, SLIMMABLE_DW_FLAT2=0" env SLIMMABLE_DW_FLAT2=0 \
        .gpu/bin/slimmable bench conv --backend cuda --iters 30 --torch "$OUT/torch.json"
    # A/B, the 3x3 depthwise wgrad on planes at most 27 wide: the narrow
    # kernel (a lane a column, walking rows) against dwconv2d_wgrad_k3.
    step "bench conv, SLIMMABLE_DW_WGRAD_NARROW=0" env SLIMMABLE_DW_WGRAD_NARROW=0 \
        .gpu/bin/slimmable bench conv --backend cuda --iters 30 --torch "$OUT/torch.json"
    # The 128 x 128 TF32 conv tiles on every conv they fit (default: the
    # k x k convs, launch_conv::gemm_square_wins, since run 9): checked;
    # then the conv bench with them nowhere (and, FULL=1, everywhere:
    # run 9 had every pointwise case slower), against the default.
    step "verify conv2d, SLIMMABLE_GEMM_SQUARE=1" env SLIMMABLE_GEMM_SQUARE=1 \
        .gpu/bin/slimmable verify --backend cuda --op conv2d
    for sq in 0 1; do
        if [ "$sq" = 1 ] && [ "$full" != 1 ]; then continue; fi
        step "bench conv, SLIMMABLE_GEMM_SQUARE=$sq" env SLIMMABLE_GEMM_SQUARE=$sq \
            .gpu/bin/slimmable bench conv --backend cuda --iters 30 --torch "$OUT/torch.json"
    done
    # Where the ImageNet MutualNet iteration's time goes, operation by operation.
    if [ "$full" = 1 ]; then
        step "bench mutualnet --profile-ops" .gpu/bin/slimmable bench mutualnet --backend cuda \
            --iters 2 --profile-ops
    fi
    # Trainer speed, when Fashion-MNIST was carried in .data/ (see build),
    # one after the other on an idle GPU: TRAIN_IMAGES / 128 iterations of
    # ours (default 200) without evaluation, then as many of PyTorch eager's.
    if [ -d .data/fashion-mnist ]; then
        local images="${TRAIN_IMAGES:-25600}"
        step "train fmnist-full, $((images / 128)) iterations" .gpu/bin/slimmable train --overwrite \
            --preset fmnist-full --epochs 1 --images-per-epoch "$images" --skip-eval \
            --data-dir .data/fashion-mnist --out /tmp/gpu-run --log-every 50
        # Bound by the launches or by the device: the host's time an iteration.
        summary+=("      $(grep -a 'host per iteration' "$LOG" | tail -1)")
        # A/B: the newest trainer kernel off (stop 15: the stem's direct
        # wgrad; the 1-channel 28 px stem at stride 1).
        step "train fmnist-full, SLIMMABLE_STEM_WGRAD_DIRECT=0" \
            env SLIMMABLE_STEM_WGRAD_DIRECT=0 \
            .gpu/bin/slimmable train --overwrite --preset fmnist-full --epochs 1 --images-per-epoch "$images" \
            --skip-eval --data-dir .data/fashion-mnist --out /tmp/gpu-run-stem-off --log-every 50
        if [ "$full" = 1 ]; then
            # A/B: one SGD launch per parameter and the general flat
            # depthwise.
            step "train fmnist-full, SLIMMABLE_SGD_MANY=0 SLIMMABLE_DW_FLAT4=0" \
                env SLIMMABLE_SGD_MANY=0 SLIMMABLE_DW_FLAT4=0 \
                .gpu/bin/slimmable train --overwrite --preset fmnist-full --epochs 1 --images-per-epoch "$images" \
                --skip-eval --data-dir .data/fashion-mnist --out /tmp/gpu-run-off --log-every 50
        fi
        step "PyTorch reference trainer" python3 tools/reference_trainer.py \
            --iters "$((images / 128))" --out "$OUT/torch_trainer.json"
        # Where our iteration's time goes, operation by operation.
        step "train --profile-ops 20" .gpu/bin/slimmable train --overwrite --preset fmnist-full \
            --profile-ops 20 --data-dir .data/fashion-mnist --out /tmp/gpu-profile
        cp /tmp/gpu-profile/profile.txt "$OUT/" 2>/dev/null || true
        if [ "$full" = 1 ]; then
            # A/B: batch norm of N*H*W <= 2048 on the 256-thread resident kernels.
            step "train --profile-ops 20, SLIMMABLE_BN_SMALL=0" env SLIMMABLE_BN_SMALL=0 \
                .gpu/bin/slimmable train --overwrite --preset fmnist-full --profile-ops 20 \
                --data-dir .data/fashion-mnist --out /tmp/gpu-profile-ab
            cp /tmp/gpu-profile-ab/profile.txt "$OUT/profile-bn-small-off.txt" 2>/dev/null || true
        fi
    fi
    # Hardware counters of the kernels still short of their targets (the
    # first launch of each), when ncu can read them (PROFILE=1; QUICK=1
    # keeps the resize tile kernels).
    local ncu="${NCU:-/usr/local/cuda/bin/ncu}"
    if [ "${PROFILE:-0}" = 1 ] && [ -x "$ncu" ]; then
        local sections=(--section SpeedOfLight --section MemoryWorkloadAnalysis
            --section Occupancy --section LaunchStats --section WarpStateStats
            --section SchedulerStats)
        # (bilinear, one warp a tile, is the default since run 9: ncu
        # matches the exact name.)
        for k in slimmable_resize_pack_bilinear slimmable_resize_pack_aa; do
            step "ncu $k" timeout 90 "$ncu" --clock-control none --launch-count 1 \
                --kernel-name "$k" "${sections[@]}" \
                .gpu/bin/slimmable bench resize --backend cuda --iters 1
        done
        for k in slimmable_dwconv2d_fwd_k3s1_flat2 slimmable_dwconv2d_wgrad_k3s1_narrow; do
            step "ncu $k" timeout 90 "$ncu" --clock-control none --launch-count 1 \
                --kernel-name "$k" "${sections[@]}" .gpu/bin/slimmable bench conv --backend cuda --iters 1
        done
        if [ "$full" = 1 ]; then
            # The per-column kernel runs in the bench only when the tile
            # kernels are switched off.
            step "ncu slimmable_resize_pack" env "${per_column[@]}" timeout 90 "$ncu" \
                --clock-control none --launch-count 1 --kernel-name slimmable_resize_pack \
                "${sections[@]}" .gpu/bin/slimmable bench resize --backend cuda --iters 1
            # (The general flat wgrad runs in the suite only on dw3x3_b's
            # 56-wide planes, which default to the ROW4 twin: profile it with
            # that off.)
            for k in slimmable_dwconv2d_fwd_k3s1_flat slimmable_dwconv2d_fwd_k3s1_flat4 \
                slimmable_dwconv2d_wgrad_k3s1_flat slimmable_dwconv2d_wgrad_k3s1_flat4 \
                slimmable_conv2d_fwd_stem3 slimmable_conv2d_wgrad_stem3 slimmable_conv2d_fwd_tf32; do
                local flat4=1
                if [ "$k" = slimmable_dwconv2d_wgrad_k3s1_flat ]; then flat4=0; fi
                step "ncu $k" env SLIMMABLE_DW_FLAT4=$flat4 SLIMMABLE_DW_FLAT2=0 SLIMMABLE_GEMM_SQUARE=0 timeout 90 "$ncu" \
                    --clock-control none \
                    --launch-count 1 --kernel-name "$k" "${sections[@]}" \
                    .gpu/bin/slimmable bench conv --backend cuda --iters 1
            done
            step "ncu slimmable_conv2d_fwd_tf32_sq" env SLIMMABLE_GEMM_SQUARE=1 timeout 90 "$ncu" \
                --clock-control none --launch-count 1 --kernel-name slimmable_conv2d_fwd_tf32_sq \
                "${sections[@]}" .gpu/bin/slimmable bench conv --backend cuda --iters 1
            step "ncu slimmable_conv2d_fwd_tf32_ldsm" env SLIMMABLE_GEMM_LDSM=1 timeout 90 "$ncu" \
                --clock-control none --launch-count 1 --kernel-name slimmable_conv2d_fwd_tf32_ldsm \
                "${sections[@]}" .gpu/bin/slimmable bench conv --backend cuda --iters 1
        fi
    fi
    vulkan
    # ACCURACY_EPOCHS=N: last, one MutualNet run of the fmnist-full recipe
    # for N epochs with its evaluation grid, stopped after ACCURACY_BUDGET
    # seconds (default 240), and before DEADLINE seconds from the start of
    # this script when set (so that the packing below still runs inside the
    # device call's limit); results packed with the details.
    # ACCURACY_EPOCHS=auto: as many epochs as fit the budget, at 10 s an
    # epoch (an H200 took 9.3 s, 2026-11-26) and 20 s for start and grid.
    if [ -n "${ACCURACY_EPOCHS:-}" ] && [ -d .data/fashion-mnist ]; then
        local budget="${ACCURACY_BUDGET:-240}"
        if [ -n "${DEADLINE:-}" ] && [ $((DEADLINE - SECONDS)) -lt "$budget" ]; then
            budget=$((DEADLINE - SECONDS > 1 ? DEADLINE - SECONDS : 1))
        fi
        if [ "$ACCURACY_EPOCHS" = auto ]; then
            ACCURACY_EPOCHS=$(((budget - 20) / 10))
            if [ "$ACCURACY_EPOCHS" -lt 1 ]; then ACCURACY_EPOCHS=1; fi
        fi
        step "train fmnist-full, $ACCURACY_EPOCHS epochs" timeout "$budget" \
            .gpu/bin/slimmable train --overwrite --preset fmnist-full --epochs "$ACCURACY_EPOCHS" \
            --data-dir .data/fashion-mnist --out /tmp/gpu-accuracy --log-every 500
        mkdir -p "$OUT/accuracy"
        cp /tmp/gpu-accuracy/{results.json,results.csv,table.txt,accuracy_vs_macs.svg,accuracy_vs_macs.png} \
            "$OUT/accuracy/" 2>/dev/null || true
    fi
    report
}

# VULKAN=1: the WGSL kernels on the machine's NVIDIA Vulkan driver
# (scripts/gpu-vulkan.sh; the loader travels in .gl), in run's full, QUICK
# and AB forms alike, unless DEADLINE has passed.
vulkan() {
    if [ "${VULKAN:-0}" != 1 ]; then return; fi
    if [ "$SECONDS" -ge "${DEADLINE:-999999}" ]; then
        summary+=("SKIP  wgpu on the GPU (past DEADLINE=$DEADLINE s)")
        return
    fi
    # Its own budget (VULKAN_BUDGET, default 150 s), cut to what DEADLINE leaves.
    local budget="${VULKAN_BUDGET:-150}"
    if [ -n "${DEADLINE:-}" ] && [ $((DEADLINE - SECONDS)) -lt "$budget" ]; then
        budget=$((DEADLINE - SECONDS))
    fi
    echo "=== wgpu on the GPU (log: wgpu.log, $budget s)" | tee -a "$LOG"
    while IFS= read -r line; do summary+=("$line"); done < <(VULKAN_BUDGET="$budget" scripts/gpu-vulkan.sh "$OUT" 2>&1)
}

# The summary, the table against the baseline run, and the files packed
# for the device tool (run's last step).
report() {
    # Whether the cubins matched this build and device, and loaded.
    summary+=("      cubins: $(grep -a -m1 -E 'kernels: sm_|lacks this build|compile at run time' "$LOG" | sed 's/^ *//'); $(grep -ac 'did not load' "$LOG" || true) processes fell back to compiling")
    echo "=== summary" | tee -a "$LOG"
    printf '%s\n' "${summary[@]}" | tee -a "$LOG"
    if [ -f "$OUT/bench.txt" ]; then cat "$OUT/bench.txt"; fi
    # Row for row against the previous run's table (BASELINE, default run 11
    # on an H200: compare only on the same card).
    local baseline="${BASELINE:-results/2026-11-27-h200-run11/bench.txt}"
    if [ -f "$OUT/bench.txt" ] && [ -f "$baseline" ]; then
        echo "=== bench against $baseline (speed-up: before / after)" | tee -a "$LOG"
        python3 tools/compare_bench.py "$baseline" "$OUT/bench.txt" | tee -a "$LOG" || true
    fi
    # The depthwise passes against the copy of the same bytes between the
    # same views (the ceiling at their size, beside the large copy's).
    if [ -f "$OUT/bench.txt" ]; then
        echo "=== depthwise passes, GB/s against the same-size copy's" | tee -a "$LOG"
        python3 - "$OUT/bench.txt" <<'PY' | tee -a "$LOG" || true
import sys
gbs = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) > 2 and f[0].startswith("conv/dw"):
        gbs[f[0]] = f[2]
for name in sorted(gbs):
    case, kind = name.rsplit("/", 1)
    copy = gbs.get(case + "/copy_same_bytes", "-")
    if kind in ("fwd", "dgrad", "wgrad") and copy != "-" and gbs[name] != "-":
        print(f"{name:<36} {gbs[name]:>6} of {copy:>6} GB/s: {100 * float(gbs[name]) / float(copy):5.1f}%")
PY
    fi
    # The 224-px resize rows against a fill of their output arena (writes
    # alone, tools/bench_torch.py): how much of the gap to 60% of the copy
    # bandwidth the stores leave.
    if [ -f "$OUT/bench.txt" ] && [ -f "$OUT/torch.json" ]; then
        echo "=== resize against the writes alone" | tee -a "$LOG"
        python3 - "$OUT/bench.txt" "$OUT/torch.json" <<'PY' | tee -a "$LOG" || true
import json, sys
t = json.load(open(sys.argv[2]))
if "resize_arena_fill_ms" not in t:
    print("torch.json has no write-only ceiling (an older tools/bench_torch.py)")
    sys.exit(0)
fill = t["resize_arena_fill_ms"]
print(f"copy {t['copy_gbps']:.0f} GB/s, fill {t['write_gbps']:.0f} GB/s; "
      f"the 224-px output arena (396 MB) filled in {fill:.4f} ms")
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) > 1 and f[0].startswith("resize/u8_256x224"):
        print(f"{f[0]:<48} {float(f[1]):.4f} ms, {float(f[1]) / fill:.2f}x the fill")
PY
    fi
    grep -E "^(train:|trained in|host per iteration|evaluated in|epoch .* iter)" "$LOG" | tail -12 || true
    if [ -f "$OUT/profile.txt" ]; then cat "$OUT/profile.txt"; fi
    if [ -f "$OUT/torch_trainer.json" ]; then cat "$OUT/torch_trainer.json"; fi
    # PyTorch's conv training passes eager (what the bench compares against)
    # beside the same replayed from a CUDA graph (its host overhead out).
    if [ -f "$OUT/torch.json" ]; then
        echo "=== PyTorch training pass, eager / CUDA graph (ms)" | tee -a "$LOG"
        python3 - "$OUT/torch.json" <<'PY' | tee -a "$LOG" || true
import json, sys
cases = json.load(open(sys.argv[1]))["cases"]
for name in sorted(cases):
    for kind in ("train", "train_contig"):
        if name.endswith("/" + kind) and name.startswith("conv/res3x3"):
            graphed = cases.get(name + "_graphed", {}).get("ms")
            g = f"{graphed:.4f}" if graphed is not None else "-"
            print(f"{name:<44} {cases[name]['ms']:.4f} / {g}")
PY
    fi
    # The device tool returns at most 8 files: keep the log and the table
    # as they are, pack the rest (profiles, PyTorch's JSON) into one.
    (cd "$OUT" || exit 0
        tar -czf details.tgz profile*.txt torch*.json accuracy 2>/dev/null
        rm -rf profile*.txt torch*.json accuracy) || true
}

case "${1:-}" in
    build) build ;;
    run) run ;;
    *) echo "usage: scripts/gpu-check.sh build|run" >&2; exit 2 ;;
esac
