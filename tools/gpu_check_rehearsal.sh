#!/usr/bin/env bash
# A rehearsal of `scripts/gpu-check.sh run` without a GPU: the script's own
# logic (steps, DEADLINE, the A/B settings, the Vulkan part, the summary and
# the report) run against stand-ins for everything that needs the GPU
# machine, so that a bash error or a step the summary misses shows here
# instead of costing a device session's 15 minutes.
#
#   tools/gpu_check_rehearsal.sh        (tests/gpu_script_rehearsals.rs runs it)
#
# In a copy of the tracked tree, under a temporary folder:
#   - .gpu/bin/slimmable and .gpu/tests/* are stubs. The stub CLI answers
#     `bench` with run 11's rows (results/2026-11-27-h200-run11/bench.txt),
#     `verify` with a line, `train` with the lines the report greps for;
#   - nvidia-smi, tools/bench_torch.py and tools/reference_trainer.py are
#     stubs (PyTorch's table is run 11's torch.json).
# Nothing here times or checks a kernel. What it checks: each run exits 0
# with no shell error, its summary has every step it should (PASS, or SKIP
# past DEADLINE, or FAIL where a stub was told to fail), the A/B rows carry
# the default's time, and the report writes its files.
# Exit status: 0 when every check holds; 1 with the failed checks listed.
set -euo pipefail
source "$(dirname "$0")/rehearsal_setup.sh" rehearsal
RUN11="$ROOT/results/2026-11-27-h200-run11"

mkdir -p "$TREE/.gpu/bin" "$TREE/.gpu/tests" "$TREE/.gpu/cubin" "$WORK/path"
cat >"$WORK/path/nvidia-smi" <<'EOF'
#!/usr/bin/env bash
echo "NVIDIA H200 (rehearsal stub), 580.00, 143771 MiB"
EOF
# The stub CLI. REHEARSAL_FAIL: an extended regex over "SETTINGS | ARGS"
# (the SLIMMABLE_* variables set, then the arguments) whose matches exit 1.
cat >"$TREE/.gpu/bin/slimmable" <<EOF
#!/usr/bin/env bash
RUN11="$RUN11"
EOF
cat >>"$TREE/.gpu/bin/slimmable" <<'EOF'
settings="$(env | grep -E '^SLIMMABLE_[A-Z0-9_]+=' | grep -vE '^SLIMMABLE_(BIN|CUBIN_DIR|REQUIRE_[A-Z]+)=' | sort | tr '\n' ' ')"
if [ -n "${REHEARSAL_FAIL:-}" ] && echo "$settings| $*" | grep -qE "$REHEARSAL_FAIL"; then
    echo "rehearsal stub: told to fail ($settings| $*)"; exit 1
fi
backend=cuda
for a in "$@"; do case "$a" in wgpu) backend=wgpu ;; esac; done
case "$1" in
    devices)
        echo "cuda: NVIDIA H200 (rehearsal stub)"
        if [ -n "${SLIMMABLE_CUBIN_DIR:-}" ]; then echo "  kernels: sm_90a cubins from $SLIMMABLE_CUBIN_DIR"
        else echo "  kernels: compile at run time"; fi
        echo "wgpu: NVIDIA H200 (Vulkan, DiscreteGpu, rehearsal stub)" ;;
    verify) echo "verify --backend $backend: 441 of 441 cases passed (rehearsal stub)" ;;
    bench)
        family="$2"
        echo "bench: backend $backend (rehearsal stub), run 11's rows"
        head -4 "$RUN11/bench.txt" | tail -1
        if [ "$family" = all ]; then grep -E '^[a-z0-9_]+/' "$RUN11/bench.txt"
        else grep -E "^$family/" "$RUN11/bench.txt"; fi ;;
    train)
        # (Writes nothing: the script's copies of a profile allow its absence.)
        echo "train: rehearsal stub"
        echo "trained in 1.0 s"
        echo "host per iteration 9.1 ms (rehearsal stub)" ;;
    shaders)
        case " $* " in *" --json "*) echo '{}' ;; *) echo "conv2d.wgsl slimmable_conv2d_fwd_f32 (rehearsal stub)" ;; esac ;;
    *) echo "rehearsal stub: $*" ;;
esac
EOF
# The test binaries the GPU machine gets (build's list, less the CPU-only ones).
for t in nvrtc_compile ops_cross_backend conv_fixtures resize_fixtures resize_cli submission_order; do
    cat >"$TREE/.gpu/tests/$t" <<EOF
