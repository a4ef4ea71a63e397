#!/usr/bin/env python3
"""PyTorch timings for the shapes `slimmable bench` runs, on the same GPU.

Writes JSON {"device": ..., "torch": ..., "cases": {"family/case": {"ms": x}}};
pass it to `slimmable bench --torch FILE`. Case names must match src/bench/.
Medians of CUDA-event timings after warm-up. Also measures the device's copy
bandwidth (bytes read + written) as the roofline for memory-bound cases,
and, beside it, what writes alone reach: a 512 MiB fill, and a fill of the
224-px resize bench's output arena (the floor under its time).

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
        # One untimed call first, so the timed one is queued behind it and
        # the first launch's latency at an idle GPU is not counted (as
        # CudaBackend::time_ms does).
        fn()
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return times[len(times) // 2]


def time_graphed_ms(fn, iters):
    """fn's time with PyTorch's host work taken out: fn captured once in a
    CUDA graph (after warm-up on a side stream, as torch.cuda.graph needs)
    and the replay timed as time_ms times fn. Eager timings of a pass that
    launches several kernels include the host's gaps between them whenever
    the host is slower than the GPU, which moves with the machine (run 10
    against run 11: the same sliced training pass 0.556 and 0.298 ms).
    None, with the reason printed, where capture fails."""
    try:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                fn()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            fn()
        return time_ms(graph.replay, iters)
    except Exception as e:  # noqa: BLE001 (a missing row, not a failed script)
        print(f"graph capture failed, no graphed row: {e}")
        return None


def bench_copy(iters):
    x = torch.randn(64, 256, 56, 56, device="cuda")
    return {"copy/slice_64x128of256x56x56": time_ms(lambda: x[:, :128].contiguous(), iters)}


def make_divisible(v, divisor=8):
    r = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return r + divisor if r < 0.9 * v else r


# Mirrors src/bench/conv.rs: (name, ic, oc, k, stride, hw at 224, depthwise, fixed input)
CONV_SUITE = [
    ("res3x3", 128, 128, 3, 1, 28, False, False),
    ("pw1x1", 64, 384, 1, 1, 14, False, False),
    ("dw3x3_a", 384, 384, 3, 1, 14, True, False),
    ("dw3x3_b", 144, 144, 3, 1, 56, True, False),
    ("stem", 3, 32, 3, 2, 224, False, True),
]


def bench_conv(iters):
    """Forward (TF32 and exact f32) through the sliced weight w[:oc, :ic], and
    the training pass (forward + dgrad + wgrad into the full parameter's
    .grad through the slice) at TF32, beside the same with a pre-copied
    contiguous weight."""
    import torch.nn.functional as F
    out = {}
    n = 64
    for name, ic_full, oc_full, k, stride, hw224, dw, fixed in CONV_SUITE:
        for width in (1.0, 0.5, 0.25):
            for res in (224, 128):
                ic = ic_full if fixed else make_divisible(ic_full * width)
                oc = make_divisible(oc_full * width)
                hw = hw224 * res // 224
                label = f"conv/{name}_w{width:.2f}_r{res}"
                groups = ic if dw else 1
                w_full = torch.randn(oc_full, 1 if dw else ic_full, k, k, device="cuda", requires_grad=True)
                # The image needs no gradient: no dgrad for the stem.
                x = torch.randn(n, ic, hw, hw, device="cuda", requires_grad=not fixed)
                pad = k // 2

                def sliced():
                    return w_full[:oc] if dw else w_full[:oc, :ic]

                with torch.no_grad():
                    y0 = F.conv2d(x, sliced(), stride=stride, padding=pad, groups=groups)
                dy = torch.randn_like(y0)
                precisions = [("fwd", True)] if dw else [("fwd_tf32", True), ("fwd_f32", False)]
                for tag, tf32 in precisions:
                    torch.backends.cudnn.allow_tf32 = tf32
                    with torch.no_grad():
                        out[f"{label}/{tag}"] = time_ms(
                            lambda: F.conv2d(x, sliced(), stride=stride, padding=pad, groups=groups), iters)
                torch.backends.cudnn.allow_tf32 = True
                if not dw:
                    # BF16: the activation and the full weight converted once
                    # outside the timing, sliced inside it (as the f32 rows).
                    xb, wb = x.detach().bfloat16(), w_full.detach().bfloat16()
                    with torch.no_grad():
                        out[f"{label}/fwd_bf16"] = time_ms(
                            lambda: F.conv2d(xb, wb[:oc, :ic], stride=stride, padding=pad), iters)

                def train_sliced():
                    y = F.conv2d(x, sliced(), stride=stride, padding=pad, groups=groups)
                    y.backward(dy)

                w_c = sliced().detach().contiguous().requires_grad_()

                def train_contig():
                    y = F.conv2d(x, w_c, stride=stride, padding=pad, groups=groups)
                    y.backward(dy)

                out[f"{label}/train"] = time_ms(train_sliced, iters)
                out[f"{label}/train_contig"] = time_ms(train_contig, iters)
                # The same without PyTorch's host overhead (extra keys: the
                # Rust bench compares against the eager rows above).
                for key, fn in (("train_graphed", train_sliced), ("train_contig_graphed", train_contig)):
                    ms = time_graphed_ms(fn, iters)
                    if ms is not None:
                        out[f"{label}/{key}"] = ms
    return out


def matmul_tflops(iters, tf32, dtype=torch.float32):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    a = torch.randn(8192, 8192, device="cuda", dtype=dtype)
    b = torch.randn(8192, 8192, device="cuda", dtype=dtype)
    ms = time_ms(lambda: a @ b, max(3, iters // 5))
    torch.backends.cuda.matmul.allow_tf32 = True
    return 2 * 8192**3 / (ms * 1e-3) / 1e12


def bench_resize(iters):
    """PyTorch's input pipeline for the shapes of src/bench/resize.rs: permute
    the u8 NHWC batch, float, normalize, then one interpolate per smaller
    resolution (the full resolution is the normalized tensor itself)."""
    import torch.nn.functional as F

    def pipeline(x, mean, std, sizes, align_corners, antialias):
        t = x.permute(0, 3, 1, 2).float().div_(255).sub_(mean).div_(std)
        return [t] + [F.interpolate(t, size=(s, s), mode="bilinear",
                                    align_corners=align_corners, antialias=antialias)
                      for s in sizes[1:]]

    g = torch.Generator(device="cuda").manual_seed(0)
    out = {}
    rgb = torch.randint(0, 256, (256, 224, 224, 3), dtype=torch.uint8, device="cuda", generator=g)
    mean = torch.tensor([0.485, 0.456, 0.406], device="cuda").view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], device="cuda").view(1, 3, 1, 1)
    sizes = [224, 192, 160, 128]
    for suffix, aa in [("", False), ("_aa", True)]:
        out[f"resize/u8_256x224x224x3_to_224_192_160_128{suffix}"] = time_ms(
            lambda: pipeline(rgb, mean, std, sizes, False, aa), iters)
    gray = torch.randint(0, 256, (256, 28, 28, 1), dtype=torch.uint8, device="cuda", generator=g)
    m1 = torch.tensor([0.2860], device="cuda").view(1, 1, 1, 1)
    s1 = torch.tensor([0.3530], device="cuda").view(1, 1, 1, 1)
    out["resize/u8_256x28x28x1_to_28_24_20_16"] = time_ms(
        lambda: pipeline(gray, m1, s1, [28, 24, 20, 16], True, False), iters)
    return out


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


def write_bandwidth(iters):
    """Bytes written a second by a fill of 512 MiB: the resize-pack writes
    396 of its 435 minimal megabytes, so whether stores alone reach the copy
    bandwidth decides how near 60% of it a resize can get."""
    b = torch.empty(1 << 29, dtype=torch.uint8, device="cuda")
    ms = time_ms(lambda: b.fill_(1), iters)
    return b.numel() / (ms * 1e-3) / 1e9


def resize_arena_fill_ms(iters):
    """The 224-px resize bench's output arena (256 images, 3 channels, at
    224, 192, 160 and 128 px, f32) filled with a constant: the time of its
    writes alone, a floor under any resize that writes each output once."""
    pixels = sum(s * s for s in (224, 192, 160, 128))
    arena = torch.empty(256 * 3 * pixels, dtype=torch.float32, device="cuda")
    return time_ms(lambda: arena.fill_(0.5), iters)


BENCHES = [bench_copy, bench_conv, bench_resize, bench_bn]


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
    write_gbps = write_bandwidth(args.iters)
    arena_ms = resize_arena_fill_ms(args.iters)
    print(f"write bandwidth {write_gbps:.0f} GB/s; the 224-px resize arena filled in {arena_ms:.4f} ms")
    f32 = matmul_tflops(args.iters, tf32=False)
    tf32 = matmul_tflops(args.iters, tf32=True)
    bf16 = matmul_tflops(args.iters, tf32=True, dtype=torch.bfloat16)
    print(f"copy bandwidth {gbps:.0f} GB/s; 8192^3 matmul f32 {f32:.1f}, tf32 {tf32:.1f}, "
          f"bf16 {bf16:.1f} TFLOP/s")
    out = {
        "device": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "cudnn": torch.backends.cudnn.version(),
        "copy_gbps": gbps,
        "write_gbps": write_gbps,
        "resize_arena_fill_ms": arena_ms,
        "f32_tflops": f32,
        "tf32_tflops": tf32,
        "bf16_tflops": bf16,
        "cases": cases,
    }
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
