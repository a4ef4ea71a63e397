#!/usr/bin/env python3
"""PyTorch timings for the shapes `slimmable bench` runs, on the same GPU.

Writes JSON {"device": ..., "torch": ..., "cases": {"family/case": {"ms": x}}};
pass it to `slimmable bench --torch FILE`. Case names must match src/bench/.
Medians of CUDA-event timings after warm-up. Also measures the device's copy
bandwidth (bytes read + written) as the roofline for memory-bound cases.

Usage: python3 tools/bench_torch.py --out torch.json [--iters 50]
"""
import argparse
import json

import torch


def time_ms(fn, iters):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return times[len(times) // 2]


def bench_copy(iters):
    x = torch.randn(64, 256, 56, 56, device="cuda")
    return {"copy/slice_64x128of256x56x56": time_ms(lambda: x[:, :128].contiguous(), iters)}


def bench_bn(iters):
    """Same cases as src/bench/norm.rs: BatchNorm2d training forward +
    backward, plain and followed by ReLU6 (PyTorch has no fused kernel: its
    time stands for both the fused and the separate rows)."""
    out = {}
    for n, c, hw in ((64, 32, 112), (64, 384, 14)):
        bn = torch.nn.BatchNorm2d(c).cuda().train()
        x = torch.randn(n, c, hw, hw, device="cuda", requires_grad=True)
        dy = torch.randn_like(x)
        tag = f"{n}x{c}x{hw}x{hw}"

        def plain():
            bn(x).backward(dy)

        def relu6():
            torch.nn.functional.relu6(bn(x)).backward(dy)

        out[f"bn/fwd_bwd_{tag}"] = time_ms(plain, iters)
        t = time_ms(relu6, iters)
        out[f"bn/relu6_fused_fwd_bwd_{tag}"] = t
        out[f"bn/relu6_separate_fwd_bwd_{tag}"] = t
    return out


def copy_bandwidth(iters):
    a = torch.empty(1 << 29, dtype=torch.uint8, device="cuda")  # 512 MiB
    b = torch.empty_like(a)
    ms = time_ms(lambda: b.copy_(a), iters)
    return 2 * a.numel() / (ms * 1e-3) / 1e9


BENCHES = [bench_copy, bench_bn]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--iters", type=int, default=50)
    args = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    cases = {}
    for b in BENCHES:
        for name, ms in b(args.iters).items():
            cases[name] = {"ms": ms}
            print(f"{name:<44} {ms:10.4f} ms")
    gbps = copy_bandwidth(args.iters)
    print(f"copy bandwidth {gbps:.0f} GB/s")
    out = {
        "device": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "cudnn": torch.backends.cudnn.version(),
        "copy_gbps": gbps,
        "cases": cases,
    }
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
