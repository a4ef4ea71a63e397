#!/usr/bin/env bash
# A rehearsal of `scripts/gpu-train.sh` without a GPU: the script's own
# logic (its forms, the budget, the folders it fills, the tables and the
# archive it returns) run against stand-ins for the two trainers, so that a
# bash error or a missing file shows here instead of costing a device
# session's call.
#
#   tools/gpu_train_rehearsal.sh        (tests/gpu_script_rehearsals.rs runs it)
#
# In a copy of the tracked tree, under a temporary folder:
#   - .gpu/bin/slimmable is a stub whose `train` copies a real CPU run's
#     results and log from results/ (the 4-epoch MutualNet runs of
#     2026-11-27-seeds-cpu, seed S from seed-(S+1); other epoch counts and
#     the configs trained alone from 2026-11-28-schedule-small-cpu's 12-epoch
#     runs). `--epochs 0` writes an initial checkpoint that names its seed;
#   - tools/reference_trainer.py is a stub that copies the same seed's
#     PyTorch JSON (float32, or float64 with --float64).
# The real tools/compare_runs.py and tools/seed_spread.py make the tables.
# Nothing here trains or checks an accuracy. What it checks: each form
# exits 0 with no shell error, every trainer it should start was started
# with the arguments it should have, and train.tgz holds the logs, results
# and tables, also when the budget cuts a run short (and then no earlier
# call's results in its place).
# Exit status: 0 when every check holds; 1 with the failed checks listed.
set -euo pipefail
source "$(dirname "$0")/rehearsal_setup.sh" train-rehearsal
SEEDS_DIR="$ROOT/results/2026-11-27-seeds-cpu"
SCHEDULE_DIR="$ROOT/results/2026-11-28-schedule-small-cpu"
mkdir -p "$TREE/.gpu/bin" "$TREE/.data/fashion-mnist"

# The stub CLI. Every call is one line of $CALLS. REHEARSAL_SLEEP=S: each
# training run sleeps S seconds first (the budget's timeout cuts it).
cat >"$TREE/.gpu/bin/slimmable" <<EOF
#!/usr/bin/env bash
SEEDS_DIR="$SEEDS_DIR"
SCHEDULE_DIR="$SCHEDULE_DIR"
EOF
cat >>"$TREE/.gpu/bin/slimmable" <<'EOF'
echo "$*" >>"$CALLS"
[ "$1" = train ] || { echo "rehearsal stub: only train is staged ($*)"; exit 2; }
out="" epochs="" seed=0 mode=mutualnet widths=""
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out="$2"; shift ;;
        --epochs) epochs="$2"; shift ;;
        --seed) seed="$2"; shift ;;
        --mode) mode="$2"; shift ;;
        --widths) widths="$2"; shift ;;
    esac
    shift
done
[ -n "$out" ] && [ -n "$epochs" ] || { echo "rehearsal stub: train without --out or --epochs"; exit 2; }
mkdir -p "$out"
if [ "$epochs" = 0 ]; then
    echo "seed $seed" >"$out/checkpoint.safetensors"
    exit 0
