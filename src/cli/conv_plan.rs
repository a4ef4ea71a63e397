//! `slimmable conv-plan`: the CUDA launches of one conv pass, for an engine
//! that loads our cubins and launches them itself (README "Using the
//! kernels from another engine"). Needs no GPU.

use crate::backend::cuda::launch_conv::plan_conv2d;
use crate::backend::{ConvPass, Precision};
use crate::error::{Error, Result};
use crate::params::Conv2dParams;
use crate::view::View;
use serde::Deserialize;

/// The pass on the command line.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum PassName {
    Forward,
    Dgrad,
    Wgrad,
}

impl From<PassName> for ConvPass {
    fn from(p: PassName) -> Self {
        match p {
            PassName::Forward => ConvPass::Forward,
            PassName::Dgrad => ConvPass::Dgrad,
            PassName::Wgrad => ConvPass::Wgrad,
        }
    }
}

/// A view as an engine describes it: extents, and strides and offset in
/// elements (default: a dense NCHW tensor from element 0).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ViewSpec {
    dims: [usize; 4],
    strides: Option<[usize; 4]>,
    #[serde(default)]
    offset: usize,
}

impl ViewSpec {
    fn view(&self) -> View {
        let dense = View::contiguous(self.dims);
        View {
            offset: self.offset,
            dims: self.dims,
            strides: self.strides.unwrap_or(dense.strides),
        }
    }
}

/// The layer: x, w (the active block, with the full-size tensor's strides)
/// and y as views, and the conv's geometry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LayerSpec {
    x: ViewSpec,
    w: ViewSpec,
    y: ViewSpec,
    #[serde(default = "one")]
    groups: usize,
    #[serde(default = "ones")]
    stride: [usize; 2],
    #[serde(default)]
    padding: [usize; 2],
    /// Forward: add a bias; wgrad: also reduce db.
    #[serde(default)]
    bias: bool,
    #[serde(default)]
    bias_offset: usize,
    /// Forward and dgrad: add into the output.
    #[serde(default)]
    accumulate: bool,
}

fn one() -> usize {
    1
}

fn ones() -> [usize; 2] {
    [1, 1]
}

const EXAMPLE: &str = r#"{"x": {"dims": [64, 64, 16, 16], "strides": [32768, 256, 16, 1]}, "w": {"dims": [64, 64, 3, 3], "strides": [1152, 9, 3, 1]}, "y": {"dims": [64, 64, 16, 16], "strides": [32768, 256, 16, 1]}, "padding": [1, 1], "bias": true}"#;

/// Plans `pass` of the layer in `layer_json` (JSON, or @PATH) and prints
/// the plan as text or JSON.
pub fn run(
    layer_json: &str,
    pass: ConvPass,
    precision: Precision,
    arch: &str,
    unaligned: bool,
    json: bool,
) -> Result<i32> {
    let text = super::json_or_file(layer_json, "--layer")?;
    let spec: LayerSpec = serde_json::from_str(&text)
        .map_err(|e| Error::invalid("--layer", format!("{e}; expected e.g. {EXAMPLE}")))?;
    let (x, w, y) = (spec.x.view(), spec.w.view(), spec.y.view());
    let to_u32 = |name: &str, v: usize| {
        u32::try_from(v).map_err(|_| {
            Error::invalid(
                "--layer",
                format!("{name} {v} passes 32 bits; the kernels index in 32 bits"),
            )
        })
    };
    for (name, v) in [("x", &x), ("w", &w), ("y", &y)] {
        v.check_signed_32(&format!("--layer {name}"))?;
    }
    let params = Conv2dParams {
        x: x.to_params(),
        w: w.to_params(),
        y: y.to_params(),
        bias_offset: to_u32("bias_offset", spec.bias_offset)?,
        has_bias: spec.bias.into(),
        groups: to_u32("groups", spec.groups)?,
        stride_h: to_u32("stride", spec.stride[0])?,
        stride_w: to_u32("stride", spec.stride[1])?,
        pad_h: to_u32("padding", spec.padding[0])?,
        pad_w: to_u32("padding", spec.padding[1])?,
        accumulate: spec.accumulate.into(),
    };
    let plan = plan_conv2d(arch, pass, precision, &params, !unaligned)?;
    if json {
        let text = serde_json::to_string_pretty(&plan.to_json())
            .map_err(|e| Error::invalid("conv-plan", format!("JSON: {e}")))?;
        println!("{text}");
    } else {
        println!("{plan}");
    }
    Ok(0)
}
