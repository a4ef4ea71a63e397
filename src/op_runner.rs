//! `slimmable op`: run one operator on tensors from a safetensors file and
//! return its outputs. The parameters come as JSON; unknown keys are errors so
//! that a typo never silently runs something else.

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::ops;
use crate::tensor_io::HostTensor;
use crate::view::View;
use serde::Deserialize;
use std::collections::HashMap;

/// Operators `slimmable op` knows, with a one-line description each.
pub const OPS: &[(&str, &str)] = &[
    (
        "slice_copy",
        "inputs: x [N,C,H,W]; params {\"channel_begin\": b, \"channels\": k}; outputs: y = x[:, b:b+k] (dense)",
    ),
    (
        "fill",
        "inputs: x [N,C,H,W]; params {\"channel_begin\": b, \"channels\": k, \"value\": v}; outputs: y = x with channels b..b+k set to v",
    ),
    (
        "batch_norm_train",
        "inputs: x [N,C,H,W], gamma, beta, running_mean, running_var [C_full]; params {\"channels\": c, \"eps\": 1e-5, \"momentum\": 0.1 or null (cumulative), \"batches_seen\": 0, \"act\": \"none\"|\"relu\"|\"relu6\"}; outputs: y [N,c,H,W], saved_mean, saved_invstd [c], running_mean, running_var [C_full]",
    ),
    (
        "batch_norm_eval",
        "inputs: x, gamma, beta, running_mean, running_var; params {\"channels\", \"eps\", \"act\"}; outputs: y [N,c,H,W]",
    ),
    (
        "batch_norm_backward",
        "inputs: x [N,C,H,W], dy [N,c,H,W], gamma, beta [C_full]; params {\"channels\", \"eps\", \"act\"} (batch statistics recomputed); outputs: dx [N,c,H,W], dgamma, dbeta [C_full] (zero outside the slice)",
    ),
    (
        "linear_forward",
        "inputs: x [N,in_full], w [out_full,in_full], optional b [out_full]; params {\"in\": i, \"out\": o}; outputs: y [N,o] = x[:, :i]·w[:o, :i]ᵀ + b[:o]",
    ),
    (
        "linear_backward",
        "inputs: x [N,in_full], w [out_full,in_full], dy [N,o]; params {\"in\": i, \"out\": o}; outputs: dx [N,i], dw [out_full,in_full], db [out_full] (zero outside the slice)",
    ),
    ("relu", "inputs: x; params {}; outputs: y = max(x, 0)"),
    (
        "relu6",
        "inputs: x; params {}; outputs: y = min(max(x, 0), 6)",
    ),
    (
        "relu_backward",
        "inputs: x, dy (same shape); params {}; outputs: dx = dy·[x > 0]",
    ),
    (
        "relu6_backward",
        "inputs: x, dy (same shape); params {}; outputs: dx = dy·[0 < x < 6]",
    ),
    (
        "add",
        "inputs: a, b (same shape); params {}; outputs: y = a + b",
    ),
    (
        "avg_pool",
        "inputs: x [N,C,H,W]; params {}; outputs: y [N,C,1,1] (global average)",
    ),
    (
        "avg_pool_backward",
        "inputs: dy [N,C,1,1]; params {\"h\": H, \"w\": W}; outputs: dx [N,C,H,W]",
    ),
    (
        "cross_entropy",
        "inputs: logits [N,K], labels [N] (class indices as floats); params {\"smoothing\": 0.0}; outputs: loss [1] (batch mean), dlogits [N,K]",
    ),
    (
        "kl_div",
        "inputs: student, teacher [N,K]; params {\"temperature\": 1.0}; outputs: loss [1] = KL(softmax(t/T) ‖ log_softmax(s/T)) batchmean (no T²), dlogits [N,K]",
    ),
    (
        "sgd_step",
        "inputs: param, grad, optional momentum_buffer (same length); params {\"lr\", \"momentum\": 0, \"weight_decay\": 0, \"nesterov\": false, \"first_step\": true}; outputs: param, momentum_buffer",
    ),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelSliceParams {
    #[serde(default)]
    channel_begin: usize,
    channels: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FillOpParams {
    #[serde(default)]
    channel_begin: usize,
    channels: usize,
    value: f32,
}

pub(crate) fn parse<T: for<'de> Deserialize<'de>>(op: &str, json: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|e| {
        Error::invalid(
            format!("--params for {op}"),
            format!("{e}; expected {}", usage(op)),
        )
    })
}

fn usage(op: &str) -> &'static str {
    OPS.iter()
        .find(|(n, _)| *n == op)
        .map(|(_, u)| *u)
        .unwrap_or("")
}

pub(crate) fn input<'a>(
    op: &str,
    inputs: &'a HashMap<String, HostTensor>,
    name: &str,
) -> Result<&'a HostTensor> {
    inputs.get(name).ok_or_else(|| {
        let mut have: Vec<&String> = inputs.keys().collect();
        have.sort();
        Error::invalid(
            format!("inputs for {op}"),
            format!(
                "no tensor named '{name}' (the file has {have:?}); {}",
                usage(op)
            ),
        )
    })
}

/// Runs `op` on `backend`; returns the named outputs.
pub fn run(
    backend: &dyn Backend,
    op: &str,
    params_json: &str,
    inputs: &HashMap<String, HostTensor>,
) -> Result<Vec<(String, HostTensor)>> {
    match op {
        "slice_copy" => {
            let p: ChannelSliceParams = parse(op, params_json)?;
            let x = input(op, inputs, "x")?;
            let full = x.dims4("x")?;
            let src_view = View::channel_slice(full, p.channel_begin, p.channels)?;
            let dst_view = View::contiguous(src_view.dims);
            let src = backend.upload(&x.data)?;
            let dst = backend.alloc(dst_view.numel())?;
            ops::slice_copy(backend, &src, &src_view, &dst, &dst_view)?;
            let y = HostTensor::new(src_view.dims.to_vec(), backend.download(&dst)?)?;
            Ok(vec![("y".into(), y)])
        }
        "fill" => {
            let p: FillOpParams = parse(op, params_json)?;
            let x = input(op, inputs, "x")?;
            let full = x.dims4("x")?;
            let view = View::channel_slice(full, p.channel_begin, p.channels)?;
            let buf = backend.upload(&x.data)?;
            ops::fill(backend, &buf, &view, p.value)?;
            let y = HostTensor::new(x.shape.clone(), backend.download(&buf)?)?;
            Ok(vec![("y".into(), y)])
        }
        other if OPS.iter().any(|(n, _)| *n == other) => {
            crate::op_runner_train::run(backend, op, params_json, inputs)
        }
        other => {
            let known: Vec<&str> = OPS.iter().map(|(n, _)| *n).collect();
            Err(Error::invalid(
                "--op",
                format!("unknown operator '{other}'; known: {known:?}"),
            ))
        }
    }
}
