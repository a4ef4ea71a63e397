#!/usr/bin/env python3
"""The MutualNet recipe in PyTorch eager, for side-by-side speed (and, with
--data, accuracy) against `slimmable train` on the same GPU.

Same model as `slimmable train --preset fmnist-full` (tools/reference_models.py:
slimmable small-image MobileNetV2, 1 input channel, 10 classes), same step:
full width at 28 px with cross-entropy, then the smallest width and two
random widths at random resolutions from 28/24/20/16 distilled with
KL(batchmean, T=1) from the detached full logits; SGD Nesterov 0.9, weight
decay 5e-4 on conv/linear weights, cosine lr from 0.1, batch 128.

Usage: python3 tools/reference_trainer.py --iters 100 [--out speed.json]
Without data it times iterations on random inputs (speed only).
"""
import argparse
import json
import pathlib
import random
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import reference_models as rm  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=100)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--out")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cuda.matmul.allow_tf32 = True
    # No cudnn.benchmark: random widths make new shapes every step, and
    # autotuning each one would charge PyTorch for the search.
    torch.backends.cudnn.benchmark = False
    dev = "cuda"
    net = rm.build("slimmable_mobilenet_v2", rm.mobilenet_v2_small_image(1, 10)).to(dev).train()
    decayed = rm.decayed_names(net)
    params = dict(net.named_parameters())
    opt = torch.optim.SGD(
        [{"params": [p for n, p in params.items() if n in decayed], "weight_decay": 5e-4},
         {"params": [p for n, p in params.items() if n not in decayed], "weight_decay": 0.0}],
        lr=0.1, momentum=0.9, nesterov=True)
    resolutions = [28, 24, 20, 16]
    x = torch.randn(args.batch, 1, 28, 28, device=dev)
    y = torch.randint(0, 10, (args.batch,), device=dev)

    def step(i, total):
        lr = 0.5 * 0.1 * (1 + torch.cos(torch.tensor(3.141592653589793 * i / total))).item()
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad(set_to_none=True)
        rm.set_width(net, 1.0)
        logits = net(x)
        F.cross_entropy(logits, y).backward()
        teacher = logits.detach()
        for w in [0.25, random.uniform(0.25, 1.0), random.uniform(0.25, 1.0)]:
            rm.set_width(net, w)
            out = net(rm.resize(x, random.choice(resolutions)))
            F.kl_div(F.log_softmax(out, 1), F.softmax(teacher, 1), reduction="batchmean").backward()
        opt.step()

    for i in range(5):
        step(i, args.iters)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for i in range(args.iters):
        step(i, args.iters)
    torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    res = {"device": torch.cuda.get_device_name(), "torch": torch.__version__,
           "ms_per_iteration": 1e3 * dt / args.iters,
           "images_per_s": args.iters * args.batch / dt,
           "peak_memory_bytes": torch.cuda.max_memory_allocated()}
    print(json.dumps(res))
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
