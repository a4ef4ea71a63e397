"""Slimmable models in PyTorch (eager), the referee for src/models/.

The same networks, parameter names and width rules as the Rust side:
MobileNetV2 (ImageNet and small-image forms) and a small-image ResNet with
basic blocks. Layers keep full-size parameters and slice their leading
block at run time (`w[:oc, :ic]`), as the published slimmable code does
(US-Nets' slimmable_ops.py, reused by MutualNet); every sliced channel count
is make_divisible(full * w / ratio, 8) * ratio.

`make(out_dir, seed)` (called by make_reference.py) writes:
- models_tiny_mobilenet_v2.safetensors: a checkpoint of a small small-image
  MobileNetV2 (initial weights, per-config BN statistics recalibrated on the
  fixture batch), in the checkpoint format of src/models/checkpoint.rs;
- models_tiny_mobilenet_v2_io.safetensors: the batch, and for two
  width x resolution configs the training-mode logits, the cross-entropy
  loss, every parameter gradient and the BN running statistics after the
  forward pass, plus eval-mode logits with the recalibrated statistics;
  its metadata also holds the parameter names and shapes and the MACs and
  parameters (counted from the tensors the forward pass used) of the
  ImageNet MobileNetV2, the small-image MobileNetV2 and ResNet-20;
- models_tiny_mutualnet_steps.safetensors: three MutualNet iterations of the
  same network from the checkpoint's weights (see `mutualnet_steps`): the
  inputs, the loss of each of the four passes and every parameter after
  each optimizer step;
- models_tiny_resnet_io.safetensors: a tiny slimmable ResNet (identity and
  1x1-conv shortcuts): its initial state, a batch, and for two configs the
  training-mode logits, loss and every parameter gradient.
"""
import copy
import json
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

FORMAT = "slimmable.checkpoint.v1"
DIVISOR = 8


def make_divisible(v, divisor=DIVISOR):
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:  # never round down by more than 10%
        new_v += divisor
    return new_v


# A channel rule: ("fixed", n) is never sliced; ("sliced", full, ratio) is
# make_divisible(full * w / ratio) * ratio at width w.
def fixed(n):
    return ("fixed", n)


def sliced(c):
    return ("sliced", make_divisible(c), 1)


def expanded(rule, t):
    if rule[0] == "fixed":
        return ("fixed", rule[1] * t)
    return ("sliced", rule[1] * t, t)


def full(rule):
    return rule[1]


def active(rule, w):
    if rule[0] == "fixed":
        return rule[1]
    _, n, ratio = rule
    return make_divisible(n * w / ratio) * ratio


class Slim(nn.Module):
    """Mixin state: the width in use and the cost of the last forward."""
    width = 1.0
    last_macs = 0
    last_params = 0


