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
use crate::backend::{Backend, BackendKind, Buffer};
use crate::error::Result;
use crate::ops::resize::{
    Filter, ImageFormat, Order, OutputSpec, ResizePack, ResizePackConfig, SourceImage,
};
use crate::rng::Rng;

/// One batch of the family: `count` square `u8` HWC images of `side` px
/// and `channels` channels to every size in `sizes`, normalized by
/// `mean`/`std`. `benches/ops.rs` times the same batches with Criterion.
#[derive(Clone, Debug)]
pub struct ResizeBatch {
    /// `resize/...`, as in `tools/bench_torch.py`.
    pub name: String,
    pub count: usize,
    pub side: usize,
    pub channels: usize,
    pub sizes: Vec<usize>,
    pub filter: Filter,
    pub align_corners: bool,
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

/// A batch ready to launch: the plan, the random source images and the
/// output arena on the device.
pub struct PreparedResize {
    pub pack: ResizePack,
    pub src: Buffer,
    pub arena: Buffer,
    /// Minimal traffic: the source read once plus every output written once.
    pub bytes: usize,
}

impl ResizeBatch {
    pub fn prepare(&self, backend: &dyn Backend) -> Result<PreparedResize> {
        let per = self.side * self.side * self.channels;
        let mut rng = Rng::new(0xBE7C);
        let bytes: Vec<u8> = (0..self.count * per)
            .map(|_| rng.below(256) as u8)
            .collect();
        let images: Vec<SourceImage> = (0..self.count)
            .map(|i| SourceImage {
                offset: i * per,
                height: self.side,
                width: self.side,
                crop: None,
                flip: false,
            })
            .collect();
        let outputs: Vec<OutputSpec> = self
            .sizes
            .iter()
            .map(|&s| OutputSpec {
                height: s,
                width: s,
                images: None,
            })
            .collect();
        let cfg = ResizePackConfig {
            format: ImageFormat::U8Hwc,
            channels: self.channels,
            mean: self.mean.clone(),
            std: self.std.clone(),
            filter: self.filter,
            align_corners: self.align_corners,
            order: Order::Direct,
            arena_offset: 0,
        };
        let pack = ResizePack::new(backend, &images, &outputs, &cfg)?;
        let src = backend.upload_u8(&bytes)?;
        let arena = backend.alloc(pack.arena_len())?;
        let bytes = self.count * per + 4 * pack.arena_len();
        Ok(PreparedResize {
            pack,
            src,
            arena,
            bytes,
        })
    }
}

/// The family's batches on `backend`: the ImageNet-size RGB batch without
/// and with antialias, and the Fashion-MNIST trainer's batch.
pub fn batches(backend: &dyn Backend) -> Vec<ResizeBatch> {
    let n = match (backend.on_gpu(), backend.kind()) {
        (true, _) => 256,
        (false, BackendKind::Cpu) => 8,
        (false, _) => 64,
    };
    let imagenet = (vec![0.485, 0.456, 0.406], vec![0.229, 0.224, 0.225]);
    let mut batches = Vec::new();
    for (suffix, filter) in [("", Filter::Bilinear), ("_aa", Filter::BilinearAntialias)] {
        batches.push(ResizeBatch {
            name: format!("resize/u8_{n}x224x224x3_to_224_192_160_128{suffix}"),
            count: n,
            side: 224,
            channels: 3,
            sizes: vec![224, 192, 160, 128],
            filter,
            align_corners: false,
            mean: imagenet.0.clone(),
            std: imagenet.1.clone(),
        });
    }
    batches.push(ResizeBatch {
        name: "resize/u8_256x28x28x1_to_28_24_20_16".into(),
        count: 256,
        side: 28,
        channels: 1,
        sizes: vec![28, 24, 20, 16],
        filter: Filter::Bilinear,
        align_corners: true,
        mean: vec![0.2860],
        std: vec![0.3530],
    });
    batches
}

pub fn run(backend: &dyn Backend, iters: usize) -> Result<Vec<BenchRow>> {
    let mut rows = Vec::new();
    for batch in batches(backend) {
        let p = batch.prepare(backend)?;
        let ms = backend.time_ms(iters, &mut || p.pack.run(backend, &p.src, &p.arena))?;
        rows.push(BenchRow {
            name: batch.name,
            ms,
            bytes: Some(p.bytes as f64),
            flops: None,
            peak: Peak::F32,
        });
    }
    Ok(rows)
}
