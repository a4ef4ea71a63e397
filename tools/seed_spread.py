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
against itself in another precision or conv path.

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
T_CRITICAL_5PCT = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26}


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
    pairs = [(a, b) for a, b in PAIRS if all(a in g and b in g for _, g in runs)]
    print(f"| seed folder | configs | {' | '.join(f'{a} − {b}: mean, rms' for a, b in pairs)} |")
    print("| --- | ---: |" + " ---: |" * len(pairs))
    per_seed = {p: [] for p in pairs}
    per_seed_rms = {p: [] for p in pairs}
    for d, grids in runs:
        keys = set.intersection(*(set(g) for g in grids.values()))
        if not keys:
            print(f"{d}: no config in every run", file=sys.stderr)
            return 1
        cells = []
        for a, b in pairs:
            diffs = [grids[a][k] - grids[b][k] for k in keys]
            per_seed[(a, b)].append(mean(diffs))
            per_seed_rms[(a, b)].append(rms(diffs))
            cells.append(f"{per_seed[(a, b)][-1]:+.2f}, {per_seed_rms[(a, b)][-1]:.2f}")
        print(f"| {pathlib.Path(d).name} | {len(keys)} | {' | '.join(cells)} |")
    print()
    print("| difference | mean over seeds | sd over seeds | t of the mean | per-config rms, mean over seeds |")
    print("| --- | ---: | ---: | ---: | ---: |")
    n = len(runs)
    for a, b in pairs:
        m = mean(per_seed[(a, b)])
        s = sd(per_seed[(a, b)]) if n > 1 else 0.0
        spread = f"{s:.2f} | {m / (s / math.sqrt(n)):+.1f}" if s > 0 else "– | –"
        print(f"| {a} − {b} | {m:+.2f} | {spread} | {mean(per_seed_rms[(a, b)]):.2f} |")
    if n - 1 in T_CRITICAL_5PCT:
        print(f"\n{n} seeds, {epochs} epochs. |t| above {T_CRITICAL_5PCT[n - 1]} ({n - 1} degrees "
              "of freedom, two-sided 5%) would say a mean difference is not rounding luck.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
