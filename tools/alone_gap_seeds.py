#!/usr/bin/env python3
"""Issue 7's MutualNet-against-trained-alone comparison over seeds.

Each RUN_DIR is one seed as scripts/cpu-alone-seeds.sh leaves it:
mutualnet-<E>ep/, alone-w1.0-r28-<E>ep/ and alone-w0.25-r16-<E>ep/, each
with its results.json. For the full (1.0x / 28 px) and the smallest
(0.25x / 16 px) config: each seed's MutualNet accuracy beside the same
config trained alone, then over seeds the mean difference (MutualNet −
alone), its standard error and 95% interval. Issue 7 asks for a
difference at or above 0 at every config; a single seed moves by about a
point at this scale, so only the mean over seeds can say which side of 0
a config is on.

Usage: python3 tools/alone_gap_seeds.py EPOCHS RUN_DIR [RUN_DIR ...]
"""
import json
import math
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from seed_spread import T_CRITICAL_5PCT, mean, sd  # noqa: E402

CONFIGS = ((1.0, 28, "alone-w1.0-r28-{e}ep"), (0.25, 16, "alone-w0.25-r16-{e}ep"))


def top1(path, width, resolution):
    for c in json.loads(path.read_text())["configs"]:
        if abs(c["width"] - width) < 1e-9 and c["resolution"] == resolution:
            return c["top1"]
    raise SystemExit(f"{path} has no {width:g}x / {resolution} px config")


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    epochs = sys.argv[1]
    dirs = [pathlib.Path(d) for d in sys.argv[2:]]
    print("| seed folder | MutualNet 1×/28 | alone | difference | MutualNet 0.25×/16 | alone | difference |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    diffs = {(w, r): [] for w, r, _ in CONFIGS}
    for d in dirs:
        ours = d / f"mutualnet-{epochs}ep/results.json"
        if not ours.exists():
            print(f"(skipped {d}: no {ours.name} in mutualnet-{epochs}ep)", file=sys.stderr)
            continue
        cells = []
        for w, r, alone in CONFIGS:
            a_path = d / alone.format(e=epochs) / "results.json"
            m = top1(ours, w, r)
            if not a_path.exists():
                cells.append(f"{m:.2f} | not run | -")
                continue
            a = top1(a_path, w, r)
            diffs[(w, r)].append(m - a)
            cells.append(f"{m:.2f} | {a:.2f} | {m - a:+.2f}")
        print(f"| {d} | " + " | ".join(cells) + " |")
    print()
    print("| config | seeds | mean difference | standard error | 95% interval | above 0 |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for (w, r), xs in diffs.items():
        n = len(xs)
        if n < 2:
            print(f"| {w:g}× / {r} px | {n} | - | - | - | too few seeds |")
            continue
        m, se = mean(xs), sd(xs) / math.sqrt(n)
        # Past the table (more than 31 seeds) its last value, a little wide.
        t = T_CRITICAL_5PCT.get(n - 1, T_CRITICAL_5PCT[max(T_CRITICAL_5PCT)])
        lo, hi = m - t * se, m + t * se
        verdict = "yes (interval above 0)" if lo > 0 else "no (interval below 0)" if hi < 0 else "not decided"
        print(f"| {w:g}× / {r} px | {n} | {m:+.2f} | {se:.2f} | {lo:+.2f} to {hi:+.2f} | {verdict} |")


if __name__ == "__main__":
    main()
