//! CPU reference for `resize_pack`: PyTorch's interpolation formulas written
//! out in f64 (`aten/src/ATen/native/UpSample.h` semantics, restated in
//! FIELD-NOTES.md), applied as two separable passes (rows, then columns) on
//! each cropped image, then flip and normalization. Deliberately a different
//! construction from the GPU kernels (which use exact integer tap weights,
//! one output pixel per thread), so that the two check each other.

use crate::ops::resize::{IMAGE_WORDS, OUTPUT_WORDS};
use crate::params::ResizePackParams;

/// `(source index, weight)` taps of one output coordinate.
pub type Taps = Vec<(usize, f64)>;

/// PyTorch's legacy `nearest_idx`: identity and 2× are special-cased, the
/// rest is `min(floorf(d · (float)in/out), in − 1)` in f32 arithmetic.
pub fn nearest_index(d: usize, input: usize, output: usize) -> usize {
    if output == input {
        d
    } else if output == 2 * input {
        d >> 1
    } else {
        let scale = input as f32 / output as f32;
        ((d as f32 * scale).floor() as usize).min(input - 1)
    }
}

/// `area_pixel_compute_scale` without a user scale factor.
fn linear_scale(input: usize, output: usize, align_corners: bool) -> f64 {
    if align_corners {
        if output > 1 {
            (input - 1) as f64 / (output - 1) as f64
        } else {
            0.0
        }
    } else {
        input as f64 / output as f64
    }
}

/// Taps for every output coordinate along one axis: `filter` 0 nearest,
/// 1 bilinear, 2 bilinear with antialias.
pub fn axis_taps(filter: u32, align_corners: bool, input: usize, output: usize) -> Vec<Taps> {
    let scale = linear_scale(input, output, align_corners);
    (0..output)
        .map(|d| match filter {
            0 => vec![(nearest_index(d, input, output), 1.0)],
            1 => {
                let src = if align_corners {
                    scale * d as f64
                } else {
                    (scale * (d as f64 + 0.5) - 0.5).max(0.0)
                };
                let i0 = src as usize;
                let lambda = (src - i0 as f64).clamp(0.0, 1.0);
                let i1 = (i0 + 1).min(input - 1);
                vec![(i0, 1.0 - lambda), (i1, lambda)]
            }
            _ => {
                // Triangle filter widened by the scale when shrinking.
                let (support, invscale) = if scale >= 1.0 {
                    (scale, 1.0 / scale)
                } else {
                    (1.0, 1.0)
                };
                let center = scale * (d as f64 + 0.5);
                let lo = ((center - support + 0.5) as i64).max(0) as usize;
                let hi = ((center + support + 0.5) as i64).min(input as i64) as usize;
                let mut taps: Taps = (lo..hi)
                    .map(|j| {
                        let x = (j as f64 - center + 0.5) * invscale;
                        (j, (1.0 - x.abs()).max(0.0))
                    })
                    .collect();
                let total: f64 = taps.iter().map(|t| t.1).sum();
                if total != 0.0 {
                    for t in &mut taps {
                        t.1 /= total;
                    }
                }
                taps
            }
        })
        .collect()
}

/// An image as one `h × w` plane of f64 per channel.
pub struct Planes {
    pub h: usize,
    pub w: usize,
    pub data: Vec<Vec<f64>>,
}

/// Separable resampling: rows with `ty`, then columns with `tx`.
pub fn resample(img: &Planes, ty: &[Taps], tx: &[Taps]) -> Planes {
    let (oh, ow) = (ty.len(), tx.len());
    let data = img
        .data
        .iter()
        .map(|plane| {
            let mut rows = vec![0.0; oh * img.w];
            for (y, taps) in ty.iter().enumerate() {
                for x in 0..img.w {
                    rows[y * img.w + x] =
                        taps.iter().map(|&(i, wt)| wt * plane[i * img.w + x]).sum();
                }
            }
            let mut out = vec![0.0; oh * ow];
            for y in 0..oh {
                for (x, taps) in tx.iter().enumerate() {
                    out[y * ow + x] = taps.iter().map(|&(j, wt)| wt * rows[y * img.w + j]).sum();
                }
            }
            out
        })
        .collect();
    Planes { h: oh, w: ow, data }
}

