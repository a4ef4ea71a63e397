//! Bench: channel-slice copy (the gather a framework does when it makes a
//! sliced activation contiguous): 128 of 256 channels at 56×56, N = 64 on a
//! GPU, N = 8 elsewhere (lavapipe's storage bindings stop at 128 MiB).

use super::{BenchRow, Peak};
use crate::backend::Backend;
use crate::error::Result;
use crate::ops;
use crate::view::View;

pub fn run(backend: &dyn Backend, iters: usize) -> Result<Vec<BenchRow>> {
    let n = if backend.on_gpu() { 64 } else { 8 };
    let full = [n, 256, 56, 56];
    let src_view = View::channel_slice(full, 0, 128)?;
    let dst_view = View::contiguous(src_view.dims);
    let src = backend.alloc(full.iter().product())?;
    ops::fill(backend, &src, &View::contiguous(full), 1.0)?;
    let dst = backend.alloc(dst_view.numel())?;
    let ms = backend.time_ms(iters, &mut || {
        ops::slice_copy(backend, &src, &src_view, &dst, &dst_view)
    })?;
    Ok(vec![BenchRow {
        name: format!("copy/slice_{n}x128of256x56x56"),
        ms,
        bytes: Some(2.0 * 4.0 * dst_view.numel() as f64),
        flops: None,
        peak: Peak::F32,
    }])
}
