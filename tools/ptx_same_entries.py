#!/usr/bin/env python3
"""Compares two folders of PTX (from `cargo run --example dump_ptx`) entry
by entry: which kernels were removed or added, and whether every kernel in
both compiles to the same PTX text. For refactors that must not change a
kernel: `tools/ptx_same_entries.py BEFORE_DIR AFTER_DIR` exits 1 when a
kept kernel's PTX differs.

Two names are normalized, since they change when another kernel in the
file is removed or a helper is inlined from elsewhere: block labels
(`$L__BB<function index>_<n>`: the function index is dropped) and the
mangled names of function-scope `__shared__` arrays (only the array's own
name is kept). Everything else, registers included, is compared as NVRTC
wrote it; the file's header and the other entries do not count.
"""
import pathlib
import re
import sys

ENTRY = re.compile(r"^\.(?:visible|weak)?\s*\.entry\s+(\w+)\(", re.M)
LABEL = re.compile(r"\$L__BB\d+_")
# _ZZ<enclosing function's mangled name>E<length><array name>
SHARED = re.compile(r"_ZZ\w*?E(\d+)(\w+)")


def normalized(body: str) -> str:
    body = LABEL.sub("$L__BB_", body)
    return SHARED.sub(lambda m: "shared." + m.group(2), body)


def entries(folder: pathlib.Path) -> dict[str, str]:
    """Every `.entry` of every .ptx file in `folder`: name -> text up to
    the next entry or the file's end."""
    found = {}
    for ptx in sorted(folder.glob("*.ptx")):
        text = ptx.read_text()
        starts = [(m.start(), m.group(1)) for m in ENTRY.finditer(text)]
        for i, (at, name) in enumerate(starts):
            end = starts[i + 1][0] if i + 1 < len(starts) else len(text)
            body = text[at:end]
            # Only the entry's own braces: drop what follows its closing one.
            close = body.rfind("\n}")
            found[f"{ptx.stem}:{name}"] = normalized(body[: close + 2] if close >= 0 else body)
    return found


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    before = entries(pathlib.Path(sys.argv[1]))
    after = entries(pathlib.Path(sys.argv[2]))
    if not before or not after:
        print("ptx_same_entries: no .entry found in one of the folders", file=sys.stderr)
        return 2
    removed = sorted(set(before) - set(after))
    added = sorted(set(after) - set(before))
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    for k in removed:
        print(f"removed: {k}")
    for k in added:
        print(f"added:   {k}")
    for k in changed:
        print(f"CHANGED: {k}")
    same = len(set(before) & set(after)) - len(changed)
    print(f"{same} kernels compile to the same PTX, {len(changed)} differ, "
          f"{len(removed)} removed, {len(added)} added")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
