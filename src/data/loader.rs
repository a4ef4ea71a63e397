//! Batches for training and evaluation: a seeded shuffle per epoch, and for
//! each batch one upload of the u8 images and one launch of the fused
//! resize-pack kernel that crops, flips, resizes to every resolution and
//! normalizes (the augmentation of the MutualNet Fashion-MNIST recipe:
//! random crop with zero padding, horizontal flip).
//!
//! Padding is done on the host while the batch is assembled (a few KB), so
//! the crop box the kernel sees always lies inside its (padded) image.

use super::dataset::Dataset;
use crate::backend::{Backend, Buffer};
use crate::error::{Error, Result};
use crate::ops::resize::{
    CropBox, Filter, ImageFormat, Order, OutputSpec, ResizePack, ResizePackConfig, SourceImage,
};
use crate::rng::Rng;
use crate::view::View;

/// The order of one epoch: a permutation of the dataset, from a seed.
#[derive(Clone, Debug)]
pub struct BatchOrder {
    pub indices: Vec<usize>,
}

impl BatchOrder {
    /// Fisher–Yates shuffle of `0..count` seeded by `(seed, epoch)`, so a
    /// resumed run sees the same order as an uninterrupted one.
    pub fn shuffled(count: usize, seed: u64, epoch: u64) -> Self {
        let mut rng = Rng::new(seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut indices: Vec<usize> = (0..count).collect();
        for i in (1..count).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            indices.swap(i, j);
        }
        BatchOrder { indices }
    }

    /// In order (evaluation).
    pub fn sequential(count: usize) -> Self {
        BatchOrder {
            indices: (0..count).collect(),
        }
    }

    /// Consecutive batches of `size` (the last one may be smaller unless
    /// `drop_last`); a size of 0 is taken as 1.
    pub fn batches(&self, size: usize, drop_last: bool) -> Vec<&[usize]> {
        let size = size.max(1);
        self.indices
            .chunks(size)
            .filter(|c| !drop_last || c.len() == size)
            .collect()
    }
}

/// Training augmentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Augment {
    /// Zero padding on every side before the random crop (the crop keeps the
    /// image's size).
    pub pad: usize,
    /// Random horizontal flip with probability 1/2.
    pub flip: bool,
}

/// One batch on the device: every resolution packed in one arena.
pub struct Batch {
    /// Class indices as f32 (what the loss kernels take), on the device.
    pub labels: Buffer,
    /// The same labels on the host.
    pub host_labels: Vec<u8>,
    /// The arena holding every resolution.
    pub arena: Buffer,
    /// `[n, 1, r, r]` per requested resolution, in request order.
    pub views: Vec<View>,
    pub resolutions: Vec<usize>,
}

impl Batch {
    /// The view of resolution `r` (must be one of the requested ones).
    pub fn view(&self, r: usize) -> Result<View> {
        self.resolutions
            .iter()
            .position(|&x| x == r)
            .map(|i| self.views[i])
            .ok_or_else(|| {
                Error::invalid(
                    "batch resolution",
                    format!("{r} was not packed; this batch has {:?}", self.resolutions),
                )
            })
    }
}

/// A batch assembled on the host, ready to upload: padded `u8` images, the
/// crop and flip of each, the labels. Cheap to build on another thread
/// (see [`crate::train::Trainer::run`], which prefetches the next one).
#[derive(Clone, Debug)]
pub struct HostBatch {
    pub bytes: Vec<u8>,
    pub images: Vec<SourceImage>,
    pub labels: Vec<u8>,
    pub resolutions: Vec<usize>,
}

/// Assembles the images `indices` of `ds` with augmentation drawn from `rng`.
pub fn host_batch(
    ds: &Dataset,
    indices: &[usize],
    resolutions: &[usize],
    augment: Option<Augment>,
    rng: &mut Rng,
) -> Result<HostBatch> {
    if indices.is_empty() || resolutions.is_empty() {
        return Err(Error::invalid(
            "batch",
            "a batch needs at least one image and one resolution",
        ));
    }
    let pad = augment.map_or(0, |a| a.pad);
    let (ph, pw) = (ds.height + 2 * pad, ds.width + 2 * pad);
    let mut bytes = vec![0u8; indices.len() * ph * pw];
    let mut images = Vec::with_capacity(indices.len());
    for (slot, &i) in indices.iter().enumerate() {
        if i >= ds.count {
            return Err(Error::invalid(
                "batch",
                format!("image {i} does not exist; the dataset has {}", ds.count),
            ));
        }
        let base = slot * ph * pw;
        for (r, row) in ds.image(i).chunks(ds.width).enumerate() {
            let o = base + (r + pad) * pw + pad;
            bytes[o..o + ds.width].copy_from_slice(row);
        }
        let (top, left) = if pad > 0 {
            (
                rng.below(2 * pad as u64 + 1) as usize,
                rng.below(2 * pad as u64 + 1) as usize,
            )
        } else {
            (0, 0)
        };
        let flip = augment.is_some_and(|a| a.flip) && rng.below(2) == 1;
        images.push(SourceImage {
            offset: base,
            height: ph,
            width: pw,
            crop: Some(CropBox {
                top,
                left,
                height: ds.height,
                width: ds.width,
            }),
            flip,
        });
    }
    Ok(HostBatch {
        bytes,
        images,
        labels: indices.iter().map(|&i| ds.labels[i]).collect(),
        resolutions: resolutions.to_vec(),
    })
}

/// Uploads the images `indices` of `ds` and packs them at every resolution
/// (square, bilinear with `align_corners=True` as in the MutualNet code),
/// augmented with `augment` drawn from `rng`.
pub fn make_batch(
    be: &dyn Backend,
    ds: &Dataset,
    indices: &[usize],
    resolutions: &[usize],
    augment: Option<Augment>,
    rng: &mut Rng,
) -> Result<Batch> {
    let host = host_batch(ds, indices, resolutions, augment, rng)?;
    upload_batch(be, ds, &host)
}

/// One upload of the images and one resize-pack launch for a [`HostBatch`].
pub fn upload_batch(be: &dyn Backend, ds: &Dataset, host: &HostBatch) -> Result<Batch> {
    let (images, resolutions) = (&host.images, &host.resolutions);
    let outputs: Vec<OutputSpec> = resolutions
        .iter()
        .map(|&r| OutputSpec {
            height: r,
            width: r,
            images: None,
        })
        .collect();
    let (mean, std) = ds.kind.mean_std();
    let cfg = ResizePackConfig {
        format: ImageFormat::U8Chw,
        channels: 1,
        mean: vec![mean],
        std: vec![std],
        filter: Filter::Bilinear,
        align_corners: true,
        order: Order::Direct,
        arena_offset: 0,
    };
    let pack = ResizePack::new(be, images, &outputs, &cfg)?;
    let src = be.upload_u8(&host.bytes)?;
    let arena = be.alloc(pack.arena_len())?;
    pack.run(be, &src, &arena)?;
    let labels = be.upload(&host.labels.iter().map(|&l| l as f32).collect::<Vec<_>>())?;
    Ok(Batch {
        labels,
        host_labels: host.labels.clone(),
        arena,
        views: pack.views().to_vec(),
        resolutions: resolutions.to_vec(),
    })
}
