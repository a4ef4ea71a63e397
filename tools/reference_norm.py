"""Fixtures for the training ops (issue 4), computed by PyTorch in float64
and stored as float32 (inputs are rounded to float32 first, so the stored
inputs are exactly what PyTorch saw):

- BatchNorm2d training forward/backward on a channel slice (5 of 6
  channels), momentum 0.1 running-stat update, no activation and ReLU6;
- cumulative running average (momentum=None) over two batches;
- softmax cross-entropy with label smoothing 0 and 0.1;
- KL(softmax(teacher/T) || log_softmax(student/T)), batchmean, T = 1 and 4
  (F.kl_div, not multiplied by T^2);
- two SGD steps, Nesterov momentum 0.9, weight decay 1e-2 on one parameter
  and 0 on another (PyTorch param groups).

Called by make_reference.py: make(out_dir, seed) -> [paths].
"""
import torch
import torch.nn.functional as F
from safetensors.torch import save_file


def _r(g, *shape, scale=1.0, offset=0.0):
    # float32-representable inputs, promoted to float64 for the math
    return (offset + scale * (2 * torch.rand(*shape, generator=g) - 1)).float().double()


def _bn(g, out):
    n, cf, h, w, c = 4, 6, 5, 5, 5
    x = _r(g, n, cf, h, w, scale=2.0, offset=0.5)
    gamma = _r(g, cf, scale=0.5, offset=1.0)
    beta = _r(g, cf, scale=0.5)
    rm0 = _r(g, cf)
    rv0 = _r(g, cf, scale=0.5, offset=1.0)
    dy = _r(g, n, cf, h, w)
    out.update(bn_x=x, bn_gamma=gamma, bn_beta=beta, bn_rm0=rm0, bn_rv0=rv0, bn_dy=dy)
    for act in ["none", "relu6"]:
        xs = x[:, :c].clone().requires_grad_(True)
        gs = gamma[:c].clone().requires_grad_(True)
        bs = beta[:c].clone().requires_grad_(True)
        rm, rv = rm0.clone(), rv0.clone()
        # F.batch_norm updates the running-stat views in place, like the
        # slice of a full-size buffer.
        y = F.batch_norm(xs, rm[:c], rv[:c], gs, bs, training=True, momentum=0.1, eps=1e-5)
        if act == "relu6":
            y = F.relu6(y)
        y.backward(dy[:, :c])
        out[f"bn_y_{act}"] = y.detach()
        out[f"bn_dx_{act}"] = xs.grad
        out[f"bn_dgamma_{act}"] = gs.grad
        out[f"bn_dbeta_{act}"] = bs.grad
        out["bn_rm1"], out["bn_rv1"] = rm, rv


def _cumulative(g, out):
    bn = torch.nn.BatchNorm2d(5, momentum=None).double().train()
    for k in (1, 2):
        x = _r(g, 3, 5, 4, 4, scale=3.0, offset=1.0)
        bn(x)
        out[f"cum_x{k}"] = x
        out[f"cum_rm{k}"] = bn.running_mean.clone()
        out[f"cum_rv{k}"] = bn.running_var.clone()


def _losses(g, out):
    n, k = 6, 10
    z = _r(g, n, k, scale=4.0)
    labels = torch.randint(0, k, (n,), generator=g)
    out.update(ce_logits=z, ce_labels=labels.double())
    for tag, eps in (("s0", 0.0), ("s1", 0.1)):
        zz = z.clone().requires_grad_(True)
        loss = F.cross_entropy(zz, labels, label_smoothing=eps)
        loss.backward()
        out[f"ce_loss_{tag}"] = loss.detach().reshape(1)
        out[f"ce_dlogits_{tag}"] = zz.grad
    s = _r(g, n, k, scale=4.0)
    t = _r(g, n, k, scale=4.0)
    out.update(kl_student=s, kl_teacher=t)
    for temp in (1, 4):
        ss = s.clone().requires_grad_(True)
        loss = F.kl_div(F.log_softmax(ss / temp, dim=1), F.softmax(t / temp, dim=1), reduction="batchmean")
        loss.backward()
        out[f"kl_loss_t{temp}"] = loss.detach().reshape(1)
        out[f"kl_dstudent_t{temp}"] = ss.grad


def _sgd(g, out):
    p = _r(g, 37).requires_grad_(True)
    q = _r(g, 11).requires_grad_(True)
    out["sgd_p0"], out["sgd_q0"] = p.detach().clone(), q.detach().clone()
    opt = torch.optim.SGD(
        [{"params": [p], "weight_decay": 1e-2}, {"params": [q], "weight_decay": 0.0}],
        lr=0.1, momentum=0.9, nesterov=True,
    )
    for step in (1, 2):
        gp, gq = _r(g, 37), _r(g, 11)
        out[f"sgd_gp{step}"], out[f"sgd_gq{step}"] = gp, gq
        p.grad, q.grad = gp.clone(), gq.clone()
        opt.step()
        out[f"sgd_p{step}"], out[f"sgd_q{step}"] = p.detach().clone(), q.detach().clone()
    out["sgd_pbuf2"] = opt.state[p]["momentum_buffer"].clone()


def make(out_dir, seed):
    g = torch.Generator().manual_seed(seed)
    out = {}
    _bn(g, out)
    _cumulative(g, out)
    _losses(g, out)
    _sgd(g, out)
    path = out_dir / "norm_train_ops.safetensors"
    save_file(
        {k: v.float().contiguous() for k, v in out.items()},
        str(path),
        metadata={"torch": torch.__version__, "seed": str(seed), "generator": "tools/reference_norm.py"},
    )
    return [path]