class SlimConv2d(Slim):
    def __init__(self, in_rule, out_rule, kernel, stride, depthwise=False, bias=False):
        super().__init__()
        self.in_rule, self.out_rule = in_rule, out_rule
        self.stride, self.padding, self.depthwise = stride, kernel // 2, depthwise
        w_in = 1 if depthwise else full(in_rule)
        self.weight = nn.Parameter(torch.empty(full(out_rule), w_in, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(full(out_rule))) if bias else None

    def forward(self, x):
        oc = active(self.out_rule, self.width)
        ic = active(self.in_rule, self.width)
        assert x.shape[1] == ic, (x.shape, ic)
        if self.depthwise:
            w, groups = self.weight[:oc], oc
        else:
            w, groups = self.weight[:oc, :ic], 1
        b = self.bias[:oc] if self.bias is not None else None
        y = F.conv2d(x, w, b, self.stride, self.padding, groups=groups)
        self.last_macs = y[0].numel() * w[0].numel()
        self.last_params = w.numel() + (b.numel() if b is not None else 0)
        return y


class SlimBatchNorm2d(nn.BatchNorm2d, Slim):
    """Shared gamma/beta and running statistics, sliced to the active channels."""

    def __init__(self, rule):
        super().__init__(full(rule))
        self.rule = rule

    def forward(self, x):
        c = active(self.rule, self.width)
        assert x.shape[1] == c, (x.shape, c)
        if self.training:
            self.num_batches_tracked += 1
            momentum = (1.0 / float(self.num_batches_tracked) if self.momentum is None
                        else self.momentum)
        else:
            momentum = 0.0
        self.last_macs, self.last_params = 0, 2 * c
        return F.batch_norm(x, self.running_mean[:c], self.running_var[:c], self.weight[:c],
                            self.bias[:c], self.training, momentum, self.eps)


class SlimLinear(Slim):
    def __init__(self, in_rule, out_rule):
        super().__init__()
        self.in_rule, self.out_rule = in_rule, out_rule
        self.weight = nn.Parameter(torch.empty(full(out_rule), full(in_rule)))
        self.bias = nn.Parameter(torch.zeros(full(out_rule)))

    def forward(self, x):
        o, i = active(self.out_rule, self.width), active(self.in_rule, self.width)
        w, b = self.weight[:o, :i], self.bias[:o]
        self.last_macs, self.last_params = w.numel(), w.numel() + b.numel()
        return F.linear(x, w, b)


class InvertedResidual(nn.Module):
    def __init__(self, inp, outp, stride, t):
        super().__init__()
        hidden = expanded(inp, t)
        layers = []
        if t != 1:
            layers += [SlimConv2d(inp, hidden, 1, 1), SlimBatchNorm2d(hidden), nn.ReLU6()]
        layers += [
            SlimConv2d(hidden, hidden, 3, stride, depthwise=True), SlimBatchNorm2d(hidden),
            nn.ReLU6(),
            SlimConv2d(hidden, outp, 1, 1), SlimBatchNorm2d(outp),
        ]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and inp == outp

    def forward(self, x):
        y = self.body(x)
        return y + x if self.residual else y


class MobileNetV2(nn.Module):
    """US-Nets' slimmable MobileNetV2; the last 1x1 conv stays at
    `last_channels` for every width <= 1, so the classifier is not sliced."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        ch = sliced(cfg["stem_channels"])
        feats = [nn.Sequential(SlimConv2d(fixed(cfg["image_channels"]), ch, 3,
                                          cfg["stem_stride"]),
                               SlimBatchNorm2d(ch), nn.ReLU6())]
        for t, c, n, s in cfg["blocks"]:
            out = sliced(c)
            for i in range(n):
                feats.append(InvertedResidual(ch, out, s if i == 0 else 1, t))
                ch = out
        last = fixed(cfg["last_channels"])
        feats.append(nn.Sequential(SlimConv2d(ch, last, 1, 1), SlimBatchNorm2d(last),
                                   nn.ReLU6()))
        self.features = nn.Sequential(*feats)
        self.classifier = nn.Sequential(SlimLinear(last, fixed(cfg["classes"])))

    def forward(self, x):
        return self.classifier(self.features(x).mean((2, 3)))


class BasicBlock(nn.Module):
    def __init__(self, inp, outp, stride):
        super().__init__()
        self.conv1 = SlimConv2d(inp, outp, 3, stride)
        self.bn1 = SlimBatchNorm2d(outp)
        self.conv2 = SlimConv2d(outp, outp, 3, 1)
        self.bn2 = SlimBatchNorm2d(outp)
        self.downsample = None
        if stride != 1 or inp != outp:
            self.downsample = nn.Sequential(SlimConv2d(inp, outp, 1, stride),
                                            SlimBatchNorm2d(outp))

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class ResNet(nn.Module):
    """He et al.'s CIFAR ResNet with 1x1-conv (option B) shortcuts."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        ch = sliced(cfg["stem_channels"])
        self.conv1 = SlimConv2d(fixed(cfg["image_channels"]), ch, 3, 1)
        self.bn1 = SlimBatchNorm2d(ch)
        for s, (c, n, stride) in enumerate(cfg["stages"]):
            out = sliced(c)
            blocks = []
            for b in range(n):
                blocks.append(BasicBlock(ch, out, stride if b == 0 else 1))
                ch = out
            setattr(self, f"layer{s + 1}", nn.Sequential(*blocks))
        self.fc = SlimLinear(ch, fixed(cfg["classes"]))

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        for s in range(len(self.cfg["stages"])):
            x = getattr(self, f"layer{s + 1}")(x)
        return self.fc(x.mean((2, 3)))


MODELS = {"slimmable_mobilenet_v2": MobileNetV2, "slimmable_resnet": ResNet}


def mobilenet_v2_imagenet():
    return {"image_channels": 3, "classes": 1000, "stem_channels": 32, "stem_stride": 2,
            "blocks": [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2],
                       [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]],
            "last_channels": 1280}