fi
sleep "${REHEARSAL_SLEEP:-0}"
case "$mode/$widths/$epochs" in
    mutualnet//4) src="$SEEDS_DIR/seed-$((seed + 1))/mutualnet-4ep" log="$SEEDS_DIR/seed-$((seed + 1))/mutualnet-4ep.log" ;;
    mutualnet//*) src="$SCHEDULE_DIR/mutualnet-12ep" log="$src/run.log" ;;
    alone/1.0,1.0/*) src="$SCHEDULE_DIR/alone-w1.0-r28-12ep" log="$src/run.log" ;;
    alone/0.25,0.25/*) src="$SCHEDULE_DIR/alone-w0.25-r16-12ep" log="$src/run.log" ;;
    *) echo "rehearsal stub: no staged run for $mode/$widths/$epochs"; exit 2 ;;
esac
[ -d "$src" ] || { echo "rehearsal stub: $src is missing"; exit 2; }
cat "$log"
cp "$src"/* "$out/"
EOF
cat >"$TREE/tools/reference_trainer.py" <<EOF
import os, shutil, sys
args = sys.argv[1:]
with open(os.environ["CALLS"], "a") as calls:
    calls.write("reference_trainer " + " ".join(args) + "\n")
seed = int(open(args[args.index("--init") + 1]).read().split()[1])
name = "torch-float64-4ep.json" if "--float64" in args else "torch-mutualnet-4ep.json"
shutil.copy(f"$SEEDS_DIR/seed-{seed + 1}/{name}", args[args.index("--out") + 1])
EOF
chmod +x "$TREE/.gpu/bin/slimmable"

# One run of gpu-train.sh in the copy: NAME, then VAR=VALUE settings. Its
# output in $WORK/NAME.out, its calls in $WORK/NAME.calls, its archive
# unpacked in $WORK/NAME/train/.
rehearse() {
    local name="$1"; shift
    mkdir -p "$WORK/$name"
    : >"$WORK/$name.calls"
    local rc=0
    # (The script's own settings from the caller's environment are dropped:
    # each form sets what it rehearses.)
    (cd "$TREE" && env -u EPOCHS -u CMP_EPOCHS -u SEEDS -u BUDGET -u PYTORCH -u ALONE -u LR \
        -u WARMUP_EPOCHS -u FLOAT64 -u ONLY_COMPARE -u PRESET -u BIN -u DATA -u TORCH_DEVICE \
        OUT="$WORK/$name" RUNS="$WORK/$name.runs" CALLS="$WORK/$name.calls" "$@" \
        timeout 120 bash scripts/gpu-train.sh) >"$WORK/$name.out" 2>&1 || rc=$?
    echo "$rc" >"$WORK/$name.rc"
    check "$name: exits 0" test "$rc" = 0
    check "$name: no shell error" no_shell_error "$name"
    check "$name: only the archive is left" test ! -e "$WORK/$name/train"
    check "$name: train.tgz unpacks" tar -C "$WORK/$name" -xzf "$WORK/$name/train.tgz"
}
# (Files, not pipes: grep -q closing a pipe early fails it under pipefail.)
in_file() { grep -qE -e "$2" "$WORK/$1"; }
calls_matching() { grep -cE -e "$2" "$WORK/$1.calls" || true; }
count_is() { [ "$(calls_matching "$1" "$2")" = "$3" ]; }
lines_are() { [ "$(grep -cE -e "$2" "$WORK/$1" || true)" = "$3" ]; }
file() { test -s "$WORK/$1"; }

# 1. The default form: MutualNet for EPOCHS, both configs alone, PyTorch
#    beside the first, ours for CMP_EPOCHS after it.
rehearse default
T=default/train
for f in mutualnet-12ep/results.json alone-1.0-28-12ep/results.json alone-0.25-16-12ep/results.json \
    mutualnet-4ep/results.json torch-mutualnet-4ep.json comparison.md status.txt mutualnet-12ep.log; do
    check "default: $f" file "$T/$f"
done
check "default: four runs of ours and one of PyTorch, each exit 0" lines_are default/train/status.txt ': exit 0 after' 5
check "default: ours trained 4 times (and wrote one init)" count_is default '^train .*--epochs [1-9]' 4
check "default: PyTorch from seed 0's initial weights" in_file default.calls "^reference_trainer .*--epochs 4 --init .*/init-0/checkpoint\.safetensors"
check "default: the smallest config alone beside MutualNet" in_file "$T/comparison.md" "^\| 0\.25× / 16 px \| 12 \|"
check "default: the full config alone beside MutualNet" in_file "$T/comparison.md" "^\| 1\.0× / 28 px \| 12 \|"
check "default: ours beside PyTorch" in_file "$T/comparison.md" "[Pp]y[Tt]orch"

