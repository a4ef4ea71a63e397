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

fn parse<T: for<'de> Deserialize<'de>>(op: &str, json: &str) -> Result<T> {
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

fn input<'a>(
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
        other => {
            let known: Vec<&str> = OPS.iter().map(|(n, _)| *n).collect();
            Err(Error::invalid(
                "--op",
                format!("unknown operator '{other}'; known: {known:?}"),
            ))
        }
    }
}
