//! Cases for `resize_pack`: every filter (nearest, bilinear with and without
//! `align_corners`, antialiased bilinear with and without) on every input
//! format, images of different sizes with random crops and flips, outputs
//! that enlarge, shrink by non-integer factors, are not square, are 1×1, and
//! take a subset of the images; the MutualNet order; and a batch large
//! enough to need many thread blocks.

use super::{Case, CaseOutput, Tolerance, poisoned};
use crate::backend::Backend;
use crate::error::Result;
use crate::ops::resize::{
    CropBox, Filter, ImageFormat, Order, OutputSpec, ResizePack, ResizePackConfig, SourceImage,
};
use crate::rng::Rng;

/// f32 rounding of the kernels' accumulation, values of order 1–10.
const TOL: Tolerance = Tolerance {
    atol: 1e-5,
    rtol: 1e-5,
};

const FILTERS: &[(&str, Filter, bool)] = &[
    ("nearest", Filter::Nearest, false),
    ("bilinear", Filter::Bilinear, false),
    ("bilinear ac", Filter::Bilinear, true),
    ("antialias", Filter::BilinearAntialias, false),
    ("antialias ac", Filter::BilinearAntialias, true),
];

const FORMATS: &[(&str, ImageFormat, usize)] = &[
    ("u8 hwc x3", ImageFormat::U8Hwc, 3),
    ("u8 chw x1", ImageFormat::U8Chw, 1),
    ("f32 x3", ImageFormat::F32Chw, 3),
    ("u8 hwc x4", ImageFormat::U8Hwc, 4),
];

/// Random images of the given sizes back to back in one buffer (a gap of a
/// few elements between them), random crops (or none) and flips.
fn random_batch(
    be: &dyn Backend,
    rng: &mut Rng,
    format: ImageFormat,
    channels: usize,
    sizes: &[(usize, usize)],
) -> Result<(crate::backend::Buffer, Vec<SourceImage>)> {
    let mut images = Vec::new();
    let mut bytes = Vec::new();
    let mut floats = Vec::new();
    for &(h, w) in sizes {
        let gap = 1 + rng.below(3) as usize;
        let offset = match format {
            ImageFormat::F32Chw => floats.len() + gap,
            _ => bytes.len() + gap,
        };
        let n = h * w * channels;
        match format {
            ImageFormat::F32Chw => {
                floats.extend((0..gap).map(|_| rng.uniform_f32(-9.0, 9.0)));
                floats.extend(rng.vec_f32(n));
            }
            _ => bytes.extend((0..gap + n).map(|_| rng.below(256) as u8)),
        }
        // Image 0 is always cropped and flipped, image 1 never: every case
        // covers both whatever the seed.
        let k = images.len();
        let crop = if k == 1 || (k > 1 && rng.below(3) == 0) {
            None
        } else {
            let ch = 1 + rng.below(h as u64) as usize;
            let cw = 1 + rng.below(w as u64) as usize;
            Some(CropBox {
                top: rng.below((h - ch + 1) as u64) as usize,
                left: rng.below((w - cw + 1) as u64) as usize,
                height: ch,
                width: cw,
            })
        };
        images.push(SourceImage {
            offset,
            height: h,
            width: w,
            crop,
            flip: k == 0 || (k > 1 && rng.below(2) == 1),
        });
    }
    let buf = match format {
        ImageFormat::F32Chw => be.upload(&floats)?,
        _ => be.upload_u8(&bytes)?,
    };
    Ok((buf, images))
}

struct Scenario {
    format: ImageFormat,
    channels: usize,
    filter: Filter,
    align_corners: bool,
    order: Order,
    sizes: Vec<(usize, usize)>,
    outputs: Vec<OutputSpec>,
}

fn out(height: usize, width: usize, images: Option<Vec<usize>>) -> OutputSpec {
    OutputSpec {
        height,
        width,
        images,
    }
}

fn run(be: &dyn Backend, seed: u64, s: &Scenario) -> Result<Vec<CaseOutput>> {
    let mut rng = Rng::new(seed);
    let (src, images) = random_batch(be, &mut rng, s.format, s.channels, &s.sizes)?;
    let cfg = ResizePackConfig {
        format: s.format,
        channels: s.channels,
        mean: (0..s.channels).map(|_| rng.uniform_f32(0.3, 0.6)).collect(),
        std: (0..s.channels).map(|_| rng.uniform_f32(0.2, 0.3)).collect(),
        filter: s.filter,
        align_corners: s.align_corners,
        order: s.order,
        arena_offset: 1 + rng.below(5) as usize,
    };
    let pack = ResizePack::new(be, &images, &s.outputs, &cfg)?;
    let written: Vec<usize> = pack.views().iter().flat_map(|v| v.indices()).collect();
    let before = poisoned(pack.arena_len() + 7, &written, &mut rng);
    let arena = be.upload(&before)?;
    pack.run(be, &src, &arena)?;
    Ok(vec![CaseOutput {
        name: "arena",
        values: be.download(&arena)?,
        written,
        before,
    }])
}

fn push(all: &mut Vec<Case>, name: String, s: Scenario) {
    all.push(Case {
        op: "resize_pack",
        name,
        tolerance: TOL,
        run: Box::new(move |be: &dyn Backend, seed| run(be, seed, &s)),
    });
}

pub fn cases() -> Vec<Case> {
    let mut all = Vec::new();
    for &(fname, filter, align_corners) in FILTERS {
        for &(format_name, format, channels) in FORMATS {
            push(
                &mut all,
                format!("{fname}, {format_name}, 3 sizes, crops+flips"),
                Scenario {
                    format,
                    channels,
                    filter,
                    align_corners,
                    order: Order::Direct,
                    sizes: vec![(13, 17), (20, 15), (9, 31)],
                    // With antialias, the 7×5 and 1×1 outputs need more than
                    // 5 column taps (the CUDA kernel's general path); the
                    // others take its register-tap path.
                    outputs: vec![
                        out(24, 24, None),
                        out(7, 5, None),
                        out(11, 8, Some(vec![2, 0])),
                        out(1, 1, None),
                        out(16, 29, Some(vec![1])),
                        // Image 1's own size (never cropped): the CUDA tile
                        // kernels' same-size path, beside a resized image.
                        out(20, 15, Some(vec![1, 2])),
                    ],
                },
            );
        }
    }
    for &(fname, filter, align_corners) in FILTERS {
        push(
            &mut all,
            format!("MutualNet order via 16x16, {fname}, u8 hwc x3"),
            Scenario {
                format: ImageFormat::U8Hwc,
                channels: 3,
                filter,
                align_corners,
                order: Order::MutualNet {
                    full_height: 16,
                    full_width: 16,
                },
                sizes: vec![(21, 19), (16, 16), (10, 12)],
                outputs: vec![
                    out(16, 16, None),
                    out(12, 12, None),
                    out(9, 7, Some(vec![1, 2])),
                    out(1, 1, None),
                    out(23, 20, None),
                ],
            },
        );
    }
    push(
        &mut all,
        "70 images 33x37 u8 hwc x3 -> 31x29, 17x19, antialias".into(),
        Scenario {
            format: ImageFormat::U8Hwc,
            channels: 3,
            filter: Filter::BilinearAntialias,
            align_corners: false,
            order: Order::Direct,
            sizes: vec![(33, 37); 70],
            outputs: vec![out(31, 29, None), out(17, 19, None)],
        },
    );
    all
}
