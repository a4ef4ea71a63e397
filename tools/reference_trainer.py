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
training images) and top-1 on the test set. Without --init only the initial
weights differ (different generators); with it, only rounding does. Either
way accuracies agree statistically, not bit for bit: rounding alone moved a
config by up to about a point in results/2026-11-27-same-init-cpu.

Usage:
  python3 tools/reference_trainer.py --iters 100 [--imagenet] [--out speed.json]
      speed only, random inputs (--imagenet: the ImageNet MobileNetV2 at 224
      px, widths 0.7-1.0, as `slimmable bench mutualnet`)
  python3 tools/reference_trainer.py --data DIR --epochs 12 [--mode alone]
      [--images-per-epoch N] [--eval-images N] --out accuracy.json
      DIR holds Fashion-MNIST's four IDX .gz files
  python3 tools/reference_trainer.py --data DIR --init CKPT --epochs N ...
      start from the weights of CKPT, a checkpoint `slimmable train --epochs 0
      --seed S` wrote, and take the whole recipe (model, widths, resolutions,
      batch, lr, schedule, augmentation, recalibration, seed) from its
      optimizer state's train_config; --epochs, --images-per-epoch and
      --eval-images still apply when given. `slimmable train --epochs N
      --seed S` with the same preset then starts from the same weights, so
      the two runs differ only by floating-point rounding.
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

    def random_res():
        return resolutions[rng.below(len(resolutions))]

    if mode == "alone":
        return [(hi, resolutions[0])]
    if mode == "alone-random-res":
        return [(hi, random_res())]
    if mode not in ("mutualnet", "usnet"):
        raise ValueError(f"mode '{mode}' is not mutualnet, usnet, alone or alone-random-res")

    def res():
        return resolutions[0] if mode == "usnet" else random_res()

    out = [(hi, resolutions[0]), (lo, res())]
    for _ in range(2):
        w = lo + (hi - lo) * rng.uniform()
        out.append((w, res()))
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


def normalized(images_u8, mean=MEAN, std=STD):
    x = images_u8.to(torch.get_default_dtype())  # float64 with --float64
    return ((x / 255.0 - mean) / std).unsqueeze(1)


def augmented_batch(images, idx, rng, dev, pad=2, flip=True, mean=MEAN, std=STD):
    """host_batch: per image (in batch order) top, left in 0..=2·pad (drawn
    only when pad > 0), then the flip (drawn only when flips are on);
    zero-padded u8 crop, flipped, normalized."""
    tops, lefts, flips = [], [], []
    for _ in idx:
        tops.append(rng.below(2 * pad + 1) if pad else 0)
        lefts.append(rng.below(2 * pad + 1) if pad else 0)
        flips.append(flip and rng.below(2) == 1)
    x = F.pad(images[torch.tensor(idx, device=dev)], (pad, pad, pad, pad))
    h, w = images.shape[1:]
    ar_h, ar_w = torch.arange(h, device=dev), torch.arange(w, device=dev)
    top = torch.tensor(tops, device=dev)[:, None]
    left = torch.tensor(lefts, device=dev)[:, None]
    flip = torch.tensor(flips, device=dev)[:, None]
    rows = top + ar_h[None, :]
    cols = left + torch.where(flip, (w - 1 - ar_w)[None, :], ar_w[None, :])
    b = torch.arange(len(idx), device=dev)[:, None, None]
    return normalized(x[b, rows[:, :, None], cols[:, None, :]], mean, std)


def make_optimizer(net, lr, weight_decay=5e-4, momentum=0.9, nesterov=True):
    decayed = rm.decayed_names(net)
    params = dict(net.named_parameters())
    return torch.optim.SGD(
        [{"params": [p for n, p in params.items() if n in decayed], "weight_decay": weight_decay},
         {"params": [p for n, p in params.items() if n not in decayed], "weight_decay": 0.0}],
        lr=lr, momentum=momentum, nesterov=nesterov)


def learning_rate(base, i, total, warmup=0):
    """train::schedule::learning_rate: linear warm-up, then cosine to zero."""
    if total == 0:
        return base
    if i < warmup:
        return base * (i + 1) / warmup
    t = (i - warmup) / max(total - warmup, 1)
    return 0.5 * base * (1.0 + math.cos(math.pi * t))


def set_lr(opt, base, i, total, warmup=0):
    lr = learning_rate(base, i, total, warmup)
    for g in opt.param_groups:
        g["lr"] = lr
    return lr


