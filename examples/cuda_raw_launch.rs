//! Launching a slimmable CUDA kernel on memory and a stream the caller owns:
//! copy channels 0..3 of an [2, 8, 4, 4] activation into a dense tensor.
//!
//! Run: `cargo run --example cuda_raw_launch` (needs an NVIDIA driver and NVRTC).

use cudarc::driver::{CudaContext, DevicePtr};
use slimmable::backend::cuda::{self, launch};
use slimmable::{View, params::SliceCopyParams};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if let Err(e) = cuda::ensure_driver().and_then(|_| cuda::nvrtc::ensure_nvrtc()) {
        println!("skipped: {e}");
        return Ok(());
    }
    // The engine's own context, stream and buffers.
    let ctx = CudaContext::new(0).map_err(|e| format!("cuCtxCreate: {:?}", e.0))?;
    let stream = ctx.default_stream();
    let full = [2, 8, 4, 4];
    let host: Vec<f32> = (0..2 * 8 * 4 * 4).map(|i| i as f32).collect();
    let src = stream.clone_htod(&host).map_err(|e| format!("{:?}", e.0))?;
    let dst = stream
        .alloc_zeros::<f32>(2 * 3 * 4 * 4)
        .map_err(|e| format!("{:?}", e.0))?;

    // Our kernels, compiled for this context's device.
    let kernels = launch::CudaKernels::load(&ctx)?;
    let src_view = View::channel_slice(full, 0, 3)?;
    let dst_view = View::contiguous(src_view.dims);
    let params = SliceCopyParams {
        src: src_view.to_params(),
        dst: dst_view.to_params(),
    };
    {
        let (sp, _g1) = src.device_ptr(&stream);
        let (dp, _g2) = dst.device_ptr(&stream);
        // SAFETY: both allocations belong to `ctx` and hold every element the
        // views address; the views do not overlap.
        unsafe { launch::launch_slice_copy(&kernels, &stream, sp, dp, &params)? };
    }
    let out = stream.clone_dtoh(&dst).map_err(|e| format!("{:?}", e.0))?;
    println!("first row of channel 1: {:?}", &out[16..20]);
    Ok(())
}