#!/usr/bin/env bash
if [ -n "\${REHEARSAL_FAIL:-}" ] && echo "test $t" | grep -qE "\$REHEARSAL_FAIL"; then
    echo "test result: FAILED (rehearsal stub)"; exit 1
fi
echo "test result: ok (rehearsal stub $t)"
EOF
done
# PyTorch's side: run 11's table, and a trainer's JSON.
# (Run 11's torch.json predates the write-only ceilings: the stub adds made-up ones.)
cat >"$TREE/tools/bench_torch.py" <<EOF
import json, sys
t = json.load(open("$RUN11/torch.json"))
t.update(write_gbps=3000.0, resize_arena_fill_ms=0.15)
json.dump(t, open(sys.argv[sys.argv.index("--out") + 1], "w"))
EOF
cat >"$TREE/tools/reference_trainer.py" <<'EOF'
import json, sys
json.dump({"ms_per_iteration": 180.0, "images_per_s": 760.0, "rehearsal": True},
          open(sys.argv[sys.argv.index("--out") + 1], "w"))
EOF
chmod +x "$WORK/path/nvidia-smi" "$TREE/.gpu/bin/slimmable" "$TREE/.gpu/tests/"*

# One run of gpu-check.sh in the copy: NAME, then VAR=VALUE settings. Its
# output in $WORK/NAME.out, its files in $WORK/NAME/. Every run must exit 0
# without a shell error; the checks particular to a run follow its call.
rehearse() {
    local name="$1"; shift
    mkdir -p "$WORK/$name"
    local rc=0
    (cd "$TREE" && env PATH="$WORK/path:$PATH" OUT="$WORK/$name" "$@" \
        timeout 300 bash scripts/gpu-check.sh run) >"$WORK/$name.out" 2>&1 || rc=$?
    echo "$rc" >"$WORK/$name.rc"
    sed -n '/^=== summary$/,/^=== /p' "$WORK/$name.out" >"$WORK/$name.summary"
    check "$name: exits 0" test "$rc" = 0
    check "$name: no shell error" no_shell_error "$name"
}
# (Files, not pipes: grep -q closing a pipe early fails it under pipefail.)
has() { grep -qE "$2" "$WORK/$1.summary"; }
printed() { grep -qE "$2" "$WORK/$1.out"; }
never_printed() { ! grep -qE "$2" "$WORK/$1.out"; }
no_step_ran() { ! grep -qE '^(PASS|FAIL)  ' "$WORK/$1.summary"; }

# 1. The next device session's planned call: A/B settings, QUICK, Vulkan,
#    a generous DEADLINE.
AB="SLIMMABLE_RESIZE_IMAGE_MAJOR=1;SLIMMABLE_WGRAD_SPLIT_BLOCKS=264;SLIMMABLE_GEMM_WGMMA=1;SLIMMABLE_CONV_BACKWARD_STREAMS=1"
rehearse ab DEADLINE=450 VULKAN=1 VULKAN_BUDGET=120 AB="$AB" QUICK=1
for s in "slimmable devices" "test ops_cross_backend" "test resize_fixtures" "verify --backend cuda" \
    "verify --backend cuda, kernels compiled at start-up" "benchmarks"; do
    check "ab: PASS $s" has ab "^PASS  $s \("
done
check "ab: QUICK skips nvrtc_compile" never_printed ab "=== test nvrtc_compile"
IFS=';' read -ra settings <<<"$AB"
for v in "${settings[@]}"; do
    for s in "verify, $v" "bench conv, $v" "bench resize, $v"; do
        check "ab: PASS $s" has ab "^PASS  $s \("
    done
done
# The A/B rows: each against the default table's time (the stub's rows are
# the same, so 1.00x).
check "ab: res3x3 A/B rows with the default's time" has ab "res3x3_w1.00_r224/fwd_tf32 .*; +[0-9.]+, 1\.00x"
check "ab: resize A/B rows with the default's time" has ab "resize/u8_256x224x224x3_to_224_192_160_128 .*; +[0-9.]+, 1\.00x"
check "ab: the Vulkan part ran after the A/Bs" has ab "^PASS  wgpu: verify --backend wgpu \("
check "ab: the Vulkan bench rows" has ab "wgpu conv/res3x3_w1\.00_r224/fwd_f32 "
check "ab: cubins line" has ab "cubins: kernels: sm_90a cubins from .*; 0 processes fell back"
check "ab: the resize rows against the writes alone" printed ab "^resize/u8_256x224x224x3_to_224_192_160_128_aa +[0-9.]+ ms, [0-9.]+x the fill"
check "ab: the table against run 11" printed ab "=== bench against results/2026-11-27-h200-run11/bench\.txt"
check "ab: log, table and details written" test -s "$WORK/ab/gpu-check.log" -a -s "$WORK/ab/bench.txt" -a -s "$WORK/ab/details.tgz"