def mutualnet_step(net, opt, batch_for, y, configs):
    ce = mutualnet_backward(net, opt, batch_for, y, configs)
    opt.step()
    return ce


def mutualnet_backward(net, opt, batch_for, y, configs):
    """The step's four backward passes into fresh gradients, no update; the
    full config's cross-entropy."""
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
def evaluate(net, train_x, test_x, test_y, rc, dev):
    """Per config: recalibrate (train::evaluate::recalibrate's batches), then
    top-1 on the first eval_images test images (0: all)."""
    rows = []
    n_test = test_x.shape[0] if rc["eval_images"] == 0 else min(rc["eval_images"], test_x.shape[0])
    mean, std = rc["mean"], rc["std"]
    slot = 0
    for w in rc["eval_widths"]:
        for r in rc["resolutions"]:
            rm.set_width(net, w)
            bns = [m for m in net.modules() if isinstance(m, rm.SlimBatchNorm2d)]
            for m in bns:
                m.reset_running_stats()
                m.momentum = None
            net.train()
            order = shuffled(train_x.shape[0], rc["seed"] ^ 0x5EC0, slot)
            size = rc["recal_batch_size"]
            for k in range(rc["recal_batches"]):
                idx = order[k * size:(k + 1) * size]
                if len(idx) < size:
                    break
                net(rm.resize(normalized(train_x[torch.tensor(idx, device=dev)], mean, std), r))
            net.eval()
            correct = 0
            for s in range(0, n_test, 256):
                x = rm.resize(normalized(test_x[s:min(s + 256, n_test)], mean, std), r)
                correct += (net(x).argmax(1) == test_y[s:s + x.shape[0]]).sum().item()
            rows.append({"width": w, "resolution": r, "top1": 100.0 * correct / n_test})
            print(f"  {w:.2f}x {r:2d}px  top-1 {rows[-1]['top1']:.2f}%", flush=True)
            slot += 1
    return rows


def recipe(args):
    """The training recipe: issue 7's (fmnist-full) from the arguments, or,
    with --init, the train_config our trainer stored beside the checkpoint."""
    rc = {"model_cfg": rm.mobilenet_v2_small_image(1, 10), "dataset": "fashion-mnist",
          "batch": args.batch, "epochs": 12, "images_per_epoch": 0, "lr": 0.1,
          "momentum": 0.9, "weight_decay": 5e-4, "nesterov": True, "warmup_epochs": 0,
          "pad": 2, "flip": True, "seed": args.seed, "widths": (WIDTH_MIN, WIDTH_MAX),
          "resolutions": RESOLUTIONS, "eval_widths": EVAL_WIDTHS, "mode": args.mode,
          "recal_batches": args.recal_batches, "recal_batch_size": args.recal_batch_size,
          "eval_images": 0}
    if args.init:
        from safetensors import safe_open
        opt_path = pathlib.Path(args.init + ".optimizer")
        if not opt_path.exists():
            sys.exit(f"{opt_path}: missing; --init takes a checkpoint written by "
                     "`slimmable train` (its optimizer state holds the recipe)")
        with safe_open(str(opt_path), "pt") as f:
            tc = json.loads(f.metadata()["train_config"])
        rc.update({"model_cfg": tc["model_config"], "dataset": tc["dataset"],
                   "batch": tc["batch_size"], "epochs": tc["epochs"],
                   "images_per_epoch": tc["images_per_epoch"], "lr": tc["lr"],
                   "momentum": tc["momentum"], "weight_decay": tc["weight_decay"],
                   "nesterov": tc["nesterov"], "warmup_epochs": tc["warmup_epochs"],
                   "pad": tc["crop_padding"], "flip": tc["flip"], "seed": tc["seed"],
                   "widths": (tc["width_min"], tc["width_max"]),
                   "resolutions": tc["resolutions"], "eval_widths": tc["eval_widths"],
                   "mode": tc["mode"], "recal_batches": tc["recal_batches"],
                   "recal_batch_size": tc["recal_batch_size"],
                   "eval_images": tc["eval_images"]})
    for key in ("epochs", "images_per_epoch", "eval_images"):
        if getattr(args, key) is not None:
            rc[key] = getattr(args, key)
    rc["mean"], rc["std"] = (MEAN, STD) if rc["dataset"] == "fashion-mnist" else (0.1307, 0.3081)
    return rc


