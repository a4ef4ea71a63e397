#!/usr/bin/env python3
"""Comparison tables (Markdown) for issue 7 from a folder of runs, as
scripts/gpu-train.sh leaves it:

  mutualnet-<E>ep/results.json        ours, one network for every config
  alone-<w>-<r>-<E>ep/results.json    ours, one config trained alone
  torch-mutualnet-<E>ep.json          tools/reference_trainer.py --data

Prints: each config trained alone beside the same config of the MutualNet
run with the same epochs; and for every epoch count with both, ours beside
PyTorch's per config, with the difference.

Usage: python3 tools/compare_runs.py RUN_DIR
"""
import json
import pathlib
import re
import sys


def grid(configs):
    return {(round(c["width"], 4), c["resolution"]): c["top1"] for c in configs}


def main():
    root = pathlib.Path(sys.argv[1])
    ours, alone, torch = {}, {}, {}
    for d in sorted(root.iterdir()):
        m = re.fullmatch(r"mutualnet-(\d+)ep", d.name)
        a = re.fullmatch(r"alone-([\d.]+)-(\d+)-(\d+)ep", d.name)
        t = re.fullmatch(r"torch-mutualnet-(\d+)ep\.json", d.name)
        try:
            if m and (d / "results.json").exists():
                ours[int(m[1])] = grid(json.loads((d / "results.json").read_text())["configs"])
            elif a and (d / "results.json").exists():
                g = grid(json.loads((d / "results.json").read_text())["configs"])
                alone[(int(a[3]), round(float(a[1]), 4), int(a[2]))] = next(iter(g.values()))
            elif t:
                torch[int(t[1])] = grid(json.loads(d.read_text())["configs"])
        except (json.JSONDecodeError, KeyError, StopIteration) as e:
            print(f"skipped {d.name}: {e}", file=sys.stderr)
    if alone:
        print("| config | epochs | MutualNet (one network) | trained alone | difference |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for (ep, w, r), acc in sorted(alone.items()):
            mine = ours.get(ep, {}).get((w, r))
            cell = f"{mine:.2f}%" if mine is not None else "-"
            diff = f"{mine - acc:+.2f}" if mine is not None else "-"
            print(f"| {w}× / {r} px | {ep} | {cell} | {acc:.2f}% | {diff} |")
        print()
    for ep in sorted(set(ours) & set(torch)):
        print(f"| config ({ep} epochs) | ours | PyTorch eager | ours − PyTorch |")
        print("| --- | ---: | ---: | ---: |")
        for key in sorted(torch[ep], key=lambda k: (-k[0], -k[1])):
            o = ours[ep].get(key)
            p = torch[ep][key]
            if o is None:
                continue
            print(f"| {key[0]}× / {key[1]} px | {o:.2f}% | {p:.2f}% | {o - p:+.2f} |")
        print()
    if not (alone or set(ours) & set(torch)):
        print("no comparable runs found", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
