//! Launching slimmable CUDA kernels on memory and a stream the caller owns:
//! copy channels 0..3 of an [2, 8, 4, 4] activation into a dense tensor;
//! then a 3×3 conv on channel slices (5 of 8 input channels, 6 of 12 output
//! channels, weights the active block of a full-size [12, 8, 3, 3] tensor),
//! forward and weight gradient into the full-size gradient buffer, both
//! checked against plain loops here. Exits non-zero on a wrong result.
//!
//! Run: `cargo run --example cuda_raw_launch` (needs an NVIDIA driver and
//! NVRTC; tests/cuda_backend_on_cpu.rs also runs it on the CPU stand-in).

use cudarc::driver::{CudaContext, CudaSlice, CudaStream, DevicePtr};
use slimmable::backend::cuda::launch_conv::{ConvPointers, launch_conv2d};
use slimmable::backend::cuda::{self, launch};
use slimmable::backend::{ConvPass, Precision};
use slimmable::ops::conv::weight_block;
use slimmable::params::Conv2dParams;
use slimmable::{View, params::SliceCopyParams};
use std::sync::Arc;

type Failure = Box<dyn std::error::Error>;

fn main() -> Result<(), Failure> {
    if let Err(e) = cuda::ensure_driver().and_then(|_| cuda::nvrtc::ensure_nvrtc()) {
        // Where a GPU is promised (the GPU check), its absence fails.
        if std::env::var("SLIMMABLE_REQUIRE_CUDA").as_deref() == Ok("1") {
            return Err(format!("SLIMMABLE_REQUIRE_CUDA=1, but: {e}").into());
        }
        println!("skipped: {e}");
        return Ok(());
    }
    // The engine's own context and stream.
    let ctx = CudaContext::new(0).map_err(|e| format!("cuCtxCreate: {:?}", e.0))?;
    let stream = ctx.default_stream();
    // Our kernels, compiled for this context's device.
    let kernels = launch::CudaKernels::load(&ctx)?;
    slice_copy(&kernels, &stream)?;
    sliced_conv(&kernels, &stream)?;
    Ok(())
}

fn upload(stream: &Arc<CudaStream>, host: &[f32]) -> Result<CudaSlice<f32>, Failure> {
    Ok(stream.clone_htod(host).map_err(|e| format!("{:?}", e.0))?)
}

fn download(stream: &Arc<CudaStream>, dev: &CudaSlice<f32>) -> Result<Vec<f32>, Failure> {
    Ok(stream.clone_dtoh(dev).map_err(|e| format!("{:?}", e.0))?)
}

fn slice_copy(kernels: &launch::CudaKernels, stream: &Arc<CudaStream>) -> Result<(), Failure> {
    let full = [2, 8, 4, 4];
    let host: Vec<f32> = (0..2 * 8 * 4 * 4).map(|i| i as f32).collect();
    let src = upload(stream, &host)?;
    let dst = upload(stream, &[f32::NAN; 2 * 3 * 4 * 4])?;
    let src_view = View::channel_slice(full, 0, 3)?;
    let dst_view = View::contiguous(src_view.dims);
    let params = SliceCopyParams {
        src: src_view.to_params(),
        dst: dst_view.to_params(),
    };
    {
        let (sp, _g1) = src.device_ptr(stream);
        let (dp, _g2) = dst.device_ptr(stream);
        // SAFETY: both allocations belong to the stream's context and hold
        // every element the views address; the views do not overlap.
        unsafe { launch::launch_slice_copy(kernels, stream, sp, dp, &params)? };
    }
    let out = download(stream, &dst)?;
    // Image 1, channel 2 of the copy is image 1, channel 2 of the source.
    if out[(3 + 2) * 16..(3 + 3) * 16] != host[(8 + 2) * 16..(8 + 3) * 16] {
        return Err("slice copy: image 1, channel 2 differs from the source".into());
    }
    println!("slice copy: ok, first row of channel 1: {:?}", &out[16..20]);
    Ok(())
}

/// Pseudo-random values in [-1, 1) (a fixed LCG: the example has no
/// dependencies beyond the crate).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// `|got − want| / (atol + rtol·|want|)` with f32's atol = rtol = 1e-5, or
/// an error naming the element where that passes 1 (NaN included).
fn within_tolerance(got: f64, want: f64, at: impl Fn() -> String) -> Result<f64, Failure> {
    let ratio = (got - want).abs() / (1e-5 + 1e-5 * want.abs());
    if ratio <= 1.0 {
        Ok(ratio)
    } else {
        Err(format!("sliced conv: {} is {got}, the loops give {want}", at()).into())
    }
}

