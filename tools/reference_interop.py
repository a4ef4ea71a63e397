"""Checkpoint interoperability: a checkpoint written by `slimmable train`
(tests/fixtures/interop_ours_checkpoint.safetensors, the README's main job)
loaded into the PyTorch reference model with strict name checking; eval-mode
logits of fixed random inputs at two configs, with that config's
recalibrated BN statistics, computed in float64. tests/checkpoint_interop.rs
checks that slimmable gives the same logits from the same file."""
import json

import torch
from safetensors.torch import save_file

import reference_models as rm

CONFIGS = [(1.0, 28), (0.25, 20)]


def make(out_dir, seed):
    src = out_dir / "interop_ours_checkpoint.safetensors"
    if not src.exists():
        return []
    net, meta, bn_stats = rm.load_checkpoint(src)
    net = net.double().eval()
    g = torch.Generator().manual_seed(seed)
    out = {}
    for w, r in CONFIGS:
        for name, m in net.named_modules():
            if isinstance(m, rm.SlimBatchNorm2d):
                mean, var = bn_stats[(w, r)][name]
                c = mean.numel()
                m.running_mean[:c] = mean.double()
                m.running_var[:c] = var.double()
        rm.set_width(net, w)
        x = torch.randn(6, 1, r, r, generator=g, dtype=torch.float64)
        with torch.no_grad():
            out[f"x/{rm.key(w, r)}"] = x
            out[f"logits/{rm.key(w, r)}"] = net(x)
    path = out_dir / "interop_torch_logits.safetensors"
    save_file({k: v.float().contiguous() for k, v in out.items()}, str(path),
              metadata={"configs": json.dumps(CONFIGS), "torch": torch.__version__,
                        "checkpoint": src.name})
    return [path]
