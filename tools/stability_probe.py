#!/usr/bin/env python3
"""The first iterations of the fmnist-full recipe in PyTorch eager, with the
numbers that say whether a learning-rate schedule trains or blows up: the
full config's cross-entropy every iteration, the whole gradient's norm and
the stem's weight norm (the stem is followed by batch norm, so its weights'
scale sets its effective step: lr / |w|^2).

Same model, initialization, data order, crops, flips and sampled configs as
tools/reference_trainer.py (it imports them); the schedule is the trainer's
(linear warm-up, then cosine over --epochs).

  python3 tools/stability_probe.py --data /usr/share/datasets/fashion-mnist \
      --lr 0.05 --warmup-iters 468 --iters 470 --out probe.json
  python3 tools/stability_probe.py --ratios ...   # per-tensor lr·|g|/|w|, iteration 0
"""
import argparse
import json
import math
import pathlib
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import reference_models as rm  # noqa: E402
import reference_trainer as rt  # noqa: E402


def stem_weight(net):
    return net.features[0][0].weight


def probe(args):
    train_x, train_y, _, _ = rt.load(args.data, "cpu")
    torch.manual_seed(args.seed)
    net = rm.build("slimmable_mobilenet_v2", rm.mobilenet_v2_small_image(1, 10)).train()
    rm.reset_parameters(net)
    opt = rt.make_optimizer(net, args.lr, 5e-4, 0.9, True)
    per_epoch = train_x.shape[0] // args.batch
    total = per_epoch * args.epochs
    rows = []
    for it in range(args.iters):
        epoch, b = divmod(it, per_epoch)
        if b == 0:
            order = rt.shuffled(train_x.shape[0], args.seed, epoch)
        idx = order[b * args.batch:(b + 1) * args.batch]
        rng = rt.SplitMix64(args.seed ^ ((it * 0x2545F4914F6CDD1D) & rt.MASK))
        configs = rt.sample_configs(rng, "mutualnet")
        x = rt.augmented_batch(train_x, idx, rng, "cpu")
        y = train_y[torch.tensor(idx)]
        cache = {}

        def batch_for(r):
            if r not in cache:
                cache[r] = rm.resize(x, r)
            return cache[r]

        lr = rt.set_lr(opt, args.lr, it, total, args.warmup_iters)
        if args.ratios and it == 0:
            return ratios(net, batch_for, y, configs, args.lr)
        # The step's gradients, read before the update.
        ce = rt.mutualnet_backward(net, opt, batch_for, y, configs)
        grad = math.sqrt(sum(float((p.grad ** 2).sum()) for p in net.parameters() if p.grad is not None))
        opt.step()
        rows.append({"iteration": it + 1, "lr": lr, "ce": ce, "grad_norm": grad,
                     "stem_norm": float(stem_weight(net).norm())})
        if (it + 1) % 10 == 0:
            last = rows[-10:]
            print(f"iter {it + 1} lr {lr:.4f} ce max/last {max(r['ce'] for r in last):.2f}/"
                  f"{last[-1]['ce']:.2f} grad {grad:.2f} stem |w| {rows[-1]['stem_norm']:.2f}",
                  flush=True)
    return {"lr": args.lr, "warmup_iters": args.warmup_iters, "epochs": args.epochs,
            "seed": args.seed, "iterations": rows}


def ratios(net, batch_for, y, configs, lr):
    """lr·|g|/max(|w|, 1) per tensor after the full config's backward."""
    (w0, r0), _ = configs[0], configs[1:]
    rm.set_width(net, w0)
    F.cross_entropy(net(batch_for(r0)), y).backward()
    rows = sorted(((lr * float(p.grad.norm()) / max(float(p.norm()), 1.0), n)
                   for n, p in net.named_parameters()), reverse=True)
    for r, n in rows[:10]:
        print(f"{r:.3f} {n}")
    return {"lr": lr, "ratios": [{"name": n, "ratio": r} for r, n in rows]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--warmup-iters", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=12, help="the schedule's length")
    ap.add_argument("--iters", type=int, default=100)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ratios", action="store_true")
    ap.add_argument("--out")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    res = probe(args)
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