def train(args, dev):
    rc = recipe(args)
    train_x, train_y, test_x, test_y = load(args.data, dev)
    if args.init:
        net, _, _ = rm.load_checkpoint(args.init)
        net = net.to(dev).train()
    else:
        torch.manual_seed(rc["seed"])
        net = rm.build("slimmable_mobilenet_v2", rc["model_cfg"]).to(dev).train()
        rm.reset_parameters(net)
    opt = make_optimizer(net, rc["lr"], rc["weight_decay"], rc["momentum"], rc["nesterov"])
    count, batch, seed = train_x.shape[0], rc["batch"], rc["seed"]
    per_epoch = count // batch
    if rc["images_per_epoch"]:
        per_epoch = min(per_epoch, rc["images_per_epoch"] // batch)
    total = per_epoch * rc["epochs"]
    warmup = per_epoch * rc["warmup_epochs"]
    t0 = time.perf_counter()
    it = 0
    losses = []
    stop = args.stop_after or total
    for epoch in range(rc["epochs"]):
        if it >= stop:
            break
        order = shuffled(count, seed, epoch)
        for b in range(per_epoch):
            if it >= stop:
                break
            idx = order[b * batch:(b + 1) * batch]
            rng = SplitMix64(seed ^ ((it * 0x2545F4914F6CDD1D) & MASK))
            configs = sample_configs(rng, rc["mode"], rc["widths"], rc["resolutions"])
            x = augmented_batch(train_x, idx, rng, dev, rc["pad"], rc["flip"], rc["mean"], rc["std"])
            y = train_y[torch.tensor(idx, device=dev)]
            cache = {}

            def batch_for(r):
                if r not in cache:
                    cache[r] = rm.resize(x, r)
                return cache[r]

            set_lr(opt, rc["lr"], it, total, warmup)
            ce = mutualnet_step(net, opt, batch_for, y, configs)
            losses.append(ce)
            it += 1
            if it % 100 == 0 or b + 1 == per_epoch:
                print(f"epoch {epoch + 1}/{rc['epochs']} iter {it}/{total} ce {ce:.4f} "
                      f"{it * batch / (time.perf_counter() - t0):.0f} img/s", flush=True)
    train_s = time.perf_counter() - t0
    # Stopped early (--stop-after): the loss curve only; a partly trained
    # network's grid would not be the recipe's.
    rows = evaluate(net, train_x, test_x, test_y, rc, dev) if it == total else []
    return {"device": torch.cuda.get_device_name() if dev == "cuda" else "cpu",
            "torch": torch.__version__, "mode": rc["mode"], "epochs": rc["epochs"],
            "iterations": total, "batch": batch, "seed": seed, "init": args.init,
            "dtype": str(torch.get_default_dtype()), "mkldnn": torch.backends.mkldnn.enabled,
            "train_seconds": train_s, "ce_per_iteration": losses, "configs": rows}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=100, help="speed mode: timed iterations")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--data", help="Fashion-MNIST directory: train and evaluate")
    ap.add_argument("--imagenet", action="store_true",
                    help="speed mode: the ImageNet MobileNetV2 iteration of src/bench/mutualnet.rs")
    ap.add_argument("--epochs", type=int, help="default 12, or the --init recipe's")
    ap.add_argument("--images-per-epoch", type=int, help="default all, or the --init recipe's")
    ap.add_argument("--mode", choices=["mutualnet", "usnet", "alone", "alone-random-res"], default="mutualnet")
    ap.add_argument("--eval-images", type=int, help="default all, or the --init recipe's")
    ap.add_argument("--float64", action="store_true",
                    help="train and evaluate in float64 (a higher-precision run to tell "
                         "rounding-driven divergence from a systematic difference)")
    ap.add_argument("--no-mkldnn", action="store_true",
                    help="CPU: convolutions without oneDNN (PyTorch's other CPU path): the same "
                         "float32 recipe with other rounding, a second rounding-only sample")
    ap.add_argument("--init", help="a checkpoint of `slimmable train --epochs 0`: its weights "
                    "and recipe")
    ap.add_argument("--stop-after", type=int,
                    help="stop after this many iterations of the recipe's schedule (the "
                         "schedule still spans every epoch) and skip the evaluation: the first "
                         "iterations' losses, to set beside `slimmable train --log-every 1`")
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
    if args.float64:
        torch.set_default_dtype(torch.float64)
    if args.no_mkldnn:
        torch.backends.mkldnn.enabled = False
    res = train(args, args.device) if args.data else speed(args, args.device)
    print(json.dumps(res))
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
