#!/usr/bin/env python3
"""How a longer schedule moves MutualNet's gap to configs trained alone,
paired by seed.

A seed fixes the initial weights and data order, so each seed's gap
(MutualNet − alone, at the full 1.0x / 28 px and the smallest 0.25x /
16 px config) at E1 epochs pairs with its gap at E2 epochs. Pairing
narrows the change's interval only as far as a seed's gaps at the two
lengths move together; on the fmnist-small seeds 0-4 they hardly did
(correlation about 0.1), so the paired interval is about as wide as the
unpaired one. With the random-resolution runs (`train --mode alone-random-res`)
also given, it splits the smallest config's change the way
tools/random_res_gap.py splits the gap: MutualNet − mix-trained (what
sharing and distillation give back) and mix-trained − 16-px-only (what
the resolution mix costs).

Each SEED=DIR_E1:DIR_E2[:RANDOM_RES_DIR_E1:RANDOM_RES_DIR_E2] names one
seed's folders as scripts/cpu-alone-seeds.sh leaves them
(mutualnet-<E>ep/, alone-w1.0-r28-<E>ep/, alone-w0.25-r16-<E>ep/,
alone-random-res-w0.25-<E>ep/, each with its results.json).

Every results.json read must hold the seed its label names, the epochs
of its schedule and one dataset for all: a folder given under the wrong
label or length is an error, not a silent mispairing.

Usage: python3 tools/schedule_change_seeds.py E1 E2 SEED=D1:D2[:R1:R2] ...
"""
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from alone_gap_seeds import CONFIGS, top1  # noqa: E402
from random_res_gap import interval  # noqa: E402


DATASETS = set()


def checked(path, seed, epochs):
    """`path`, once its run's settings match the seed and schedule given."""
    if not path.is_file():
        sys.exit(f"{path}: no such run (run scripts/cpu-alone-seeds.sh for it, or fix the folder given)")
    cfg = json.loads(path.read_text())["run"]["config"]
    if str(cfg["seed"]) != seed or str(cfg["epochs"]) != epochs:
        sys.exit(f"{path}: seed {cfg['seed']}, {cfg['epochs']} epochs; given as seed {seed} at {epochs} epochs")
    DATASETS.add(cfg["dataset"])
    if len(DATASETS) > 1:
        sys.exit(f"{path}: runs of more than one dataset given ({', '.join(sorted(DATASETS))})")
    return path


def gap(folder, seed, epochs, width, resolution, alone):
    ours = checked(folder / f"mutualnet-{epochs}ep/results.json", seed, epochs)
    twin = checked(folder / alone.format(e=epochs) / "results.json", seed, epochs)
    return top1(ours, width, resolution) - top1(twin, width, resolution)


def split(folder, random_folder, seed, epochs):
    """(MutualNet − mix-trained, mix-trained − 16-px-only) at 0.25x / 16 px."""
    w, r, alone = CONFIGS[1]
    ours = top1(checked(folder / f"mutualnet-{epochs}ep/results.json", seed, epochs), w, r)
    mixed_path = random_folder / f"alone-random-res-w{w:g}-{epochs}ep/results.json"
    mixed = top1(checked(mixed_path, seed, epochs), w, r)
    twin = top1(checked(folder / alone.format(e=epochs) / "results.json", seed, epochs), w, r)
    return ours - mixed, mixed - twin


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    e1, e2 = sys.argv[1], sys.argv[2]
    seeds, changes = [], {}
    for arg in sys.argv[3:]:
        seed, _, dirs = arg.partition("=")
        parts = [pathlib.Path(p) for p in dirs.split(":")]
        if len(parts) not in (2, 4):
            sys.exit(f"'{arg}': give SEED=DIR_E1:DIR_E2 or SEED=DIR_E1:DIR_E2:RANDOM_RES_E1:RANDOM_RES_E2")
        if seed in seeds:
            sys.exit(f"seed {seed} given twice")
        seeds.append(seed)
        for w, r, alone in CONFIGS:
            g1, g2 = gap(parts[0], seed, e1, w, r, alone), gap(parts[1], seed, e2, w, r, alone)
            changes.setdefault(f"{w:g}× / {r} px: MutualNet − alone", []).append((g1, g2))
        if len(parts) == 4:
            (m1, c1), (m2, c2) = split(parts[0], parts[2], seed, e1), split(parts[1], parts[3], seed, e2)
            changes.setdefault("0.25× / 16 px: MutualNet − mix-trained", []).append((m1, m2))
            changes.setdefault("0.25× / 16 px: mix-trained − 16-px-only", []).append((c1, c2))
    print(f"{', '.join(sorted(DATASETS))}, seeds {', '.join(seeds)}; points of top-1; change = at {e2} epochs − at {e1}")
    print()
    print(f"| difference | at {e1} epochs | at {e2} epochs | change, per seed | mean change (95% interval) |")
    print("| --- | --- | --- | --- | --- |")
    for name, pairs in changes.items():
        if len(pairs) != len(seeds):
            print(f"| {name} | given for {len(pairs)} of {len(seeds)} seeds: not paired | | | |")
            continue
        first = ", ".join(f"{a:+.2f}" for a, _ in pairs)
        second = ", ".join(f"{b:+.2f}" for _, b in pairs)
        moved = [b - a for a, b in pairs]
        per_seed = ", ".join(f"{m:+.2f}" for m in moved)
        print(f"| {name} | {first} | {second} | {per_seed} | {interval(moved)} |")


if __name__ == "__main__":
    main()
