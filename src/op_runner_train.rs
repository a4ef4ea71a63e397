//! `slimmable op` for the training ops (batch norm, linear, elementwise,
//! pooling, losses, SGD): parameters as JSON (unknown keys are errors),
//! tensors from safetensors, every input validated by `crate::ops`.

use crate::backend::{Backend, Buffer};
use crate::error::{Error, Result};
use crate::op_runner::{OpInputs, exact_bias, input, names_key, not_applicable, parse, usage};
use crate::ops::{self, Activation, LinearWeight, RunningStats, SgdConfig, StatsUpdate};
use crate::tensor_io::HostTensor;
use crate::view::View;
use serde::Deserialize;

type Inputs<'a> = OpInputs<'a>;
type Outputs = Vec<(String, HostTensor)>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BnOpParams {
    channels: Option<usize>,
    #[serde(default = "default_eps")]
    eps: f32,
    /// `null` selects the cumulative average.
    #[serde(default = "default_momentum")]
    momentum: Option<f32>,
    #[serde(default)]
    batches_seen: u64,
    #[serde(default)]
    act: Option<String>,
}

fn default_eps() -> f32 {
    1e-5
}

fn default_momentum() -> Option<f32> {
    Some(0.1)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinearOpParams {
    #[serde(rename = "in")]
    in_f: Option<usize>,
    out: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParams {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PoolBackParams {
    h: usize,
    w: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CeParams {
    #[serde(default)]
    smoothing: f32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KlParams {
    #[serde(default = "one")]
    temperature: f32,
}

fn one() -> f32 {
    1.0
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SgdOpParams {
    lr: f32,
    #[serde(default)]
    momentum: f32,
    #[serde(default)]
    weight_decay: f32,
    #[serde(default)]
    nesterov: bool,
    #[serde(default = "yes")]
    first_step: bool,
}

fn yes() -> bool {
    true
}

fn activation(name: Option<&str>) -> Result<Activation> {
    match name.unwrap_or("none") {
        "none" => Ok(Activation::None),
        "relu" => Ok(Activation::Relu),
        "relu6" => Ok(Activation::Relu6),
        other => Err(Error::invalid(
            "act",
            format!("'{other}' is not none, relu or relu6"),
        )),
    }
}

fn tensor(shape: Vec<usize>, data: Vec<f32>) -> Result<HostTensor> {
    HostTensor::new(shape, data)
}

/// Uploads a 1-D parameter tensor, checking its length.
fn param_vec(
    be: &dyn Backend,
    op: &str,
    inputs: &Inputs<'_>,
    name: &str,
    len: usize,
) -> Result<Buffer> {
    let t = input(op, inputs, name)?;
    if t.data.len() != len {
        return Err(Error::invalid(
            format!("input '{name}' of {op}"),
            format!(
                "has {} elements but x has {len} channels; give one per channel",
                t.data.len()
            ),
        ));
    }
    be.upload(&t.data)
}

fn download_range(
    be: &dyn Backend,
    buf: &Buffer,
    range: std::ops::Range<usize>,
) -> Result<Vec<f32>> {
    Ok(be.download(buf)?[range].to_vec())
}

/// Runs a training op (the names listed in `crate::op_runner::OPS`).
pub fn run(be: &dyn Backend, op: &str, json: &str, inputs: &Inputs<'_>) -> Result<Outputs> {
    match op {
        "batch_norm_train" | "batch_norm_eval" | "batch_norm_backward" => {
            batch_norm(be, op, json, inputs)
        }
        "linear_forward" | "linear_backward" => linear(be, op, json, inputs),
        "relu" | "relu6" => {
            let _: NoParams = parse(op, json)?;
            let x = input(op, inputs, "x")?;
            let v = View::contiguous(x.dims4("x")?);
            let (xb, yb) = (be.upload(&x.data)?, be.alloc(v.numel())?);
            let f = if op == "relu" { ops::relu } else { ops::relu6 };
            f(be, &xb, &v, &yb, &v)?;
            Ok(vec![(
                "y".into(),
                tensor(x.shape.clone(), be.download(&yb)?)?,
            )])
        }
        "relu_backward" | "relu6_backward" | "add" => {
            let _: NoParams = parse(op, json)?;
            let (an, bn) = if op == "add" { ("a", "b") } else { ("x", "dy") };
            let a = input(op, inputs, an)?;
            let b = input(op, inputs, bn)?;
            let (va, vb) = (
                View::contiguous(a.dims4(an)?),
                View::contiguous(b.dims4(bn)?),
            );
            let (ab, bb, yb) = (
                be.upload(&a.data)?,
                be.upload(&b.data)?,
                be.alloc(va.numel())?,
            );
            let f = match op {
                "relu_backward" => ops::relu_backward,
                "relu6_backward" => ops::relu6_backward,
                _ => ops::add,
            };
            f(be, &ab, &va, &bb, &vb, &yb, &va)?;
            let name = if op == "add" { "y" } else { "dx" };
            Ok(vec![(
                name.into(),
                tensor(a.shape.clone(), be.download(&yb)?)?,
            )])
        }
        "avg_pool" => {
            let _: NoParams = parse(op, json)?;
            let x = input(op, inputs, "x")?;
            let d = x.dims4("x")?;
            let (xv, yv) = (View::contiguous(d), View::contiguous([d[0], d[1], 1, 1]));
            let (xb, yb) = (be.upload(&x.data)?, be.alloc(yv.numel())?);
            ops::avg_pool(be, &xb, &xv, &yb, &yv)?;
            Ok(vec![(
                "y".into(),
                tensor(yv.dims.to_vec(), be.download(&yb)?)?,
            )])
        }
        "avg_pool_backward" => {
            let p: PoolBackParams = parse(op, json)?;
            let dy = input(op, inputs, "dy")?;
            let d = dy.dims4("dy")?;
            if dy.shape.len() != 4 || d[2] != 1 || d[3] != 1 {
                return Err(Error::invalid(
                    format!("input 'dy' for {op}"),
                    format!(
                        "shape {:?} is not [N, C, 1, 1] (the pooled output's gradient); {}",
                        dy.shape,
                        usage(op)
                    ),
                ));
            }
            let yv = View::contiguous([d[0], d[1], 1, 1]);
            let xv = View::contiguous([yv.dims[0], d[1], p.h, p.w]);
            let (dyb, dxb) = (be.upload(&dy.data)?, be.alloc(xv.numel())?);
            ops::avg_pool_backward(be, &dyb, &yv, &dxb, &xv)?;
            Ok(vec![(
                "dx".into(),
                tensor(xv.dims.to_vec(), be.download(&dxb)?)?,
            )])
        }
        "cross_entropy" | "kl_div" => losses(be, op, json, inputs),
        "sgd_step" => {
            let p: SgdOpParams = parse(op, json)?;
            let w = input(op, inputs, "param")?;
            let g = input(op, inputs, "grad")?;
            // grad and momentum_buffer hold one value per element of param.
            let same_len = |name: &str, t: &HostTensor| -> Result<()> {
                if t.data.len() == w.data.len() {
                    return Ok(());
                }
                Err(Error::invalid(
                    op,
                    format!(
                        "{name} has {} elements but param has {}; give equal lengths",
                        t.data.len(),
                        w.data.len()
                    ),
                ))
            };
            same_len("grad", g)?;
            let m = match inputs.get("momentum_buffer") {
                Some(m) => {
                    same_len("momentum_buffer", m)?;
                    m.data.clone()
                }
                None => vec![0.0; w.data.len()],
            };
            let (wb, gb, mb) = (be.upload(&w.data)?, be.upload(&g.data)?, be.upload(&m)?);
            let cfg = SgdConfig {
                lr: p.lr,
                momentum: p.momentum,
                weight_decay: p.weight_decay,
                nesterov: p.nesterov,
            };
            ops::sgd_step(be, &wb, &gb, &mb, 0, w.data.len(), &cfg, p.first_step)?;
            Ok(vec![
                ("param".into(), tensor(w.shape.clone(), be.download(&wb)?)?),
                (
                    "momentum_buffer".into(),
                    tensor(w.shape.clone(), be.download(&mb)?)?,
                ),
            ])
        }
        other => Err(Error::invalid(
            "--op",
            format!("'{other}' is not a training op"),
        )),
    }
}

fn batch_norm(be: &dyn Backend, op: &str, json: &str, inputs: &Inputs<'_>) -> Result<Outputs> {
    let p: BnOpParams = parse(op, json)?;
    let training = op == "batch_norm_train";
    for key in ["momentum", "batches_seen"] {
        if !training && names_key(json, key) {
            return Err(not_applicable(
                op,
                key,
                "only batch_norm_train updates the running statistics",
            ));
        }
    }
    if training && p.momentum.is_some() && names_key(json, "batches_seen") {
        return Err(not_applicable(
            op,
            "batches_seen",
            "it counts batches for the cumulative average (\"momentum\": null)",
        ));
    }
    let act = activation(p.act.as_deref())?;
    let x = input(op, inputs, "x")?;
    let full = x.dims4("x")?;
    let cf = full[1];
    let c = p.channels.unwrap_or(cf);
    let xv = View::channel_slice(full, 0, c)?;
    let dense = View::contiguous(xv.dims);
    let xb = be.upload(&x.data)?;
    let g = param_vec(be, op, inputs, "gamma", cf)?;
    let b = param_vec(be, op, inputs, "beta", cf)?;
    let count = full[0] * full[2] * full[3];
    let saved = be.alloc(ops::bn_saved_len(c, count))?;
    let y = be.alloc(dense.numel())?;
    match op {
        "batch_norm_eval" | "batch_norm_train" => {
            let rm = input(op, inputs, "running_mean")?;
            let rv = input(op, inputs, "running_var")?;
            if rm.data.len() != cf || rv.data.len() != cf {
                return Err(Error::invalid(
                    op,
                    format!("running_mean and running_var need {cf} elements (x's channels)"),
                ));
            }
            let running = be.upload(&[rm.data.clone(), rv.data.clone()].concat())?;
            let stats = RunningStats::config(&running, cf, 0);
            if op == "batch_norm_eval" {
                ops::batch_norm_eval(be, &xb, &xv, &g, &b, stats, &y, &dense, p.eps, act)?;
                return Ok(vec![(
                    "y".into(),
                    tensor(dense.dims.to_vec(), be.download(&y)?)?,
                )]);
            }
            let update = match p.momentum {
                Some(m) => StatsUpdate::Momentum(m),
                None => StatsUpdate::Cumulative {
                    batches_seen: p.batches_seen,
                },
            };
            ops::batch_norm_train(
                be, &xb, &xv, &g, &b, stats, update, &saved, &y, &dense, p.eps, act,
            )?;
            let s = download_range(be, &saved, 0..2 * c)?;
            let r = be.download(&running)?;
            Ok(vec![
                ("y".into(), tensor(dense.dims.to_vec(), be.download(&y)?)?),
                ("saved_mean".into(), tensor(vec![c], s[..c].to_vec())?),
                ("saved_invstd".into(), tensor(vec![c], s[c..].to_vec())?),
                ("running_mean".into(), tensor(vec![cf], r[..cf].to_vec())?),
                ("running_var".into(), tensor(vec![cf], r[cf..].to_vec())?),
            ])
        }
        _ => {
            let dy = input(op, inputs, "dy")?;
            let dyv = View::contiguous(dy.dims4("dy")?);
            let running = be.upload(&vec![0.0; 2 * cf])?;
            let stats = RunningStats::config(&running, cf, 0);
            ops::batch_norm_train(
                be,
                &xb,
                &xv,
                &g,
                &b,
                stats,
                StatsUpdate::None,
                &saved,
                &y,
                &dense,
                p.eps,
                act,
            )?;
            let dyb = be.upload(&dy.data)?;
            let (dg, db) = (be.upload(&vec![0.0; cf])?, be.upload(&vec![0.0; cf])?);
            let dx = be.alloc(dense.numel())?;
            ops::batch_norm_backward(
                be, &xb, &xv, &dyb, &dyv, &g, &b, &saved, &dg, &db, &dx, &dense, act,
            )?;
            Ok(vec![
                ("dx".into(), tensor(dense.dims.to_vec(), be.download(&dx)?)?),
                ("dgamma".into(), tensor(vec![cf], be.download(&dg)?)?),
                ("dbeta".into(), tensor(vec![cf], be.download(&db)?)?),
            ])
        }
    }
}

fn matrix(op: &str, t: &HostTensor, name: &str) -> Result<(usize, usize)> {
    match t.shape[..] {
        [r, c] => Ok((r, c)),
        _ => Err(Error::invalid(
            op,
            format!("'{name}' has shape {:?}; give a matrix", t.shape),
        )),
    }
}

fn linear(be: &dyn Backend, op: &str, json: &str, inputs: &Inputs<'_>) -> Result<Outputs> {
    let p: LinearOpParams = parse(op, json)?;
    let x = input(op, inputs, "x")?;
    let w = input(op, inputs, "w")?;
    let (n, xin) = matrix(op, x, "x")?;
    let (out_full, in_full) = matrix(op, w, "w")?;
    let (i, o) = (p.in_f.unwrap_or(in_full), p.out.unwrap_or(out_full));
    let xv = View::channel_slice([n, xin, 1, 1], 0, i)?;
    let yv = View::contiguous([n, o, 1, 1]);
    let (xb, wb) = (be.upload(&x.data)?, be.upload(&w.data)?);
    if op == "linear_forward" {
        let bias = match inputs.get("b") {
            Some(b) => Some(be.upload(&exact_bias(op, b, o, out_full)?.data)?),
            None => None,
        };
        let wt = LinearWeight {
            w: &wb,
            out_full,
            in_full,
            bias: bias.as_ref(),
        };
        let y = be.alloc(yv.numel())?;
        ops::linear_forward(be, &xb, &xv, &wt, &y, &yv)?;
        return Ok(vec![("y".into(), tensor(vec![n, o], be.download(&y)?)?)]);
    }
    let dy = input(op, inputs, "dy")?;
    let (dn, dout) = matrix(op, dy, "dy")?;
    let dyv = View::contiguous([dn, dout, 1, 1]);
    let wt = LinearWeight {
        w: &wb,
        out_full,
        in_full,
        bias: None,
    };
    let dyb = be.upload(&dy.data)?;
    let dxv = View::contiguous([n, i, 1, 1]);
    let dx = be.alloc(dxv.numel())?;
    let (dw, db) = (
        be.upload(&vec![0.0; out_full * in_full])?,
        be.upload(&vec![0.0; out_full])?,
    );
    ops::linear_backward(
        be,
        &dyb,
        &dyv,
        &xb,
        &xv,
        &wt,
        Some((&dx, &dxv)),
        &dw,
        Some(&db),
    )?;
    Ok(vec![
        ("dx".into(), tensor(vec![n, i], be.download(&dx)?)?),
        (
            "dw".into(),
            tensor(vec![out_full, in_full], be.download(&dw)?)?,
        ),
        ("db".into(), tensor(vec![out_full], be.download(&db)?)?),
    ])
}

fn losses(be: &dyn Backend, op: &str, json: &str, inputs: &Inputs<'_>) -> Result<Outputs> {
    let first = if op == "kl_div" { "student" } else { "logits" };
    let z = input(op, inputs, first)?;
    let (n, k) = matrix(op, z, first)?;
    let v = View::contiguous([n, k, 1, 1]);
    let zb = be.upload(&z.data)?;
    let loss = be.alloc(1)?;
    let d = be.alloc(n * k)?;
    if op == "cross_entropy" {
        let p: CeParams = parse(op, json)?;
        let labels = input(op, inputs, "labels")?;
        if labels.data.len() != n {
            return Err(Error::invalid(
                format!("input 'labels' for {op}"),
                format!(
                    "{} labels for {n} rows of logits; give one class index a row",
                    labels.data.len()
                ),
            ));
        }
        let labels = be.upload(&labels.data)?;
        ops::check_labels(be, &labels, n, k)?;
        ops::cross_entropy(be, &zb, &v, &labels, p.smoothing, &loss, 0, &d, &v)?;
    } else {
        let p: KlParams = parse(op, json)?;
        let t = input(op, inputs, "teacher")?;
        let (tn, tk) = matrix(op, t, "teacher")?;
        let tv = View::contiguous([tn, tk, 1, 1]);
        let tb = be.upload(&t.data)?;
        ops::kl_div(be, &zb, &v, &tb, &tv, p.temperature, &loss, 0, &d, &v)?;
    }
    Ok(vec![
        ("loss".into(), tensor(vec![1], be.download(&loss)?)?),
        ("dlogits".into(), tensor(vec![n, k], be.download(&d)?)?),
    ])
}
