//! The CUDA launches that run a sliced conv's training pass, planned on any
//! machine (no GPU needed): what an engine that loads our cubins itself
//! launches, in order, on its own pointers. The layer is the suite's
//! `res3x3` at width 0.5 and 128 px: 64 of 128 channels of a batch of 64,
//! 16×16, weights the [64, 64, 3, 3] block of a [128, 128, 3, 3] tensor.
//!
//! Run: `cargo run --example conv_plan [-- ARCH [--json]]` (ARCH as
//! `slimmable cubins --arch` takes it; default sm_90a).

use slimmable::View;
use slimmable::backend::cuda::launch_conv::plan_conv2d;
use slimmable::backend::{ConvPass, Precision};
use slimmable::ops::conv::weight_block;
use slimmable::params::Conv2dParams;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arch = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map_or("sm_90a", |a| a);
    let json = args.iter().any(|a| a == "--json");

    // Views into the full-size buffers: the active channels, no copies.
    let x = View::channel_slice([64, 128, 16, 16], 0, 64)?;
    let y = View::channel_slice([64, 128, 16, 16], 0, 64)?;
    let w = weight_block([128, 128, 3, 3], 64, 64)?;
    let mut params = Conv2dParams {
        x: x.to_params(),
        w: w.to_params(),
        y: y.to_params(),
        groups: 1,
        stride_h: 1,
        stride_w: 1,
        pad_h: 1,
        pad_w: 1,
        ..Default::default()
    };
    params.has_bias = 1; // a bias at element 0 of its own buffer
    for pass in [ConvPass::Forward, ConvPass::Dgrad, ConvPass::Wgrad] {
        // `true`: the engine's x and y pointers are 16-byte aligned.
        let plan = plan_conv2d(arch, pass, Precision::Tf32, &params, true)?;
        println!("{pass:?}:");
        if json {
            println!("{}", serde_json::to_string_pretty(&plan.to_json())?);
        } else {
            println!("{plan}");
        }
    }
    Ok(())
}
