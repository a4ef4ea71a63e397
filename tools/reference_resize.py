"""Fixtures for resize_pack: torch.nn.functional.interpolate in float64.

Each file `resize_<name>.safetensors` holds the source images (`img0, img1,
...` one image each, or `images` as a batch; u8 formats as float values
0..255), the expected outputs `expect0, expect1, ...` ([count, C, h, w],
computed in float64, stored as float32) and, in the metadata, `params`: the
JSON that `slimmable op --op resize_pack --params` takes. The reference
normalizes first (as a PyTorch input pipeline does: float, /255, -mean,
/std), then interpolates the crop, then flips (torchvision's order); the
MutualNet order interpolates to the full resolution, flips, then bilinear
align_corners=True from there, as the official MutualNet code does.
"""
import json

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

FILTERS = [
    # name, filter, align_corners, antialias
    ("nearest", "nearest", False, False),
    ("bilinear", "bilinear", False, False),
    ("bilinear_ac", "bilinear", True, False),
    ("antialias", "bilinear", False, True),
    ("antialias_ac", "bilinear", True, True),
]


def interp(x, size, p):
    if p["filter"] == "nearest":
        return F.interpolate(x, size=size, mode="nearest")
    return F.interpolate(x, size=size, mode="bilinear",
                         align_corners=p["align_corners"], antialias=p["antialias"])


def reference(imgs, p):
    """imgs: list of float64 [C, H, W] tensors of raw values."""
    div = 1.0 if p["format"] == "f32" else 255.0
    mean = torch.tensor(p["mean"], dtype=torch.float64).view(1, -1, 1, 1)
    std = torch.tensor(p["std"], dtype=torch.float64).view(1, -1, 1, 1)
    n = len(imgs)
    crops = p.get("crops") or [None] * n
    flips = p.get("flips") or [False] * n
    outs = []
    for o in p["outputs"]:
        ys = []
        for i in o.get("images", range(n)):
            x = imgs[i][None]
            if crops[i] is not None:
                t, l, h, w = crops[i]
                x = x[..., t:t + h, l:l + w]
            x = (x / div - mean) / std
            if p.get("order", "direct") == "direct":
                y = interp(x, tuple(o["size"]), p)
                if flips[i]:
                    y = y.flip(-1)
            else:
                f = interp(x, tuple(p["full"]), p)
                if flips[i]:
                    f = f.flip(-1)
                y = F.interpolate(f, size=tuple(o["size"]), mode="bilinear", align_corners=True)
            ys.append(y)
        outs.append(torch.cat(ys).float().contiguous())
    return outs


def random_image(g, fmt, c, h, w):
    """Raw values as float64 [C, H, W], and the tensor to store (format order)."""
    if fmt == "f32":
        x = torch.randn(c, h, w, generator=g, dtype=torch.float32).double()
    else:
        x = torch.randint(0, 256, (c, h, w), generator=g).double()
    stored = x.permute(1, 2, 0) if fmt == "u8_hwc" else x
    return x, stored.float().contiguous()


def write(out_dir, name, tensors, p, seed):
    path = out_dir / f"resize_{name}.safetensors"
    meta = {"params": json.dumps(p), "seed": str(seed), "torch": torch.__version__}
    save_file(tensors, str(path), metadata=meta)
    return path


def make(out_dir, seed):
    g = torch.Generator().manual_seed(seed)
    written = []
    rgb = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
    for k, (name, filt, ac, aa) in enumerate(FILTERS):
        base = {"filter": filt, "align_corners": ac, "antialias": aa}
        # Three RGB u8 HWC images of different sizes: crops, flips, subsets,
        # upscale, non-integer downscale, non-square and 1x1 outputs.
        p = dict(base, format="u8_hwc", **rgb,
                 crops=[None, [3, 2, 12, 9], [1, 5, 7, 20]],
                 flips=[False, True, True],
                 outputs=[{"size": [24, 24]}, {"size": [7, 5]},
                          {"size": [11, 8], "images": [2, 0]}, {"size": [1, 1]},
                          {"size": [16, 29], "images": [1]}])
        raw, tensors = [], {}
        for i, (h, w) in enumerate([(13, 17), (20, 15), (9, 31)]):
            x, stored = random_image(g, "u8_hwc", 3, h, w)
            raw.append(x)
            tensors[f"img{i}"] = stored
        for j, y in enumerate(reference(raw, p)):
            tensors[f"expect{j}"] = y
        written.append(write(out_dir, f"{name}_u8hwc_rgb", tensors, p, seed))
        # A one-channel batch, u8 CHW or f32 in turn.
        fmt = "f32" if k % 2 else "u8_chw"
        p = dict(base, format=fmt,
                 mean=[0.1] if fmt == "f32" else [0.2860],
                 std=[0.7] if fmt == "f32" else [0.3530],
                 crops=[[2, 3, 15, 17], None], flips=[True, False],
                 outputs=[{"size": [10, 10]}, {"size": [5, 7]}, {"size": [1, 1]},
                          {"size": [30, 41], "images": [0]}])
        pairs = [random_image(g, fmt, 1, 19, 23) for _ in range(2)]
        tensors = {"images": torch.stack([s for _, s in pairs])}
        for j, y in enumerate(reference([x for x, _ in pairs], p)):
            tensors[f"expect{j}"] = y
        written.append(write(out_dir, f"{name}_{fmt.replace('_', '')}_gray", tensors, p, seed))
    # MutualNet's order: crop -> 16x16 (filter), normalize, flip, then
    # bilinear align_corners=True to each output.
    for name, aa in [("bilinear", False), ("antialias", True)]:
        p = dict(format="u8_hwc", **rgb, filter="bilinear", align_corners=False, antialias=aa,
                 order="mutualnet", full=[16, 16],
                 crops=[[2, 1, 18, 17], None, None], flips=[True, False, True],
                 outputs=[{"size": [16, 16]}, {"size": [12, 12]},
                          {"size": [9, 7], "images": [1, 2]}, {"size": [1, 1]}])
        raw, tensors = [], {}
        for i, (h, w) in enumerate([(21, 19), (16, 16), (10, 12)]):
            x, stored = random_image(g, "u8_hwc", 3, h, w)
            raw.append(x)
            tensors[f"img{i}"] = stored
        for j, y in enumerate(reference(raw, p)):
            tensors[f"expect{j}"] = y
        written.append(write(out_dir, f"mutualnet_{name}", tensors, p, seed))
    return written