fn sliced_conv(kernels: &launch::CudaKernels, stream: &Arc<CudaStream>) -> Result<(), Failure> {
    // Full-size buffers; the layer runs on 5 of 8 input and 6 of 12 output
    // channels of a batch of 2, 7×7, padding 1.
    let (n, c_full, o_full, hw) = (2, 8, 12, 7);
    let (ic, oc) = (5, 6);
    let x_view = View::channel_slice([n, c_full, hw, hw], 0, ic)?;
    let y_view = View::channel_slice([n, o_full, hw, hw], 0, oc)?;
    let w_view = weight_block([o_full, c_full, 3, 3], oc, ic)?;
    let x_host = values(n * c_full * hw * hw, 1);
    let w_host = values(o_full * c_full * 9, 2);
    let dy_host = values(n * o_full * hw * hw, 3);
    let params = Conv2dParams {
        x: x_view.to_params(),
        w: w_view.to_params(),
        y: y_view.to_params(),
        groups: 1,
        stride_h: 1,
        stride_w: 1,
        pad_h: 1,
        pad_w: 1,
        ..Default::default()
    };
    let x = upload(stream, &x_host)?;
    let w = upload(stream, &w_host)?;
    // Poisoned outputs: the forward must overwrite every active element of
    // y; the wgrad adds into dw's active block and leaves the rest alone.
    let y = upload(stream, &vec![f32::NAN; n * o_full * hw * hw])?;
    let dy = upload(stream, &dy_host)?;
    let dw = upload(stream, &vec![0.5; o_full * c_full * 9])?;
    {
        let (xp, _g1) = x.device_ptr(stream);
        let (wp, _g2) = w.device_ptr(stream);
        let (yp, _g3) = y.device_ptr(stream);
        let (dyp, _g4) = dy.device_ptr(stream);
        let (dwp, _g5) = dw.device_ptr(stream);
        let forward = ConvPointers {
            x: xp,
            w: wp,
            y: yp,
            bias: 0,
        };
        let wgrad = ConvPointers {
            x: xp,
            w: dwp,
            y: dyp,
            bias: 0,
        };
        // SAFETY: every buffer belongs to the stream's context and holds
        // every element its view addresses; written buffers are not read.
        unsafe {
            launch_conv2d(
                kernels,
                stream,
                ConvPass::Forward,
                Precision::F32,
                forward,
                &params,
            )?;
            launch_conv2d(
                kernels,
                stream,
                ConvPass::Wgrad,
                Precision::F32,
                wgrad,
                &params,
            )?;
        }
    }
    let (y_out, dw_out) = (download(stream, &y)?, download(stream, &dw)?);

    // The same sums in f64, on the same views.
    let xi = |b: usize, c: usize, h: isize, v: isize| -> f64 {
        if (0..hw as isize).contains(&h) && (0..hw as isize).contains(&v) {
            x_host[((b * c_full + c) * hw + h as usize) * hw + v as usize] as f64
        } else {
            0.0
        }
    };
    let w_at = |o: usize, c: usize, k: usize| (o * c_full + c) * 9 + k;
    let mut worst: f64 = 0.0;
    for b in 0..n {
        for o in 0..oc {
            for h in 0..hw {
                for v in 0..hw {
                    let mut sum = 0.0;
                    for c in 0..ic {
                        for k in 0..9 {
                            let (kh, kw) = ((k / 3) as isize, (k % 3) as isize);
                            let xv = xi(b, c, h as isize + kh - 1, v as isize + kw - 1);
                            sum += xv * w_host[w_at(o, c, k)] as f64;
                        }
                    }
                    let got = y_out[((b * o_full + o) * hw + h) * hw + v] as f64;
                    worst =
                        within_tolerance(got, sum, || format!("y[{b}, {o}, {h}, {v}]"))?.max(worst);
                }
            }
        }
    }
    for o in 0..o_full {
        for c in 0..c_full {
            for k in 0..9 {
                let got = dw_out[w_at(o, c, k)] as f64;
                if o >= oc || c >= ic {
                    if got != 0.5 {
                        return Err(
                            format!("wgrad wrote dw[{o}, {c}, {k}] outside the block").into()
                        );
                    }
                    continue;
                }
                let (kh, kw) = ((k / 3) as isize, (k % 3) as isize);
                let mut sum = 0.5;
                for b in 0..n {
                    for h in 0..hw {
                        for v in 0..hw {
                            let d = dy_host[((b * o_full + o) * hw + h) * hw + v] as f64;
                            sum += d * xi(b, c, h as isize + kh - 1, v as isize + kw - 1);
                        }
                    }
                }
                worst = within_tolerance(got, sum, || format!("dw[{o}, {c}, {k}]"))?.max(worst);
            }
        }
    }
    // worst is |out - ref| / (atol + rtol |ref|): at most 1 passes (NaN fails).
    if worst.is_nan() || worst > 1.0 {
        return Err(
            format!("sliced conv: {worst:.2}x the f32 tolerance (1e-5 + 1e-5 |ref|)").into(),
        );
    }
    println!("sliced conv forward and wgrad: ok ({worst:.3} of the tolerance)");
    Ok(())
}
