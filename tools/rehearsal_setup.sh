# Sourced by the rehearsals (tools/gpu_*_rehearsal.sh) with a name:
#   source "$(dirname "$0")/rehearsal_setup.sh" NAME
# Sets ROOT (the checkout), WORK (a temporary folder, removed at exit
# unless KEEP is set), TREE (WORK/tree: the tree as git has it, tracked
# files and untracked ones not ignored), `check DESCRIPTION COMMAND...`,
# which runs COMMAND and adds DESCRIPTION to `failures` when it fails, and
# `no_shell_error NAME`, which fails when WORK/NAME.out has what bash says
# when the script itself is wrong.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/slimmable-$1.XXXXXX")"
trap '[ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
failures=()
check() { # description, command...
    local what="$1"; shift
    if ! "$@"; then failures+=("$what"); fi
}
no_shell_error() {
    ! grep -nE 'unbound variable|command not found|syntax error|bad substitution|integer expression expected|No such file' "$WORK/$1.out"
}
TREE="$WORK/tree"
mkdir -p "$TREE"
# (Only the files that exist: a tracked file deleted in the working tree
# is left out, as a commit of the tree would leave it.)
(cd "$ROOT" && git ls-files -co --exclude-standard -z |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    xargs -0 -r cp --parents -t "$TREE")
