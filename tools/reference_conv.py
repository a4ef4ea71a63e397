"""Conv2d fixtures: PyTorch's forward and backward through a slice of a
full-size weight (`w[:oc, :ic]`, as the published slimmable code does), in
float64, stored as float32. The full-size weight and bias gradients include
the zeros outside the slice, which our kernels must leave untouched."""
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

# (name, full weight shape, active oc, active ic, groups at active width,
#  input (N, H, W), stride, padding, bias)
CASES = [
    ("conv_dense_slice", (24, 16, 3, 3), 18, 12, 1, (2, 9, 11), 1, 1, True),
    ("conv_depthwise_s2", (16, 1, 3, 3), 12, 12, 12, (2, 11, 10), 2, 1, False),
    ("conv_pointwise", (40, 24, 1, 1), 20, 24, 1, (3, 5, 7), 1, 0, False),
]


def make(out_dir, seed):
    g = torch.Generator().manual_seed(seed)
    paths = []
    for name, wshape, oc, ic, groups, (n, h, w), stride, pad, bias in CASES:
        w_full = (torch.rand(wshape, generator=g, dtype=torch.float64) * 2 - 1).requires_grad_()
        b_full = (torch.rand(wshape[0], generator=g, dtype=torch.float64) * 2 - 1).requires_grad_()
        x = (torch.rand(n, ic, h, w, generator=g, dtype=torch.float64) * 2 - 1).requires_grad_()
        w_active = w_full[:oc] if groups == ic else w_full[:oc, :ic // groups]
        y = F.conv2d(x, w_active, b_full[:oc] if bias else None, stride=stride, padding=pad,
                     groups=groups)
        dy = torch.rand(y.shape, generator=g, dtype=torch.float64) * 2 - 1
        y.backward(dy)
        tensors = {
            "x": x, "w_full": w_full, "b_full": b_full, "dy": dy, "y": y,
            "dx": x.grad, "dw_full": w_full.grad,
            "db_full": b_full.grad if bias else torch.zeros_like(b_full),
        }
        meta = {"oc": str(oc), "ic": str(ic), "groups": str(groups), "stride": str(stride),
                "padding": str(pad), "bias": str(int(bias)), "torch": torch.__version__}
        path = out_dir / f"{name}.safetensors"
        save_file({k: v.detach().float().contiguous() for k, v in tensors.items()}, str(path),
                  metadata=meta)
        paths.append(path)
    return paths
