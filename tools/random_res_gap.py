#!/usr/bin/env python3
"""Is the smallest config's lag behind its alone-trained twin the cost of
the resolution mix? Over seeds, at one width (0.25x by default):

- MutualNet's width at each resolution (mutualnet-<E>ep/),
- the width trained alone at 16 px only (alone-w0.25-r16-<E>ep/),
- the width trained alone at a random resolution of the set each
  iteration, as MutualNet's smallest width sees them
  (alone-random-res-w0.25-<E>ep/, `train --mode alone-random-res`).

If MutualNet's 16 px accuracy sits with the random-resolution run's and
both below the 16-px-only run's, the resolution mix explains the lag, not
weight sharing or distillation.

Each SEED=MUTUALNET_DIR:ALONE_DIR:RANDOM_RES_DIR names one seed's folders
holding those runs (they may be the same folder).

Usage: python3 tools/random_res_gap.py EPOCHS SEED=M:A:R [SEED=M:A:R ...]
"""
import json
import math
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from seed_spread import T_CRITICAL_5PCT, mean, sd  # noqa: E402

WIDTH = 0.25
SMALL = 16


def grid(path):
    """{resolution: top-1} of WIDTH in a results.json."""
    out = {
        c["resolution"]: c["top1"]
        for c in json.loads(path.read_text())["configs"]
        if abs(c["width"] - WIDTH) < 1e-9
    }
    if not out:
        raise SystemExit(f"{path} has no {WIDTH:g}x config")
    return out


def interval(xs):
    n = len(xs)
    if n < 2:
        return f"{n} seed(s): too few"
    m, se = mean(xs), sd(xs) / math.sqrt(n)
    t = T_CRITICAL_5PCT.get(n - 1, T_CRITICAL_5PCT[max(T_CRITICAL_5PCT)])
    return f"{m:+.2f} ({m - t * se:+.2f} to {m + t * se:+.2f}), {n} seeds"


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    e = sys.argv[1]
    rows, diffs = [], {"m_a": [], "m_r": [], "r_a": []}
    mix = {"m": {}, "r": {}}
    for arg in sys.argv[2:]:
        seed, _, dirs = arg.partition("=")
        m_dir, a_dir, r_dir = (pathlib.Path(p) for p in dirs.split(":"))
        paths = (
            m_dir / f"mutualnet-{e}ep/results.json",
            a_dir / f"alone-w{WIDTH:g}-r{SMALL}-{e}ep/results.json",
            r_dir / f"alone-random-res-w{WIDTH:g}-{e}ep/results.json",
        )
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            print(f"(skipped seed {seed}: no {', '.join(missing)})", file=sys.stderr)
            continue
        m, a, r = (grid(p) for p in paths)
        m16, a16, r16 = m[SMALL], a[SMALL], r[SMALL]
        diffs["m_a"].append(m16 - a16)
        diffs["m_r"].append(m16 - r16)
        diffs["r_a"].append(r16 - a16)
        for res in sorted(m, reverse=True):
            mix["m"].setdefault(res, []).append(m[res])
            mix["r"].setdefault(res, []).append(r.get(res, float("nan")))
        rows.append(
            f"| {seed} | {m16:.2f} | {a16:.2f} | {r16:.2f} | {m16 - a16:+.2f} | {m16 - r16:+.2f} | {r16 - a16:+.2f} |"
        )
    w = f"{WIDTH:g}×/{SMALL} px"
    print(f"| seed | MutualNet {w} | alone, {SMALL} px only | alone, random resolution | MutualNet − alone | MutualNet − random-res | random-res − alone |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    print("\n".join(rows))
    print()
    print("| difference at " + w + " | mean (95% interval) |")
    print("| --- | --- |")
    print(f"| MutualNet − alone at {SMALL} px only | {interval(diffs['m_a'])} |")
    print(f"| MutualNet − alone at random resolutions | {interval(diffs['m_r'])} |")
    print(f"| alone at random resolutions − alone at {SMALL} px only | {interval(diffs['r_a'])} |")
    print()
    print(f"| {WIDTH:g}× at | MutualNet, mean over seeds | alone at random resolutions | difference (95% interval) |")
    print("| --- | ---: | ---: | --- |")
    for res in sorted(mix["m"], reverse=True):
        ms, rs = mix["m"][res], mix["r"][res]
        d = [x - y for x, y in zip(ms, rs)]
        print(f"| {res} px | {mean(ms):.2f} | {mean(rs):.2f} | {interval(d)} |")


if __name__ == "__main__":
    main()
