//! The CUDA launches that run a sliced layer's training pass, planned on
//! any machine (no GPU needed): what an engine that loads our cubins
//! itself launches, in order, on its own pointers. Two layers of the
//! issue-3 suite at batch 64: `res3x3` (3×3, 128 → 128 channels, 28×28) and
//! `dw3x3_b` (depthwise 3×3, 144 channels, 56×56), each at width 1.0 and at
//! 0.5 (the active channels of the same full-size buffers).
//! `slimmable conv-plan` does the same for any layer given as JSON.
//!
//! Run: `cargo run --example conv_plan [-- ARCH [--json]]` (ARCH as
//! `slimmable cubins --arch` takes it; default sm_90a).

use slimmable::View;
use slimmable::backend::cuda::launch_conv::plan_conv2d;
use slimmable::backend::{ConvPass, Precision};
use slimmable::ops::conv::weight_block;
use slimmable::params::Conv2dParams;

/// A 3×3, stride-1, padding-1 layer on `active` of `full` channels of an
/// [64, full, size, size] buffer (`depthwise`: one group a channel), with
/// a bias.
fn layer(
    full: usize,
    active: usize,
    size: usize,
    depthwise: bool,
) -> slimmable::Result<Conv2dParams> {
    let x = View::channel_slice([64, full, size, size], 0, active)?;
    let y = View::channel_slice([64, full, size, size], 0, active)?;
    let (w_full, groups, per_group) = if depthwise {
        ([full, 1, 3, 3], active, 1)
    } else {
        ([full, full, 3, 3], 1, active)
    };
    let w = weight_block(w_full, active, per_group)?;
    Ok(Conv2dParams {
        x: x.to_params(),
        w: w.to_params(),
        y: y.to_params(),
        has_bias: 1, // a bias at element 0 of its own buffer
        groups: groups as u32,
        stride_h: 1,
        stride_w: 1,
        pad_h: 1,
        pad_w: 1,
        ..Default::default()
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arch = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map_or("sm_90a", |a| a);
    let json = args.iter().any(|a| a == "--json");
    let layers = [
        ("res3x3 w1.0", layer(128, 128, 28, false)?),
        ("res3x3 w0.5", layer(128, 64, 28, false)?),
        ("dw3x3_b w1.0", layer(144, 144, 56, true)?),
        ("dw3x3_b w0.5", layer(144, 72, 56, true)?),
    ];
    for (name, params) in &layers {
        for pass in [ConvPass::Forward, ConvPass::Dgrad, ConvPass::Wgrad] {
            // `true`: the engine's x and y pointers are 16-byte aligned.
            let plan = plan_conv2d(arch, pass, Precision::Tf32, params, true)?;
            println!("{name} {pass:?}:");
            if json {
                println!("{}", serde_json::to_string_pretty(&plan.to_json())?);
            } else {
                println!("{plan}");
            }
        }
    }
    Ok(())
}
