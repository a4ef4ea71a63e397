//! `slimmable op` for convolutions on channel slices: forward, data
//! gradient and weight gradient, each reading the full-size weight through
//! its active block (`w[:out, :in/groups]`), every shape checked by
//! `crate::ops::conv`.

use crate::backend::{Backend, ConvPass, Precision};
use crate::error::{Error, Result};
use crate::op_runner::{OpInputs, exact_bias, input, not_applicable, parse};
use crate::ops::conv::{ConvArgs, ConvGeometry, conv2d, weight_block};
use crate::tensor_io::HostTensor;
use crate::view::View;
use serde::Deserialize;

type Inputs<'a> = OpInputs<'a>;
type Outputs = Vec<(String, HostTensor)>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConvOpParams {
    /// Active input channels (default: all of x's, or of w's for dgrad).
    #[serde(rename = "in")]
    in_c: Option<usize>,
    /// Active output channels (default: all of w's).
    out: Option<usize>,
    /// Default 1; depthwise sets it.
    groups: Option<usize>,
    /// Groups = active input channels (and out = in).
    #[serde(default)]
    depthwise: bool,
    #[serde(default = "ones")]
    stride: [usize; 2],
    #[serde(default)]
    padding: [usize; 2],
    #[serde(default)]
    precision: Option<String>,
    /// dgrad: the input's [H, W] (strides make it ambiguous from dy).
    input_size: Option<[usize; 2]>,
    /// wgrad: also return db.
    #[serde(default)]
    bias: bool,
}

fn ones() -> [usize; 2] {
    [1, 1]
}

fn precision(name: Option<&str>) -> Result<Precision> {
    let name = name.unwrap_or("f32");
    // Precision's own names (its clap::ValueEnum), case-sensitive.
    <Precision as clap::ValueEnum>::from_str(name, false)
        .map_err(|_| Error::invalid("precision", format!("'{name}' is not f32, tf32 or bf16")))
}

