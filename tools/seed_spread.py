#!/usr/bin/env python3
"""Issue 7's per-config accuracy comparison over several seeds: is ours
systematically off PyTorch, or within the spread rounding alone gives?

Each RUN_DIR is one seed as scripts/cpu-same-init.sh (or gpu-train.sh
with SEEDS) leaves it: mutualnet-<E>ep/results.json (ours),
torch-mutualnet-<E>ep.json (PyTorch float32) and, where present,
torch-float64-<E>ep.json (PyTorch float64) and
torch-nomkldnn-<E>ep.json (PyTorch float32 through its other CPU conv
path: a second rounding-only sample), all from the same initial weights.
For every seed each difference (ours − float32, ours − float64, ...) is
averaged over the configs; over seeds, its mean, standard deviation and
the t statistic of the mean (mean / (sd / sqrt(seeds))) say whether it is
systematic. The per-config root mean square says how far one run of a
pair typically lands from the other: ours against PyTorch beside PyTorch
against itself in another precision or conv path. Each difference is
taken over the folders that hold both of its runs.

Then, config by config, the mean over seeds of ours − float32 with its
standard error: issue 7 bounds each config's difference by 0.5 points,
and single runs move by about a point on rounding alone, so the bound can
only be asked of a mean over seeds. The table counts the configs whose
mean lies within 0.5 and those whose 95% interval does.

Usage: python3 tools/seed_spread.py EPOCHS RUN_DIR [RUN_DIR ...]
"""
import json
import math
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from compare_runs import grid  # noqa: E402


# The runs of one seed folder, by name: (file, whether it must be there).
RUNS = {
    "ours": ("mutualnet-{e}ep/results.json", True),
    "float32": ("torch-mutualnet-{e}ep.json", True),
    "float64": ("torch-float64-{e}ep.json", False),
    "float32 without oneDNN": ("torch-nomkldnn-{e}ep.json", False),
}
# Differences reported, where both runs are in every folder.
PAIRS = (("ours", "float32"), ("ours", "float64"), ("float32", "float64"),
         ("float32", "float32 without oneDNN"))


def load(run_dir, epochs):
    """{run name: {(width, resolution): top-1}} of one seed folder."""
    d = pathlib.Path(run_dir)
    grids = {}
    for name, (pattern, required) in RUNS.items():
        path = d / pattern.format(e=epochs)
        if path.exists() or required:
            grids[name] = grid(json.loads(path.read_text())["configs"])
    return grids


def mean(xs):
    return sum(xs) / len(xs)


def sd(xs):
    """Sample standard deviation (two or more values)."""
    m = mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def rms(xs):
    return math.sqrt(mean([x * x for x in xs]))


# Student's t, two-sided 5%, by degrees of freedom (seeds − 1).
T_CRITICAL_5PCT = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26,
                   10: 2.23, 11: 2.20, 12: 2.18, 13: 2.16, 14: 2.14, 15: 2.13, 16: 2.12, 17: 2.11,
                   18: 2.10, 19: 2.09, 20: 2.09, 21: 2.08, 22: 2.07, 23: 2.07, 24: 2.06, 25: 2.06,
                   26: 2.06, 27: 2.05, 28: 2.05, 29: 2.05, 30: 2.04}


def per_config_table(diffs, pair, bound=0.5):
    """Config by config, the mean over seeds of one difference, its
    standard error and 95% interval, against issue 7's per-config bound."""
    a, b = pair
    n = min(len(v) for v in diffs.values())
    t = T_CRITICAL_5PCT.get(n - 1)
    print(f"| config | {a} − {b}, mean over {n} seeds | standard error | 95% interval | sd of one pair |")
    print("| --- | ---: | ---: | ---: | ---: |")
    within = inside = 0
    # Widest first, then the highest resolution, as the grids are printed.
    for k in sorted(diffs, key=lambda k: (-k[0], -k[1])):
        xs = diffs[k][:n]
        m, s = mean(xs), sd(xs)
        se = s / math.sqrt(n)
        lo, hi = (m - t * se, m + t * se) if t else (float("nan"), float("nan"))
        within += abs(m) <= bound
        inside += -bound <= lo and hi <= bound
        print(f"| {k[0]:g}× / {k[1]} px | {m:+.2f} | {se:.2f} | {lo:+.2f} to {hi:+.2f} | {s:.2f} |")
    print(f"\n{within} of {len(diffs)} configs have a mean within ±{bound} points; the 95% interval of "
          f"{inside} lies inside ±{bound} (Student's t, {n - 1} degrees of freedom).")


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    epochs, dirs = int(sys.argv[1]), sys.argv[2:]
    runs = []
    for d in dirs:
        try:
            runs.append((d, load(d, epochs)))
        except (OSError, KeyError, json.JSONDecodeError) as e:
            print(f"{d}: cannot read its runs ({e}); run scripts/cpu-same-init.sh there first",
                  file=sys.stderr)
            return 1
    # Each difference over the folders holding both of its runs.
    pairs = [(a, b) for a, b in PAIRS if sum(a in g and b in g for _, g in runs) > 0]
    print(f"| seed folder | configs | {' | '.join(f'{a} − {b}: mean, rms' for a, b in pairs)} |")
    print("| --- | ---: |" + " ---: |" * len(pairs))
    per_seed = {p: [] for p in pairs}
    per_seed_rms = {p: [] for p in pairs}
    # {pair: {config: [difference in each seed]}}
    per_config = {p: {} for p in pairs}
    for d, grids in runs:
        keys = set.intersection(*(set(g) for g in grids.values()))
        if not keys:
            print(f"{d}: no config in every run", file=sys.stderr)
            return 1
        cells = []
        for a, b in pairs:
            if a not in grids or b not in grids:
                cells.append("–")
                continue
            diffs = {k: grids[a][k] - grids[b][k] for k in keys}
            for k, v in diffs.items():
                per_config[(a, b)].setdefault(k, []).append(v)
            per_seed[(a, b)].append(mean(list(diffs.values())))
            per_seed_rms[(a, b)].append(rms(list(diffs.values())))
            cells.append(f"{per_seed[(a, b)][-1]:+.2f}, {per_seed_rms[(a, b)][-1]:.2f}")
        print(f"| {pathlib.Path(d).name} | {len(keys)} | {' | '.join(cells)} |")
    print()
    print("| difference | seeds | mean over seeds | sd over seeds | t of the mean "
          "| per-config rms, mean over seeds |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for a, b in pairs:
        xs = per_seed[(a, b)]
        n = len(xs)
        s = sd(xs) if n > 1 else 0.0
        spread = f"{s:.2f} | {mean(xs) / (s / math.sqrt(n)):+.1f}" if s > 0 else "– | –"
        print(f"| {a} − {b} | {n} | {mean(xs):+.2f} | {spread} | {mean(per_seed_rms[(a, b)]):.2f} |")
    seeds = len(per_seed[PAIRS[0]]) if PAIRS[0] in per_seed else 0
    if seeds - 1 in T_CRITICAL_5PCT:
        print(f"\n{seeds} seeds, {epochs} epochs. |t| above {T_CRITICAL_5PCT[seeds - 1]} ({seeds - 1} degrees "
              "of freedom, two-sided 5%) would say a mean difference is not rounding luck.")
    if PAIRS[0] in per_config and seeds > 1:
        print()
        per_config_table(per_config[PAIRS[0]], PAIRS[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
