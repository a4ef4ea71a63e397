#!/usr/bin/env python3
"""PyTorch → reference fixtures for slimmable's tests (tests/fixtures/).

Each operator family has its own module beside this file, `reference_<family>.py`,
with a `make(out_dir, seed)` function that writes small safetensors files
(inputs, outputs, gradients) computed by PyTorch in float64 and stored as
float32. Tests never need PyTorch: the fixtures are committed.

Usage: python3 tools/make_reference.py [--out tests/fixtures] [--only FAMILY]
"""
import argparse
import importlib
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent


def families():
    return sorted(p.stem[len("reference_"):] for p in HERE.glob("reference_*.py"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(HERE.parent / "tests" / "fixtures"))
    ap.add_argument("--only", choices=families())
    ap.add_argument("--seed", type=int, default=20261126)
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(HERE))
    for fam in families():
        if args.only and fam != args.only:
            continue
        mod = importlib.import_module(f"reference_{fam}")
        written = mod.make(out, args.seed)
        for path in written:
            print(f"{fam}: wrote {path}")


if __name__ == "__main__":
    main()