/// Runs conv2d_fwd, conv2d_dgrad or conv2d_wgrad.
pub fn run(be: &dyn Backend, op: &str, json: &str, inputs: &Inputs<'_>) -> Result<Outputs> {
    let p: ConvOpParams = parse(op, json)?;
    // Keys this op would not read are errors, as unknown keys are.
    if p.input_size.is_some() && op != "conv2d_dgrad" {
        let why = "only conv2d_dgrad takes it (x gives the size)";
        return Err(not_applicable(op, "input_size", why));
    }
    if p.bias && op != "conv2d_wgrad" {
        let why = "it asks conv2d_wgrad for db; the forward takes a bias as input 'b'";
        return Err(not_applicable(op, "bias", why));
    }
    if p.depthwise && (p.groups.is_some() || p.out.is_some()) {
        let key = if p.groups.is_some() { "groups" } else { "out" };
        let why = "depthwise sets groups and out to the active input channels";
        return Err(not_applicable(op, key, why));
    }
    let p_groups = p.groups.unwrap_or(1);
    let prec = precision(p.precision.as_deref())?;
    let w = input(op, inputs, "w")?;
    let w_full = w.dims4("w")?;
    let [o_full, icg_full, kh, kw] = w_full;
    // A depthwise weight holds one input channel per output channel; any
    // other would be read through its first column without a word.
    if p.depthwise && icg_full != 1 {
        return Err(Error::invalid(
            op,
            format!(
                "a depthwise weight is [C, 1, kh, kw] but w is {w_full:?}; for a grouped convolution give \"groups\" instead of \"depthwise\""
            ),
        ));
    }
    let dy = match op {
        "conv2d_fwd" => None,
        _ => Some(input(op, inputs, "dy")?),
    };
    let x = match op {
        "conv2d_dgrad" => None,
        _ => Some(input(op, inputs, "x")?),
    };
    // The batch and the input's full extents: from x, or from dy and input_size.
    let (n, c_full, h, wd) = match (x, dy) {
        (Some(x), _) => {
            let [n, c, h, wd] = x.dims4("x")?;
            (n, c, h, wd)
        }
        (None, Some(dy)) => {
            let [n, _, _, _] = dy.dims4("dy")?;
            let [h, wd] = p.input_size.ok_or_else(|| {
                Error::invalid(op, "give \"input_size\": [H, W] of the input (dy does not determine it under stride)")
            })?;
            // Depthwise weights are [C_full, 1, kh, kw].
            let c_full = if p.depthwise {
                o_full
            } else {
                icg_full * p_groups
            };
            (n, c_full, h, wd)
        }
        (None, None) => unreachable!("every conv op has x or dy"),
    };
    let ic = p.in_c.unwrap_or(c_full);
    if ic > c_full {
        let source = match (x.is_some(), p.depthwise) {
            (true, _) => "x",
            (false, true) => "w",
            (false, false) => "w times groups",
        };
        return Err(Error::invalid(
            op,
            format!(
                "\"in\": {ic} is more than the {c_full} channels of {source}; give at most {c_full}"
            ),
        ));
    }
    let groups = if p.depthwise { ic } else { p_groups };
    let oc = if p.depthwise {
        ic
    } else {
        p.out.unwrap_or(o_full)
    };
    let geometry = ConvGeometry {
        groups,
        stride: p.stride,
        padding: p.padding,
    };
    let bad_kernel = || {
        Error::invalid(
            op,
            format!(
                "a {kh}x{kw} kernel with padding {:?} does not fit a {h}x{wd} input",
                p.padding
            ),
        )
    };
    let ho = ConvGeometry::out_size(h, kh, p.stride[0], p.padding[0]).ok_or_else(bad_kernel)?;
    let wo = ConvGeometry::out_size(wd, kw, p.stride[1], p.padding[1]).ok_or_else(bad_kernel)?;
    if groups == 0 || !ic.is_multiple_of(groups) {
        return Err(Error::invalid(
            op,
            format!("{ic} active input channels do not split into {groups} groups"),
        ));
    }
    // The weight holds icg_full input channels a group: more active ones a
    // group means the groups, not the width, are wrong.
    if ic / groups > icg_full && oc <= o_full {
        return Err(Error::invalid(
            op,
            format!(
                "{ic} active input channels in {groups} group(s) need {} weight columns a group, but w {w_full:?} holds {icg_full}; set \"groups\" to the layer's groups, or \"in\" to at most {}",
                ic / groups,
                icg_full * groups
            ),
        ));
    }
    let wv = weight_block(w_full, oc, ic / groups)?;
    let wb = be.upload(&w.data)?;
    match op {
        "conv2d_fwd" => {
            let x = x.expect("forward has x");
            let xv = View::channel_slice([n, c_full, h, wd], 0, ic)?;
            let yv = View::contiguous([n, oc, ho, wo]);
            let (xb, yb) = (be.upload(&x.data)?, be.alloc(yv.numel())?);
            let bias = match inputs.get("b") {
                Some(b) => Some(be.upload(&exact_bias(op, b, oc, w_full[0])?.data)?),
                None => None,
            };
            let args = ConvArgs {
                x: (&xb, xv),
                w: (&wb, wv),
                y: (&yb, yv),
                bias: bias.as_ref().map(|b| (b, 0)),
                geometry,
                accumulate: false,
            };
            conv2d(be, ConvPass::Forward, prec, &args)?;
            Ok(vec![(
                "y".into(),
                HostTensor::new(yv.dims.to_vec(), be.download(&yb)?)?,
            )])
        }
        "conv2d_dgrad" => {
            let dy = dy.expect("dgrad has dy");
            let yv = View::contiguous(dy.dims4("dy")?);
            let xv = View::contiguous([n, ic, h, wd]);
            let (dyb, dxb) = (be.upload(&dy.data)?, be.alloc(xv.numel())?);
            let args = ConvArgs {
                x: (&dxb, xv),
                w: (&wb, wv),
                y: (&dyb, yv),
                bias: None,
                geometry,
                accumulate: false,
            };
            conv2d(be, ConvPass::Dgrad, prec, &args)?;
            Ok(vec![(
                "dx".into(),
                HostTensor::new(xv.dims.to_vec(), be.download(&dxb)?)?,
            )])
        }
        _ => {
            let (x, dy) = (x.expect("wgrad has x"), dy.expect("wgrad has dy"));
            let xv = View::channel_slice([n, c_full, h, wd], 0, ic)?;
            let yv = View::contiguous(dy.dims4("dy")?);
            let (xb, dyb) = (be.upload(&x.data)?, be.upload(&dy.data)?);
            // Full-size gradients, zero outside the slice the pass adds into.
            let dwb = be.upload(&vec![0.0; w.data.len()])?;
            let dbb = be.upload(&vec![0.0; o_full])?;
            let args = ConvArgs {
                x: (&xb, xv),
                w: (&dwb, wv),
                y: (&dyb, yv),
                bias: p.bias.then_some((&dbb, 0)),
                geometry,
                accumulate: false,
            };
            conv2d(be, ConvPass::Wgrad, prec, &args)?;
            let mut out = vec![(
                "dw".into(),
                HostTensor::new(w.shape.clone(), be.download(&dwb)?)?,
            )];
            if p.bias {
                out.push((
                    "db".into(),
                    HostTensor::new(vec![o_full], be.download(&dbb)?)?,
                ));
            }
            Ok(out)
        }
    }
}
