#!/usr/bin/env python3
"""Two `slimmable bench` tables side by side (Markdown): for every case in
both, our time before and after, the speed-up (before / after), and our
speed against PyTorch's in each run (PyTorch's own time moves between runs,
so each run's ratio is its own). Cases in one table only are listed at the
end. Meant for a GPU run against the previous one on the same card, e.g.

  python3 tools/compare_bench.py results/2026-11-26-h200-run8/bench.txt OUT/bench.txt

Exit status 2 when a table cannot be read.
"""
import pathlib
import sys


def read_table(path):
    """{case: (ms, torch speed-up or None)} from a bench table."""
    rows = {}
    try:
        text = pathlib.Path(path).read_text()
    except OSError as e:
        print(f"compare_bench: cannot read {path}: {e}", file=sys.stderr)
        sys.exit(2)
    for line in text.splitlines():
        cols = line.split()
        if len(cols) < 2 or "/" not in cols[0]:
            continue
        try:
            ms = float(cols[1])
        except ValueError:
            continue
        speedup = None
        if len(cols) >= 7:
            try:
                speedup = float(cols[6])
            except ValueError:
                speedup = None
        rows[cols[0]] = (ms, speedup)
    if not rows:
        print(f"compare_bench: no bench rows in {path}", file=sys.stderr)
        sys.exit(2)
    return rows


def fmt(v, digits):
    return "–" if v is None else f"{v:.{digits}f}"


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    old, new = read_table(sys.argv[1]), read_table(sys.argv[2])
    print("| case | before ms | after ms | speed-up | × PyTorch before | × PyTorch after |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for case, (ms_new, tp_new) in new.items():
        if case not in old:
            continue
        ms_old, tp_old = old[case]
        gain = ms_old / ms_new if ms_new > 0 else None
        print(f"| `{case}` | {ms_old:.4f} | {ms_new:.4f} | {fmt(gain, 2)} | "
              f"{fmt(tp_old, 2)} | {fmt(tp_new, 2)} |")
    only_old = [c for c in old if c not in new]
    only_new = [c for c in new if c not in old]
    if only_old:
        print(f"\nonly before: {', '.join(only_old)}")
    if only_new:
        print(f"\nonly after: {', '.join(only_new)}")


if __name__ == "__main__":
    main()
