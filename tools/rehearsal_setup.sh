# Sourced by the rehearsals (tools/gpu_*_rehearsal.sh) with a name:
#   source "$(dirname "$0")/rehearsal_setup.sh" NAME
# Sets ROOT (the checkout), WORK (a temporary folder, removed at exit
# unless KEEP is set), TREE (WORK/tree: the tree as git has it, tracked
# files and untracked ones not ignored), and `check DESCRIPTION COMMAND...`,
# which runs COMMAND and adds DESCRIPTION to `failures` when it fails.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/slimmable-$1.XXXXXX")"
trap '[ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
failures=()
check() { # description, command...
    local what="$1"; shift
    if ! "$@"; then failures+=("$what"); fi
}
TREE="$WORK/tree"
mkdir -p "$TREE"
(cd "$ROOT" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$TREE")
