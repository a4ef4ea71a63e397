#!/usr/bin/env python3
"""The MutualNet recipe in PyTorch eager, for side-by-side speed and accuracy
against `slimmable train --preset fmnist-full` on the same GPU.

Same model (tools/reference_models.py: slimmable small-image MobileNetV2, 1
input channel, 10 classes, US-Nets' initialization), same step: full width
at 28 px with cross-entropy, then the smallest width and two random widths at
random resolutions from 28/24/20/16 distilled with KL(batchmean, T=1) from
the detached full logits; SGD Nesterov 0.9, weight decay 5e-4 on conv and
linear weights (not depthwise, BN or biases), cosine lr from 0.1 stepped per
iteration, batch 128.

With --data it also reproduces our data pipeline draw for draw (src/rng.rs's
SplitMix64 ported below): the epoch's shuffle, each iteration's sampled
widths and resolutions, each image's 2-px-padded random crop and flip;
bilinear align_corners=True resizing of the normalized crop; then per config
BN recalibration (cumulative average over 10 shuffled batches of 1000
training images) and top-1 on the test set. Only the initial weights differ
(different generators), so accuracies agree statistically, not bit for bit.

Usage:
  python3 tools/reference_trainer.py --iters 100 [--imagenet] [--out speed.json]
      speed only, random inputs (--imagenet: the ImageNet MobileNetV2 at 224
      px, widths 0.7-1.0, as `slimmable bench mutualnet`)
  python3 tools/reference_trainer.py --data DIR --epochs 12 [--mode alone]
      [--images-per-epoch N] [--eval-images N] --out accuracy.json
      DIR holds Fashion-MNIST's four IDX .gz files
"""
import argparse
import gzip
import json
import math
import pathlib
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import reference_models as rm  # noqa: E402

MASK = (1 << 64) - 1
MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST, as src/data/dataset.rs
RESOLUTIONS = [28, 24, 20, 16]
EVAL_WIDTHS = [0.25, 0.5, 0.75, 1.0]
WIDTH_MIN, WIDTH_MAX = 0.25, 1.0


class SplitMix64:
    """src/rng.rs, bit for bit."""

    def __init__(self, seed):
        self.state = seed & MASK

    def next_u64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def uniform(self):
        return (self.next_u64() >> 11) / float(1 << 53)

    def below(self, n):
        return self.next_u64() % max(n, 1)


def shuffled(count, seed, epoch):
    """BatchOrder::shuffled (src/data/loader.rs)."""
    rng = SplitMix64(seed ^ ((epoch * 0x9E3779B97F4A7C15) & MASK))
    idx = list(range(count))
    for i in range(count - 1, 0, -1):
        j = rng.below(i + 1)
        idx[i], idx[j] = idx[j], idx[i]
    return idx


def sample_configs(rng, mode, widths=(WIDTH_MIN, WIDTH_MAX), resolutions=RESOLUTIONS):
    """train::step::sample_configs: (width, resolution), teacher first."""
    lo, hi = widths
    if mode == "alone":
        return [(hi, resolutions[0])]
    out = [(hi, resolutions[0]), (lo, resolutions[rng.below(len(resolutions))])]
    for _ in range(2):
        w = lo + (hi - lo) * rng.uniform()
        out.append((w, resolutions[rng.below(len(resolutions))]))
    return out


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return torch.frombuffer(bytearray(data[4 + 4 * dims:]), dtype=torch.uint8).reshape(shape)


def load(data_dir, dev):
    d = pathlib.Path(data_dir)
    part = lambda name: read_idx(d / name).to(dev)  # noqa: E731
    return (part("train-images-idx3-ubyte.gz"), part("train-labels-idx1-ubyte.gz").long(),
            part("t10k-images-idx3-ubyte.gz"), part("t10k-labels-idx1-ubyte.gz").long())


def normalized(images_u8):
    return ((images_u8.float() / 255.0 - MEAN) / STD).unsqueeze(1)


