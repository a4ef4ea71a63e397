//! Bench: the fused resize-pack against PyTorch's input pipeline (permute,
//! float, normalize, one `interpolate` per smaller resolution).
//!
//! - `u8_{N}x224x224x3_to_224_192_160_128[_aa]`: ImageNet-size RGB batch to
//!   MutualNet's four resolutions, bilinear `align_corners=False` without and
//!   with antialias. N = 256 on a GPU; N = 64 elsewhere (the 256-image arena is
//!   396 MB, beyond lavapipe's 128 MiB storage bindings).
//! - `u8_256x28x28x1_to_28_24_20_16`: the Fashion-MNIST trainer's batch,
//!   bilinear `align_corners=True` (MutualNet's mode).
//!
//! Bytes: the source read once plus every output written once.

use super::{BenchRow, Peak};
use crate::backend::{Backend, BackendKind};
use crate::error::Result;
use crate::ops::resize::{
    Filter, ImageFormat, Order, OutputSpec, ResizePack, ResizePackConfig, SourceImage,
};
use crate::rng::Rng;

#[allow(clippy::too_many_arguments)]
fn case(
    backend: &dyn Backend,
    iters: usize,
    name: String,
    n: usize,
    side: usize,
    channels: usize,
    sizes: &[usize],
    filter: Filter,
    align_corners: bool,
    mean: &[f32],
    std: &[f32],
) -> Result<BenchRow> {
    let per = side * side * channels;
    let mut rng = Rng::new(0xBE7C);
    let bytes: Vec<u8> = (0..n * per).map(|_| rng.below(256) as u8).collect();
    let images: Vec<SourceImage> = (0..n)
        .map(|i| SourceImage {
            offset: i * per,
            height: side,
            width: side,
            crop: None,
            flip: false,
        })
        .collect();
    let outputs: Vec<OutputSpec> = sizes
        .iter()
        .map(|&s| OutputSpec {
            height: s,
            width: s,
            images: None,
        })
        .collect();
    let cfg = ResizePackConfig {
        format: ImageFormat::U8Hwc,
        channels,
        mean: mean.to_vec(),
        std: std.to_vec(),
        filter,
        align_corners,
        order: Order::Direct,
        arena_offset: 0,
    };
    let pack = ResizePack::new(backend, &images, &outputs, &cfg)?;
    let src = backend.upload_u8(&bytes)?;
    let arena = backend.alloc(pack.arena_len())?;
    let ms = backend.time_ms(iters, &mut || pack.run(backend, &src, &arena))?;
    Ok(BenchRow {
        name,
        ms,
        bytes: Some((n * per) as f64 + 4.0 * pack.arena_len() as f64),
        flops: None,
        peak: Peak::F32,
    })
}

pub fn run(backend: &dyn Backend, iters: usize) -> Result<Vec<BenchRow>> {
    let n = match (backend.on_gpu(), backend.kind()) {
        (true, _) => 256,
        (false, BackendKind::Cpu) => 8,
        (false, _) => 64,
    };
    let imagenet = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]);
    let mut rows = Vec::new();
    for (suffix, filter) in [("", Filter::Bilinear), ("_aa", Filter::BilinearAntialias)] {
        rows.push(case(
            backend,
            iters,
            format!("resize/u8_{n}x224x224x3_to_224_192_160_128{suffix}"),
            n,
            224,
            3,
            &[224, 192, 160, 128],
            filter,
            false,
            &imagenet.0,
            &imagenet.1,
        )?);
    }
    rows.push(case(
        backend,
        iters,
        "resize/u8_256x28x28x1_to_28_24_20_16".into(),
        256,
        28,
        1,
        &[28, 24, 20, 16],
        Filter::Bilinear,
        true,
        &[0.2860],
        &[0.3530],
    )?);
    Ok(rows)
}