fn mirror(img: &mut Planes) {
    for plane in &mut img.data {
        for row in plane.chunks_mut(img.w) {
            row.reverse();
        }
    }
}

/// `v · scale + bias`: the host folded `(v/255 − mean)/std` into the two
/// (the PyTorch fixtures check the folding against mean and std).
fn normalize(img: &mut Planes, p: &ResizePackParams) {
    for (c, plane) in img.data.iter_mut().enumerate() {
        let (a, b) = (p.scale[c] as f64, p.bias[c] as f64);
        for v in plane.iter_mut() {
            *v = *v * a + b;
        }
    }
}

/// Reads the cropped source image `desc` (one image descriptor) as f64.
fn load_crop(src: &[f32], desc: &[u32], p: &ResizePackParams) -> Planes {
    let [offset, h, w, top, left, ch, cw, _flip] =
        [0, 1, 2, 3, 4, 5, 6, 7].map(|k| desc[k] as usize);
    let c_n = p.channels as usize;
    let byte = |i: usize| src[i / 4].to_bits().to_le_bytes()[i % 4] as f64;
    let data = (0..c_n)
        .map(|c| {
            let mut plane = Vec::with_capacity(ch * cw);
            for y in top..top + ch {
                for x in left..left + cw {
                    plane.push(match p.format {
                        0 => byte(offset + (y * w + x) * c_n + c),
                        1 => byte(offset + (c * h + y) * w + x),
                        _ => src[offset + (c * h + y) * w + x] as f64,
                    });
                }
            }
            plane
        })
        .collect();
    Planes { h: ch, w: cw, data }
}

/// The reference `resize_pack` on host buffers (`desc` as `f32` bit patterns).
pub fn resize_pack(src: &[f32], desc: &[f32], dst: &mut [f32], p: &ResizePackParams) {
    let words: Vec<u32> = desc.iter().map(|v| v.to_bits()).collect();
    let (ni, no) = (p.num_images as usize, p.num_outputs as usize);
    let list = &words[IMAGE_WORDS * ni + OUTPUT_WORDS * no..];
    let ac = p.align_corners != 0;
    for j in 0..no {
        let o = &words[IMAGE_WORDS * ni + OUTPUT_WORDS * j..][..OUTPUT_WORDS];
        let [oh, ow, list_start, count, arena] = [0, 1, 2, 3, 4].map(|k| o[k] as usize);
        for n in 0..count {
            let image = list[list_start + n] as usize;
            let d = &words[IMAGE_WORDS * image..][..IMAGE_WORDS];
            let crop = load_crop(src, d, p);
            let flip = d[7] != 0;
            let out = if p.cascade == 0 {
                let mut r = resample(
                    &crop,
                    &axis_taps(p.filter_mode, ac, crop.h, oh),
                    &axis_taps(p.filter_mode, ac, crop.w, ow),
                );
                if flip {
                    mirror(&mut r);
                }
                normalize(&mut r, p);
                r
            } else {
                // MutualNet: full resolution, normalize, flip, then bilinear
                // align_corners=True from the full-resolution tensor.
                let (fh, fw) = (p.full_h as usize, p.full_w as usize);
                let mut full = resample(
                    &crop,
                    &axis_taps(p.filter_mode, ac, crop.h, fh),
                    &axis_taps(p.filter_mode, ac, crop.w, fw),
                );
                normalize(&mut full, p);
                if flip {
                    mirror(&mut full);
                }
                resample(
                    &full,
                    &axis_taps(1, true, fh, oh),
                    &axis_taps(1, true, fw, ow),
                )
            };
            for (c, plane) in out.data.iter().enumerate() {
                let base = arena + (n * p.channels as usize + c) * oh * ow;
                for (k, v) in plane.iter().enumerate() {
                    dst[base + k] = *v as f32;
                }
            }
        }
    }
}