def augmented_batch(images, idx, rng, dev, pad=2):
    """host_batch: per image (in batch order) top, left in 0..=2·pad, then the
    flip; zero-padded u8 crop, flipped, normalized."""
    tops, lefts, flips = [], [], []
    for _ in idx:
        tops.append(rng.below(2 * pad + 1))
        lefts.append(rng.below(2 * pad + 1))
        flips.append(rng.below(2) == 1)
    x = F.pad(images[torch.tensor(idx, device=dev)], (pad, pad, pad, pad))
    h, w = images.shape[1:]
    ar_h, ar_w = torch.arange(h, device=dev), torch.arange(w, device=dev)
    top = torch.tensor(tops, device=dev)[:, None]
    left = torch.tensor(lefts, device=dev)[:, None]
    flip = torch.tensor(flips, device=dev)[:, None]
    rows = top + ar_h[None, :]
    cols = left + torch.where(flip, (w - 1 - ar_w)[None, :], ar_w[None, :])
    b = torch.arange(len(idx), device=dev)[:, None, None]
    return normalized(x[b, rows[:, :, None], cols[:, None, :]])


def make_optimizer(net, lr, weight_decay=5e-4):
    decayed = rm.decayed_names(net)
    params = dict(net.named_parameters())
    return torch.optim.SGD(
        [{"params": [p for n, p in params.items() if n in decayed], "weight_decay": weight_decay},
         {"params": [p for n, p in params.items() if n not in decayed], "weight_decay": 0.0}],
        lr=lr, momentum=0.9, nesterov=True)


def set_lr(opt, base, i, total):
    """train::schedule::learning_rate without warm-up."""
    lr = 0.5 * base * (1.0 + math.cos(math.pi * i / max(total, 1)))
    for g in opt.param_groups:
        g["lr"] = lr


def mutualnet_step(net, opt, batch_for, y, configs):
    opt.zero_grad(set_to_none=True)
    (w0, r0), subs = configs[0], configs[1:]
    rm.set_width(net, w0)
    logits = net(batch_for(r0))
    ce = F.cross_entropy(logits, y)
    ce.backward()
    teacher = logits.detach()
    for w, r in subs:
        rm.set_width(net, w)
        out = net(batch_for(r))
        F.kl_div(F.log_softmax(out, 1), F.softmax(teacher, 1), reduction="batchmean").backward()
    opt.step()
    return ce.item()


def speed(args, dev):
    if args.imagenet:
        # src/bench/mutualnet.rs: ImageNet MobileNetV2, widths 0.7-1.0,
        # 224/192/160/128, inputs made once per resolution.
        cfg, widths, resolutions, wd = rm.mobilenet_v2_imagenet(), (0.7, 1.0), [224, 192, 160, 128], 4e-5
        channels, classes = 3, 1000
    else:
        cfg, widths, resolutions, wd = rm.mobilenet_v2_small_image(1, 10), (WIDTH_MIN, WIDTH_MAX), RESOLUTIONS, 5e-4
        channels, classes = 1, 10
    net = rm.build("slimmable_mobilenet_v2", cfg).to(dev).train()
    rm.reset_parameters(net)
    opt = make_optimizer(net, 0.1, wd)
    rng = SplitMix64(args.seed)
    x = torch.randn(args.batch, channels, resolutions[0], resolutions[0], device=dev)
    inputs = {r: rm.resize(x, r).contiguous() for r in resolutions}
    y = torch.randint(0, classes, (args.batch,), device=dev)

    def step(i):
        set_lr(opt, 0.1, i, args.iters)
        configs = sample_configs(rng, "mutualnet", widths, resolutions)
        mutualnet_step(net, opt, inputs.__getitem__, y, configs)

    cuda = dev == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    for i in range(5):
        step(i)
    sync()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for i in range(args.iters):
        step(i)
    sync()
    dt = time.perf_counter() - t0
    return {"device": torch.cuda.get_device_name() if cuda else "cpu", "torch": torch.__version__,
            "model": "imagenet" if args.imagenet else "small_image", "batch": args.batch,
            "ms_per_iteration": 1e3 * dt / args.iters,
            "images_per_s": args.iters * args.batch / dt,
            "peak_memory_bytes": torch.cuda.max_memory_allocated() if cuda else None}