# 2. The planned long pair: the smallest config alone, no PyTorch.
rehearse small EPOCHS=36 ALONE=small PYTORCH=0
check "small: MutualNet for 36 epochs" in_file small.calls "^train .*--epochs 36$"
check "small: only the smallest config alone" count_is small '--mode alone' 1
check "small: it is 0.25x at 16 px" in_file small.calls "--mode alone --widths 0\.25,0\.25 --resolutions 16"
check "small: no PyTorch" count_is small '^reference_trainer' 0
check "small: both results packed" file small/train/alone-0.25-16-36ep/results.json
check "small: the comparison written" file small/train/comparison.md

# 3. The planned comparison: one seed, a lower rate and a warm-up that
#    travel to PyTorch in the initial checkpoint.
rehearse compare ONLY_COMPARE=1 CMP_EPOCHS=4 LR=0.05 WARMUP_EPOCHS=1 FLOAT64=1
check "compare: the init carries the recipe" in_file compare.calls "^train .*--epochs 0 .*--seed 0 --warmup-epochs 1 --lr 0\.05 "
check "compare: ours with the same recipe" in_file compare.calls "^train .*--warmup-epochs 1 --lr 0\.05 --epochs 4 --seed 0$"
check "compare: PyTorch float32 and float64" count_is compare '^reference_trainer' 2
check "compare: the float64 run packed" file compare/train/torch-float64-4ep.json
check "compare: ours beside PyTorch" in_file compare/train/comparison.md "[Pp]y[Tt]orch"
check "compare: only the comparison ran" count_is compare '--mode alone' 0

# 4. Two seeds: a folder each and the spread over them.
rehearse seeds ONLY_COMPARE=1 SEEDS="0 1"
for s in 0 1; do
    check "seeds: seed $s's comparison" file "seeds/train/seed-$s/comparison.md"
    check "seeds: seed $s's PyTorch run" file "seeds/train/seed-$s/torch-mutualnet-4ep.json"
    check "seeds: seed $s trained from its own init" in_file seeds.calls "^reference_trainer .*/init-$s/checkpoint"
done
check "seeds: the spread over both seeds" in_file seeds/train/seed-spread.md "^\| ours − float32 \| 2 \|"

# 5. A budget that cuts the runs short: they are stopped, the rest is still packed.
rehearse budget BUDGET=3 REHEARSAL_SLEEP=30 ALONE=small PYTORCH=0
check "budget: the cut run says so" in_file budget/train/status.txt "mutualnet-12ep: exit 124"
check "budget: the archive holds its log" test -e "$WORK/budget/train/mutualnet-12ep.log"
check "budget: no results claimed for it" test ! -e "$WORK/budget/train/mutualnet-12ep/results.json"

# 6. The same cut run on a warm machine whose scratch folder still holds an
#    earlier call's finished run: its results must not be passed on.
mkdir -p "$WORK/stale.runs/mutualnet-12ep"
cp "$SCHEDULE_DIR/mutualnet-12ep/results.json" "$WORK/stale.runs/mutualnet-12ep/"
rehearse stale BUDGET=3 REHEARSAL_SLEEP=30 ALONE=small PYTORCH=0
check "stale: the cut run says so" in_file stale/train/status.txt "mutualnet-12ep: exit 124"
check "stale: an earlier call's results are not passed on" test ! -e "$WORK/stale/train/mutualnet-12ep/results.json"

if [ "${#failures[@]}" -gt 0 ]; then
    echo "gpu-train rehearsal: ${#failures[@]} check(s) failed:"
    printf '  %s\n' "${failures[@]}"
    for name in default small compare seeds budget stale; do
        echo "--- $name (exit $(cat "$WORK/$name.rc" 2>/dev/null)): calls and the last lines"
        cat "$WORK/$name.calls" 2>/dev/null
        tail -15 "$WORK/$name.out" 2>/dev/null
    done
    exit 1
fi
echo "gpu-train rehearsal: every check held (6 runs of scripts/gpu-train.sh against stubs)"
