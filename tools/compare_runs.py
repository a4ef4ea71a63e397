#!/usr/bin/env python3
"""Comparison tables (Markdown) for issue 7 from a folder of runs, as
scripts/gpu-train.sh leaves it:

  mutualnet-<E>ep/results.json        ours, one network for every config
  alone-<w>-<r>-<E>ep/results.json    ours, one config trained alone
  torch-mutualnet-<E>ep.json          tools/reference_trainer.py --data
  mutualnet-<E>ep.log                 ours' progress lines (optional)
  torch-float64-<E>ep.json            the same in float64 (--float64, optional)

Prints: each config trained alone beside the same config of the MutualNet
run with the same epochs; and for every epoch count with both, ours beside
PyTorch's per config, with the difference, and where ours' log is there,
the full network's cross-entropy at the logged iterations beside PyTorch's
(close when PyTorch started from our weights, --init). With a float64 run,
both float32 runs are compared against it: how far each drifts by rounding.

Usage: python3 tools/compare_runs.py RUN_DIR
"""
import json
import pathlib
import re
import sys


def grid(configs):
    return {(round(c["width"], 4), c["resolution"]): c["top1"] for c in configs}


def logged_ce(log_path):
    """{iteration: CE} from ours' progress lines (\r-separated)."""
    text = log_path.read_text(errors="replace").replace("\r", "\n")
    return {int(m[1]): float(m[2])
            for m in re.finditer(r"iter (\d+)/\d+ \| lr [\d.e-]+ \| CE ([\d.]+)", text)}


def ce_table(ours_ce, torch_ce, rows=8):
    """Ours beside PyTorch at up to `rows` logged iterations, spread over
    the run, and the largest difference over all of them."""
    common = sorted(i for i in ours_ce if 0 < i <= len(torch_ce))
    if not common:
        return
    pick = sorted({common[round(k * (len(common) - 1) / max(rows - 1, 1))] for k in range(rows)})
    print("| iteration | CE ours | CE PyTorch | ours − PyTorch |")
    print("| ---: | ---: | ---: | ---: |")
    for i in pick:
        print(f"| {i} | {ours_ce[i]:.4f} | {torch_ce[i - 1]:.4f} | {ours_ce[i] - torch_ce[i - 1]:+.4f} |")
    worst = max(common, key=lambda i: abs(ours_ce[i] - torch_ce[i - 1]))
    mean = sum(abs(ours_ce[i] - torch_ce[i - 1]) for i in common) / len(common)
    print(f"\n{len(common)} iterations compared: mean |difference| {mean:.4f}, "
          f"largest {ours_ce[worst] - torch_ce[worst - 1]:+.4f} at iteration {worst}\n")


def float64_table(ours, torch, torch64):
    keys = [k for k in sorted(torch64, key=lambda k: (-k[0], -k[1])) if k in ours and k in torch]
    print("| config | ours | PyTorch float32 | PyTorch float64 | ours − float64 | PyTorch float32 − float64 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for k in keys:
        print(f"| {k[0]}× / {k[1]} px | {ours[k]:.2f}% | {torch[k]:.2f}% | {torch64[k]:.2f}% "
              f"| {ours[k] - torch64[k]:+.2f} | {torch[k] - torch64[k]:+.2f} |")
    for name, run in (("ours", ours), ("PyTorch float32", torch)):
        d = [run[k] - torch64[k] for k in keys]
        print(f"\n{name} − float64 over {len(d)} configs: mean {sum(d) / len(d):+.2f}, "
              f"largest |difference| {max(abs(x) for x in d):.2f} points", end="")
    print("\n")


def main():
    root = pathlib.Path(sys.argv[1])
    ours, alone, torch, torch_ce, torch64 = {}, {}, {}, {}, {}
    for d in sorted(root.iterdir()):
        m = re.fullmatch(r"mutualnet-(\d+)ep", d.name)
        a = re.fullmatch(r"alone-([\d.]+)-(\d+)-(\d+)ep", d.name)
        t = re.fullmatch(r"torch-mutualnet-(\d+)ep\.json", d.name)
        t64 = re.fullmatch(r"torch-float64-(\d+)ep\.json", d.name)
        try:
            if m and (d / "results.json").exists():
                ours[int(m[1])] = grid(json.loads((d / "results.json").read_text())["configs"])
            elif a and (d / "results.json").exists():
                g = grid(json.loads((d / "results.json").read_text())["configs"])
                alone[(int(a[3]), round(float(a[1]), 4), int(a[2]))] = next(iter(g.values()))
            elif t64:
                torch64[int(t64[1])] = grid(json.loads(d.read_text())["configs"])
            elif t:
                res = json.loads(d.read_text())
                torch[int(t[1])] = grid(res["configs"])
                torch_ce[int(t[1])] = res.get("ce_per_iteration", [])
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
        diffs = [ours[ep][k] - torch[ep][k] for k in torch[ep] if k in ours[ep]]
        if diffs:
            print(f"\nlargest |ours − PyTorch| over {len(diffs)} configs: "
                  f"{max(abs(d) for d in diffs):.2f} points; mean difference {sum(diffs) / len(diffs):+.2f}")
        print()
        if ep in torch64:
            float64_table(ours[ep], torch[ep], torch64[ep])
        log = root / f"mutualnet-{ep}ep.log"
        if log.exists() and torch_ce.get(ep):
            ce_table(logged_ce(log), torch_ce[ep])
    if not (alone or set(ours) & set(torch)):
        print("no comparable runs found", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