@torch.no_grad()
def evaluate(net, train_x, test_x, test_y, args, dev):
    """Per config: recalibrate (train::evaluate::recalibrate's batches), then
    top-1 on the first --eval-images test images (0: all)."""
    rows = []
    n_test = test_x.shape[0] if args.eval_images == 0 else min(args.eval_images, test_x.shape[0])
    slot = 0
    for w in EVAL_WIDTHS:
        for r in RESOLUTIONS:
            rm.set_width(net, w)
            bns = [m for m in net.modules() if isinstance(m, rm.SlimBatchNorm2d)]
            for m in bns:
                m.reset_running_stats()
                m.momentum = None
            net.train()
            order = shuffled(train_x.shape[0], args.seed ^ 0x5EC0, slot)
            for k in range(args.recal_batches):
                idx = order[k * args.recal_batch_size:(k + 1) * args.recal_batch_size]
                if len(idx) < args.recal_batch_size:
                    break
                net(rm.resize(normalized(train_x[torch.tensor(idx, device=dev)]), r))
            net.eval()
            correct = 0
            for s in range(0, n_test, 256):
                x = rm.resize(normalized(test_x[s:min(s + 256, n_test)]), r)
                correct += (net(x).argmax(1) == test_y[s:s + x.shape[0]]).sum().item()
            rows.append({"width": w, "resolution": r, "top1": 100.0 * correct / n_test})
            print(f"  {w:.2f}x {r:2d}px  top-1 {rows[-1]['top1']:.2f}%", flush=True)
            slot += 1
    return rows


def train(args, dev):
    train_x, train_y, test_x, test_y = load(args.data, dev)
    torch.manual_seed(args.seed)
    net = rm.build("slimmable_mobilenet_v2", rm.mobilenet_v2_small_image(1, 10)).to(dev).train()
    rm.reset_parameters(net)
    opt = make_optimizer(net, 0.1)
    count = train_x.shape[0]
    per_epoch = count // args.batch
    if args.images_per_epoch:
        per_epoch = min(per_epoch, args.images_per_epoch // args.batch)
    total = per_epoch * args.epochs
    t0 = time.perf_counter()
    it = 0
    for epoch in range(args.epochs):
        order = shuffled(count, args.seed, epoch)
        for b in range(per_epoch):
            idx = order[b * args.batch:(b + 1) * args.batch]
            rng = SplitMix64(args.seed ^ ((it * 0x2545F4914F6CDD1D) & MASK))
            configs = sample_configs(rng, args.mode)
            x = augmented_batch(train_x, idx, rng, dev)
            y = train_y[torch.tensor(idx, device=dev)]
            cache = {}

            def batch_for(r):
                if r not in cache:
                    cache[r] = rm.resize(x, r)
                return cache[r]

            set_lr(opt, 0.1, it, total)
            ce = mutualnet_step(net, opt, batch_for, y, configs)
            it += 1
            if it % 100 == 0 or b + 1 == per_epoch:
                print(f"epoch {epoch + 1}/{args.epochs} iter {it}/{total} ce {ce:.4f} "
                      f"{it * args.batch / (time.perf_counter() - t0):.0f} img/s", flush=True)
    train_s = time.perf_counter() - t0
    rows = evaluate(net, train_x, test_x, test_y, args, dev)
    return {"device": torch.cuda.get_device_name() if dev == "cuda" else "cpu",
            "torch": torch.__version__, "mode": args.mode, "epochs": args.epochs,
            "iterations": total, "batch": args.batch, "seed": args.seed,
            "train_seconds": train_s, "configs": rows}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=100, help="speed mode: timed iterations")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--data", help="Fashion-MNIST directory: train and evaluate")
    ap.add_argument("--imagenet", action="store_true",
                    help="speed mode: the ImageNet MobileNetV2 iteration of src/bench/mutualnet.rs")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--images-per-epoch", type=int, default=0)
    ap.add_argument("--mode", choices=["mutualnet", "alone"], default="mutualnet")
    ap.add_argument("--eval-images", type=int, default=0)
    ap.add_argument("--recal-batches", type=int, default=10)
    ap.add_argument("--recal-batch-size", type=int, default=1000)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--out")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cuda.matmul.allow_tf32 = True
    # No cudnn.benchmark: random widths make new shapes every step, and
    # autotuning each one would charge PyTorch for the search.
    torch.backends.cudnn.benchmark = False
    res = train(args, args.device) if args.data else speed(args, args.device)
    print(json.dumps(res))
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