# 2. The full QUICK run (no A/B string): the resize variants, the conv A/Bs,
#    the wgmma steps, the trainer (an empty .data/fashion-mnist stands for
#    the carried data); one verify told to fail, so that the wgmma benches
#    are skipped and the run still reports.
mkdir -p "$TREE/.data/fashion-mnist"
rehearse quick QUICK=1 REHEARSAL_FAIL='SLIMMABLE_GEMM_WGMMA=1 \| verify'
for s in "test resize_fixtures, SLIMMABLE_RESIZE_IMAGE_MAJOR=1" "verify resize_pack, SLIMMABLE_RESIZE_STAGE=0" \
    "bench resize, SLIMMABLE_RESIZE_SAME=0" "bench copy, SLIMMABLE_COPY_VEC4=0" \
    "verify conv2d, SLIMMABLE_GEMM_LDSM=1 SLIMMABLE_GEMM_LDSM_SPLIT=3" "bench conv, SLIMMABLE_WGRAD_SPLIT_BLOCKS=132" \
    "bench conv, SLIMMABLE_GEMM_LDSM_BF16=1" "bench conv, SLIMMABLE_DW_WGRAD_NARROW=0" "bench conv, SLIMMABLE_GEMM_SQUARE=0" \
    "verify conv2d_backward, SLIMMABLE_CONV_BACKWARD_STREAMS=1" "bench mutualnet, SLIMMABLE_CONV_BACKWARD_STREAMS=1"; do
    check "quick: PASS $s" has quick "^PASS  $s \("
done
check "quick: the failed wgmma verify is a FAIL row" has quick "^FAIL  verify conv2d, SLIMMABLE_GEMM_WGMMA=1 \("
check "quick: the wgmma benches skipped after it" has quick "^SKIP  bench conv, SLIMMABLE_GEMM_WGMMA=1 SLIMMABLE_GEMM_WGMMA_BK=32$"
check "quick: the trainer against PyTorch" has quick "^PASS  PyTorch reference trainer \("
check "quick: host time in the summary" has quick "host per iteration 9.1 ms"
check "quick: the two-stream training rows" has quick "res3x3_w1\.00_r128/train .*; +[0-9.]+, 1\.00x"
check "quick: the two-stream MutualNet row" has quick "mutualnet/mobilenet_v2_imagenet_b128_r224 .*; +[0-9.]+, 1\.00x"
check "quick: no per-column A/B (full runs only)" never_printed quick "SLIMMABLE_RESIZE_BILINEAR=0"

rm -rf "$TREE/.data"

# 3. Past DEADLINE from the start: every step skipped, the report still written.
rehearse late DEADLINE=0 VULKAN=1 AB="$AB"
check "late: steps skipped" has late "^SKIP  verify --backend cuda \(past DEADLINE=0 s\)"
check "late: Vulkan skipped" has late "^SKIP  wgpu on the GPU \(past DEADLINE=0 s\)"
check "late: no step ran" no_step_ran late

# 4. A failing test binary: a FAIL row, and the run goes on.
rehearse failing AB="SLIMMABLE_GEMM_WGMMA=1" REHEARSAL_FAIL='^test resize_fixtures$'
check "failing: FAIL row" has failing "^FAIL  test resize_fixtures \("
check "failing: the rest ran" has failing "^PASS  bench resize, SLIMMABLE_GEMM_WGMMA=1 \("

if [ "${#failures[@]}" -gt 0 ]; then
    echo "gpu-check rehearsal: ${#failures[@]} check(s) failed:"
    printf '  %s\n' "${failures[@]}"
    for name in ab quick late failing; do
        echo "--- $name (exit $(cat "$WORK/$name.rc")): the summary and the last lines"
        head -80 "$WORK/$name.summary"
        tail -15 "$WORK/$name.out"
    done
    exit 1
fi
echo "gpu-check rehearsal: every check held (4 runs of scripts/gpu-check.sh run against stubs)"