def mobilenet_v2_small_image(image_channels, classes):
    cfg = mobilenet_v2_imagenet()
    cfg.update(image_channels=image_channels, classes=classes, stem_stride=1)
    cfg["blocks"][1][3] = 1
    return cfg


def resnet20(image_channels, classes):
    return {"image_channels": image_channels, "classes": classes, "stem_channels": 16,
            "stages": [[16, 3, 1], [32, 3, 2], [64, 3, 2]]}


def build(model, cfg):
    net = MODELS[model](cfg)
    reset_parameters(net)
    return net


def set_width(net, w):
    for m in net.modules():
        if isinstance(m, Slim):
            m.width = w


def reset_parameters(net):
    """US-Nets' reset_parameters: He init by fan-out for every conv
    (depthwise too), N(0, 0.01) linear weights, zero biases, BN 1/0."""
    for m in net.modules():
        if isinstance(m, SlimConv2d):
            n = m.weight.shape[0] * m.weight.shape[2] * m.weight.shape[3]
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / n))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, SlimLinear):
            nn.init.normal_(m.weight, 0.0, 0.01)
            nn.init.zeros_(m.bias)
        elif isinstance(m, SlimBatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def cost(net, w, r):
    """MACs and parameters of the tensors one forward pass used."""
    set_width(net, w)
    net.eval()
    with torch.no_grad():
        net(torch.zeros(1, net.cfg["image_channels"], r, r))
    slim = [m for m in net.modules() if isinstance(m, Slim)]
    return sum(m.last_macs for m in slim), sum(m.last_params for m in slim)


def key(w, r):
    return f"{w!r}x{r}"


def save_checkpoint(model, net, path, widths, resolutions, bn_stats=None):
    """bn_stats: {(w, r): {bn_name: (mean, var)}} over the active channels."""
    bn_stats = bn_stats or {}
    tensors = {k: v.detach().float().contiguous() if v.is_floating_point() else v
               for k, v in net.state_dict().items()}
    for (w, r), stats in bn_stats.items():
        for bn, (mean, var) in stats.items():
            tensors[f"bn_stats/{key(w, r)}/{bn}.running_mean"] = mean.float().contiguous()
            tensors[f"bn_stats/{key(w, r)}/{bn}.running_var"] = var.float().contiguous()
    meta = {"format": FORMAT, "model": model, "model_config": json.dumps(net.cfg),
            "widths": json.dumps(widths), "resolutions": json.dumps(resolutions),
            "bn_stats_configs": json.dumps([[w, r] for (w, r) in bn_stats])}
    save_file(tensors, str(path), metadata=meta)


def load_checkpoint(path):
    """Returns (net, metadata, bn_stats) from a checkpoint written by either side."""
    from safetensors import safe_open
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    assert meta.get("format") == FORMAT, f"{path}: not a {FORMAT} file"
    net = MODELS[meta["model"]](json.loads(meta["model_config"]))
    tensors = load_file(str(path))
    state = {k: v for k, v in tensors.items() if not k.startswith("bn_stats/")}
    net.load_state_dict(state, strict=True)
    bn_stats = {}
    for w, r in json.loads(meta["bn_stats_configs"]):
        prefix = f"bn_stats/{key(w, r)}/"
        stats = bn_stats.setdefault((w, r), {})
        for name, m in net.named_modules():
            if isinstance(m, SlimBatchNorm2d):
                stats[name] = (tensors[prefix + name + ".running_mean"],
                               tensors[prefix + name + ".running_var"])
    return net, meta, bn_stats


def recalibrate(net, x, w):
    """BN statistics of one batch, as MutualNet's recalibration computes them
    (cumulative average, momentum=None, from reset statistics)."""
    net = copy.deepcopy(net)
    set_width(net, w)
    bns = {n: m for n, m in net.named_modules() if isinstance(m, SlimBatchNorm2d)}
    for m in bns.values():
        m.reset_running_stats()
        m.momentum = None
    net.train()
    with torch.no_grad():
        net(x)
    return {n: (m.running_mean[:active(m.rule, w)].clone(),
                m.running_var[:active(m.rule, w)].clone()) for n, m in bns.items()}


# The fixture network: small-image MobileNetV2 with a tiny table, 1 channel.
TINY = {"image_channels": 1, "classes": 10, "stem_channels": 16, "stem_stride": 1,
        "blocks": [[1, 8, 1, 1], [6, 16, 2, 2], [6, 24, 2, 2]], "last_channels": 64}
WIDTHS = [0.25, 0.375, 0.5, 0.75, 1.0]
RESOLUTIONS = [28, 24, 20, 16]
# An odd width (0.375 rounds 24 channels up to 16 by the 10% rule) at a lower resolution.
CONFIGS = [(1.0, 28), (0.375, 20)]
BATCH = 4


def resize(x, r):
    # MutualNet's resize: bilinear, align_corners=True.
    return x if x.shape[-1] == r else F.interpolate(x, (r, r), mode="bilinear",
                                                    align_corners=True)


def make(out_dir, seed):
    torch.manual_seed(seed)
    model = "slimmable_mobilenet_v2"
    net = build(model, TINY)
    with torch.no_grad():  # BN affine parameters and statistics away from 1/0, to catch mix-ups
        for m in net.modules():
            if isinstance(m, SlimBatchNorm2d):
                m.weight.uniform_(0.8, 1.2)
                m.bias.uniform_(-0.1, 0.1)
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(BATCH, 1, 28, 28, generator=g)
    labels = torch.randint(0, TINY["classes"], (BATCH,), generator=g)

    bn_stats = {(w, r): recalibrate(net, resize(x, r), w) for w, r in CONFIGS}
    ckpt = out_dir / "models_tiny_mobilenet_v2.safetensors"
    save_checkpoint(model, net, ckpt, WIDTHS, RESOLUTIONS, bn_stats)

    io = {"labels": labels.float()}
    for w, r in CONFIGS:
        k = key(w, r)
        xr = resize(x.double(), r)
        io[f"x/{r}"] = xr
        run = copy.deepcopy(net).double()
        set_width(run, w)
        run.train()
        logits = run(xr)
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        io[f"logits/{k}"], io[f"loss/{k}"] = logits, loss
        for name, p in run.named_parameters():
            io[f"grad/{k}/{name}"] = p.grad
        for name, m in run.named_modules():
            if isinstance(m, SlimBatchNorm2d):
                io[f"after/{k}/{name}.running_mean"] = m.running_mean
                io[f"after/{k}/{name}.running_var"] = m.running_var
        ev = copy.deepcopy(net).double()
        set_width(ev, w)
        ev.eval()
        with torch.no_grad():
            for name, m in ev.named_modules():
                if isinstance(m, SlimBatchNorm2d):
                    mean, var = bn_stats[(w, r)][name]
                    m.running_mean[:mean.numel()] = mean
                    m.running_var[:var.numel()] = var
            io[f"logits_recalibrated/{k}"] = ev(xr)

    references = {
        "imagenet_mobilenet_v2": (model, mobilenet_v2_imagenet(), [(1.0, 224), (0.35, 224)]),
        "small_mobilenet_v2": (model, mobilenet_v2_small_image(1, 10),
                               [(1.0, 28), (0.25, 16), (0.375, 20)]),
        "resnet20": ("slimmable_resnet", resnet20(3, 10), [(1.0, 32), (0.25, 24), (0.6, 28)]),
        "tiny_mobilenet_v2": (model, TINY, [(w, r) for w in WIDTHS for r in RESOLUTIONS]),
    }
    costs, shapes = [], {}
    for label, (m, cfg, configs) in references.items():
        ref = build(m, cfg)
        shapes[label] = {"model": m, "config": cfg,
                         "tensors": [[n, list(t.shape)] for n, t in ref.state_dict().items()]}
        for w, r in configs:
            macs, params = cost(ref, w, r)
            costs.append({"net": label, "width": w, "resolution": r, "macs": macs,
                          "params": params})
    meta = {"configs": json.dumps([[w, r] for w, r in CONFIGS]),
            "resize": "F.interpolate bilinear align_corners=True from x/28",
            "loss": "F.cross_entropy(logits, labels), mean over the batch",
            "bn": "train mode, momentum 0.1, eps 1e-5; logits_recalibrated: eval mode "
                  "with the checkpoint's bn_stats for the config",
            "costs": json.dumps(costs), "state_dict_shapes": json.dumps(shapes),
            "torch": torch.__version__, "seed": str(seed)}
    io_path = out_dir / "models_tiny_mobilenet_v2_io.safetensors"
    save_file({k: v.detach().float().contiguous() for k, v in io.items()}, str(io_path),
              metadata=meta)

    steps_path = mutualnet_steps(out_dir, net, seed)
    resnet_path = resnet_grads(out_dir, seed)

    # The checkpoint must load back into the reference model unchanged.
    back, _, stats = load_checkpoint(ckpt)
    for k, v in net.state_dict().items():
        assert torch.equal(back.state_dict()[k], v), k
    assert set(stats) == set(bn_stats)
    return [ckpt, io_path, steps_path, resnet_path]


# Three MutualNet iterations with the sandwich rule made deterministic: the
# full network at 28 px with cross-entropy, then the smallest width and two
# fixed widths at fixed resolutions, each distilled from the full network's
# detached logits (KL, batchmean, T = 1); the four passes accumulate
# gradients before one SGD step (Nesterov 0.9, weight decay on conv and
# linear weights only, not depthwise, BN or biases; lr per iteration).
MUTUALNET_PASSES = [
    [(1.0, 28), (0.25, 16), (0.5, 24), (0.75, 20)],
    [(1.0, 28), (0.25, 20), (0.375, 28), (0.75, 16)],
    [(1.0, 28), (0.25, 24), (0.5, 16), (1.0, 20)],
]
MUTUALNET_LRS = [0.1, 0.075, 0.025]  # cosine over 3 iterations from 0.1
MUTUALNET_MOMENTUM = 0.9
MUTUALNET_WEIGHT_DECAY = 5e-4
MUTUALNET_BATCH = 4
MUTUALNET_CLASSIFIER_SCALE = 30.0


def decayed_names(net):
    names = set()
    for name, m in net.named_modules():
        if (isinstance(m, SlimConv2d) and not m.depthwise) or isinstance(m, SlimLinear):
            names.add(f"{name}.weight")
    return names


def mutualnet_steps(out_dir, net, seed):
    g = torch.Generator().manual_seed(seed + 1)
    run = copy.deepcopy(net).double()
    out = {}
    with torch.no_grad():  # confident logits, so the distillation terms matter
        # (rounded to float32, as stored, so both sides start from the same values)
        run.classifier[0].weight.mul_(MUTUALNET_CLASSIFIER_SCALE).copy_(run.classifier[0].weight.float())
        out["start/classifier.0.weight"] = run.classifier[0].weight.clone()
    decayed = decayed_names(run)
    params = dict(run.named_parameters())
    opt = torch.optim.SGD(
        [{"params": [p for n, p in params.items() if n in decayed],
          "weight_decay": MUTUALNET_WEIGHT_DECAY},
         {"params": [p for n, p in params.items() if n not in decayed], "weight_decay": 0.0}],
        lr=MUTUALNET_LRS[0], momentum=MUTUALNET_MOMENTUM, nesterov=True)
    run.train()
    for i, (passes, lr) in enumerate(zip(MUTUALNET_PASSES, MUTUALNET_LRS)):
        x = torch.randn(MUTUALNET_BATCH, 1, 28, 28, generator=g).double()
        labels = torch.randint(0, TINY["classes"], (MUTUALNET_BATCH,), generator=g)
        out[f"labels/{i}"] = labels.float()
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad()
        teacher = None
        for j, (w, r) in enumerate(passes):
            xr = resize(x, r)
            out[f"x/{i}/{r}"] = xr
            set_width(run, w)
            logits = run(xr)
            if teacher is None:
                loss = F.cross_entropy(logits, labels)
                teacher = logits.detach()
            else:
                loss = F.kl_div(F.log_softmax(logits, 1), F.softmax(teacher, 1),
                                reduction="batchmean")
            loss.backward()
            out[f"loss/{i}/{j}"] = loss.detach().reshape(1)
        opt.step()
        # The trajectory of this tiny network is chaotic (some channels'
        # batch variance is tiny): a float32 run, PyTorch's own included,
        # leaves float64's by 1e-4 within three steps. So the state after
        # each step is rounded to float32 and stored, and a test starts each
        # step from the stored state.
        with torch.no_grad():
            for name, p in params.items():
                p.copy_(p.float())
                buf = opt.state[p]["momentum_buffer"]
                buf.copy_(buf.float())
                out[f"param/{i}/{name}"] = p.detach().clone()  # p changes in place
                if i + 1 < len(MUTUALNET_PASSES):
                    out[f"momentum/{i}/{name}"] = buf.clone()
    meta = {"passes": json.dumps(MUTUALNET_PASSES), "lrs": json.dumps(MUTUALNET_LRS),
            "momentum": str(MUTUALNET_MOMENTUM), "nesterov": "true",
            "weight_decay": str(MUTUALNET_WEIGHT_DECAY),
            "decayed": json.dumps(sorted(decayed)),
            "start": "the weights of models_tiny_mobilenet_v2.safetensors, but "
                     "classifier.0.weight = start/classifier.0.weight (30x)",
            "losses": "pass 0: F.cross_entropy; passes 1-3: F.kl_div(log_softmax(sub), "
                      "softmax(full logits, detached), batchmean), T = 1",
            "torch": torch.__version__, "seed": str(seed)}
    path = out_dir / "models_tiny_mutualnet_steps.safetensors"
    save_file({k: v.detach().float().contiguous() for k, v in out.items()}, str(path),
              metadata=meta)
    return path


TINY_RESNET = {"image_channels": 1, "classes": 10, "stem_channels": 8,
               "stages": [[8, 1, 1], [16, 2, 2]]}
RESNET_CONFIGS = [(1.0, 12), (0.5, 10)]


def resnet_grads(out_dir, seed):
    torch.manual_seed(seed + 2)
    model = "slimmable_resnet"
    net = build(model, TINY_RESNET)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, SlimBatchNorm2d):
                m.weight.uniform_(0.8, 1.2)
                m.bias.uniform_(-0.1, 0.1)
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
        net.fc.weight.mul_(30.0)  # confident logits
    g = torch.Generator().manual_seed(seed + 2)
    x = torch.randn(BATCH, 1, 12, 12, generator=g)
    labels = torch.randint(0, TINY_RESNET["classes"], (BATCH,), generator=g)
    out = {f"init/{k}": v for k, v in net.state_dict().items() if v.is_floating_point()}
    out["labels"] = labels.float()
    for w, r in RESNET_CONFIGS:
        k = key(w, r)
        xr = resize(x.double(), r)
        out[f"x/{r}"] = xr
        run = copy.deepcopy(net).double()
        set_width(run, w)
        run.train()
        logits = run(xr)
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        out[f"logits/{k}"], out[f"loss/{k}"] = logits, loss.reshape(1)
        for name, p in run.named_parameters():
            out[f"grad/{k}/{name}"] = p.grad
    meta = {"model": model, "model_config": json.dumps(TINY_RESNET),
            "configs": json.dumps(RESNET_CONFIGS),
            "bn": "train mode, momentum 0.1, eps 1e-5",
            "torch": torch.__version__, "seed": str(seed)}
    path = out_dir / "models_tiny_resnet_io.safetensors"
    save_file({k: v.detach().float().contiguous() for k, v in out.items()}, str(path),
              metadata=meta)
    return path
